"""Outgoing mail: SMTP in production, an outbox folder in the embedded default.

``SMTP_URL`` is ``smtp://user:password@host:587`` (STARTTLS when the server offers it)
or ``smtps://…:465`` (TLS from the start). Without it, each mail is written as an
``.eml`` file under ``MAIL_OUTBOX_DIR`` and its first link is logged, so a newcomer
running ``make run`` can still accept an invitation or reset a password.

Sending runs ``smtplib`` in a worker thread: mail is rare (invitations, resets) and the
standard library's client is the well-trodden one.
"""

from __future__ import annotations

import asyncio
import logging
import re
import smtplib
import ssl
import time
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

log = logging.getLogger(__name__)
_LINK = re.compile(r"https?://\S+")


@dataclass(frozen=True, slots=True)
class Mail:
    to: str
    subject: str
    text: str


class Mailer(Protocol):
    async def send(self, mail: Mail) -> None: ...


def build_message(mail: Mail, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="atelier.invalid")
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.text)
    return message


class OutboxMailer:
    """Writes each mail to a folder (the embedded default, and a record in development)."""

    def __init__(self, folder: Path, sender: str) -> None:
        self.folder = folder
        self.sender = sender

    async def send(self, mail: Mail) -> None:
        message = build_message(mail, self.sender)
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}.eml"
        await asyncio.to_thread(path.write_bytes, bytes(message))
        link = _LINK.search(mail.text)
        log.warning(
            "mail to %s written to %s%s", mail.to, path, f" — link: {link.group(0)}" if link else ""
        )


class SmtpMailer:
    def __init__(self, url: str, sender: str, timeout: float = 20.0) -> None:
        parts = urlsplit(url)
        self.tls = parts.scheme == "smtps"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (465 if self.tls else 587)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.sender = sender
        self.timeout = timeout

    def _send(self, message: EmailMessage) -> None:
        context = ssl.create_default_context()
        if self.tls:
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=context
            )
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with client:
            client.ehlo()
            if not self.tls and client.has_extn("starttls"):
                client.starttls(context=context)
                client.ehlo()
            if self.username:
                client.login(self.username, self.password or "")
            client.send_message(message)

    async def send(self, mail: Mail) -> None:
        await asyncio.to_thread(self._send, build_message(mail, self.sender))


def create_mailer(smtp_url: str, sender: str, outbox: Path) -> Mailer:
    return SmtpMailer(smtp_url, sender) if smtp_url else OutboxMailer(outbox, sender)
