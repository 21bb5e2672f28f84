"""Accounts people can recover, through the API and the pages, on SQLite and PostgreSQL:
forgotten passwords, one-time links (resets and invitations), password changes, links staff
hand over, deactivation. Mail is read from a real SMTP server (aiosmtpd) or the outbox."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session, col, select

from ecampus.accounts import links, passwords
from ecampus.accounts.models import AccountToken, Role, User
from ecampus.app import create_app
from ecampus.audit.models import AuditEntry
from ecampus.mail.models import OutboxMail
from ecampus.settings import Settings
from tests import factories
from tests.mailserver import smtp_server
from tests.web.test_pages import csrf, login

NEW_PASSWORD = "una clave nueva y larga"


def db(client: TestClient) -> Session:
    return Session(client.app.state.engine, expire_on_commit=False)  # type: ignore[attr-defined]


def outbox(client: TestClient, email: str) -> list[OutboxMail]:
    with db(client) as session:
        query = select(OutboxMail).where(OutboxMail.recipient == email)
        return list(session.exec(query.order_by(col(OutboxMail.id))))


def link_in(mail: OutboxMail) -> str:
    match = re.search(r"http://testserver/reset/([A-Za-z0-9_-]+)", mail.body_text)
    assert match, mail.body_text
    return match.group(1)


def invited(client: TestClient, email: str = "invitada@example.org", language: str = "es") -> str:
    """An account made without a password (as the import makes them) and its invitation link."""
    with db(client) as session:
        user = User(
            email=email,
            password_hash=passwords.NO_PASSWORD,
            full_name="Invitada Pérez",
            country="SV",
            language=language,
        )
        session.add(user)
        url = links.issue_link(session, user, "invitation", base_url="http://testserver")
        session.commit()
    return url.rsplit("/", 1)[1]


def bearer(client: TestClient, email: str, password: str) -> dict[str, str]:
    return factories.token(client, email, password)


# --- the API ------------------------------------------------------------------------------


def test_reset_by_api_answers_alike_and_works_once(client: TestClient) -> None:
    data, old = factories.learner(client)
    unknown = client.post("/api/v1/auth/password-reset", json={"email": "nadie@example.org"})
    known = client.post("/api/v1/auth/password-reset", json={"email": data["email"].upper()})
    assert unknown.status_code == known.status_code == 202
    assert unknown.json() == known.json()
    assert outbox(client, "nadie@example.org") == []
    [mail] = outbox(client, data["email"])
    assert mail.kind == "password_reset"
    assert mail.language == "es"
    token = link_in(mail)
    with db(client) as session:
        stored = session.exec(select(AccountToken)).one()
        assert token not in stored.token_hash  # only the SHA-256 is kept
        assert stored.token_hash == links.token_hash(token)
        assert (
            timedelta(minutes=59) < stored.expires_at - stored.created_at <= timedelta(minutes=60)
        )

    confirm = client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD}
    )
    assert confirm.status_code == 204, confirm.text
    assert client.get("/api/v1/me", headers=old).status_code == 401  # earlier sessions end
    again = client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "password": "otra clave más"}
    )
    assert again.status_code == 400
    assert "no longer works" in again.json()["detail"]
    assert (
        client.get("/api/v1/me", headers=bearer(client, data["email"], NEW_PASSWORD)).status_code
        == 200
    )
    old_password = client.post(
        "/api/v1/auth/token", data={"username": data["email"], "password": data["password"]}
    )
    assert old_password.status_code == 401


def test_using_a_link_ends_every_other_link(client: TestClient) -> None:
    data = factories.register(client)
    for _ in range(2):
        client.post("/api/v1/auth/password-reset", json={"email": data["email"]})
    first, second = (link_in(m) for m in outbox(client, data["email"]))
    ok = client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": second, "password": NEW_PASSWORD}
    )
    assert ok.status_code == 204
    stale = client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": first, "password": NEW_PASSWORD}
    )
    assert stale.status_code == 400


def test_expired_unknown_and_short_passwords_are_refused(client: TestClient) -> None:
    data = factories.register(client)
    client.post("/api/v1/auth/password-reset", json={"email": data["email"]})
    token = link_in(outbox(client, data["email"])[0])
    short = client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "password": "corta"}
    )
    assert short.status_code == 422
    unknown = client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": "x" * 43, "password": NEW_PASSWORD}
    )
    assert unknown.status_code == 400
    with db(client) as session:
        session.execute(
            update(AccountToken).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        session.commit()
    expired = client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD}
    )
    assert expired.status_code == 400
    assert (
        client.post("/api/v1/auth/password-reset", json={"email": "no es correo"}).status_code
        == 422
    )


def test_deactivated_accounts_get_no_mail_and_their_links_stop(client: TestClient) -> None:
    data = factories.register(client)
    client.post("/api/v1/auth/password-reset", json={"email": data["email"]})
    token = link_in(outbox(client, data["email"])[0])
    admin = factories.staff(client, Role.admin)
    assert (
        client.post(f"/api/v1/users/{data['email']}/deactivate", headers=admin).status_code == 200
    )
    assert (
        client.post("/api/v1/auth/password-reset", json={"email": data["email"]}).status_code == 202
    )
    assert len(outbox(client, data["email"])) == 1
    used = client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD}
    )
    assert used.status_code == 400
    # Reactivated, the account signs in with its password; links from before stay dead.
    assert (
        client.post(f"/api/v1/users/{data['email']}/reactivate", headers=admin).status_code == 200
    )
    after = client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD}
    )
    assert after.status_code == 400
    factories.token(client, data["email"], data["password"])


def test_reset_requests_are_throttled_per_address_and_per_account(client: TestClient) -> None:
    data = factories.register(client)
    answers = [
        client.post("/api/v1/auth/password-reset", json={"email": data["email"]}).status_code
        for _ in range(10)
    ]
    assert answers == [202] * 10
    assert len(outbox(client, data["email"])) == 3  # a mailbox is not flooded
    refused = client.post("/api/v1/auth/password-reset", json={"email": data["email"]})
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0


def test_an_invited_account_cannot_sign_in_until_it_sets_a_password(client: TestClient) -> None:
    token = invited(client)
    for password in ("", "cualquier cosa", passwords.NO_PASSWORD):
        refused = client.post(
            "/api/v1/auth/token", data={"username": "invitada@example.org", "password": password}
        )
        assert refused.status_code in (401, 422)
    ok = client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD}
    )
    assert ok.status_code == 204
    assert (
        client.get(
            "/api/v1/me", headers=bearer(client, "invitada@example.org", NEW_PASSWORD)
        ).status_code
        == 200
    )


def test_staff_hand_over_links_by_api(client: TestClient) -> None:
    coordinator = factories.staff(client, Role.coordinator, email="coord@example.org")
    invited(client)
    learner = factories.register(client)
    other = factories.profile(email="otra.coord@example.org")
    factories.staff(client, Role.coordinator, email=other["email"])

    made = client.post("/api/v1/users/invitada@example.org/invitation", headers=coordinator)
    assert made.status_code == 200, made.text
    body = made.json()
    assert body["purpose"] == "invitation"
    assert body["url"].startswith("http://testserver/reset/")
    token = body["url"].rsplit("/", 1)[1]
    assert outbox(client, "invitada@example.org") == []  # handed over, not mailed

    has_password = client.post(f"/api/v1/users/{learner['email']}/invitation", headers=coordinator)
    assert has_password.status_code == 409
    reset = client.post(f"/api/v1/users/{learner['email']}/reset-link", headers=coordinator)
    assert reset.status_code == 200
    assert (
        client.post(f"/api/v1/users/{other['email']}/reset-link", headers=coordinator).status_code
        == 403
    )
    assert (
        client.post("/api/v1/users/nadie@example.org/reset-link", headers=coordinator).status_code
        == 404
    )
    assert (
        client.post("/api/v1/users/coord@example.org/reset-link", headers=coordinator).status_code
        == 403  # a coordinator account, their own too, is for admins to manage
    )
    learner_headers = factories.token(client, learner["email"], learner["password"])
    assert (
        client.post(
            "/api/v1/users/invitada@example.org/invitation", headers=learner_headers
        ).status_code
        == 403
    )

    ok = client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD}
    )
    assert ok.status_code == 204
    with db(client) as session:
        entries = list(session.exec(select(AuditEntry).order_by(col(AuditEntry.id))))
        link_entries = [
            (e.actor, e.action, e.subject) for e in entries if e.action.startswith("account.")
        ]
    assert link_entries == [
        ("coord@example.org", "account.invitation_link", "invitada@example.org"),
        ("coord@example.org", "account.reset_link", learner["email"]),
    ]


# --- the pages ----------------------------------------------------------------------------


def test_forgot_page_and_reset_page(client: TestClient) -> None:
    data = factories.register(client)
    login_page = client.get("/login")
    assert 'href="/forgot"' in login_page.text
    assert "¿Olvidó su contraseña?" in login_page.text
    page = client.get("/forgot")
    assert page.status_code == 200
    sent = client.post("/forgot", data={"email": data["email"], "csrf_token": csrf(page.text)})
    unknown = client.post(
        "/forgot", data={"email": "nadie@example.org", "csrf_token": csrf(page.text)}
    )
    assert sent.status_code == unknown.status_code == 200
    assert "Revise su correo" in sent.text
    assert sent.text.replace(data["email"], "X") == unknown.text.replace("nadie@example.org", "X")
    token = link_in(outbox(client, data["email"])[0])

    form = client.get(f"/reset/{token}")
    assert form.status_code == 200
    assert "Elegir una contraseña nueva" in form.text
    mismatch = client.post(
        f"/reset/{token}",
        data={
            "password": NEW_PASSWORD,
            "confirm": "otra cosa distinta",
            "csrf_token": csrf(form.text),
        },
    )
    assert mismatch.status_code == 422
    assert "no son iguales" in mismatch.text
    done = client.post(
        f"/reset/{token}",
        data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": csrf(form.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/login?reset=1"
    assert "Su nueva contraseña quedó guardada" in client.get("/login?reset=1").text
    gone = client.get(f"/reset/{token}")
    assert gone.status_code == 400
    assert "Este enlace ya no sirve" in gone.text
    login(client, data["email"], NEW_PASSWORD)


def test_an_invitation_signs_the_person_in_on_their_courses(client: TestClient) -> None:
    token = invited(client)
    form = client.get(f"/reset/{token}")
    assert "Le damos la bienvenida: elija su contraseña" in form.text
    done = client.post(
        f"/reset/{token}",
        data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": csrf(form.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/me"
    mine = client.get("/me")
    assert mine.status_code == 200
    assert "Invitada Pérez" in mine.text or "Mi aprendizaje" in mine.text


def test_forgot_page_is_throttled_in_the_readers_language(client: TestClient) -> None:
    page = client.get("/forgot")
    for _ in range(10):
        client.post("/forgot", data={"email": "alguien@example.org", "csrf_token": csrf(page.text)})
    refused = client.post(
        "/forgot", data={"email": "alguien@example.org", "csrf_token": csrf(page.text)}
    )
    assert refused.status_code == 429
    assert "Demasiados intentos" in refused.text
    assert "retry-after" in refused.headers


def test_profile_password_change_signs_out_the_other_sessions(
    client: TestClient, settings: Settings
) -> None:
    data = factories.register(client)
    with TestClient(create_app(settings)) as elsewhere:
        login(elsewhere, data["email"], data["password"])
        login(client, data["email"], data["password"])
        page = client.get("/profile")
        assert 'action="/profile/password"' in page.text
        wrong = client.post(
            "/profile/password",
            data={"current_password": "no es esta", "new_password": NEW_PASSWORD,
                  "confirm_password": NEW_PASSWORD, "csrf_token": csrf(page.text)},
        )  # fmt: skip
        assert wrong.status_code == 400
        assert "La contraseña actual no es correcta" in wrong.text
        changed = client.post(
            "/profile/password",
            data={"current_password": data["password"], "new_password": NEW_PASSWORD,
                  "confirm_password": NEW_PASSWORD, "csrf_token": csrf(page.text)},
            follow_redirects=False,
        )  # fmt: skip
        assert changed.status_code == 303
        assert "Su contraseña cambió" in client.get(changed.headers["location"]).text
        assert client.get("/me", follow_redirects=False).status_code == 200  # this one stays
        assert elsewhere.get("/me", follow_redirects=False).status_code == 303  # the other ends


def test_coordinator_deactivates_and_reactivates_in_the_browser(
    client: TestClient, settings: Settings
) -> None:
    learner = factories.register(client)
    coordinator = factories.profile(email="coord@example.org")
    factories.staff(client, Role.coordinator, email=coordinator["email"])
    with TestClient(create_app(settings)) as participant:
        login(participant, learner["email"], learner["password"])
        login(client, coordinator["email"], coordinator["password"])
        listing = client.get("/coordinator/people", params={"q": learner["email"][:8]})
        assert learner["email"] in listing.text, listing.text[listing.text.find("<main") :][:3000]
        assert "coord@example.org" not in listing.text  # coordinators manage learners only
        person = client.get(f"/coordinator/people/{learner['email']}")
        assert person.status_code == 200
        confirm = client.get(f"/coordinator/people/{learner['email']}/deactivate")
        assert "¿Desactivar esta cuenta?" in confirm.text
        assert participant.get("/me", follow_redirects=False).status_code == 200
        done = client.post(
            f"/coordinator/people/{learner['email']}/deactivate",
            data={"csrf_token": csrf(confirm.text)},
            follow_redirects=False,
        )
        assert done.status_code == 303
        assert participant.get("/me", follow_redirects=False).status_code == 303  # ended at once
        refused = participant.post(
            "/api/v1/auth/token",
            data={"username": learner["email"], "password": learner["password"]},
        )
        assert refused.status_code == 401

        link = client.post(
            f"/coordinator/people/{learner['email']}/link",
            data={"purpose": "reset", "csrf_token": csrf(confirm.text)},
        )
        assert link.status_code == 409

        again = client.get(f"/coordinator/people/{learner['email']}/reactivate")
        client.post(
            f"/coordinator/people/{learner['email']}/reactivate",
            data={"csrf_token": csrf(again.text)},
        )
        login(participant, learner["email"], learner["password"])
        made = client.post(
            f"/coordinator/people/{learner['email']}/link",
            data={"purpose": "reset", "csrf_token": csrf(again.text)},
        )
        assert made.status_code == 200
        assert re.search(r'value="http://testserver/reset/[A-Za-z0-9_-]+"', made.text)
        assert client.get("/coordinator/people/coord@example.org").status_code == 403
    with db(client) as session:
        actions = [e.action for e in session.exec(select(AuditEntry).order_by(col(AuditEntry.id)))]
    assert actions == ["account.deactivate", "account.reactivate", "account.reset_link"]


def test_the_outbox_page_lists_mail_and_retries_it(client: TestClient) -> None:
    data = factories.register(client)
    client.post("/api/v1/auth/password-reset", json={"email": data["email"]})
    with db(client) as session:
        session.execute(
            update(OutboxMail).values(
                status="failing", attempts=2, last_error="451 4.3.0 Try again later",
                next_attempt_at=datetime.now(UTC) + timedelta(hours=1),
            )
        )  # fmt: skip
        session.commit()
    coordinator = factories.profile()
    factories.staff(client, Role.coordinator, email=coordinator["email"])
    login(client, coordinator["email"], coordinator["password"])
    assert client.get("/admin/mail", follow_redirects=False).status_code == 403
    admin = factories.profile()
    factories.staff(client, Role.admin, email=admin["email"])
    login(client, admin["email"], admin["password"])
    page = client.get("/admin/mail?status=failing")
    assert page.status_code == 200
    assert data["email"] in page.text
    assert "451 4.3.0 Try again later" in page.text
    mail_id = outbox(client, data["email"])[0].id
    retried = client.post(
        "/admin/mail/retry", data={"mail": str(mail_id), "csrf_token": csrf(page.text)}
    )
    assert retried.status_code == 200
    assert outbox(client, data["email"])[0].next_attempt_at <= datetime.now(UTC)
    with db(client) as session:
        assert [e.action for e in session.exec(select(AuditEntry))] == ["mail.retry"]


def test_serve_sends_the_reset_mail_and_the_link_works(settings: Settings) -> None:
    """The whole way: the app's own sender (lifespan) delivers to a real SMTP server."""
    with smtp_server() as (inbox, url):
        configured = Settings(**{**settings.__dict__, "smtp_url": url})
        with TestClient(create_app(configured)) as client:
            data = factories.register(client, language="en")
            assert (
                client.post(
                    "/api/v1/auth/password-reset", json={"email": data["email"]}
                ).status_code
                == 202
            )
            [mail] = inbox.wait_for(1, to=data["email"])
            assert mail.subject == "Reset your ecampus password"
            assert "text/html" in {p.get_content_type() for p in mail.message.walk()}
            token = mail.link.rsplit("/", 1)[1]
            ok = client.post(
                "/api/v1/auth/password-reset/confirm",
                json={"token": token, "password": NEW_PASSWORD},
            )
            assert ok.status_code == 204
            factories.token(client, data["email"], NEW_PASSWORD)
            assert outbox(client, data["email"])[0].status == "sent"


def test_a_password_change_retires_the_links_handed_out_before(client: TestClient) -> None:
    data, headers = factories.learner(client)
    client.post("/api/v1/auth/password-reset", json={"email": data["email"]})
    token = link_in(outbox(client, data["email"])[0])
    changed = client.post(
        "/api/v1/me/password",
        json={"current_password": data["password"], "new_password": NEW_PASSWORD},
        headers=headers,
    )
    assert changed.status_code == 204
    stale = client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "password": "otra clave más"}
    )
    assert stale.status_code == 400
    factories.token(client, data["email"], NEW_PASSWORD)


def test_staff_send_a_new_invitation_by_mail(client: TestClient) -> None:
    coordinator = factories.profile(email="coord@example.org", full_name="Ana Coordinadora")
    headers = factories.staff(client, Role.coordinator, **coordinator)
    invited(client, language="en")
    sent = client.post(
        "/api/v1/users/invitada@example.org/invitation", json={"send_mail": True}, headers=headers
    )
    assert sent.status_code == 200, sent.text
    assert sent.json()["mailed"] is True
    [mail] = outbox(client, "invitada@example.org")
    assert mail.kind == "invitation"
    assert mail.language == "en"
    assert "Ana Coordinadora has opened an account for you" in mail.body_text
    assert sent.json()["url"].endswith(link_in(mail))

    login(client, coordinator["email"], coordinator["password"])
    page = client.get("/coordinator/people/invitada@example.org")
    assert "Enviar una invitación nueva por correo" in page.text
    again = client.post(
        "/coordinator/people/invitada@example.org/link",
        data={"purpose": "invitation-mail", "csrf_token": csrf(page.text)},
    )
    assert again.status_code == 200
    assert "Se envió por correo a invitada@example.org" in again.text
    assert len(outbox(client, "invitada@example.org")) == 2
    with db(client) as session:
        actions = [e.action for e in session.exec(select(AuditEntry).order_by(col(AuditEntry.id)))]
    assert actions == ["account.invitation_mail", "account.invitation_mail"]
