"""`ecampus demo --learners N`: synthetic learners that look like real ones, the same for a seed."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, func, select
from sqlmodel import Session

from ecampus import demo
from ecampus.accounts.models import Role, User
from ecampus.app import create_app
from ecampus.certificates.models import Certificate, CertificatePart
from ecampus.certificates.service import normalise_code
from ecampus.courses.catalog import Catalogue
from ecampus.learning import progress
from ecampus.learning.models import Cohort, Enrollment, ItemProgress
from ecampus.progression.repair import repair_missing_certificates
from ecampus.quizzes.models import Attempt
from tests import factories
from tests.conftest import BUNDLED_COURSES, make_settings
from tests.unit.test_cli import ecampus

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
CODE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")
TABLES = (CertificatePart, Certificate, Attempt, ItemProgress, Enrollment, User, Cohort)


def snapshot(engine: Engine) -> dict[str, Any]:
    """Everything demo wrote, keyed by email rather than by database ids."""
    with Session(engine) as session:
        users = {u.id: u for u in session.scalars(select(User))}
        cohorts = {c.id: c.code for c in session.scalars(select(Cohort))}
        email = {i: u.email for i, u in users.items()}
        return {
            "users": sorted(
                (u.email, u.full_name, u.institution, u.institution_type, u.country, u.language)
                for u in users.values()
                if u.email.endswith(".example.org") and "@demo-" in u.email
            ),
            "enrolments": sorted(
                (
                    email[e.user_id],
                    e.course_id,
                    cohorts[e.cohort_id or 0],
                    e.progress,
                    e.status,
                    e.score,
                    e.enrolled_at,
                    e.completed_at,
                    e.withdrawn_at,
                )
                for e in session.scalars(select(Enrollment))
            ),
            "attempts": sorted(
                (email[a.user_id], a.course_id, a.item_id, a.number, a.score, a.passed)
                for a in session.scalars(select(Attempt))
            ),
            "certificates": sorted(
                (email[c.user_id], c.kind, c.subject_id, c.code, c.score, c.issued_at)
                for c in session.scalars(select(Certificate))
            ),
        }


def clear(engine: Engine) -> None:
    with Session(engine) as session:
        for model in TABLES:
            session.execute(delete(model))
        session.commit()


def test_demo_learners_look_real_and_repeat_for_a_seed(database_url: str) -> None:
    with TestClient(create_app(make_settings(database_url, BUNDLED_COURSES))) as client:
        engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
        catalogue: Catalogue = client.app.state.catalogue  # type: ignore[attr-defined]
        counts = demo.generate(engine, catalogue, learners=60, seed=7, now=NOW, batch=25)
        assert (counts.first, counts.learners, counts.cohorts) == (1, 60, 1)
        assert counts.enrolments == 60 * demo.ENROLMENTS_PER_LEARNER
        with Session(engine) as session:

            def count(model: Any) -> int:
                return int(session.scalar(select(func.count()).select_from(model)) or 0)

            assert count(User) == 60
            assert count(Enrollment) == counts.enrolments
            assert count(ItemProgress) == counts.items > counts.enrolments
            assert count(Attempt) == counts.attempts > 0
            certificates = list(session.scalars(select(Certificate)))
            assert len(certificates) == counts.certificates + counts.diplomas
            users = list(session.scalars(select(User)))
            enrolments = list(session.scalars(select(Enrollment)))
            parts = list(session.scalars(select(CertificatePart)))

        # People: fictional names with accents, spread over countries and institution types.
        assert any(re.search(r"[áéíóúñÁÉÍÓÚÑ]", u.full_name) for u in users)
        assert len({u.country for u in users}) >= 4
        assert len({u.institution_type for u in users}) >= 4
        assert all(u.email.endswith("@demo-7.example.org") and u.email.isascii() for u in users)
        assert len({u.email for u in users}) == 60
        assert {u.role for u in users} == {Role.learner.value}
        # Enrolments: every status, a few withdrawn, progress as the item rows say.
        statuses = Counter(e.status for e in enrolments)
        assert set(statuses) == {"not_started", "in_progress", "completed"}
        assert counts.completed == statuses["completed"]
        assert sum(e.withdrawn_at is not None for e in enrolments) == counts.withdrawn
        with Session(engine) as session:
            for enrolment in enrolments[:40]:
                course = catalogue.get(enrolment.course_id)
                assert course is not None
                rows = session.scalars(
                    select(ItemProgress).where(
                        ItemProgress.user_id == enrolment.user_id,  # type: ignore[arg-type]
                        ItemProgress.course_id == enrolment.course_id,  # type: ignore[arg-type]
                    )
                )
                state = progress.compute(
                    course,
                    [
                        progress.ItemState(
                            r.item_id,
                            r.kind,
                            r.kind == "lesson" or r.passed,
                            r.best_score,
                        )
                        for r in rows
                    ],
                )
                assert (state.percent, state.status, state.score) == (
                    enrolment.progress,
                    enrolment.status,
                    enrolment.score,
                )
                assert (enrolment.completed_at is not None) == state.completed
        # Quiz attempts stay within each quiz's limit.
        with Session(engine) as session:
            for course_id, item_id, used in session.execute(
                select(Attempt.course_id, Attempt.item_id, func.max(Attempt.number)).group_by(  # type: ignore[call-overload]
                    Attempt.user_id, Attempt.course_id, Attempt.item_id
                )
            ):
                limit = catalogue.get(course_id).quizzes[item_id].max_attempts  # type: ignore[union-attr]
                assert limit is None or used <= limit
        # Certificates like real ones: unique codes in the issued format, hours and kinds.
        assert len({c.code for c in certificates}) == len(certificates)
        assert all(CODE.match(c.code) and normalise_code(c.code) == c.code for c in certificates)
        completed = {(e.user_id, e.course_id) for e in enrolments if e.completed_at is not None}
        courses = [c for c in certificates if c.kind == "course"]
        assert {(c.user_id, c.subject_id) for c in courses} == completed
        for certificate in courses:
            course = catalogue.get(certificate.subject_id)
            assert course is not None
            assert (certificate.title, certificate.hours) == (course.title, course.hours)
        diplomas = [c for c in certificates if c.kind == "programme"]
        assert counts.diplomas == len(diplomas)
        programme = catalogue.programmes["diplomado-migracion-laboral"]
        for diploma in diplomas:
            assert (diploma.subject_id, diploma.hours) == (programme.id, programme.hours)
            assert [c["course_id"] for c in diploma.courses or []] == list(programme.courses)
            assert sum(p.diploma_id == diploma.id for p in parts) == len(programme.courses)

        # Nothing is missing that the app would issue: every completion has its certificate,
        # and everyone who completed a programme's courses has the diploma.
        with Session(engine) as session:
            assert repair_missing_certificates(session, catalogue=catalogue) == []

        # The reports read it like any other data.
        coordinator = factories.staff(client, Role.coordinator)
        report = client.get("/api/v1/reports/completions", headers=coordinator)
        assert report.status_code == 200, report.text
        assert len(report.json()) >= counts.enrolments - counts.withdrawn
        verified = client.get(f"/api/v1/certificates/{courses[0].code}").json()
        assert verified["valid"] is True

        # The same seed gives the same learners, progress, attempts and codes.
        first = snapshot(engine)
        clear(engine)
        again = demo.generate(engine, catalogue, learners=60, seed=7, now=NOW, batch=60)
        assert (again.enrolments, again.certificates) == (counts.enrolments, counts.certificates)
        assert snapshot(engine) == first
        # Running again adds the learners that follow; another seed makes other people.
        more = demo.generate(engine, catalogue, learners=5, seed=7, now=NOW)
        assert (more.first, more.learners) == (61, 5)
        other = demo.generate(engine, catalogue, learners=5, seed=8, now=NOW)
        assert other.first == 1
        with Session(engine) as session:
            assert session.scalar(select(func.count()).select_from(User)) == 70


def test_demo_command(tmp_path: Path) -> None:
    env = {
        "ECAMPUS_DATABASE_URL": f"sqlite:///{tmp_path}/demo.db",
        "ECAMPUS_COURSES_DIR": str(BUNDLED_COURSES),
    }
    assert ecampus("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    result = ecampus("demo", "--learners", "12", "--seed", "3", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "added 12 demo learners (seed 3, numbers 1-12)" in result.stdout
    assert "60 enrolments" in result.stdout
    assert "coordinator@example.org" in result.stdout  # the demo logins still come
    refused = ecampus("demo", "--learners", "-3", cwd=tmp_path, env=env)
    assert refused.returncode == 2
    assert "--learners" in refused.stderr
