"""Accounts, tokens, workspaces, roles, invitations and the audit log.

Other packages ask questions through `auth`'s services, never through its tables.
"""
