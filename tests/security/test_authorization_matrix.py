"""Who may call what: every route of the app, every method, as six kinds of caller.

The table below is the authorisation policy written down. A route the app answers that is not
in it fails `test_every_route_has_an_entry`, so nobody adds a route without saying who may use
it; `test_the_matrix_holds` then sends each request, with real path parameters (a real course,
lesson, quiz, certificate code and account), as each caller, and checks the status, where a
redirect goes, and that nothing of someone else's leaks into the answer.

Callers: anonymous; learner (enrolled in the course, holds its certificate); other (another
learner: the learner's data is someone else's to them); author; coordinator; admin.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx
from sqlmodel import Session, select

from ecampus.accounts.models import User
from ecampus.app import create_app
from ecampus.learning.models import Enrollment
from tests import factories
from tests.conftest import FIXTURE_COURSES, make_settings
from tests.security.world import (
    CALLERS,
    COURSE,
    LESSON,
    PASSWORD,
    QUIZ,
    SPARE,
    Caller,
    World,
    app_routes,
    as_text,
    fill,
    send,
)

LOGIN = "login"  # a page's answer to a signed-out caller: 303 to /login?next=<the page>
STAFF = ("coordinator", "admin")
Expect = int | str | tuple[int, str]  # a status, LOGIN, or (303, where it redirects to)


@dataclass(frozen=True)
class Request:
    """What to send besides the path: overrides of the path parameters, and a body."""

    params: Mapping[str, str] = field(default_factory=dict)
    json: Callable[[World, Caller], Any] | None = None
    form: Callable[[World, Caller], dict[str, Any]] | None = None
    fresh_session: bool = False  # the request ends its session (logout)


@dataclass(frozen=True)
class Entry:
    expect: Mapping[str, Expect]
    request: Request = Request()

    def __post_init__(self) -> None:
        assert set(self.expect) == set(CALLERS), f"say what each caller gets: {self.expect}"


def everyone(status: Expect) -> dict[str, Expect]:
    return dict.fromkeys(CALLERS, status)


def public(status: Expect = 200, request: Request = Request()) -> Entry:
    return Entry(everyone(status), request)


def api(ok: int, *roles: str, request: Request = Request()) -> Entry:
    """An API route for signed-in callers (any, or those with `roles`; admin has them all)."""
    allowed = set(roles or ("learner", "other", "author", "coordinator", "admin")) | {"admin"}
    expect = {c: (ok if c in allowed else 403) for c in CALLERS}
    return Entry({**expect, "anonymous": 401}, request)


def page(ok: Expect, *roles: str, request: Request = Request()) -> Entry:
    """A page for signed-in callers (any, or those with `roles`)."""
    allowed = set(roles or ("learner", "other", "author", "coordinator", "admin")) | {"admin"}
    expect = {c: (ok if c in allowed else 403) for c in CALLERS}
    return Entry({**expect, "anonymous": LOGIN}, request)


def enrolled(ok: Expect, refused: Expect, anonymous: Expect, request: Request = Request()) -> Entry:
    """Only the learner is enrolled in the course: everyone else is refused."""
    expect = dict.fromkeys(CALLERS, refused)
    return Entry({**expect, "learner": ok, "anonymous": anonymous}, request)


def answers(world: World, _caller: Caller) -> dict[str, Any]:
    return {"answers": factories.answer_key(world.client, COURSE, QUIZ)}


def quiz_form(world: World, _caller: Caller) -> dict[str, Any]:
    key = factories.answer_key(world.client, COURSE, QUIZ)
    return {k: (v if isinstance(v, list) else str(v).lower()) for k, v in key.items()}


def new_account(world: World, _caller: Caller) -> dict[str, Any]:
    return factories.profile(email=f"{world.unique('new')}@example.org")


def profile_form(world: World, caller: Caller) -> dict[str, Any]:
    data = factories.profile(full_name=caller.full_name or "Someone")
    return {k: v for k, v in data.items() if k not in {"email", "password"}}


def spare_login(world: World, _caller: Caller) -> dict[str, Any]:
    return {"email": world.spare.email, "password": PASSWORD, "next": "/me"}


def spare_token(world: World, _caller: Caller) -> dict[str, Any]:
    return {"username": world.spare.email, "password": PASSWORD}


def new_cohort(world: World, _caller: Caller) -> dict[str, Any]:
    return {"code": world.unique("C"), "name": "Cohorte de prueba"}


VICTIM = {"email": "victim"}  # stands for the victim's email (filled in at run time)
VICTIM_CODE = {"code": "victim"}
NO_LINK = "x" * 43  # shaped like a one-time link's token, but no link's

MATRIX: dict[tuple[str, str], Entry] = {
    # The API's own documentation, static files and health: public.
    ("GET", "/openapi.json"): public(),
    ("GET", "/docs"): public(),
    ("GET", "/static/{name:path}"): public(),
    ("GET", "/favicon.ico"): public(),
    ("GET", "/schema/course.json"): public(),
    ("GET", "/schema/programme.json"): public(),
    ("GET", "/schema/issuer.json"): public(),
    ("GET", "/healthz"): public(),
    # Catalogue and course outlines: public (published courses).
    ("GET", "/"): public(),
    ("GET", "/courses/{course_id}"): public(),
    ("GET", "/api/v1/courses"): public(),
    ("GET", "/api/v1/courses/{course_id}"): public(),
    ("GET", "/courses/{course_id}/media/{path:path}"): public(),
    # Enrolling: anyone signed in (in a course nobody else's checks depend on).
    ("POST", "/courses/{course_id}/enroll"): page(
        (303, f"/courses/{SPARE}/items/"), request=Request({"course_id": SPARE})
    ),
    ("POST", "/api/v1/courses/{course_id}/enroll"): api(200, request=Request({"course_id": SPARE})),
    # Learning: only the enrolled learner; the others are sent to the course page or refused.
    ("GET", "/courses/{course_id}/items/{item_id}"): enrolled(
        200, (303, f"/courses/{COURSE}"), LOGIN
    ),
    ("POST", "/courses/{course_id}/items/{item_id}/complete"): enrolled(
        (303, f"/courses/{COURSE}"), (303, f"/courses/{COURSE}"), LOGIN
    ),
    ("POST", "/courses/{course_id}/items/{item_id}/attempts"): enrolled(
        200, (303, f"/courses/{COURSE}"), LOGIN, Request({"item_id": QUIZ}, form=quiz_form)
    ),
    ("GET", "/api/v1/courses/{course_id}/progress"): enrolled(200, 403, 401),
    ("GET", "/api/v1/courses/{course_id}/items/{item_id}"): enrolled(200, 403, 401),
    ("POST", "/api/v1/courses/{course_id}/items/{item_id}/complete"): enrolled(200, 403, 401),
    ("POST", "/api/v1/courses/{course_id}/items/{item_id}/attempts"): enrolled(
        200, 403, 401, Request({"item_id": QUIZ}, json=answers)
    ),
    # One's own learning and account.
    ("GET", "/me"): page(200),
    ("GET", "/api/v1/me"): api(200),
    ("GET", "/api/v1/me/courses"): api(200),
    ("GET", "/api/v1/me/certificates"): api(200),
    # A wrong current password: the route let the caller in (400, not 401 or 403) and
    # nothing changed (test_sessions covers the change itself).
    ("POST", "/api/v1/me/password"): api(
        400,
        request=Request(
            json=lambda w, c: {"current_password": "wrong-pass", "new_password": PASSWORD}
        ),
    ),
    ("GET", "/profile"): page(200),
    ("POST", "/profile"): page((303, "/profile?saved=1"), request=Request(form=profile_form)),
    # Signing up, in and out: open to all (signing in again while signed in is allowed).
    ("POST", "/api/v1/auth/register"): public(201, Request(json=new_account)),
    ("POST", "/api/v1/auth/token"): public(200, Request(form=spare_token)),
    ("POST", "/api/v1/auth/logout"): api(204, request=Request(fresh_session=True)),
    ("GET", "/login"): public(),
    ("POST", "/login"): public((303, "/me"), Request(form=spare_login)),
    ("POST", "/logout"): public((303, "/"), Request(fresh_session=True)),
    ("GET", "/register"): public(),
    ("POST", "/register"): public((303, "/me"), Request(form=new_account)),
    ("GET", "/lang/{code}"): public((303, "/"), Request({"code": "en"})),
    # Getting back in: open to all; the same answer whatever the email; a link that is not
    # one opens nothing (tests/web/test_recovery.py covers real links).
    ("POST", "/api/v1/auth/password-reset"): public(
        202, Request(json=lambda w, c: {"email": w.victim.email})
    ),
    ("POST", "/api/v1/auth/password-reset/confirm"): public(
        400, Request(json=lambda w, c: {"token": NO_LINK, "password": PASSWORD})
    ),
    ("GET", "/forgot"): public(),
    # Refused before the per-address limit is charged (the API route above charges it).
    ("POST", "/forgot"): public(422, Request(form=lambda w, c: {"email": "sin-arroba"})),
    ("GET", "/reset/{token}"): public(400, Request({"token": NO_LINK})),
    ("POST", "/reset/{token}"): public(
        400,
        Request({"token": NO_LINK}, form=lambda w, c: {"password": PASSWORD, "confirm": PASSWORD}),
    ),
    ("POST", "/profile/password"): page(
        400,
        request=Request(
            form=lambda w, c: {
                "current_password": "wrong-pass",
                "new_password": PASSWORD,
                "confirm_password": PASSWORD,
            }
        ),
    ),
    # Certificates: anyone holding a code may verify it and download its PDF.
    ("GET", "/api/v1/certificates/{code}"): public(),
    ("GET", "/verify/{code}"): public(),
    ("GET", "/verify"): public(),
    ("GET", "/certificates/{code}.pdf"): public(),
    # Digital credentials: anyone holding a code; the keys and the status lists are public.
    ("GET", "/api/v1/certificates/{code}/credential"): public(),
    ("GET", "/certificates/{code}/credential"): public(),
    ("GET", "/.well-known/jwks.json"): public(),
    ("GET", "/api/v1/credentials/status/{list_number}"): public(),
    # Coordination: coordinators and admins.
    ("POST", "/api/v1/certificates/{code}/revoke"): api(
        200, *STAFF, request=Request(VICTIM_CODE, json=lambda w, c: {"reason": "Matrix test"})
    ),
    ("POST", "/api/v1/certificates/{code}/reissue"): api(200, *STAFF, request=Request(VICTIM_CODE)),
    ("GET", "/api/v1/reports/completions"): api(200, *STAFF),
    ("GET", "/api/v1/reports/summary"): api(200, *STAFF),
    ("GET", "/api/v1/reports/dashboard"): api(200, *STAFF),
    ("GET", "/api/v1/reports/programmes"): api(200, *STAFF),
    ("GET", "/api/v1/reports/certificates"): api(200, *STAFF),
    ("GET", "/api/v1/cohorts"): api(200, *STAFF),
    ("POST", "/api/v1/cohorts"): api(201, *STAFF, request=Request(json=new_cohort)),
    ("POST", "/api/v1/cohorts/{code}/enrollments"): api(
        200,
        *STAFF,
        request=Request(
            {"code": "MATRIX"},
            json=lambda w, c: {"course": COURSE, "emails": [w.victim.email]},
        ),
    ),
    ("POST", "/api/v1/users/{email}/deactivate"): api(200, *STAFF, request=Request(VICTIM)),
    ("POST", "/api/v1/users/{email}/reactivate"): api(200, *STAFF, request=Request(VICTIM)),
    # The victim has a password: an invitation is refused (409) once the caller may act.
    ("POST", "/api/v1/users/{email}/invitation"): api(409, *STAFF, request=Request(VICTIM)),
    ("POST", "/api/v1/users/{email}/reset-link"): api(200, *STAFF, request=Request(VICTIM)),
    ("GET", "/coordinator/people"): page(200, *STAFF),
    ("GET", "/coordinator/people/{email}"): page(200, *STAFF, request=Request(VICTIM)),
    ("POST", "/coordinator/people/{email}/link"): page(
        200, *STAFF, request=Request(VICTIM, form=lambda w, c: {"purpose": "reset"})
    ),
    ("GET", "/coordinator/people/{email}/{action}"): page(
        200, *STAFF, request=Request({**VICTIM, "action": "deactivate"})
    ),
    ("POST", "/coordinator/people/{email}/{action}"): page(
        (303, "/coordinator/people/"), *STAFF, request=Request({**VICTIM, "action": "reactivate"})
    ),
    ("GET", "/admin/mail"): page(200, "admin"),
    # The audit log: admins only.
    ("GET", "/api/v1/audit"): api(200, "admin"),
    ("GET", "/admin/audit"): page(200, "admin"),
    # Importing a participants' list: staff (sent without a file, the API answers 422 once
    # the caller may import; the page's download step turns posted rows into a CSV).
    ("POST", "/api/v1/cohorts/{code}/import"): api(
        422, *STAFF, request=Request({"code": "MATRIX"}, form=lambda w, c: {"course": COURSE})
    ),
    ("GET", "/coordinator/cohorts/{code}/import"): page(
        200, *STAFF, request=Request({"code": "MATRIX"})
    ),
    ("POST", "/coordinator/cohorts/{code}/import"): page(
        200,
        *STAFF,
        request=Request({"code": "MATRIX"}, form=lambda w, c: {"step": "download", "result": "[]"}),
    ),
    # Corrections: coordinators and admins (a coordinator corrects learners' accounts only:
    # test_own_data_is_ones_own). The API acts on the victim, whom nothing else needs
    # enrolled: withdrawing and restoring are both idempotent, a move goes to the cohort the
    # victim is enrolled in anyway, the cohort keeps its name and stays open, and the name
    # given is the one the victim has. Extra attempts go to the learner, who is never withdrawn.
    ("DELETE", "/api/v1/courses/{course_id}/enrollments/{email}"): api(
        204, *STAFF, request=Request(VICTIM)
    ),
    ("POST", "/api/v1/courses/{course_id}/enrollments/{email}/restore"): api(
        200, *STAFF, request=Request(VICTIM)
    ),
    ("PUT", "/api/v1/courses/{course_id}/enrollments/{email}"): api(
        200, *STAFF, request=Request(VICTIM, json=lambda w, c: {"cohort": "MATRIX"})
    ),
    ("PATCH", "/api/v1/cohorts/{code}"): api(
        200,
        *STAFF,
        request=Request({"code": "MATRIX"}, json=lambda w, c: {"name": "Matrix", "closed": False}),
    ),
    ("POST", "/api/v1/courses/{course_id}/items/{item_id}/extra-attempts"): api(
        200,
        *STAFF,
        request=Request(
            {"item_id": QUIZ},
            json=lambda w, c: {"email": w.callers["learner"].email, "count": 1},
        ),
    ),
    ("PATCH", "/api/v1/users/{email}"): api(
        200, *STAFF, request=Request(VICTIM, json=lambda w, c: {"full_name": w.victim.full_name})
    ),
    # The pages' posts are sent without `confirm`: staff get the confirmation step (200)
    # and nothing changes (tests/web cover the corrections themselves).
    ("GET", "/coordinator/corrections"): page(200, *STAFF),
    ("GET", "/coordinator/corrections/{email}"): page(200, *STAFF, request=Request(VICTIM)),
    ("POST", "/coordinator/corrections/{email}"): page(
        200,
        *STAFF,
        request=Request(
            VICTIM, form=lambda w, c: {"full_name": "Víctima Corregida", "email": w.victim.email}
        ),
    ),
    ("GET", "/coordinator/enrolments/{course_id}/{email}"): page(
        200, *STAFF, request=Request(VICTIM)
    ),
    ("POST", "/coordinator/enrolments/{course_id}/{email}/withdraw"): page(
        200, *STAFF, request=Request(VICTIM)
    ),
    ("POST", "/coordinator/enrolments/{course_id}/{email}/restore"): page(
        200, *STAFF, request=Request(VICTIM)
    ),
    ("POST", "/coordinator/enrolments/{course_id}/{email}/move"): page(
        200, *STAFF, request=Request(VICTIM, form=lambda w, c: {"cohort": "MATRIX"})
    ),
    ("POST", "/coordinator/enrolments/{course_id}/{email}/attempts"): page(
        200, *STAFF, request=Request(form=lambda w, c: {"item": QUIZ, "count": "1"})
    ),
    ("GET", "/coordinator/cohorts/{code}"): page(200, *STAFF, request=Request({"code": "MATRIX"})),
    ("POST", "/coordinator/cohorts/{code}/rename"): page(
        200,
        *STAFF,
        request=Request({"code": "MATRIX"}, form=lambda w, c: {"name": "Matrix renombrada"}),
    ),
    ("POST", "/coordinator/cohorts/{code}/close"): page(
        200, *STAFF, request=Request({"code": "MATRIX"}, form=lambda w, c: {"closed": "true"})
    ),
    ("POST", "/admin/mail/retry"): page(
        (303, "/admin/mail"), "admin", request=Request(form=lambda w, c: {"mail": "all"})
    ),
    ("GET", "/coordinator"): page(200, *STAFF),
    ("GET", "/coordinator/cohorts"): page(200, *STAFF),
    ("GET", "/coordinator/programmes"): page(200, *STAFF),
    ("POST", "/coordinator/cohorts"): page(
        200, *STAFF, request=Request(form=lambda w, c: {"action": "create", **new_cohort(w, c)})
    ),
    ("GET", "/coordinator/certificates"): page(200, *STAFF),
    ("POST", "/coordinator/certificates"): page(
        200,
        *STAFF,
        request=Request(
            form=lambda w, c: {"action": "revoke", "code": w.victim_certificate, "reason": "Matrix"}
        ),
    ),
    # Accounts and roles: admins only.
    ("GET", "/api/v1/users"): api(200, "admin"),
    ("PUT", "/api/v1/users/{email}/role"): api(
        200, "admin", request=Request(VICTIM, json=lambda w, c: {"role": "learner"})
    ),
    # Authoring: authors, coordinators and admins.
    ("GET", "/api/v1/authoring/status"): api(200, "author", "coordinator"),
    ("GET", "/authoring"): page(200, "author", "coordinator"),
}

HOW_TO_ADD = (
    "Add an entry to MATRIX in tests/security/test_authorization_matrix.py saying what each "
    "caller (anonymous, learner, other learner, author, coordinator, admin) gets from it: "
    "public(), api(ok, *roles), page(ok, *roles), enrolled(...) or an explicit dict."
)


def entry_for(method: str, path: str) -> Entry | None:
    """HEAD is answered as GET (Starlette adds it to GET routes it serves itself)."""
    return MATRIX.get((method, path)) or (MATRIX.get(("GET", path)) if method == "HEAD" else None)


def test_every_route_has_an_entry(tmp_path: Path) -> None:
    app = create_app(make_settings(f"sqlite:///{tmp_path / 'x.db'}", FIXTURE_COURSES))
    routes = app_routes(app)
    missing = [f"{m} {p}" for m, p in routes if entry_for(m, p) is None]
    assert not missing, f"Routes with no authorisation entry: {missing}. {HOW_TO_ADD}"
    stale = sorted(f"{m} {p}" for m, p in MATRIX if (m, p) not in routes)
    assert not stale, f"MATRIX names routes the app no longer has (remove them): {stale}"


def path_values(world: World, overrides: Mapping[str, str]) -> dict[str, str]:
    values = {
        "course_id": COURSE,
        "item_id": LESSON,
        "code": world.certificate,
        "list_number": "0",
        "email": world.callers["learner"].email,
        "name": "css/app.css",
        "path": "img/mapa.png",
    }
    values.update(overrides)
    if values.get("email") == "victim":
        values["email"] = world.victim.email
    if values.get("code") == "victim":
        values["code"] = world.victim_certificate
    return values


def _outcome(response: httpx.Response, expect: Expect, url: str) -> str | None:
    """What is wrong with the response, if anything."""
    location = response.headers.get("location", "")
    if expect == LOGIN:
        if response.status_code != 303 or not location.startswith("/login?next="):
            return f"expected 303 to /login, got {response.status_code} {location}"
        return None
    if isinstance(expect, tuple):
        status, target = expect
        if response.status_code != status or not location.startswith(target):
            return f"expected {status} to {target}, got {response.status_code} {location}"
        return None
    if response.status_code != expect:
        return f"expected {expect}, got {response.status_code}: {response.text[:200]}"
    return None


def _leaks(world: World, caller: str, url: str, response: httpx.Response) -> str | None:
    """Someone else's email or certificate code in the answer of a caller who is not staff."""
    if caller in STAFF:
        return None
    body = as_text(response)
    others = {n: e for n, e in world.emails().items() if n != caller}
    for name, email in others.items():
        if email in body:
            return f"shows the {name}'s email"
    codes = {"learner": world.certificate, "victim": world.victim_certificate}
    for owner, code in codes.items():
        if owner != caller and code in body and code not in url:
            return f"shows the {owner}'s certificate code"
    return None


def run(world: World, method: str, path: str, entry: Entry, caller_name: str) -> str | None:
    request = entry.request
    caller = world.callers[caller_name]
    if request.fresh_session:
        caller = world.fresh_session(caller_name)
    url = fill(path, path_values(world, request.params))
    response = send(
        world,
        method,
        url,
        caller,
        json=request.json(world, caller) if request.json else None,
        data=request.form(world, caller) if request.form else None,
    )
    problem = _outcome(response, entry.expect[caller_name], url)
    if problem is None and 200 <= response.status_code < 300:
        problem = _leaks(world, caller_name, url, response)
    return f"{method} {url} as {caller_name}: {problem}" if problem else None


def test_the_matrix_holds(world: World) -> None:
    routes = app_routes(world.client.app)
    problems = []
    for method, path in routes:
        entry = entry_for(method, path)
        assert entry is not None, f"{method} {path} has no entry. {HOW_TO_ADD}"
        for caller in CALLERS:
            problem = run(world, method, path, entry, caller)
            if problem:
                problems.append(problem)
    assert not problems, "\n".join(problems)
    # Refused requests changed nothing: only the learner and the victim are in the course,
    # and the victim is still a learner.
    with Session(world.client.app.state.engine) as db:  # type: ignore[attr-defined]
        enrolled_ids = set(
            db.exec(select(Enrollment.user_id).where(Enrollment.course_id == COURSE))
        )
        emails = set(db.exec(select(User.email).where(User.id.in_(enrolled_ids))))  # type: ignore[union-attr]
        victim = db.exec(select(User).where(User.email == world.victim.email)).one()
    assert emails == {world.callers["learner"].email, world.victim.email}
    assert victim.role == "learner"


def test_own_data_is_ones_own(world: World) -> None:
    """The "me" routes answer about the caller: the learner sees their certificate and course,
    another learner sees neither. Staff act on accounts below their own role only."""
    learner, other = world.callers["learner"], world.callers["other"]
    mine = send(world, "GET", "/api/v1/me/certificates", learner).json()
    # The course's certificate, and the diploma of the programme it completes.
    assert {(c["kind"], c["subject_id"]) for c in mine} == {
        ("course", COURSE),
        ("programme", "demo-programme"),
    }
    assert world.certificate in {c["code"] for c in mine}
    assert send(world, "GET", "/api/v1/me/certificates", other).json() == []
    assert [c["course_id"] for c in send(world, "GET", "/api/v1/me/courses", learner).json()] == [
        COURSE
    ]
    assert send(world, "GET", "/api/v1/me/courses", other).json() == []
    for caller in (learner, other):
        assert send(world, "GET", "/api/v1/me", caller).json()["email"] == caller.email
    assert world.certificate in send(world, "GET", "/me", learner).text
    assert world.certificate not in send(world, "GET", "/me", other).text
    # A coordinator manages learners' accounts only: never an admin's, an author's, another
    # coordinator's or their own.
    coordinator = world.callers["coordinator"]
    for target in ("admin", "author", "coordinator"):
        email = world.callers[target].email
        response = send(world, "POST", f"/api/v1/users/{email}/deactivate", coordinator)
        assert response.status_code == 403, (target, response.text)
        assert send(world, "GET", "/api/v1/me", world.callers[target]).status_code == 200
        # Nor correct their name or email, by the API or the page.
        response = send(
            world, "PATCH", f"/api/v1/users/{email}", coordinator, json={"full_name": "Cambiado"}
        )
        assert response.status_code == 403, (target, response.text)
        response = send(world, "GET", f"/coordinator/corrections/{email}", coordinator)
        assert response.status_code == 403, (target, response.text)
        me = send(world, "GET", "/api/v1/me", world.callers[target]).json()
        assert me["full_name"] == world.callers[target].full_name
    admin = world.callers["admin"]
    # An admin may not lock themself out either.
    response = send(world, "POST", f"/api/v1/users/{admin.email}/deactivate", admin)
    assert response.status_code == 409
    assert send(world, "GET", "/api/v1/me", admin).status_code == 200
    # An admin corrects anyone's account, a coordinator's included.
    email = world.callers["coordinator"].email
    response = send(world, "PATCH", f"/api/v1/users/{email}", admin, json={"full_name": "Cambiado"})
    assert response.status_code == 200, response.text
    assert response.json()["changed"] == ["full_name"]


def test_drafts_stay_hidden_on_every_course_route(world: World) -> None:
    """Every route that takes a course id answers a learner as if an unpublished course did
    not exist, and an author (who previews drafts) otherwise. A staff-only route (the
    corrections) refuses both by role before it looks at the course: the same 403 as for a
    published course, which tells nothing of the draft."""
    checked = 0
    for method, path in app_routes(world.client.app):
        if "{course_id}" not in path or method == "HEAD":
            continue
        entry = entry_for(method, path)
        assert entry is not None
        url = fill(path, path_values(world, {**entry.request.params, "course_id": "draft-course"}))
        staff_only = entry.expect["learner"] == entry.expect["author"] == 403
        for caller, hidden in (("learner", True), ("author", False)):
            who = world.callers[caller]
            response = send(
                world,
                method,
                url,
                who,
                json=entry.request.json(world, who) if entry.request.json else None,
                data=entry.request.form(world, who) if entry.request.form else None,
            )
            if staff_only:
                assert response.status_code == 403, (method, url, caller, response.text)
            else:
                assert (response.status_code == 404) is hidden, (method, url, caller, response.text)
            checked += 1
    assert checked >= 20
