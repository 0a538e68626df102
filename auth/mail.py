"""Outgoing mail: SMTP when COLLAB_SMTP_URL is set, otherwise an outbox folder.

The outbox (`<data_dir>/outbox/*.eml`) lets a developer follow verification and reset
links without a mail server; each mail is also logged with its subject and recipient.
SMTP URLs: `smtp://[user:pass@]host[:port]` (STARTTLS when the server offers it with
`?starttls=true`), `smtps://...` for implicit TLS. smtplib is blocking: it runs on an
executor.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str


class Mailer(Protocol):
    async def send(self, mail: Mail) -> None: ...


def _message(sender: str, mail: Mail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    # Subjects carry names people chose: a line break there would make the header invalid.
    message["Subject"] = " ".join(mail.subject.split())
    message["Date"] = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
    message["Message-ID"] = f"<{uuid.uuid4().hex}@collab>"
    message.set_content(mail.body)
    return message


class OutboxMailer:
    def __init__(self, folder: Path, sender: str) -> None:
        self.folder = folder
        self._sender = sender

    async def send(self, mail: Mail) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        path = self.folder / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
        path.write_bytes(bytes(_message(self._sender, mail)))
        log.info("mail to %s (%s) written to %s", mail.to, mail.subject, path)


class SmtpMailer:
    def __init__(self, url: str, sender: str, timeout: float = 15.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError("COLLAB_SMTP_URL must start with smtp:// or smtps://")
        self._implicit_tls = parts.scheme == "smtps"
        self._host = parts.hostname or "localhost"
        self._port = parts.port or (465 if self._implicit_tls else 25)
        self._user = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self._starttls = parse_qs(parts.query).get("starttls", ["false"])[0] == "true"
        self._sender = sender
        self._timeout = timeout

    def _send_sync(self, mail: Mail) -> None:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self._implicit_tls:
            smtp = smtplib.SMTP_SSL(self._host, self._port, timeout=self._timeout, context=context)
        else:
            smtp = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
        with smtp:
            if self._starttls:
                smtp.starttls(context=context)
            if self._user and self._password:
                smtp.login(self._user, self._password)
            smtp.send_message(_message(self._sender, mail))

    async def send(self, mail: Mail) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self._send_sync, mail)
        log.info("mail to %s (%s) sent over SMTP", mail.to, mail.subject)
