"""An extra attempt is one attempt, however many submissions race for it: learners who used
their three attempts get one more each, then press "Enviar" 20 times at once; exactly one
submission each counts, through a real server on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import collections

import httpx2 as httpx
from sqlalchemy import update

from ecampus.accounts.models import User
from ecampus.db import make_engine
from tests import aio
from tests.load.conftest import PASSWORD, Served, make_learners

COURSE = "demo-course"
QUIZ = f"/api/v1/courses/{COURSE}/items/quiz-1"
WRONG = {"q1": "a", "q2": ["y"], "q3": False, "q4": "nada", "q5": 1}
PRESSES = 20


def _coordinator(served: Served) -> str:
    (email,) = make_learners(served.database_url, 1, prefix="coordinacion-race")
    engine = make_engine(served.database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                update(User.__table__)
                .where(User.__table__.c.email == email)
                .values(role="coordinator")  # type: ignore[attr-defined]
            )
    finally:
        engine.dispose()
    return email


async def _race(served: Served, learners: list[str], coordinator: str) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=served.base_url, timeout=60.0) as client:

        async def bearer(email: str) -> dict[str, str]:
            response = await client.post(
                "/api/v1/auth/token", data={"username": email, "password": PASSWORD}
            )
            assert response.status_code == 200, response.text
            return {"authorization": f"Bearer {response.json()['access_token']}"}

        staff = await bearer(coordinator)
        auths = {email: await bearer(email) for email in learners}
        for email, auth in auths.items():
            assert (
                await client.post(f"/api/v1/courses/{COURSE}/enroll", headers=auth)
            ).status_code == 200
            for _ in range(3):
                used = await client.post(f"{QUIZ}/attempts", json={"answers": WRONG}, headers=auth)
                assert used.status_code == 200, used.text
            granted = await client.post(
                f"{QUIZ}/extra-attempts", json={"email": email, "count": 1}, headers=staff
            )
            assert granted.json() == {"attempts_left": 1}, granted.text
        presses = [
            client.post(f"{QUIZ}/attempts", json={"answers": WRONG}, headers=auths[email])
            for email in learners
            for _ in range(PRESSES)
        ]
        responses = await asyncio.gather(*presses)
        # What each learner sees afterwards.
        for email, auth in auths.items():
            item = (await client.get(QUIZ, headers=auth)).json()
            assert (item["attempts_used"], item["attempts_left"]) == (4, 0), (email, item)
        return list(responses)


def test_one_extra_attempt_counts_once_under_racing_submissions(served: Served) -> None:
    learners = served.learners[:5]
    responses = aio.run(_race(served, learners, _coordinator(served)))
    statuses = collections.Counter(r.status_code for r in responses)
    assert set(statuses) <= {200, 409, 503}, statuses
    accepted = [r.json()["attempt"] for r in responses if r.status_code == 200]
    assert accepted == [4] * len(learners), statuses
