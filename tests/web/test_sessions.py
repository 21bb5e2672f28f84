"""Sessions that end: logout, password changes, deactivation, role changes and deletion
take effect on the next request, on every process (the state lives in the database)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from jose import jwt
from sqlalchemy import event, text, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from ecampus.accounts import service as accounts
from ecampus.accounts import sessions, tokens
from ecampus.accounts.models import Role, User, UserSession
from ecampus.accounts.schemas import RegisterIn
from ecampus.app import create_app
from ecampus.learning import service as learning
from ecampus.settings import Settings
from ecampus.web.sessions import SESSION_COOKIE
from tests import factories
from tests.web.test_pages import COURSE, csrf, login

LESSON = f"/courses/{COURSE}/items/leccion-1"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sign_in(client: TestClient, email: str, password: str) -> str:
    response = client.post("/api/v1/auth/token", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def me(client: TestClient, token: str) -> int:
    return client.get("/api/v1/me", headers=bearer(token)).status_code


@contextmanager
def other_process(settings: Settings) -> Iterator[TestClient]:
    """A second app on the same database, as a second worker process would be."""
    with TestClient(create_app(settings)) as second:
        yield second


def db(client: TestClient) -> Session:
    return Session(client.app.state.engine, expire_on_commit=False)  # type: ignore[attr-defined]


def test_logout_ends_that_token_only_and_on_every_process(
    client: TestClient, settings: Settings
) -> None:
    data = factories.register(client)
    first = sign_in(client, data["email"], data["password"])
    second = sign_in(client, data["email"], data["password"])
    with other_process(settings) as elsewhere:
        assert me(elsewhere, first) == 200  # seen (and cached, were it cached) there first
        response = client.post("/api/v1/auth/logout", headers=bearer(first))
        assert response.status_code == 204, response.text
        assert me(client, first) == 401
        assert me(elsewhere, first) == 401
        assert client.get(
            f"/api/v1/courses/{COURSE}/progress", headers=bearer(first)
        ).status_code in (401, 404)
        assert client.post("/api/v1/auth/logout", headers=bearer(first)).status_code == 401
        # The account's other session (another device) carries on.
        assert me(client, second) == 200
        assert me(elsewhere, second) == 200
    assert client.post("/api/v1/auth/logout").status_code == 401


def test_browser_logout_ends_the_session_not_only_the_cookie(client: TestClient) -> None:
    data = factories.register(client)
    login(client, data["email"], data["password"])
    cookie = client.cookies[SESSION_COOKIE]
    page = client.get("/me")
    assert page.status_code == 200
    out = client.post("/logout", data={"csrf_token": csrf(page.text)}, follow_redirects=False)
    assert out.status_code == 303
    assert out.headers["clear-site-data"] == '"storage"'
    assert SESSION_COOKIE not in client.cookies
    # Someone who copied the cookie before the logout gets nothing with it.
    client.cookies.set(SESSION_COOKIE, cookie)
    again = client.get("/me", follow_redirects=False)
    assert again.status_code == 303
    assert again.headers["location"].startswith("/login")
    assert client.get("/api/v1/me").status_code == 401
    assert me(client, cookie) == 401


def test_role_changes_take_effect_on_the_next_request(
    client: TestClient, settings: Settings
) -> None:
    admin = factories.staff(client, Role.admin)
    data = factories.profile()
    with db(client) as session:
        accounts.create_user(session, data=RegisterIn(**data), role=Role.admin)
    token = sign_in(client, data["email"], data["password"])
    with other_process(settings) as elsewhere:
        assert elsewhere.get("/api/v1/users", headers=bearer(token)).status_code == 200
        demoted = client.put(
            f"/api/v1/users/{data['email']}/role", json={"role": "learner"}, headers=admin
        )
        assert demoted.status_code == 200, demoted.text
        # The old token keeps its session, but not the admin role it was issued under.
        assert elsewhere.get("/api/v1/users", headers=bearer(token)).status_code == 403
        assert client.get("/api/v1/users", headers=bearer(token)).status_code == 403
        assert client.get("/api/v1/me", headers=bearer(token)).json()["role"] == "learner"
        # Promotion works the same way, without signing in again.
        client.put(
            f"/api/v1/users/{data['email']}/role", json={"role": "coordinator"}, headers=admin
        )
        report = "/api/v1/reports/completions?format=json"
        assert elsewhere.get(report, headers=bearer(token)).status_code == 200
        assert elsewhere.get("/api/v1/users", headers=bearer(token)).status_code == 403


def test_role_change_reaches_an_open_browser_session(client: TestClient) -> None:
    admin = factories.staff(client, Role.admin)
    data = factories.profile()
    factories.register(client, **data)
    login(client, data["email"], data["password"])
    assert client.get("/coordinator", follow_redirects=False).status_code == 403
    client.put(f"/api/v1/users/{data['email']}/role", json={"role": "coordinator"}, headers=admin)
    assert client.get("/coordinator").status_code == 200
    client.put(f"/api/v1/users/{data['email']}/role", json={"role": "learner"}, headers=admin)
    assert client.get("/coordinator", follow_redirects=False).status_code == 403


def test_deactivation_ends_sessions_at_once(client: TestClient, settings: Settings) -> None:
    coordinator = factories.staff(client, Role.coordinator)
    admin = factories.staff(client, Role.admin)
    data, learner = factories.learner(client)
    _other, other_headers = factories.learner(client)
    with other_process(settings) as elsewhere:
        assert elsewhere.get("/api/v1/me", headers=learner).status_code == 200
        # Nobody but coordinators and admins; coordinators only for learners.
        refused = client.post(f"/api/v1/users/{data['email']}/deactivate", headers=other_headers)
        assert refused.status_code == 403
        done = client.post(f"/api/v1/users/{data['email']}/deactivate", headers=coordinator)
        assert done.status_code == 200, done.text
        assert done.json() == {"email": data["email"], "role": "learner", "is_active": False}
        assert elsewhere.get("/api/v1/me", headers=learner).status_code == 401
        assert client.get("/api/v1/me", headers=learner).status_code == 401
        assert elsewhere.get("/api/v1/me", headers=other_headers).status_code == 200
    refused_login = client.post(
        "/api/v1/auth/token", data={"username": data["email"], "password": data["password"]}
    )
    assert refused_login.status_code == 401
    back = client.post(f"/api/v1/users/{data['email']}/reactivate", headers=coordinator)
    assert back.status_code == 200
    assert back.json()["is_active"] is True
    assert client.get("/api/v1/me", headers=learner).status_code == 401  # old sessions stay over
    assert me(client, sign_in(client, data["email"], data["password"])) == 200
    # A coordinator cannot lock out staff; an admin can; nobody locks themselves out.
    staff = factories.profile()
    with db(client) as session:
        accounts.create_user(session, data=RegisterIn(**staff), role=Role.author)
    url = f"/api/v1/users/{staff['email']}/deactivate"
    assert client.post(url, headers=coordinator).status_code == 403
    assert client.post(url, headers=admin).status_code == 200
    own = client.get("/api/v1/me", headers=admin).json()["email"]
    assert client.post(f"/api/v1/users/{own}/deactivate", headers=admin).status_code == 409
    assert (
        client.post("/api/v1/users/nobody@example.org/deactivate", headers=admin).status_code == 404
    )


def test_password_change_signs_out_the_other_sessions(client: TestClient) -> None:
    data = factories.register(client)
    here = sign_in(client, data["email"], data["password"])
    there = sign_in(client, data["email"], data["password"])
    wrong = client.post(
        "/api/v1/me/password",
        json={"current_password": "not it at all", "new_password": "a new passphrase"},
        headers=bearer(here),
    )
    assert wrong.status_code == 400
    assert me(client, there) == 200
    short = client.post(
        "/api/v1/me/password",
        json={"current_password": data["password"], "new_password": "short"},
        headers=bearer(here),
    )
    assert short.status_code == 422
    changed = client.post(
        "/api/v1/me/password",
        json={"current_password": data["password"], "new_password": "a new passphrase"},
        headers=bearer(here),
    )
    assert changed.status_code == 204, changed.text
    assert me(client, here) == 200
    assert me(client, there) == 401
    old = client.post(
        "/api/v1/auth/token", data={"username": data["email"], "password": data["password"]}
    )
    assert old.status_code == 401
    assert me(client, sign_in(client, data["email"], "a new passphrase")) == 200


def test_end_sessions_refuses_a_sign_in_checked_against_the_old_password(
    client: TestClient,
) -> None:
    """Signed in with the old password, session written after the change: refused."""
    data = factories.register(client)
    with db(client) as session:
        user = accounts.get_by_email(session, data["email"])
        assert user is not None
        stale_version = user.session_version
        sessions.set_password(session, user=user, password="another passphrase")
        session.refresh(user)
        assert user.session_version == stale_version + 1
        # The racing sign-in read the account before the change (a copy, not in this session).
        as_read = User(
            id=user.id,
            email=user.email,
            password_hash="",
            full_name=user.full_name,
            session_version=stale_version,
        )
        started = sessions.start(session, user=as_read, hours=1)
        assert sessions.lookup(session, user_id=user.id or 0, session_id=started.id) is None


def test_a_deleted_accounts_token_is_refused(client: TestClient, database_url: str) -> None:
    data, headers = factories.learner(client)
    login(client, data["email"], data["password"])
    user_id = client.get("/api/v1/me", headers=headers).json()["id"]
    with db(client) as session:
        session.execute(text("DELETE FROM users WHERE id = :id"), {"id": user_id})
        session.commit()
    started = time.monotonic()
    enrol = client.post(f"/api/v1/courses/{COURSE}/enroll", headers=headers)
    assert enrol.status_code == 401
    assert time.monotonic() - started < 2
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    page = client.get(LESSON, follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/login")
    # The next account never inherits the old one's id, so the old token stays dead.
    _newcomer, newcomer_headers = factories.learner(client)
    assert client.get("/api/v1/me", headers=newcomer_headers).json()["id"] > user_id
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_enrolling_a_vanished_account_fails_fast(client: TestClient) -> None:
    """The domain function itself no longer retries for ever when the account is gone."""
    with db(client) as session, pytest.raises(IntegrityError):
        learning.enroll(session, user_id=987654, course_id=COURSE)


def test_tokens_carry_issuer_audience_and_id(client: TestClient, settings: Settings) -> None:
    data = factories.register(client)
    token = sign_in(client, data["email"], data["password"])
    claims = jwt.get_unverified_claims(token)
    assert claims["iss"] == settings.base_url
    assert claims["aud"] == tokens.AUDIENCE
    assert claims["jti"]
    assert claims["sid"]
    assert claims["exp"] - claims["iat"] == settings.token_minutes * 60 == 12 * 60 * 60
    assert "role" not in claims
    # Signed with the right secret but for another site (issuer) or audience: refused.
    for changes in ({"iss": "https://elsewhere.example"}, {"aud": "ecampus:reset"}):
        forged = jwt.encode({**claims, **changes}, settings.secret_key, algorithm="HS256")
        assert me(client, forged) == 401
    assert me(client, jwt.encode(claims, settings.secret_key, algorithm="HS256")) == 200


def _aged_cookie(client: TestClient, settings: Settings, *, age_minutes: float) -> str:
    """This browser's session cookie, as if issued `age_minutes` ago."""
    claims = jwt.get_unverified_claims(client.cookies[SESSION_COOKIE])
    token, _lifetime = tokens.create_access_token(
        secret=settings.secret_key,
        issuer=settings.base_url,
        user_id=int(claims["sub"]),
        session_id=claims["sid"],
        language="es",
        minutes=settings.token_minutes,
        now=datetime.now(UTC) - timedelta(minutes=age_minutes),
    )
    client.cookies.delete(SESSION_COOKIE)
    client.cookies.set(SESSION_COOKIE, token, domain="testserver.local")  # as the server set it
    return token


def test_an_active_browser_session_is_renewed(client: TestClient, settings: Settings) -> None:
    data = factories.register(client)
    login(client, data["email"], data["password"])
    first = client.cookies[SESSION_COOKIE]
    sid = jwt.get_unverified_claims(first)["sid"]
    # Young cookie: left alone.
    young = client.get("/me")
    assert SESSION_COOKIE not in young.headers.get("set-cookie", "")
    # Past half its life: the next request gets a fresh token for the same session.
    old = _aged_cookie(client, settings, age_minutes=settings.token_minutes * 0.6)
    response = client.get("/me")
    assert response.status_code == 200
    assert f"{SESSION_COOKIE}=" in response.headers["set-cookie"]
    assert "httponly" in response.headers["set-cookie"].lower()
    renewed = client.cookies[SESSION_COOKIE]
    assert renewed != old
    fresh = jwt.get_unverified_claims(renewed)
    assert fresh["sid"] == sid
    assert time.time() - fresh["iat"] < 60
    assert fresh["jti"] != jwt.get_unverified_claims(old)["jti"]
    # The lesson page (its own query) and JSON calls from the page renew as well.
    client.post(f"/api/v1/courses/{COURSE}/enroll", headers={"X-CSRF-Token": csrf(response.text)})
    _aged_cookie(client, settings, age_minutes=settings.token_minutes * 0.7)
    lesson = client.get(LESSON)
    assert lesson.status_code == 200
    assert f"{SESSION_COOKIE}=" in lesson.headers["set-cookie"]
    # The CSRF token is bound to the session, so forms opened before a renewal still post.
    assert csrf(lesson.text) == csrf(response.text)
    # Past its life, a token is refused: the browser was left alone too long.
    _aged_cookie(client, settings, age_minutes=settings.token_minutes + 1)
    assert client.get("/me", follow_redirects=False).status_code == 303


def test_renewal_stops_at_the_sessions_absolute_end(client: TestClient, settings: Settings) -> None:
    data = factories.register(client)
    login(client, data["email"], data["password"])
    sid = jwt.get_unverified_claims(client.cookies[SESSION_COOKIE])["sid"]
    _aged_cookie(client, settings, age_minutes=settings.token_minutes * 0.6)
    # The session ends after this token does, but before a full new token would.
    ending = datetime.now(UTC) + timedelta(minutes=settings.token_minutes * 0.8)
    with db(client) as session:
        session.execute(update(UserSession).where(UserSession.id == sid).values(expires_at=ending))  # type: ignore[arg-type]
        session.commit()
    response = client.get("/me")
    assert response.status_code == 200
    renewed = jwt.get_unverified_claims(client.cookies[SESSION_COOKIE])
    assert renewed["exp"] == int(ending.timestamp())  # renewed up to the end, not past it
    with db(client) as session:
        session.execute(
            update(UserSession)
            .where(UserSession.id == sid)  # type: ignore[arg-type]
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        session.commit()
    assert client.get("/me", follow_redirects=False).status_code == 303


def test_bearer_tokens_are_not_renewed(client: TestClient, settings: Settings) -> None:
    data = factories.register(client)
    token = sign_in(client, data["email"], data["password"])
    claims = jwt.get_unverified_claims(token)
    aged, _ = tokens.create_access_token(
        secret=settings.secret_key,
        issuer=settings.base_url,
        user_id=int(claims["sub"]),
        session_id=claims["sid"],
        language="es",
        minutes=settings.token_minutes,
        now=datetime.now(UTC) - timedelta(minutes=settings.token_minutes * 0.9),
    )
    response = client.get("/api/v1/me", headers=bearer(aged))
    assert response.status_code == 200
    assert "set-cookie" not in response.headers


def test_the_lesson_page_makes_one_database_round_trip(client: TestClient) -> None:
    data = factories.register(client)
    login(client, data["email"], data["password"])
    page = client.get(f"/courses/{COURSE}")
    client.post(f"/courses/{COURSE}/enroll", data={"csrf_token": csrf(page.text)})
    assert client.get(LESSON).status_code == 200  # warm: templates, caches
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = client.app.state.engine  # type: ignore[attr-defined]
    event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get(LESSON)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200
    assert len(statements) == 1, statements
    assert "user_sessions" in statements[0]
    assert "enrollments" in statements[0]
    # The same page, once the session has ended, is a sign-in redirect.
    with db(client) as session:
        user = accounts.get_by_email(session, data["email"])
        assert user is not None
        sessions.deactivate(session, user=user)
    gone = client.get(LESSON, follow_redirects=False)
    assert gone.status_code == 303
    assert gone.headers["location"].startswith("/login")


def test_the_lesson_page_reads_the_role_from_the_account(
    client: TestClient, courses_dir: Path
) -> None:
    """Drafts are for authors: a demoted author's open session stops seeing them at once."""
    yaml = courses_dir / COURSE / "course.yaml"
    yaml.write_text(yaml.read_text().replace("pass_mark: 70", "pass_mark: 70\npublished: false"))
    client.app.state.catalogue.load()  # type: ignore[attr-defined]
    admin = factories.staff(client, Role.admin)
    data = factories.profile()
    with db(client) as session:
        accounts.create_user(session, data=RegisterIn(**data), role=Role.author)
    login(client, data["email"], data["password"])
    page = client.get(f"/courses/{COURSE}")
    client.post(f"/courses/{COURSE}/enroll", data={"csrf_token": csrf(page.text)})
    assert client.get(LESSON).status_code == 200
    client.put(f"/api/v1/users/{data['email']}/role", json={"role": "learner"}, headers=admin)
    assert client.get(LESSON).status_code == 404


def test_a_page_never_holds_two_pooled_connections_at_once(client: TestClient) -> None:
    """/verify/{code} queries with its own session and then renders the menu, which names
    the caller: the caller was looked up before the route took its connection, so a burst of
    such pages can never leave every request waiting for a second connection."""
    data = factories.register(client)
    login(client, data["email"], data["password"])
    client.get("/verify/ABCD-EFGH-JKLM")  # warm
    out = 0
    most = 0

    def checkout(*_args: Any) -> None:
        nonlocal out, most
        out += 1
        most = max(most, out)

    def checkin(*_args: Any) -> None:
        nonlocal out
        out -= 1

    engine = client.app.state.engine  # type: ignore[attr-defined]
    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", checkin)
    try:
        page = client.get("/verify/ABCD-EFGH-JKLM")
    finally:
        event.remove(engine, "checkout", checkout)
        event.remove(engine, "checkin", checkin)
    assert page.status_code in (200, 404)
    assert data["full_name"] in page.text or "/logout" in page.text  # the signed-in menu
    assert most == 1
