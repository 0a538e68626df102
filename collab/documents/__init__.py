"""CRDT documents: one Yjs document per file of a session, kept by pycrdt, stored in
PostgreSQL, fanned out across server processes through Redis."""
