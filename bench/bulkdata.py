"""Many enrolments, fast: learners, cohorts, enrolments and certificates written with plain
multi-row INSERTs (no ORM objects, no app logic), for measuring reports and the dashboard
when `ecampus demo --learners N` is not available, and for tests that need volume.

    python bench/bulkdata.py DATABASE_URL --learners 20000 [--seed 1]

Deterministic for a seed. About five enrolments per learner over the given courses; a third
completed (with a course certificate), a third in progress, the rest not started, a few
withdrawn; activity spread over the last year; learners of the programme's courses who
completed all of them get a diploma.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, create_engine, insert, text

from ecampus.accounts.models import User
from ecampus.certificates.models import Certificate
from ecampus.learning.models import Cohort, Enrollment

COURSES = (
    "codigo-migracion",
    "labour-migration-basics",
    "migracion-laboral",
    "proteccion-migrantes-trabajadores",
    "reclutamiento-equitativo",
)
PROGRAMME = "diplomado-migracion-laboral"
PROGRAMME_COURSES = (
    "migracion-laboral",
    "reclutamiento-equitativo",
    "proteccion-migrantes-trabajadores",
)
COUNTRIES = ("GT", "SV", "HN", "NI", "CR", "PA", "BZ", "MX", "CO", "DO", "EC", "PE")
TYPES = ("government", "civil_society", "academia", "international", "other")
FIRST = ("Ana", "Luis", "María", "José", "Dulce", "Óscar", "Lucía", "Carlos", "Sofía", "Iván")
LAST = ("Pérez", "García", "López", "Álvarez", "Jiménez", "Núñez", "Rodríguez", "Peña")
BATCH = 2000


def _chunks(rows: list[dict[str, object]], size: int = BATCH) -> Sequence[list[dict[str, object]]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def fill(
    engine: Engine,
    *,
    learners: int,
    seed: int = 1,
    courses: Sequence[str] = COURSES,
    programme: tuple[str, Sequence[str]] | None = (PROGRAMME, PROGRAMME_COURSES),
    now: datetime | None = None,
) -> dict[str, int]:
    """Add `learners` learners with their enrolments; returns what was written."""
    rng = random.Random(seed)
    moment = now or datetime.now(UTC)
    tag = f"bulk{seed}"
    with engine.begin() as connection:
        start_id = int(
            connection.execute(text("SELECT COALESCE(MAX(id), 0) FROM users")).scalar_one()
        )
        cohorts = [
            {"code": f"{tag}-{n}", "name": f"Cohorte {n} ({tag})", "created_at": moment}
            for n in range(1, 9)
        ]
        connection.execute(insert(Cohort.__table__), cohorts)  # type: ignore[attr-defined]
        cohort_ids = [
            int(row[0])
            for row in connection.execute(
                text("SELECT id FROM cohorts WHERE code LIKE :tag ORDER BY id"), {"tag": f"{tag}-%"}
            )
        ]
        users = []
        for n in range(learners):
            users.append(
                {
                    "id": start_id + n + 1,
                    "email": f"{tag}-{n}@example.org",
                    "password_hash": "!",
                    "full_name": f"{rng.choice(FIRST)} {rng.choice(LAST)} {n}",
                    "institution": f"Institución {n % 97}",
                    "institution_type": rng.choice(TYPES),
                    "country": rng.choice(COUNTRIES),
                    "language": "es",
                    "role": "learner",
                    "is_active": True,
                    "session_version": 0,
                    "created_at": moment - timedelta(days=400),
                }
            )
        for chunk in _chunks(users):
            connection.execute(insert(User.__table__), chunk)  # type: ignore[attr-defined]
        if engine.dialect.name == "postgresql":
            connection.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT MAX(id) FROM users))"
                )
            )
        enrolments: list[dict[str, object]] = []
        certificates: list[dict[str, object]] = []
        completed_by_user: dict[int, set[str]] = {}
        for user in users:
            uid = int(user["id"])  # type: ignore[call-overload]
            cohort = rng.choice(cohort_ids)
            for course in rng.sample(list(courses), k=min(len(courses), 5)):
                enrolled = moment - timedelta(days=rng.uniform(40, 365))
                draw = rng.random()
                status, progress, score, completed = "not_started", 0, None, None
                last = None
                if draw < 0.36:
                    status, progress = "completed", 100
                    score = round(rng.uniform(60, 100), 1)
                    completed = enrolled + timedelta(
                        days=rng.uniform(1, 35), minutes=rng.randint(0, 1440)
                    )
                    last = completed
                elif draw < 0.7:
                    status, progress = "in_progress", rng.randint(5, 95)
                    score = round(rng.uniform(20, 100), 1) if rng.random() < 0.5 else None
                    last = moment - timedelta(days=rng.uniform(0, 90))
                withdrawn = moment - timedelta(days=3) if rng.random() < 0.02 else None
                enrolments.append(
                    {
                        "user_id": uid,
                        "course_id": course,
                        "cohort_id": cohort,
                        "enrolled_at": enrolled,
                        "progress": progress,
                        "status": status,
                        "score": score,
                        "last_item_id": None,
                        "last_activity_at": last,
                        "completed_at": completed,
                        "withdrawn_at": withdrawn,
                    }
                )
                if completed is not None:
                    completed_by_user.setdefault(uid, set()).add(course)
                    certificates.append(
                        _certificate(
                            tag, len(certificates), uid, "course", course, user, completed, score
                        )
                    )
        if programme is not None:
            programme_id, programme_courses = programme
            for uid, done in completed_by_user.items():
                if set(programme_courses) <= done:
                    user = users[uid - start_id - 1]
                    certificates.append(
                        _certificate(
                            tag,
                            len(certificates),
                            uid,
                            "programme",
                            programme_id,
                            user,
                            moment,
                            None,
                        )
                    )
        for chunk in _chunks(enrolments):
            connection.execute(insert(Enrollment.__table__), chunk)  # type: ignore[attr-defined]
        for chunk in _chunks(certificates):
            connection.execute(insert(Certificate.__table__), chunk)  # type: ignore[attr-defined]
    return {"learners": learners, "enrolments": len(enrolments), "certificates": len(certificates)}


def _certificate(
    tag: str,
    n: int,
    uid: int,
    kind: str,
    subject: str,
    user: dict[str, object],
    issued: datetime,
    score: float | None,
) -> dict[str, object]:
    return {
        "code": f"{tag[-4:].upper()}-{n:010d}"[:20],
        "user_id": uid,
        "kind": kind,
        "subject_id": subject,
        "learner_name": user["full_name"],
        "title": subject,
        "hours": 1.2,
        "score": score,
        "language": "es",
        "content_version": "",
        "issued_at": issued,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database_url")
    parser.add_argument("--learners", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    url = args.database_url
    if url.startswith("postgresql://"):
        url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    written = fill(engine, learners=args.learners, seed=args.seed)
    engine.dispose()
    print(", ".join(f"{v} {k}" for k, v in written.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
