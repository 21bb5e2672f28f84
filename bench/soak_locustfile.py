"""Simulated learners for `bench/soak.py` (locust): register or sign in, enrol, read, finish.

Each learner signs in to an account made before the run (SOAK_PREMADE of them, as a
coordinator's import makes them), or registers (one in five, and everyone once those run
out), or is a learner who stopped after a course and comes back; it picks a course it has
not finished, enrols, opens every item's page, marks lessons done and
answers quizzes with the correct answers from the course files, then takes another course.

Every completion the server acknowledges (the response that says "completed" with a
certificate code) is appended to the record file, with anything that is not an expected
answer: 5xx, 503 (busy, retried after Retry-After), connection failures (the server killed),
unexpected 4xx. The orchestrator reads that file afterwards and checks the database.

Configuration (environment): SOAK_RECORD (the record file), SOAK_COURSES_DIR, SOAK_WAIT
("min,max" seconds between a learner's steps), SOAK_PREMADE, SOAK_PASSWORD.
"""

from __future__ import annotations

import json
import os
import random
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from locust import FastHttpUser, between, task

from ecampus.courses.content import CourseContent, QuizContent
from ecampus.courses.loader import load_course
from ecampus.quizzes import grading

PASSWORD = os.environ.get("SOAK_PASSWORD", "soak-password-2026")
WAIT_MIN, WAIT_MAX = (float(x) for x in os.environ.get("SOAK_WAIT", "1,3").split(","))
# Bounds: a learner waits out a busy server (503) or a restart (connection refused) this
# many times for one request before giving up on that journey and starting another.
BUSY_TRIES = 10
DOWN_TRIES = 90
DOWN_PAUSE = 1.0


def _load_courses(folder: Path) -> dict[str, CourseContent]:
    courses = {}
    for course_file in sorted(folder.glob("*/course.yaml")):
        content, _problems = load_course(course_file.parent, render=False)
        if content is not None and content.published:
            courses[content.id] = content
    if not courses:
        raise SystemExit(f"no published course loads from {folder}")
    return courses


COURSES = _load_courses(Path(os.environ.get("SOAK_COURSES_DIR", "courses")))
KEYS = {
    (course.id, item_id): grading.answer_key(item)
    for course in COURSES.values()
    for item_id, item in course.items.items()
    if isinstance(item, QuizContent)
}
_record = open(os.environ.get("SOAK_RECORD", "soak-record.jsonl"), "a", encoding="utf-8")  # noqa: SIM115 - open for the whole run
# Learners who finished a course and may come back to sign in and take another.
RETURNING: list[str] = []
# Accounts made before the run (as a coordinator's import would): soak-pre-N@example.org.
PREMADE = int(os.environ.get("SOAK_PREMADE", "0"))
_premade = iter(range(PREMADE))
# A share of new learners register themselves instead.
REGISTER_SHARE = 0.2


def record(kind: str, **fields: Any) -> None:
    _record.write(json.dumps({"kind": kind, "t": time.time(), **fields}) + "\n")
    _record.flush()


class GiveUp(Exception):
    """The server stayed unreachable or busy past the bounds: start another journey."""


class Learner(FastHttpUser):
    wait_time = between(WAIT_MIN, WAIT_MAX)
    connection_timeout = 5.0
    network_timeout = 30.0

    email = ""
    token = ""
    finished: set[str]
    journey: Iterator[None] | None = None

    @task
    def step(self) -> None:
        """One step of the learner's journey (one page read and its action, usually)."""
        try:
            if self.journey is None:
                self.journey = self.plan()
            next(self.journey)
        except StopIteration:
            self.journey = None
        except GiveUp as exc:
            record("gave_up", email=self.email, reason=str(exc))
            self.journey = None
            self.token = ""

    def plan(self) -> Iterator[None]:
        if not self.token:
            self.sign_in_or_register()
            yield
        choices = [c for c in COURSES if c not in self.finished]
        if not choices:
            self.token = ""  # every course done: this place goes to another learner
            return
        course = COURSES[random.choice(choices)]
        base = f"/api/v1/courses/{course.id}"
        state = self.call("POST", f"{base}/enroll", name="enrol")
        yield
        done = set(state["done"])
        for item_id in course.order:
            if item_id in done:
                continue
            item = course.items[item_id]
            # The learner opens the item's page as a browser does, then acts on it.
            self.call("GET", f"/courses/{course.id}/items/{item_id}", name="item page", page=True)
            if isinstance(item, QuizContent):
                result = self.attempt(course.id, item_id)
                progress = result["progress"] if result else None
            else:
                progress = self.call("POST", f"{base}/items/{item_id}/complete", name="lesson done")
            if progress and progress["status"] == "completed":
                self.acknowledged(course.id, progress)
                self.maybe_leave()
                return
            yield
        progress = self.call("GET", f"{base}/progress", name="progress")
        if progress["status"] == "completed":
            self.acknowledged(course.id, progress)
            self.maybe_leave()
        else:
            record("unexpected", what="course not completed after every item", progress=progress)

    def maybe_leave(self) -> None:
        """Some learners stop after a course and come back later (another user signs in)."""
        if random.random() < 0.3:
            RETURNING.append(self.email)
            self.token = ""

    def acknowledged(self, course_id: str, progress: dict[str, Any]) -> None:
        self.finished.add(course_id)
        if not progress.get("certificate"):
            record("unexpected", what="completed without a certificate", course=course_id)
            return
        record("completed", email=self.email, course=course_id, certificate=progress["certificate"])

    def attempt(self, course_id: str, item_id: str) -> dict[str, Any] | None:
        path = f"/api/v1/courses/{course_id}/items/{item_id}/attempts"
        body = {"answers": KEYS[(course_id, item_id)]}
        result = self.call("POST", path, name="quiz attempt", json=body, also=(409,))
        if result.get("passed"):
            return result
        # 409: no attempt left. Only a retried attempt the server had already counted (and
        # passed) before a crash explains it: the quiz must then be done.
        progress = self.call("GET", f"/api/v1/courses/{course_id}/progress", name="progress")
        if item_id not in progress["done"]:
            record("unexpected", what="quiz refused", course=course_id, item=item_id)
            raise GiveUp("quiz refused")
        return {"progress": progress}

    def sign_in_or_register(self) -> None:
        self.finished = set()
        premade = next(_premade, None) if random.random() >= REGISTER_SHARE else None
        if RETURNING and random.random() < 0.2:
            self.email = RETURNING.pop(random.randrange(len(RETURNING)))
        elif premade is not None:
            self.email = f"soak-pre-{premade}@example.org"
        else:
            self.email = f"soak-{uuid.uuid4().hex[:12]}@example.org"
            profile = {
                "email": self.email,
                "password": PASSWORD,
                "full_name": "Aprendiz de Prueba Número " + self.email[5:11],
                "institution": "Instituto Guatemalteco de Migración",
                "institution_type": "government",
                "country": random.choice(("GT", "SV", "HN", "MX")),
                "language": "es",
            }
            self.call("POST", "/api/v1/auth/register", name="register", json=profile, ok=(201,),
                      also=(409,), auth=False)  # fmt: skip
        token = self.call("POST", "/api/v1/auth/token", name="sign in", auth=False,
                          data={"username": self.email, "password": PASSWORD})  # fmt: skip
        self.token = token["access_token"]
        for row in self.call("GET", "/api/v1/me/courses", name="my courses"):
            if row["status"] == "completed":
                self.finished.add(row["course_id"])

    def call(
        self,
        method: str,
        path: str,
        *,
        name: str,
        json: Any = None,
        data: dict[str, str] | None = None,
        ok: tuple[int, ...] = (200,),
        also: tuple[int, ...] = (),
        auth: bool = True,
        page: bool = False,
    ) -> Any:
        """One request, waited out through 503s and restarts (bounded); its JSON body."""
        headers = {"Accept": "text/html" if page else "application/json"}
        if auth and page:
            headers["Cookie"] = f"ecampus_session={self.token}"
        elif auth:
            headers["Authorization"] = f"Bearer {self.token}"
        body = None
        if data is not None:
            body = urllib.parse.urlencode(data)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        busy = down = 0
        while True:
            with self.client.request(
                method, path, name=name, headers=headers, json=json, data=body,
                catch_response=True,
            ) as response:  # fmt: skip
                status = response.status_code
                if status in ok or status in also:
                    response.success()
                    if page:
                        return None
                    return response.json() if status in ok else {"status": status}
                if status == 503:
                    # Busy, by design: not a failure; the learner waits as told and retries.
                    response.success()
                    record("busy", name=name)
                    busy += 1
                    if busy > BUSY_TRIES:
                        raise GiveUp(f"{name}: 503 {busy} times")
                    pause = min(float(response.headers.get("Retry-After") or 1), 5.0)
                elif status == 0:
                    response.failure(f"no response: {response.error}")
                    record("down", name=name, error=str(response.error)[:200])
                    down += 1
                    if down > DOWN_TRIES:
                        raise GiveUp(f"{name}: server unreachable")
                    pause = DOWN_PAUSE
                else:
                    response.failure(f"{status}")
                    record("server_error" if status >= 500 else "unexpected", name=name,
                           status=status, body=(response.text or "")[:300])  # fmt: skip
                    if status >= 500:
                        raise GiveUp(f"{name}: {status}")
                    raise GiveUp(f"{name}: {status}")
            time.sleep(pause)
