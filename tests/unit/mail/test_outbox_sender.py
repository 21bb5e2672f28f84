"""The outbox and its sender against a real SMTP server (aiosmtpd), on SQLite and
PostgreSQL: what arrives, in which language, with which parts; and an outage loses nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlmodel import Session, select

from ecampus.accounts import links, passwords
from ecampus.accounts.models import User
from ecampus.db import ConnectionGate
from ecampus.mail import outbox, sender
from ecampus.mail.models import OutboxMail
from ecampus.settings import Settings, SettingsError
from tests.aio import run
from tests.mailserver import free_port, smtp_server


@pytest.fixture
def engine(client: TestClient) -> Engine:
    return client.app.state.engine  # type: ignore[attr-defined]


def add_user(engine: Engine, email: str, language: str, *, invited: bool = False) -> int:
    with Session(engine) as session:
        user = User(
            email=email,
            full_name="María José Núñez" if language == "es" else "Jane Doe",
            language=language,
            password_hash=passwords.NO_PASSWORD if invited else passwords.hash_password("x" * 12),
        )
        session.add(user)
        session.commit()
        return int(user.id or 0)


def queue_both(engine: Engine) -> tuple[str, str]:
    """An invitation in Spanish and a reset in English, queued in one transaction."""
    add_user(engine, "maria@example.org", "es", invited=True)
    add_user(engine, "jane@example.org", "en")
    with Session(engine) as session:
        maria = session.exec(select(User).where(User.email == "maria@example.org")).one()
        jane = session.exec(select(User).where(User.email == "jane@example.org")).one()
        invitation = links.issue_link(session, maria, "invitation", base_url="http://campus.test")
        outbox.queue_invitation(
            session,
            maria,
            invitation,
            inviter_name="Ana Coordinadora",
            site_name="Campus Migración",
        )
        reset = links.issue_link(session, jane, "reset", base_url="http://campus.test")
        outbox.queue_password_reset(session, jane, reset, site_name="Campus Migración")
        session.commit()
    return invitation, reset


def worker(engine: Engine, settings: Settings, smtp_url: str) -> sender.Sender:
    configured = Settings(
        **{**settings.__dict__, "smtp_url": smtp_url, "site_name": "Campus Migración"}
    )
    return sender.Sender(engine, ConnectionGate(2), configured, backoff_first=60, backoff_cap=600)


def rows(engine: Engine) -> list[OutboxMail]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxMail).order_by(OutboxMail.id)))  # type: ignore[arg-type]


def test_mail_arrives_in_the_recipients_language_as_text_and_html(
    engine: Engine, settings: Settings
) -> None:
    invitation, reset = queue_both(engine)
    with smtp_server() as (inbox, url):
        assert run(worker(engine, settings, url).run_once()) == 2
        received = inbox.wait_for(2)
    spanish = next(m for m in received if m.recipients == ["maria@example.org"])
    english = next(m for m in received if m.recipients == ["jane@example.org"])

    assert spanish.subject == "Su acceso a Campus Migración"
    assert "Hola, María José Núñez:" in spanish.text
    assert "Ana Coordinadora le abrió una cuenta en Campus Migración." in spanish.text
    assert "durante 14 días" in spanish.text
    assert spanish.link == invitation
    assert f'href="{invitation}"' in spanish.html
    assert '<html lang="es">' in spanish.html
    assert "Elegir mi contraseña" in spanish.html

    assert english.subject == "Reset your Campus Migración password"
    assert "for 60 minutes" in english.text
    assert english.link == reset
    assert '<html lang="en">' in english.html
    assert "Campus Migración" in str(english.message["From"])
    assert english.message.is_multipart()

    assert [(r.status, r.attempts, r.last_error) for r in rows(engine)] == [
        ("sent", 1, None),
        ("sent", 1, None),
    ]
    # Nothing is sent twice: the next round finds nothing due.
    with smtp_server() as (inbox, url):
        assert run(worker(engine, settings, url).run_once()) == 0


def test_an_outage_loses_nothing(engine: Engine, settings: Settings) -> None:
    queue_both(engine)
    port = free_port()
    down = worker(engine, settings, f"smtp://127.0.0.1:{port}")
    assert run(down.run_once()) == 2
    failing = rows(engine)
    assert [r.status for r in failing] == ["failing", "failing"]
    assert all("Connection refused" in (r.last_error or "") for r in failing), failing[0].last_error
    now = datetime.now(UTC)
    # Backed off: not due again at once, and not later than the first step (60 s).
    assert all(
        now + timedelta(seconds=40) < r.next_attempt_at < now + timedelta(seconds=61)
        for r in failing
    )
    assert run(down.run_once()) == 0  # nothing due yet

    # The server answers now, but refuses for a while: its answer is recorded.
    with smtp_server(port) as (inbox, _url):
        inbox.refuse = "451 4.3.0 Mailbox temporarily unavailable"
        with Session(engine) as session:
            assert outbox.retry_all(session) == 2
            session.commit()
        assert run(down.run_once()) == 2
        refused = rows(engine)
        assert [r.attempts for r in refused] == [2, 2]
        assert all(r.last_error == "451 4.3.0 Mailbox temporarily unavailable" for r in refused)
        later = datetime.now(UTC) + timedelta(seconds=100)  # the second step doubles (120 s)
        assert all(r.next_attempt_at > later for r in refused)

        # Accepted again: "retry now" on one, then the other when it falls due.
        inbox.refuse = None
        with Session(engine) as session:
            assert outbox.retry_now(session, mail_id=refused[0].id or 0)
            session.commit()
        assert run(down.run_once()) == 1
        with Session(engine) as session:
            session.execute(update(OutboxMail).values(next_attempt_at=datetime.now(UTC)))
            session.commit()
        assert run(down.run_once()) == 1
        assert len(inbox.wait_for(2)) == 2
    assert [(r.status, r.attempts, r.last_error) for r in rows(engine)] == [
        ("sent", 3, None),
        ("sent", 3, None),
    ]


def test_two_processes_never_send_one_message_twice(engine: Engine, settings: Settings) -> None:
    queue_both(engine)
    with Session(engine) as first, Session(engine) as second:
        claimed_first = sender.claim_due(first)
        claimed_second = sender.claim_due(second)
    assert len(claimed_first) == 2
    assert claimed_second == []
    assert {r.status for r in rows(engine)} == {"sending"}
    # "Retry now" leaves a message being sent alone: it would be sent twice.
    with Session(engine) as session:
        assert not outbox.retry_now(session, mail_id=claimed_first[0].id)
        assert outbox.retry_all(session) == 0
        assert outbox.counts(session).pending == 2


def test_a_claim_left_by_a_dead_process_is_taken_up_later(engine: Engine) -> None:
    queue_both(engine)
    with Session(engine) as session:
        assert len(sender.claim_due(session)) == 2  # and the process dies before sending
        assert sender.claim_due(session) == []
        later = datetime.now(UTC) + timedelta(seconds=sender.CLAIM_SECONDS + 1)
        assert len(sender.claim_due(session, now=later)) == 2


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.org", ("smtp", "mail.example.org", 25, None, None)),
        (
            "smtp+starttls://u%40x:p%3Aw@mail.example.org:2525",
            ("smtp+starttls", "mail.example.org", 2525, "u@x", "p:w"),
        ),
        (
            "smtps://relay:secret@mail.example.org",
            ("smtps", "mail.example.org", 465, "relay", "secret"),
        ),
    ],
)
def test_smtp_urls(url: str, expected: tuple[object, ...]) -> None:
    server = sender.parse_smtp_url(url)
    assert (server.scheme, server.host, server.port, server.username, server.password) == expected
    assert "secret" not in str(server)


@pytest.mark.parametrize("url", ["http://mail.example.org", "smtp://", "smtp://host:99999"])
def test_bad_smtp_urls_are_refused(url: str) -> None:
    with pytest.raises(sender.SmtpUrlError):
        sender.parse_smtp_url(url)


def test_backoff_doubles_up_to_its_cap() -> None:
    steps = [sender.backoff(n, first=30, cap=3600).total_seconds() for n in range(1, 10)]
    assert 27 <= steps[0] <= 30
    assert 54 <= steps[1] <= 60
    assert all(s <= 3600 for s in steps)
    assert steps[-1] >= 3240


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://mail.example.org", "must start with smtp://"),
        ("smtp://", "names no host"),
        ("smtps://relay:secret@mail.example.org:99999", "port must be a number"),
    ],
)
def test_an_unusable_smtp_url_is_refused_at_start(url: str, says: str) -> None:
    with pytest.raises(SettingsError, match=says) as refused:
        Settings.from_env({"ECAMPUS_SMTP_URL": url})
    assert "secret" not in str(refused.value)


def test_the_sender_signs_with_the_site_name_unless_told() -> None:
    site = Settings(base_url="https://campus.example.gob.gt", site_name="Campus Migración")
    assert sender.default_sender(site) == "Campus Migración <no-reply@campus.example.gob.gt>"
    assert (
        sender.default_sender(Settings(mail_from="Campus <c@example.org>"))
        == "Campus <c@example.org>"
    )
    assert sender.default_sender(Settings()).endswith("<no-reply@localhost>")


def test_an_address_with_an_accented_domain_is_delivered(
    engine: Engine, settings: Settings
) -> None:
    add_user(engine, "ana@educación.gob.gt", "es")
    with Session(engine) as session:
        ana = session.exec(select(User).where(User.email == "ana@educación.gob.gt")).one()
        outbox.queue_password_reset(session, ana, links.issue_link(session, ana, "reset"))
        session.commit()
    with smtp_server() as (inbox, url):
        assert run(worker(engine, settings, url).run_once()) == 1
        [mail] = inbox.wait_for(1)
    assert mail.recipients == ["ana@xn--educacin-13a.gob.gt"]
    assert rows(engine)[0].status == "sent"
