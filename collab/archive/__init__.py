"""Taking a session's or workspace's files out and in: zip archives and git."""
