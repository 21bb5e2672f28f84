"""Helpers that act as a user would, through the real API."""

from __future__ import annotations

import itertools
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from ecampus.accounts import service as accounts
from ecampus.accounts.models import Role
from ecampus.accounts.schemas import RegisterIn
from ecampus.quizzes import grading

_counter = itertools.count(1)


def profile(**overrides: Any) -> dict[str, Any]:
    n = next(_counter)
    data = {
        "email": f"learner{n}@example.org",
        "password": "correct horse battery",
        "full_name": f"Learner Número {n}",
        "institution": "Instituto Guatemalteco de Migración",
        "institution_type": "government",
        "country": "GT",
        "language": "es",
    }
    data.update(overrides)
    return data


def register(client: TestClient, **overrides: Any) -> dict[str, Any]:
    data = profile(**overrides)
    response = client.post("/api/v1/auth/register", json=data)
    assert response.status_code == 201, response.text
    return data


def token(client: TestClient, email: str, password: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def learner(client: TestClient, **overrides: Any) -> tuple[dict[str, Any], dict[str, str]]:
    data = register(client, **overrides)
    return data, token(client, data["email"], data["password"])


def staff(client: TestClient, role: Role, **overrides: Any) -> dict[str, str]:
    """An account with a role, created as `ecampus users create` does."""
    data = profile(**overrides)
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        accounts.create_user(session, data=RegisterIn(**data), role=role)
    return token(client, data["email"], data["password"])


def answer_key(client: TestClient, course_id: str, quiz_id: str) -> dict[str, Any]:
    """The correct answers, read from the loaded course as an author would know them."""
    quiz = client.app.state.catalogue.get(course_id).items[quiz_id]  # type: ignore[attr-defined]
    return grading.answer_key(quiz)


def wrong_answers(client: TestClient, course_id: str, quiz_id: str) -> dict[str, Any]:
    quiz = client.app.state.catalogue.get(course_id).items[quiz_id]  # type: ignore[attr-defined]
    wrong: dict[str, Any] = {}
    for question in quiz.questions:
        if question.type == "single":
            wrong[question.id] = next(o.id for o in question.options if o.id != question.answer)
        elif question.type == "multiple":
            wrong[question.id] = [o.id for o in question.options if o.id not in question.answer][
                :1
            ] or []
        elif question.type == "true_false":
            wrong[question.id] = not question.answer
        elif question.type == "text":
            wrong[question.id] = "respuesta equivocada"
        else:
            wrong[question.id] = question.answer + question.tolerance + 1000
    return wrong
