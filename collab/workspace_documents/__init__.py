"""The workspace document (the NoSQL side of a workspace): one seam, two backends.

MongoDB through PyMongo's async API when COLLAB_MONGO_URL is set; PostgreSQL JSONB, the
embedded default, otherwise. Both behave the same: `tests/test_workspace_store.py` runs one
contract suite against each.
"""
