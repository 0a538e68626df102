"""The plumbing every package may use: the exception hierarchy, the audit log, owned
background tasks, SQL typing, shared input rules, and who is asking (request context).

Rule: `kernel` imports nothing of ours but `config`, and everything may import it. It makes
no product decision: those live in `auth`, `collab` and `containers`.
"""
