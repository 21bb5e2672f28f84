"""Helpers for the browser tests: the live server's JSON API (stdlib only) and the answer keys.

The browser tests act as people do, through Chromium; these helpers only prepare what a test
is not about (another learner who already finished a course, say) through the public API.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from ecampus.courses.content import CourseContent, QuizContent
from ecampus.courses.loader import load_course
from ecampus.quizzes import grading

ROOT = Path(__file__).resolve().parents[2]
COURSES_DIR = ROOT / "courses"
COURSE_ID = "codigo-migracion"
COURSE_TITLE = "Código de Migración de Guatemala y su reglamento"
PASSWORD = "contraseña segura 2024"


@cache
def course(course_id: str = COURSE_ID) -> CourseContent:
    """The bundled course as the server loads it (answers included: we are the author here)."""
    content, problems = load_course(COURSES_DIR / course_id)
    errors = [p for p in problems if getattr(p, "severity", "error") == "error"]
    assert not errors, f"{course_id} does not load: {problems}"
    assert content is not None, f"{course_id} does not load"
    return content


def quiz(item_id: str, course_id: str = COURSE_ID) -> QuizContent:
    item = course(course_id).items[item_id]
    assert isinstance(item, QuizContent), f"{item_id} is not a quiz"
    return item


def number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def correct_answers(quiz_content: QuizContent) -> dict[str, Any]:
    """The answers as the JSON API takes them."""
    return grading.answer_key(quiz_content)


def wrong_answers(quiz_content: QuizContent) -> dict[str, Any]:
    """Answers that get every question wrong."""
    wrong: dict[str, Any] = {}
    for question in quiz_content.questions:
        if question.type == "single":
            wrong[question.id] = next(o.id for o in question.options if o.id != question.answer)
        elif question.type == "multiple":
            wrong[question.id] = [o.id for o in question.options if o.id not in question.answer][:1]
        elif question.type == "true_false":
            wrong[question.id] = not question.answer
        elif question.type == "text":
            wrong[question.id] = "respuesta equivocada"
        else:
            wrong[question.id] = question.answer + (question.tolerance or 0) + 1000
    return wrong


def unique_email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.org"


class ApiError(AssertionError):
    pass


@dataclass
class Api:
    """A tiny client of the live server's JSON API, standard library only."""

    base_url: str
    headers: dict[str, str] = field(default_factory=dict)

    def call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        form: dict[str, str] | None = None,
        expect: int | tuple[int, ...] = (200, 201),
    ) -> Any:
        headers = {"Accept": "application/json", **self.headers}
        data = None
        if json_body is not None:
            data = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        elif form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        url = self.base_url + path
        assert url.startswith(("http://", "https://")), url
        request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                status, body = response.status, response.read()
        except urllib.error.HTTPError as exc:
            with exc:
                status, body = exc.code, exc.read()
        wanted = (expect,) if isinstance(expect, int) else expect
        if status not in wanted:
            raise ApiError(f"{method} {path} -> {status}, wanted {wanted}: {body[:500]!r}")
        return json.loads(body) if body else None

    def as_user(self, email: str, password: str) -> Api:
        token = self.call(
            "POST", "/api/v1/auth/token", form={"username": email, "password": password}
        )
        return Api(self.base_url, {"Authorization": f"Bearer {token['access_token']}"})


@dataclass
class Learner:
    email: str
    password: str
    full_name: str
    country: str
    api: Api


def register_learner(
    base_url: str,
    *,
    prefix: str = "learner",
    full_name: str = "María Fernanda Gómez",
    country: str = "GT",
    institution_type: str = "government",
    institution: str = "Instituto Guatemalteco de Migración",
) -> Learner:
    api = Api(base_url)
    email = unique_email(prefix)
    api.call(
        "POST",
        "/api/v1/auth/register",
        json_body={
            "email": email,
            "password": PASSWORD,
            "full_name": full_name,
            "institution": institution,
            "institution_type": institution_type,
            "country": country,
            "language": "es",
        },
        expect=201,
    )
    return Learner(email, PASSWORD, full_name, country, api.as_user(email, PASSWORD))


def complete_course(learner: Learner, course_id: str = COURSE_ID) -> dict[str, Any]:
    """Enrol, read every lesson and pass every quiz through the API; returns /me/courses' row."""
    content = course(course_id)
    base = f"/api/v1/courses/{course_id}"
    learner.api.call("POST", f"{base}/enroll")
    for item_id in content.order:
        item = content.items[item_id]
        if isinstance(item, QuizContent):
            result = learner.api.call(
                "POST",
                f"{base}/items/{item_id}/attempts",
                json_body={"answers": correct_answers(item)},
            )
            assert result["passed"], result
        else:
            learner.api.call("POST", f"{base}/items/{item_id}/complete")
    rows = learner.api.call("GET", "/api/v1/me/courses")
    row = next(r for r in rows if r["course_id"] == course_id)
    assert row["status"] == "completed", row
    assert row["certificate"], row
    return row


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:120]
