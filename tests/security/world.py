"""A small campus to attack: one account per kind of caller, a learner who finished a course
(and holds its certificate), a victim learner whose account and certificate staff act on,
and helpers that send a request as one caller the way a browser or an API client would."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlmodel import Session

from ecampus.accounts import service as accounts
from ecampus.accounts import tokens
from ecampus.accounts.models import Role, User
from ecampus.accounts.schemas import RegisterIn
from ecampus.certificates import keys
from ecampus.web import sessions as session_cookie
from ecampus.web.deps import CSRF_COOKIE
from ecampus.web.sessions import SESSION_COOKIE
from tests import factories

COURSE = "demo-course"
SPARE = "spare-course"  # everyone may enrol here without changing who is enrolled in COURSE
DRAFT = "draft-course"  # unpublished: authors and up only
LESSON = "leccion-1"
QUIZ = "quiz-1"
PASSWORD = "correct horse battery"
CALLERS = ("anonymous", "learner", "other", "author", "coordinator", "admin")
ROLES = {
    "learner": Role.learner,
    "other": Role.learner,
    "author": Role.author,
    "coordinator": Role.coordinator,
    "admin": Role.admin,
}
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]*)"')


def add_course_copies(courses_dir: Path) -> None:
    """A spare copy of the fixture course, and an unpublished one."""
    source = courses_dir / COURSE
    for course_id, extra in ((SPARE, ""), (DRAFT, "published: false\n")):
        target = courses_dir / course_id
        shutil.copytree(source, target)
        text = (target / "course.yaml").read_text(encoding="utf-8")
        text = text.replace(f"id: {COURSE}\n", f"id: {course_id}\n{extra}", 1)
        (target / "course.yaml").write_text(text, encoding="utf-8")


@dataclass
class Caller:
    name: str
    email: str = ""
    full_name: str = ""
    token: str = ""  # the JWT of its sign-in session ("" for anonymous)
    csrf: str = ""  # as the pages give it (bound to the session, or to the pre-login cookie)
    csrf_seed: str = ""  # anonymous only: the pre-login cookie the token is bound to


@dataclass
class World:
    client: TestClient
    callers: dict[str, Caller]
    certificate: str  # the learner's certificate code
    victim: Caller  # a learner no caller is: staff deactivate it and revoke its certificate
    victim_certificate: str
    spare: Caller  # an account whose password everyone may use to sign in
    cohort: str
    counter: Iterator[int] = field(default_factory=lambda: iter(range(1, 10**6)))

    @property
    def secret(self) -> str:
        return str(self.client.app.state.settings.secret_key)  # type: ignore[attr-defined]

    def emails(self) -> dict[str, str]:
        people = [*self.callers.values(), self.victim]
        return {p.name: p.email for p in people if p.email}

    def fresh_session(self, caller: str) -> Caller:
        """A second sign-in session of the same account (for logout, which ends it)."""
        base = self.callers[caller]
        if not base.token:
            return base
        token = _issue(self.client, base.email)
        return Caller(
            name=base.name,
            email=base.email,
            full_name=base.full_name,
            token=token,
            csrf=page_csrf(self.client, token),
        )

    def unique(self, stem: str) -> str:
        return f"{stem}{next(self.counter)}"


def _engine(client: TestClient) -> Any:
    return client.app.state.engine  # type: ignore[attr-defined]


def _create(client: TestClient, role: Role, **overrides: Any) -> Caller:
    data = factories.profile(password=PASSWORD, **overrides)
    with Session(_engine(client)) as db:
        accounts.create_user(db, data=RegisterIn(**data), role=role)
    token = _issue(client, data["email"])
    return Caller(name="", email=data["email"], full_name=data["full_name"], token=token)


def _issue(client: TestClient, email: str) -> str:
    """A sign-in session, started as a successful login starts one."""
    settings = client.app.state.settings  # type: ignore[attr-defined]
    with Session(_engine(client), expire_on_commit=False) as db:
        user = accounts.get_by_email(db, email)
        assert isinstance(user, User)
        token, _lifetime = session_cookie.issue(db, settings, user)
    return token


def page_csrf(client: TestClient, token: str) -> str:
    """The CSRF token a page gives this session, read from its meta tag."""
    response = client.get("/verify", headers={"Cookie": f"{SESSION_COOKIE}={token}"})
    client.cookies.clear()
    match = _META_CSRF.search(response.text)
    assert match, "pages carry <meta name=csrf-token>"
    return match.group(1)


def _anonymous(client: TestClient) -> Caller:
    response = client.get("/login")
    seed = response.cookies.get(CSRF_COOKIE)
    client.cookies.clear()
    match = _META_CSRF.search(response.text)
    assert seed, "the login page sets a pre-login CSRF cookie"
    assert match, "the login page names the CSRF token"
    return Caller(name="anonymous", csrf=match.group(1), csrf_seed=seed)


def _finish_course(client: TestClient, token: str) -> str:
    """Enrol, complete every lesson and pass the quiz: the course's certificate code."""
    auth = {"Authorization": f"Bearer {token}"}
    assert client.post(f"/api/v1/courses/{COURSE}/enroll", headers=auth).status_code == 200
    course = client.app.state.catalogue.get(COURSE)  # type: ignore[attr-defined]
    for item_id in course.order:
        if item_id == QUIZ:
            answers = factories.answer_key(client, COURSE, QUIZ)
            response = client.post(
                f"/api/v1/courses/{COURSE}/items/{QUIZ}/attempts",
                json={"answers": answers},
                headers=auth,
            )
        else:
            response = client.post(
                f"/api/v1/courses/{COURSE}/items/{item_id}/complete", headers=auth
            )
        assert response.status_code == 200, response.text
    progress = client.get(f"/api/v1/courses/{COURSE}/progress", headers=auth).json()
    assert progress["certificate"], progress
    return str(progress["certificate"])


def build_world(client: TestClient) -> World:
    callers = {"anonymous": _anonymous(client)}
    for name, role in ROLES.items():
        caller = _create(client, role, full_name=f"{name.title()} Pérez")
        caller.name = name
        caller.csrf = page_csrf(client, caller.token)
        callers[name] = caller
    victim = _create(client, Role.learner, full_name="Víctima Learner")
    victim.name = "victim"
    spare = _create(client, Role.learner, full_name="Spare Learner")
    spare.name = "spare"
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        keys.generate(session, secret=client.app.state.settings.secret_key)  # type: ignore[attr-defined]
    certificate = _finish_course(client, callers["learner"].token)
    victim_certificate = _finish_course(client, victim.token)
    admin = {"Authorization": f"Bearer {callers['admin'].token}"}
    response = client.post(
        "/api/v1/cohorts", json={"code": "MATRIX", "name": "Matrix"}, headers=admin
    )
    assert response.status_code == 201, response.text
    return World(
        client=client,
        callers=callers,
        certificate=certificate,
        victim=victim,
        victim_certificate=victim_certificate,
        spare=spare,
        cohort="MATRIX",
    )


def send(
    world: World,
    method: str,
    url: str,
    caller: Caller,
    *,
    csrf: bool = True,
    json: Any = None,
    data: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """As `caller`: API paths with a bearer token (as API clients do), pages with the session
    cookie and, for unsafe methods, the page's CSRF token in X-CSRF-Token (as htmx does)."""
    sent: dict[str, str] = {}
    cookies: dict[str, str] = {}
    if caller.token and url.startswith("/api/"):
        sent["Authorization"] = f"Bearer {caller.token}"
    elif caller.token:
        cookies[SESSION_COOKIE] = caller.token
    elif caller.csrf_seed and method in UNSAFE:
        cookies[CSRF_COOKIE] = caller.csrf_seed
    if csrf and method in UNSAFE and caller.csrf and not sent:
        sent["X-CSRF-Token"] = caller.csrf
    if cookies:
        sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    sent.update(headers or {})
    client = world.client
    try:
        return client.request(method, url, headers=sent, json=json, data=data)
    finally:
        client.cookies.clear()  # cookies a response set belong to that caller only


def app_routes(app: Any) -> list[tuple[str, str]]:
    """Every (method, path) the app answers, HEAD included where a route declares it."""
    found: list[tuple[str, str]] = []
    for route in iter_route_contexts(app.routes):
        for method in sorted(route.methods or ()):
            found.append((method, str(route.path)))
    return found


_PARAM = re.compile(r"{(\w+)(?::\w+)?}")


def fill(path: str, values: Mapping[str, str]) -> str:
    """A route's path with its parameters replaced ({name} and {name:path} alike)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in values, f"no value for path parameter {{{name}}} in {path}"
        return values[name]

    return _PARAM.sub(value, path)


def as_text(response: httpx.Response) -> str:
    kind = response.headers.get("content-type", "")
    if kind.startswith(("text/", "application/json")) or "xml" in kind:
        return response.text
    return ""


def token_claims(world: World, caller: str) -> tokens.Claims:
    claims = tokens.decode_access_token(
        world.callers[caller].token,
        secret=world.secret,
        issuer=world.client.app.state.settings.base_url,  # type: ignore[attr-defined]
    )
    assert claims is not None
    return claims
