"""A real SMTP server on loopback (aiosmtpd) that keeps every message it receives, as received."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from email import message_from_bytes, policy
from typing import TYPE_CHECKING, Any

from aiosmtpd.controller import Controller

from dev.ports import free_port

if TYPE_CHECKING:
    from email.message import EmailMessage
    from types import TracebackType

# aiosmtpd logs every connection at INFO; the tests assert on the messages instead.
logging.getLogger("mail.log").setLevel(logging.WARNING)


@dataclass(frozen=True)
class Received:
    """One message as the server got it: envelope recipients and the raw DATA."""

    rcpt_tos: tuple[str, ...]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        """The parsed message."""
        parsed: EmailMessage = message_from_bytes(self.raw, policy=policy.default)
        return parsed

    @property
    def subject(self) -> str:
        """The decoded subject."""
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        """The decoded HTML (or text) body."""
        part = self.message.get_body(preferencelist=("html", "plain"))
        return part.get_content() if part is not None else ""


class SmtpSink:
    """``with SmtpSink() as smtp:`` serves SMTP on 127.0.0.1:``smtp.port`` and records messages.

    Set :attr:`refuse` to answer every DATA with a 554, as a mail server that rejects mail would.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.refuse = False
        self.received: list[Received] = []
        self._changed = threading.Condition()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd calls it so
        """Record the message (or refuse it)."""
        if self.refuse:
            return "554 Transaction failed (test: refusing)"
        with self._changed:
            self.received.append(Received(tuple(envelope.rcpt_tos), bytes(envelope.original_content)))
            self._changed.notify_all()
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 60.0) -> list[Received]:
        """Wait until at least ``count`` messages arrived in total; return them all."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.received) >= count, timeout):
                raise TimeoutError(f"{count} message(s) expected, {len(self.received)} received")
            return list(self.received)

    def connection_uri(self) -> str:
        """An Airflow ``smtp`` connection to this server (plain SMTP, no login)."""
        return (
            f"smtp://127.0.0.1:{self.port}?disable_ssl=true&disable_tls=true&retry_limit=0&timeout=10"
            "&from_email=airflow%40example.com"
        )

    def __enter__(self) -> SmtpSink:
        self._controller.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._controller.stop()
