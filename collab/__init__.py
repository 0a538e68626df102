"""The collaboration server: composition root, live sessions, documents, CLI."""
