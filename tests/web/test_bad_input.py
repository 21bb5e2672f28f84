"""Bad input gets a clear 4xx, never a 500: NUL bytes, lone surrogates, odd codes and file
names, blank-looking names, emails in other spellings; and what the terminal and the API
docs page may show. Every test here runs on SQLite and PostgreSQL (the `client` fixture)."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any
from urllib.parse import unquote

import pytest
from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.testclient import TestClient
from sqlalchemy import text as sql

from ecampus import cli
from ecampus.accounts.models import Role
from ecampus.app import create_app
from ecampus.settings import Settings
from ecampus.text import clean_person_name, terminal_safe
from ecampus.web import inputguard
from tests import factories
from tests.conftest import FIXTURE_COURSES, make_settings

COURSE = "demo-course"
QUIZ = f"/api/v1/courses/{COURSE}/items/quiz-1"
KEY = {"q1": "b", "q2": ["x", "z"], "q3": True, "q4": "IGM", "q5": 7}


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the form"
    return match.group(1)


def page_login(client: TestClient, email: str, password: str) -> Any:
    token = csrf(client.get("/login").text)
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token, "next": "/me"},
        follow_redirects=False,
    )


def refused(response: Any, *loc: str | int) -> None:
    """A JSON 422 that names where the unusable text was."""
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert any(e["type"] == "unusable_text" and e["loc"] == list(loc) for e in detail), detail


def count_users(client: TestClient) -> int:
    with client.app.state.engine.connect() as connection:  # type: ignore[attr-defined]
        return int(connection.execute(sql("SELECT count(*) FROM users")).scalar_one())


def earn_certificate(client: TestClient) -> tuple[str, dict[str, str]]:
    _data, auth = factories.learner(client)
    assert client.post(f"/api/v1/courses/{COURSE}/enroll", headers=auth).status_code == 200
    for lesson in ("leccion-1", "leccion-2", "leccion-3"):
        client.post(f"/api/v1/courses/{COURSE}/items/{lesson}/complete", headers=auth)
    result = client.post(f"{QUIZ}/attempts", headers=auth, json={"answers": KEY}).json()
    return str(result["progress"]["certificate"]), auth


# --- NUL bytes ---------------------------------------------------------------------------


def test_nul_in_any_api_string_is_a_422_and_nothing_is_stored(client: TestClient) -> None:
    before = count_users(client)
    for field in ("full_name", "email", "institution", "password", "country"):
        value = factories.profile()[field] + "\x00x"
        response = client.post("/api/v1/auth/register", json=factories.profile(**{field: value}))
        refused(response, "body", field)
    assert count_users(client) == before
    refused(
        client.post("/api/v1/auth/token", data={"username": "a\x00@example.org", "password": "x"}),
        "body",
        "username",
    )
    data, auth = factories.learner(client)
    refused(client.get("/api/v1/certificates/AAAA%00"), "path", "code")
    admin = factories.staff(client, Role.admin)
    for name in ("course", "cohort", "country", "institution_type", "since"):
        response = client.get(f"/api/v1/reports/completions?format=json&{name}=a%00", headers=admin)
        refused(response, "query", name)
    refused(
        client.post("/api/v1/cohorts", headers=admin, json={"code": "gt-1", "name": "Guate\x00"}),
        "body",
        "name",
    )
    assert client.get("/api/v1/cohorts", headers=admin).json() == []
    refused(
        client.put("/api/v1/users/a%00b@example.org/role", headers=admin, json={"role": "author"}),
        "path",
        "email",
    )
    code, _auth = earn_certificate(client)
    coordinator = factories.staff(client, Role.coordinator)
    revoke = client.post(
        f"/api/v1/certificates/{code}/revoke", headers=coordinator, json={"reason": "mal\x00"}
    )
    refused(revoke, "body", "reason")
    assert client.get(f"/api/v1/certificates/{code}").json()["revoked"] is False
    # A key is text too, and the message never echoes the bad text back.
    refused(client.post(f"{QUIZ}/attempts", headers=auth, json={"answers": {"q\x00": "b"}}),
            "body", "answers", "q\\x00")  # fmt: skip
    assert client.get("/api/v1/me", headers=auth).json()["email"] == data["email"]


def test_nul_in_a_text_answer_is_refused_before_the_attempt_counts(client: TestClient) -> None:
    _data, auth = factories.learner(client)
    client.post(f"/api/v1/courses/{COURSE}/enroll", headers=auth)
    answers = {**KEY, "q4": "IG\x00M"}
    refused(client.post(f"{QUIZ}/attempts", headers=auth, json={"answers": answers}),
            "body", "answers", "q4")  # fmt: skip
    first = client.post(f"{QUIZ}/attempts", headers=auth, json={"answers": KEY}).json()
    assert (first["attempt"], first["attempts_left"]) == (1, 2)


def test_nul_in_page_forms_and_queries_is_a_422_page_in_the_readers_language(
    client: TestClient,
) -> None:
    before = count_users(client)
    token = csrf(client.get("/register").text)
    data = factories.profile(full_name="Ana\x00María")
    page = client.post("/register", data={**data, "csrf_token": token})
    assert page.status_code == 422
    assert "text/html" in page.headers["content-type"]
    assert "El campo «full_name» contiene un carácter NUL (U+0000)" in page.text
    assert count_users(client) == before
    login = page_login(client, "ana\x00@example.org", "whatever password")
    assert login.status_code == 422
    search = client.get("/?q=migraci%00n", headers={"accept-language": "en"})
    assert search.status_code == 422
    assert "The field “q” contains a NUL character (U+0000)" in search.text
    assert client.get("/verify/AAAA%00").status_code == 422
    assert client.get("/certificates/AAAA%00.pdf").status_code == 422

    learner = factories.register(client)
    assert page_login(client, learner["email"], learner["password"]).status_code == 303
    course = client.get(f"/courses/{COURSE}")
    client.post(f"/courses/{COURSE}/enroll", data={"csrf_token": csrf(course.text)})
    quiz = client.get(f"/courses/{COURSE}/items/quiz-1")
    form = {"csrf_token": csrf(quiz.text), "q1": "b", "q4": "IG\x00M"}
    assert client.post(f"/courses/{COURSE}/items/quiz-1/attempts", data=form).status_code == 422
    auth = factories.token(client, learner["email"], learner["password"])
    first = client.post(f"{QUIZ}/attempts", headers=auth, json={"answers": KEY}).json()
    assert (first["attempt"], first["attempts_left"]) == (1, 2)  # the refused one never counted
    profile = client.get("/profile")
    saved = client.post(
        "/profile",
        data={"csrf_token": csrf(profile.text), "full_name": "Otro\x00Nombre", "country": "GT"},
    )
    assert saved.status_code == 422

    client.cookies.clear()
    coordinator = factories.profile()
    factories.staff(client, Role.coordinator, **coordinator)
    page_login(client, coordinator["email"], coordinator["password"])
    token = csrf(client.get("/coordinator/cohorts").text)
    cohort = client.post("/coordinator/cohorts", data={"csrf_token": token, "action": "create",
                                                       "code": "gt-1", "name": "Guate\x00"})  # fmt: skip
    assert cohort.status_code == 422
    revoke = client.post("/coordinator/certificates", data={"csrf_token": token, "action": "revoke",
                                                            "code": "AAAA-BBBB-CCCC", "reason": "mal\x00"})  # fmt: skip
    assert revoke.status_code == 422
    assert client.get("/coordinator?country=G%00T").status_code == 422


# --- Lone surrogates ----------------------------------------------------------------------


def test_lone_surrogate_in_a_text_answer_is_refused_before_it_is_stored(
    client: TestClient,
) -> None:
    _data, auth = factories.learner(client)
    client.post(f"/api/v1/courses/{COURSE}/enroll", headers=auth)
    headers = {**auth, "content-type": "application/json"}
    for body in (
        b'{"answers": {"q4": "\\ud800"}}',
        b'{"answers": {"q4": "IGM \\udfff"}}',
        b'{"answers": {"q4": "\\udc00\\ud800"}}',  # the wrong order is no pair
        b'{"answers": {"q4": "\xed\xa0\x80"}}',  # one sent as raw bytes (json lets it pass)
    ):
        refused(client.post(f"{QUIZ}/attempts", headers=headers, content=body),
                "body", "answers", "q4")  # fmt: skip
    # A real pair is one character (an emoji), and an ordinary wrong answer.
    emoji = client.post(f"{QUIZ}/attempts", headers=headers,
                        content=b'{"answers": {"q4": "\\ud83d\\ude00"}}')  # fmt: skip
    assert emoji.status_code == 200
    assert (emoji.json()["attempt"], emoji.json()["attempts_left"]) == (1, 2)
    name = b'{"email": "s@example.org", "password": "long enough", "full_name": "A\\ud800",'
    name += b' "country": "GT"}'
    register = client.post("/api/v1/auth/register", content=name, headers=headers)
    refused(register, "body", "full_name")


# --- Certificate codes and file names -----------------------------------------------------


@pytest.mark.parametrize("code", ["%E2%82%AC", "%C3%91AAA-BBBB-CCCC", "A" * 5000, "%0A", "a%20b"])
def test_odd_certificate_codes_are_not_found(client: TestClient, code: str) -> None:
    lookup = client.get(f"/verify?code={code}", follow_redirects=False)
    assert lookup.status_code in (200, 303), lookup.status_code
    if lookup.status_code == 303:
        assert client.get(lookup.headers["location"]).status_code == 404
    if code.strip("%0A"):
        assert client.get(f"/verify/{code}").status_code == 404
        api = client.get(f"/api/v1/certificates/{code}")
        assert api.status_code == 404
        assert api.json()["valid"] is False
        assert client.get(f"/certificates/{code}.pdf").status_code == 404


def test_a_typed_code_is_found_however_it_was_written(client: TestClient) -> None:
    code, _auth = earn_certificate(client)
    typed = f" {code.lower().replace('-', ' ')} "
    lookup = client.get("/verify", params={"code": typed}, follow_redirects=False)
    assert lookup.headers["location"] == f"/verify/{code}"
    assert client.get(lookup.headers["location"]).status_code == 200


async def _raw_status(app: Any, path: str) -> int:
    """GET `path` straight through ASGI: HTTP clients refuse URLs this long themselves."""
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": unquote(path), "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
    }  # fmt: skip

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return int(next(m["status"] for m in sent if m["type"] == "http.response.start"))


def test_long_or_odd_media_names_are_not_found(client: TestClient) -> None:
    media = f"/courses/{COURSE}/media/"
    assert client.get(f"{media}img/mapa.png").status_code == 200
    assert client.get(f"{media}{'a' * 5000}.png").status_code == 404
    assert client.get(f"{media}{'abcdefgh/' * 600}x.png").status_code == 404
    assert client.get(f"{media}%E2%82%AC.png").status_code == 404
    assert client.get(f"{media}img%00.png").status_code == 422
    huge = f"{media}{'a' * 100_000}.png"
    assert client.portal.call(_raw_status, client.app, huge) == 404  # type: ignore[union-attr]


def test_a_100_kb_certificate_code_is_not_found(client: TestClient) -> None:
    code = "A" * 100_000
    for path in (f"/verify/{code}", f"/api/v1/certificates/{code}", f"/certificates/{code}.pdf"):
        assert client.portal.call(_raw_status, client.app, path) == 404  # type: ignore[union-attr]


# --- Names --------------------------------------------------------------------------------

BLANK_LOOKING = [
    "\u200b\u200b\u200b",
    "\u200c\u200d\u2060",
    "\ufeff\ufeff",
    "\u202e\u202d\u2066\u2069",
    "\u200e\u200f",
    " \u3000\u00a0\u2003 ",
    "\u200b \u200b \u200b",
]


@pytest.mark.parametrize("name", BLANK_LOOKING)
def test_a_name_made_of_invisible_characters_is_refused(client: TestClient, name: str) -> None:
    response = client.post("/api/v1/auth/register", json=factories.profile(full_name=name))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "full_name"]
    token = csrf(client.get("/register").text)
    page = client.post("/register", data={**factories.profile(full_name=name), "csrf_token": token})
    assert page.status_code == 422
    assert "Escriba su nombre completo tal como debe aparecer en sus certificados." in page.text


def test_names_are_trimmed_of_invisible_edges_and_stored_in_nfc(client: TestClient) -> None:
    typed = "\ufeff\u200b  Jose\u0301   Mari\u0301a  Pe\u0301rez\u200d\u2060 "
    data, auth = factories.learner(client, full_name=typed)
    me = client.get("/api/v1/me", headers=auth).json()
    assert me["full_name"] == "José María Pérez"
    assert unicodedata.is_normalized("NFC", me["full_name"])
    # Joiners inside a name are part of how some scripts are written, and stay.
    assert clean_person_name("क्\u200dष Devi") == "क्\u200dष Devi"
    override = client.post("/api/v1/auth/register",
                           json=factories.profile(full_name="Ana \u202egnaL"))  # fmt: skip
    assert override.status_code == 422
    tab = client.post("/api/v1/auth/register", json=factories.profile(full_name="Ana\tLang"))
    assert tab.status_code == 422
    page_login(client, data["email"], data["password"])
    profile = client.get("/profile")
    blank = client.post("/profile", data={"csrf_token": csrf(profile.text),
                                          "full_name": "\u200b\u200b", "country": "GT"})  # fmt: skip
    assert blank.status_code == 422
    assert client.get("/api/v1/me", headers=auth).json()["full_name"] == "José María Pérez"


# --- Emails -------------------------------------------------------------------------------

NFC_EMAIL = "josé.núñez@exámple.org"


@pytest.mark.parametrize(
    "typed",
    [
        unicodedata.normalize("NFD", NFC_EMAIL),
        "josé.núñez@xn--exmple-qta.org",
        "JOSÉ.NÚÑEZ@EXÁMPLE.ORG",
        f"  {unicodedata.normalize('NFD', NFC_EMAIL).upper()} ",
    ],
)
def test_emails_in_nfd_or_punycode_sign_in_to_the_same_account(
    client: TestClient, typed: str
) -> None:
    password = "correct horse battery"
    registered = client.post(
        "/api/v1/auth/register", json=factories.profile(email=typed, password=password)
    )
    assert registered.status_code == 201, registered.text
    assert registered.json()["email"] == NFC_EMAIL
    again = client.post("/api/v1/auth/register", json=factories.profile(email=NFC_EMAIL))
    assert again.status_code == 409
    for spelling in {typed, NFC_EMAIL, "josé.núñez@xn--exmple-qta.org",
                     unicodedata.normalize("NFD", NFC_EMAIL)}:  # fmt: skip
        auth = factories.token(client, spelling, password)
        assert client.get("/api/v1/me", headers=auth).json()["email"] == NFC_EMAIL
    assert page_login(client, "josé.núñez@xn--exmple-qta.org", password).status_code == 303
    admin = factories.staff(client, Role.admin)
    role = client.put(f"/api/v1/users/{typed.strip()}/role", headers=admin, json={"role": "author"})
    assert role.status_code == 200
    assert role.json()["email"] == NFC_EMAIL


# --- The terminal -------------------------------------------------------------------------


def test_users_list_escapes_control_characters(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with TestClient(create_app(make_settings(database_url, FIXTURE_COURSES))) as client:
        data = factories.register(client, full_name="Mallory Example")
        # Older rows (or rows written by hand) may still hold what the checks now refuse.
        with client.app.state.engine.begin() as connection:  # type: ignore[attr-defined]
            connection.execute(
                sql("UPDATE users SET full_name = :name WHERE email = :email"),
                {
                    "name": "Mallory\x1b[2J\x1b]0;pwned\x07\u202eevil\r\nroot",
                    "email": data["email"],
                },
            )
    monkeypatch.setenv("ECAMPUS_DATABASE_URL", database_url)
    monkeypatch.setenv("ECAMPUS_ENV", "test")
    monkeypatch.setenv("ECAMPUS_SECRET_KEY", "x" * 40)
    assert cli.main(["users", "list"]) == 0
    out = capsys.readouterr().out
    assert not any(
        unicodedata.category(c) in {"Cc", "Cf"} for c in out.replace("\t", "").replace("\n", "")
    )
    line = next(line for line in out.splitlines() if data["email"] in line)
    assert line.split("\t")[2] == "Mallory\\x1b[2J\\x1b]0;pwned\\x07\\u202eevil\\x0d\\x0aroot"
    assert terminal_safe("José \\ Pérez") == "José \\\\ Pérez"


# --- Cookies and the API docs ---------------------------------------------------------------


def test_cookies_are_secure_by_default_behind_https() -> None:
    base = {"ECAMPUS_ENV": "test", "ECAMPUS_SECRET_KEY": "x" * 40}
    https = {**base, "ECAMPUS_BASE_URL": "https://campus.example.org"}
    assert Settings.from_env(https).cookie_secure is True
    assert Settings.from_env({**https, "ECAMPUS_COOKIE_SECURE": "false"}).cookie_secure is False
    assert Settings.from_env(base).cookie_secure is False
    plain = {**base, "ECAMPUS_BASE_URL": "http://127.0.0.1:8000"}
    assert Settings.from_env({**plain, "ECAMPUS_COOKIE_SECURE": "true"}).cookie_secure is True


def test_the_login_cookie_is_secure_on_an_https_site(database_url: str) -> None:
    settings = make_settings(database_url, FIXTURE_COURSES, cookie_secure=True)
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        data = factories.register(client)
        response = page_login(client, data["email"], data["password"])
        assert response.status_code == 303
        session_cookie = next(
            c for c in response.headers.get_list("set-cookie") if "ecampus_session" in c
        )
        assert "Secure" in session_cookie
        assert "HttpOnly" in session_cookie


def test_api_docs_use_local_files_under_the_sites_policy(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert 'href="/docs"' in client.get("/").text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "<script>" not in page.text  # no inline script: the policy would block it
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources
    assert all(s.startswith("/") for s in sources), sources  # no CDN
    scripts = re.findall(r'<script src="([^"]+)"', page.text)
    assert any("vendor/swagger-ui/swagger-ui-bundle." in s for s in scripts)
    for source in sources:
        assert client.get(source).status_code == 200, source
    init = client.get(next(s for s in scripts if "api-docs" in s)).text
    assert "SwaggerUIBundle(" in init
    assert 'data-openapi-url="/openapi.json"' in page.text
    assert client.get("/openapi.json").status_code == 200
    licence = client.get("/static/vendor/swagger-ui/LICENSE").text
    assert "Apache License" in licence


def test_api_docs_are_off_in_production_unless_asked_for(database_url: str) -> None:
    production = {"ECAMPUS_ENV": "production", "ECAMPUS_SECRET_KEY": "x" * 40}
    assert Settings.from_env(production).api_docs is False
    assert Settings.from_env({**production, "ECAMPUS_API_DOCS": "true"}).api_docs is True
    assert Settings.from_env({"ECAMPUS_ENV": "development"}).api_docs is True
    assert Settings.from_env({"ECAMPUS_ENV": "test", "ECAMPUS_API_DOCS": "no"}).api_docs is False
    settings = make_settings(database_url, FIXTURE_COURSES, api_docs=False)
    with TestClient(create_app(settings)) as client:
        assert client.get("/docs").status_code == 404
        assert 'href="/docs"' not in client.get("/").text  # the footer does not offer it
        assert client.get("/openapi.json").status_code == 200


def test_report_downloads_named_after_any_filter(client: TestClient) -> None:
    admin = factories.staff(client, Role.admin)
    for course in ("curso-€-ñ", 'a"b;c', "línea\nnueva", "\U000b1df6"):
        for format in ("csv", "xlsx"):
            response = client.get(
                "/api/v1/reports/completions",
                params={"format": format, "course": course},
                headers=admin,
            )
            assert response.status_code == 200, (course, format)
            disposition = response.headers["content-disposition"]
            assert disposition.startswith('attachment; filename="completions-')
            assert disposition.isascii()
            assert "filename*=UTF-8''completions-" in disposition


def test_multipart_fields_are_checked_when_the_route_declares_them() -> None:
    """No route of ours takes multipart yet; an upload route (imports) gets the same check on
    its declared text fields, while a route that parses its own upload keeps its own limits."""
    app = FastAPI(dependencies=[inputguard.CHECK])
    inputguard.install(app)

    @app.post("/api/v1/upload")
    async def upload(
        course: Annotated[str, Form()], file: Annotated[UploadFile, File()]
    ) -> dict[str, int]:
        return {"size": len(await file.read())}

    @app.post("/api/v1/raw")
    async def raw(request: Request) -> dict[str, int]:
        async with request.form() as form:
            return {"fields": len(form)}

    with TestClient(app) as client:
        spreadsheet = {"file": ("learners.xlsx", b"PK\x03\x04\x00\x00binary", "application/zip")}
        ok = client.post("/api/v1/upload", data={"course": "demo"}, files=spreadsheet)
        assert ok.json() == {"size": 12}  # NUL bytes inside a file are its business
        refused(
            client.post("/api/v1/upload", data={"course": "de\x00mo"}, files=spreadsheet),
            "body",
            "course",
        )
        assert client.post("/api/v1/raw", data={"a": "x\x00"}, files=spreadsheet).json() == {
            "fields": 2
        }
