// The logged-in person as component state: re-renders on login, logout and profile changes.
import { useEffect, useState } from "preact/hooks";
import { onAuthChange, user, type User } from "../auth";

export function useUser(): User | null {
  const [current, setCurrent] = useState<User | null>(user);
  useEffect(() => {
    // A fresh object each time, so an edited profile (same object from setUser) re-renders.
    const stop = onAuthChange((next) => setCurrent(next ? { ...next } : null));
    return () => {
      stop();
    };
  }, []);
  return current;
}
