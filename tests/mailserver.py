"""A real SMTP server in-process (aiosmtpd), for the tests that read what ecampus sent."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None, f"no text/{subtype} part"
        return str(body.get_content())  # type: ignore[attr-defined]

    @property
    def text(self) -> str:
        return self.part("plain")

    @property
    def html(self) -> str:
        return self.part("html")

    @property
    def link(self) -> str:
        """The one-time link the plain-text part carries."""
        match = re.search(r"https?://\S+/reset/[A-Za-z0-9_-]+", self.text)
        assert match, self.text
        return match.group(0)


@dataclass
class Inbox:
    """Everything the server accepted, in order."""

    messages: list[Received] = field(default_factory=list)
    refuse: str | None = None  # e.g. "451 4.3.0 try again later": refuse every message

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.refuse:
            return self.refuse
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Received]:
        return [m for m in self.messages if address in m.recipients]

    def wait_for(
        self, count: int = 1, *, to: str | None = None, seconds: float = 15
    ) -> list[Received]:
        """The messages (to `to`, if given) once there are `count` of them."""
        deadline = time.monotonic() + seconds
        while True:
            found = self.to(to) if to else list(self.messages)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(found)} message(s) arrived, {count} expected")
            time.sleep(0.05)


@contextmanager
def smtp_server(port: int | None = None) -> Iterator[tuple[Inbox, str]]:
    """A running server and the ECAMPUS_SMTP_URL that reaches it."""
    inbox = Inbox()
    port = port or free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, f"smtp://127.0.0.1:{port}"
    finally:
        controller.stop()
