"""Socket.IO: the handshake, presence in sessions (`/`), and document sync (`/yjs|...`)."""

from collab.realtime.server import RealtimeServer

__all__ = ["RealtimeServer"]
