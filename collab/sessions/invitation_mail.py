"""The mail that carries a session invitation to its address: pure, no I/O.

It says who invites, to which session, with which role, and gives the page link (never an
API route: a browser opens it, shows the invitation and offers to accept or decline).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from auth.mail import Mail
from auth.users import Profile


def display_name(profile: Profile) -> str:
    """How people are named to others: their full name when they gave one, else username."""
    full = " ".join(part for part in (profile.first_name, profile.last_name) if part)
    return full.strip() or profile.username


@dataclass(frozen=True)
class SessionInvitationMail:
    to: str
    inviter: str
    session_name: str
    role: str
    message: str | None
    link: str
    expires_at: datetime

    def mail(self) -> Mail:
        lines = [
            f'{self.inviter} invited you to the live coding session "{self.session_name}" '
            f"as {self.role}.",
            "",
        ]
        if self.message:
            lines += [
                f"{self.inviter} wrote:",
                "",
                *("> " + line for line in self.message.splitlines()),
                "",
            ]
        lines += [
            "Open the invitation to accept or decline it:",
            "",
            self.link,
            "",
            f"The link works once, until {self.expires_at:%Y-%m-%d %H:%M} UTC, and only for "
            f"the account with the address {self.to}.",
        ]
        return Mail(
            self.to,
            f'{self.inviter} invited you to the session "{self.session_name}"',
            "\n".join(lines) + "\n",
        )
