"""What of a request may be written to a log."""

from __future__ import annotations

import re

# Invitation links carry their token in the path (`/join/{token}`, `/api/join/{token}`,
# `/invitations/{token}`, `/api/invitations/workspace/{token}/accept`…): a credential that
# lets anyone in, so never written to a log.
_TOKEN_IN_PATH = re.compile(r"^(/(?:api/)?(?:join|invitations(?:/workspace)?)/)[^/]+")


def loggable_path(path: str) -> str:
    """The request path as it may be logged: an invitation token becomes `***`."""
    return _TOKEN_IN_PATH.sub(r"\1***", path)
