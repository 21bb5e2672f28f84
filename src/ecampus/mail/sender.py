"""Working the outbox: `ecampus serve` runs one Sender per worker process, in the app's
lifespan. Each round claims a few due messages (a guarded UPDATE, so two processes never
claim the same one), sends them over one SMTP connection in a worker thread, and records
each answer: sent, or failing with the server's answer and a next attempt after an
exponential backoff (capped). Database work takes a slot of the app's connection gate and a
short session of its own, so the sender never holds a connection while talking to SMTP
and never starves requests."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import make_msgid
from ipaddress import ip_address
from urllib.parse import unquote, urlsplit

from sqlalchemy import Engine, select, update
from sqlmodel import Session

from ecampus.db import ConnectionGate, DatabaseBusy
from ecampus.mail.models import OutboxMail
from ecampus.mail.outbox import FAILING, PENDING, SENDING, SENT
from ecampus.settings import SMTP_SCHEMES, Settings

log = logging.getLogger(__name__)

_outbox = OutboxMail.__table__  # type: ignore[attr-defined]

DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
SMTP_TIMEOUT_SECONDS = 30.0
# A claimed message that was neither sent nor failed by then (its process died mid-send)
# is due again.
CLAIM_SECONDS = 300
BATCH = 20
POLL_SECONDS = 3.0
BACKOFF_FIRST_SECONDS = 30.0
BACKOFF_CAP_SECONDS = 3600.0
MAX_ERROR_LENGTH = 1000


class SmtpUrlError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class SmtpServer:
    scheme: str  # smtp | smtp+starttls | smtps
    host: str
    port: int
    username: str | None = None
    password: str | None = None

    def __str__(self) -> str:  # never the password, e.g. in logs
        user = f"{self.username}@" if self.username else ""
        return f"{self.scheme}://{user}{self.host}:{self.port}"


def parse_smtp_url(url: str) -> SmtpServer:
    """`smtp://[user:password@]host[:port]`, `smtp+starttls://…` or `smtps://…` (user and
    password percent-encoded)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in SMTP_SCHEMES:
        raise SmtpUrlError("the SMTP URL must start with smtp://, smtp+starttls:// or smtps://")
    if not parts.hostname:
        raise SmtpUrlError("the SMTP URL names no host")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError:
        raise SmtpUrlError("the SMTP URL's port is not a number from 1 to 65535") from None
    return SmtpServer(
        scheme=scheme,
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


def default_sender(settings: Settings) -> str:
    """ECAMPUS_MAIL_FROM, or `Site name <no-reply@host of ECAMPUS_BASE_URL>`."""
    if settings.mail_from:
        return settings.mail_from
    host = urlsplit(settings.base_url).hostname or "localhost"
    with contextlib.suppress(ValueError):
        ip_address(host)
        host = "localhost"  # an address literal is no mail domain
    return str(Address(display_name=settings.site_name, addr_spec=f"no-reply@{host}"))


def backoff(attempts: int, *, first: float, cap: float) -> timedelta:
    """How long after the `attempts`-th failure the next attempt comes: doubling from
    `first`, never more than `cap`, with a little jitter so processes do not beat together."""
    seconds = min(cap, first * 2 ** max(0, attempts - 1))
    return timedelta(seconds=seconds * random.uniform(0.9, 1.0))  # noqa: S311 - not a secret


# --- the database side (short sessions, no SMTP inside) ------------------------------------


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    recipient: str
    subject: str
    body_text: str
    body_html: str
    attempts: int


def claim_due(
    session: Session, *, now: datetime | None = None, limit: int = BATCH
) -> list[Claimed]:
    """Due unsent messages, each claimed for this process (status "sending", its next
    attempt CLAIM_SECONDS ahead) with an UPDATE guarded by the values read: a message
    another process claimed first is skipped, and "retry now" leaves a claimed one alone.
    A claim whose sender died is due again once its time is up. Commits."""
    now = now or datetime.now(UTC)
    rows = session.execute(
        select(
            _outbox.c.id,
            _outbox.c.next_attempt_at,
            _outbox.c.recipient,
            _outbox.c.subject,
            _outbox.c.body_text,
            _outbox.c.body_html,
            _outbox.c.attempts,
            _outbox.c.status,
        )
        .where(_outbox.c.status.in_((PENDING, FAILING, SENDING)), _outbox.c.next_attempt_at <= now)
        .order_by(_outbox.c.next_attempt_at, _outbox.c.id)
        .limit(limit)
    ).all()
    claimed: list[Claimed] = []
    lease = now + timedelta(seconds=CLAIM_SECONDS)
    for row in rows:
        result = session.execute(
            update(_outbox)
            .where(
                _outbox.c.id == row.id,
                _outbox.c.next_attempt_at == row.next_attempt_at,
                _outbox.c.status == row.status,
            )
            .values(status=SENDING, next_attempt_at=lease)
        )
        if getattr(result, "rowcount", 0) == 1:
            claimed.append(
                Claimed(
                    id=row.id,
                    recipient=row.recipient,
                    subject=row.subject,
                    body_text=row.body_text,
                    body_html=row.body_html,
                    attempts=row.attempts,
                )
            )
    session.commit()
    return claimed


@dataclass(frozen=True, slots=True)
class Outcome:
    id: int
    error: str | None  # None: the server accepted it


def record(
    session: Session,
    outcomes: Sequence[Outcome],
    *,
    now: datetime | None = None,
    first: float = BACKOFF_FIRST_SECONDS,
    cap: float = BACKOFF_CAP_SECONDS,
) -> None:
    """Store what the server answered for each message. Commits."""
    now = now or datetime.now(UTC)
    for outcome in outcomes:
        attempts = session.execute(
            select(_outbox.c.attempts).where(_outbox.c.id == outcome.id)
        ).scalar_one_or_none()
        if attempts is None:
            continue  # deleted meanwhile
        attempts += 1
        if outcome.error is None:
            values = {
                "status": SENT,
                "attempts": attempts,
                "sent_at": now,
                "last_error": None,
                "next_attempt_at": now,
            }
        else:
            values = {
                "status": FAILING,
                "attempts": attempts,
                "last_error": outcome.error[:MAX_ERROR_LENGTH],
                "next_attempt_at": now + backoff(attempts, first=first, cap=cap),
            }
        session.execute(update(_outbox).where(_outbox.c.id == outcome.id).values(**values))
    session.commit()


# --- the SMTP side (blocking; run in a worker thread) ---------------------------------------


def _answer(error: BaseException) -> str:
    """The server's answer (code and text), or what went wrong on the way to it."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        answers = [
            f"{code} {text.decode('utf-8', 'replace')}" for code, text in error.recipients.values()
        ]
        return "; ".join(answers) or "recipient refused"
    if isinstance(error, smtplib.SMTPResponseException):
        text = error.smtp_error
        text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        return f"{error.smtp_code} {text}".strip()
    description = str(error) or type(error).__name__
    return f"{type(error).__name__}: {description}"


def ascii_address(address: str) -> str:
    """The address with its domain in IDNA form (ñandú.gt → xn--and-6ma2c.gt), which every
    server accepts; accounts keep domains in Unicode. A non-ASCII local part stays as it is
    (only servers that offer SMTPUTF8 take it)."""
    local, _, domain = address.rpartition("@")
    if not local or domain.isascii():
        return address
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError:
        return address


def build_message(mail: Claimed, *, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = mail.subject
    message["From"] = sender
    message["To"] = ascii_address(mail.recipient)
    domain = sender.rsplit("@", 1)[-1].rstrip(">").strip() or "localhost"
    message["Message-ID"] = make_msgid(domain=domain)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.body_text)
    message.add_alternative(mail.body_html, subtype="html")
    return message


def _connect(server: SmtpServer, timeout: float) -> smtplib.SMTP:
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if server.scheme == "smtps":
        client = smtplib.SMTP_SSL(server.host, server.port, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(server.host, server.port, timeout=timeout)
    try:
        client.ehlo()
        if server.scheme == "smtp+starttls":
            client.starttls(context=context)
            client.ehlo()
        if server.username:
            client.login(server.username, server.password or "")
    except BaseException:
        with contextlib.suppress(Exception):
            client.close()
        raise
    return client


def deliver(
    server: SmtpServer,
    mails: Sequence[Claimed],
    *,
    sender: str,
    timeout: float = SMTP_TIMEOUT_SECONDS,
) -> list[Outcome]:
    """Send `mails` over one connection; each gets an outcome. A failure to connect or sign
    in fails them all with that answer."""
    try:
        client = _connect(server, timeout)
    except (OSError, smtplib.SMTPException) as error:
        answer = _answer(error)
        return [Outcome(mail.id, answer) for mail in mails]
    outcomes: list[Outcome] = []
    try:
        for mail in mails:
            try:
                refused = client.send_message(build_message(mail, sender=sender))
            except smtplib.SMTPServerDisconnected as error:
                answer = _answer(error)
                outcomes.extend(Outcome(m.id, answer) for m in mails[len(outcomes) :])
                break
            except (OSError, smtplib.SMTPException, ValueError) as error:
                outcomes.append(Outcome(mail.id, _answer(error)))
                with contextlib.suppress(Exception):
                    client.rset()
                continue
            outcomes.append(Outcome(mail.id, _answer_refused(refused) if refused else None))
    finally:
        with contextlib.suppress(Exception):
            client.quit()
    return outcomes


def _answer_refused(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{code} {text.decode('utf-8', 'replace')}" for code, text in refused.values())


# --- the loop ------------------------------------------------------------------------------


class Sender:
    """The outbox worker of one process."""

    def __init__(
        self,
        engine: Engine,
        gate: ConnectionGate,
        settings: Settings,
        *,
        poll_seconds: float = POLL_SECONDS,
        backoff_first: float = BACKOFF_FIRST_SECONDS,
        backoff_cap: float = BACKOFF_CAP_SECONDS,
    ) -> None:
        self.engine = engine
        self.gate = gate
        self.server = parse_smtp_url(settings.smtp_url)
        self.sender = default_sender(settings)
        self.poll_seconds = poll_seconds
        self.backoff_first = backoff_first
        self.backoff_cap = backoff_cap

    def _claim(self) -> list[Claimed]:
        with Session(self.engine) as session:
            return claim_due(session)

    def _record(self, outcomes: list[Outcome]) -> None:
        with Session(self.engine) as session:
            record(session, outcomes, first=self.backoff_first, cap=self.backoff_cap)

    async def run_once(self) -> int:
        """One round: claim, send, record. How many messages were tried."""
        async with self.gate.slot():
            mails = await asyncio.to_thread(self._claim)
        if not mails:
            return 0
        outcomes = await asyncio.to_thread(deliver, self.server, mails, sender=self.sender)
        async with self.gate.slot():
            await asyncio.to_thread(self._record, outcomes)
        failed = sum(o.error is not None for o in outcomes)
        if failed:
            log.warning(
                "mail: %d of %d message(s) not accepted by %s: %s",
                failed,
                len(outcomes),
                self.server,
                next(o.error for o in outcomes if o.error is not None),
            )
        return len(mails)

    async def run(self) -> None:
        """Work the outbox until cancelled; any error waits for the next round."""
        log.info("mail: sending the outbox through %s as %s", self.server, self.sender)
        while True:
            tried = 0
            try:
                tried = await self.run_once()
            except DatabaseBusy:
                pass  # requests come first; the next round tries again
            except asyncio.CancelledError:
                raise
            except Exception:  # a sender that dies silently would leave mail unsent
                log.exception("mail: working the outbox failed; trying again shortly")
            if tried < BATCH:
                await asyncio.sleep(self.poll_seconds)


def start(engine: Engine, gate: ConnectionGate, settings: Settings) -> asyncio.Task[None] | None:
    """The sender as a background task, or None (logged) when ECAMPUS_SMTP_URL is not set."""
    if not settings.smtp_url:
        log.info("mail: ECAMPUS_SMTP_URL is not set; mail waits in the outbox")
        return None
    return asyncio.create_task(Sender(engine, gate, settings).run(), name="ecampus-mail")


async def stop(task: asyncio.Task[None] | None) -> None:
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
