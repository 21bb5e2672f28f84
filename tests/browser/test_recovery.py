"""Getting in by mail, in Chromium, against a live server that sends through a real SMTP
server (aiosmtpd, in this process): a learner resets a forgotten password from the mail's
link, and a participant imported by a coordinator sets a first password from the
invitation and lands on their courses; a participant a coordinator deactivates is signed
out of their open session at once. SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from ecampus import dbmigrate
from tests import liveserver
from tests.browser.conftest import DEFAULT_TIMEOUT_MS
from tests.browser.helpers import COURSE_ID, COURSE_TITLE, ROOT, Api, register_learner, unique_email
from tests.conftest import fresh_postgres_database
from tests.mailserver import Inbox, smtp_server

NEW_PASSWORD = "mi clave nueva 2026"


@dataclass(frozen=True)
class MailSite:
    base_url: str
    inbox: Inbox
    coordinator: Api
    log_path: Path


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def mail_site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MailSite]:
    """A live server whose ECAMPUS_SMTP_URL points at an aiosmtpd server of this process."""
    folder = tmp_path_factory.mktemp("mail-e2e")
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            database_url = f"sqlite:///{folder / 'mail.db'}"
            dbmigrate.upgrade(database_url)
        else:
            database_url = stack.enter_context(fresh_postgres_database())
        inbox, smtp_url = stack.enter_context(smtp_server())
        port = liveserver.free_port()
        base_url = f"http://127.0.0.1:{port}"
        env = liveserver.with_tests_importable(
            {
                **os.environ,
                "ECAMPUS_ENV": "test",
                "ECAMPUS_SECRET_KEY": secrets.token_urlsafe(48),
                "ECAMPUS_DATABASE_URL": database_url,
                "ECAMPUS_COURSES_DIR": str(ROOT / "courses"),
                "ECAMPUS_BASE_URL": base_url,
                "ECAMPUS_WATCH_COURSES": "false",
                "ECAMPUS_RATE_LIMIT_EXEMPT": "127.0.0.1",
                "ECAMPUS_SMTP_URL": smtp_url,
                "ECAMPUS_MAIL_FROM": "Campus de prueba <campus@example.org>",
                "ECAMPUS_SITE_NAME": "Campus de prueba",
                "PYTHONUNBUFFERED": "1",
            }
        )
        coordinator_password = "coordinadora-" + secrets.token_hex(8)
        subprocess.run(
            [*liveserver.cheap_passwords("ecampus.cli"), "users", "create", "coord@example.org",
             "--role", "coordinator", "--full-name", "Coordinadora Demo", "--password-stdin"],
            input=coordinator_password + "\n", env=env, cwd=folder, capture_output=True,
            text=True, timeout=60, check=True,
        )  # fmt: skip
        log_path = folder / "server.log"
        command = [*liveserver.cheap_passwords("uvicorn"), "ecampus.app:create_app", "--factory",
                   "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
        stack.enter_context(
            liveserver.running(
                command, env=env, cwd=folder, log_path=log_path, health_url=f"{base_url}/healthz"
            )
        )
        coordinator = Api(base_url).as_user("coord@example.org", coordinator_password)
        yield MailSite(base_url, inbox, coordinator, log_path)


@pytest.fixture
def person(chromium_browser: Browser, mail_site: MailSite) -> Iterator[Page]:
    context: BrowserContext = chromium_browser.new_context(
        base_url=mail_site.base_url,
        locale="es-GT",
        timezone_id="America/Guatemala",
        viewport={"width": 1280, "height": 800},
    )
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def set_password(page: Page, link: str) -> None:
    page.goto(link)
    page.get_by_label("Contraseña nueva").fill(NEW_PASSWORD)
    page.get_by_label("La misma contraseña otra vez").fill(NEW_PASSWORD)
    page.get_by_role("button", name=re.compile("Guardar")).click()


def test_a_learner_resets_a_forgotten_password_from_the_mail(
    person: Page, mail_site: MailSite
) -> None:
    learner = register_learner(mail_site.base_url, prefix="olvido")
    page = person
    page.goto("/login")
    page.get_by_role("link", name="¿Olvidó su contraseña?").click()
    expect(page.get_by_role("heading", name="¿Olvidó su contraseña?")).to_be_visible()
    page.get_by_label("Correo").fill(learner.email)
    page.get_by_role("button", name="Enviarme un enlace").click()
    expect(page.get_by_role("heading", name="Revise su correo")).to_be_visible()

    [mail] = mail_site.inbox.wait_for(1, to=learner.email)
    assert mail.subject == "Restablezca su contraseña de Campus de prueba"
    assert "durante 60 minutos" in mail.text
    assert mail.link.startswith(mail_site.base_url + "/reset/")
    assert f'href="{mail.link}"' in mail.html

    set_password(page, mail.link)
    expect(page.get_by_text("Su nueva contraseña quedó guardada")).to_be_visible()
    page.get_by_label("Correo").fill(learner.email)
    page.get_by_label("Contraseña").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Iniciar sesión").click()
    page.wait_for_url("**/")
    expect(page.get_by_role("button", name="Cerrar sesión")).to_be_visible()

    page.goto(mail.link)  # once only
    expect(page.get_by_role("heading", name="Este enlace ya no sirve")).to_be_visible()
    Api(mail_site.base_url).call(
        "POST", "/api/v1/auth/token",
        form={"username": learner.email, "password": learner.password}, expect=401,
    )  # fmt: skip


def test_an_invited_participant_sets_a_password_and_sees_their_courses(
    person: Page, mail_site: MailSite
) -> None:
    code = "diplomado-" + secrets.token_hex(3)
    mail_site.coordinator.call(
        "POST", "/api/v1/cohorts", json_body={"code": code, "name": "Diplomado regional"}
    )
    email = unique_email("invitada")
    sheet = (
        "correo,nombre,institución,tipo_institución,país,idioma\n"
        f"{email},Ñusta Quispe Álvarez,Ministerio de Relaciones Exteriores,Gobierno,Perú,es\n"
    ).encode()
    imported = person.request.post(
        f"{mail_site.base_url}/api/v1/cohorts/{code}/import",
        headers={"Authorization": mail_site.coordinator.headers["Authorization"]},
        multipart={
            "file": {"name": "participantes.csv", "mimeType": "text/csv", "buffer": sheet},
            "course": COURSE_ID,
            "send_invitations": "true",
        },
    )
    assert imported.status == 200, imported.text()
    assert imported.json()["created"] == 1, imported.json()

    [mail] = mail_site.inbox.wait_for(1, to=email)
    assert mail.subject == "Su acceso a Campus de prueba"
    assert "Hola, Ñusta Quispe Álvarez:" in mail.text
    assert "14 días" in mail.text
    assert "Elegir mi contraseña" in mail.html

    page = person
    page.goto(mail.link)
    expect(
        page.get_by_role("heading", name="Le damos la bienvenida: elija su contraseña")
    ).to_be_visible()
    expect(page.get_by_text(email)).to_be_visible()
    set_password(page, mail.link)
    page.wait_for_url("**/me")
    expect(page.get_by_role("heading", name="Mi aprendizaje")).to_be_visible()
    expect(page.get_by_role("link", name=COURSE_TITLE).first).to_be_visible()


def test_a_deactivated_participant_is_signed_out_at_once(
    person: Page, mail_site: MailSite, chromium_browser: Browser
) -> None:
    """A coordinator deactivates a participant from the people pages, through the
    confirmation step; the participant's open session ends on their next click."""
    learner = register_learner(mail_site.base_url, prefix="baja")
    learner.api.call("POST", f"/api/v1/courses/{COURSE_ID}/enroll")
    page = person
    page.goto("/login")
    page.get_by_label("Correo").fill(learner.email)
    page.get_by_label("Contraseña").fill(learner.password)
    page.get_by_role("button", name="Iniciar sesión").click()
    page.wait_for_url("**/")
    page.goto("/me")
    expect(page.get_by_role("heading", name="Mi aprendizaje")).to_be_visible()

    staff = chromium_browser.new_context(
        base_url=mail_site.base_url, locale="es-GT", viewport={"width": 1280, "height": 800}
    )
    staff.set_default_timeout(DEFAULT_TIMEOUT_MS)
    token = mail_site.coordinator.headers["Authorization"].removeprefix("Bearer ")
    staff.add_cookies([{"name": "ecampus_session", "value": token, "url": mail_site.base_url}])
    try:
        coordinator = staff.new_page()
        coordinator.goto(f"/coordinator/people/{learner.email}")
        coordinator.get_by_role("link", name="Desactivar esta cuenta…").click()
        expect(coordinator.get_by_role("heading", name="¿Desactivar esta cuenta?")).to_be_visible()
        coordinator.get_by_role("button", name="Sí, desactivar").click()
        expect(
            coordinator.get_by_text("La cuenta está desactivada: sus sesiones terminaron")
        ).to_be_visible()
    finally:
        staff.close()

    page.goto("/me")  # the same browser, its cookie unchanged: the session is over
    page.wait_for_url(re.compile(r"/login"))
    expect(page.get_by_role("button", name="Iniciar sesión")).to_be_visible()
    learner.api.call("GET", "/api/v1/me", expect=401)
    Api(mail_site.base_url).call(
        "POST", "/api/v1/auth/token",
        form={"username": learner.email, "password": learner.password}, expect=401,
    )  # fmt: skip
