// Subscribes a panel to one event of the session's socket for as long as it is mounted.
import { useEffect, useRef } from "preact/hooks";
import type { Socket } from "socket.io-client";

export function useSocketEvent<T>(socket: Socket, event: string, handler: (payload: T) => void): void {
  // The latest handler is called, so callers may close over fresh state without
  // re-subscribing on every render.
  const latest = useRef(handler);
  latest.current = handler;
  useEffect(() => {
    const listener = (payload: T) => latest.current(payload);
    socket.on(event, listener);
    return () => {
      socket.off(event, listener);
    };
  }, [socket, event]);
}
