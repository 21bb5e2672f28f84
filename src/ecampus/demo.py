"""Synthetic learners for measuring (`ecampus demo --learners N --seed S`).

Fictional people (Spanish and Central American names, accents and all) in cohorts, enrolled
in the bundled courses with item progress, quiz attempts, certificates and programme
diplomas, written with bulk inserts in batches. The same seed gives the same people,
enrolments, scores and codes; dates are placed relative to `now` (the day it runs).
Learner number n draws from its own random stream, seeded by (seed, n), so a second run
with the same seed adds the learners that follow instead of repeating the first ones.
"""

from __future__ import annotations

import random
import secrets
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from statistics import fmean
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select

from ecampus.accounts.models import User
from ecampus.accounts.passwords import hash_password
from ecampus.certificates.models import Certificate, CertificatePart
from ecampus.certificates.service import _ALPHABET as ALPHABET
from ecampus.courses import schema
from ecampus.courses.catalog import Catalogue
from ecampus.courses.content import CourseContent, ProgrammeContent, QuizContent
from ecampus.learning import progress
from ecampus.learning.models import Cohort, Enrollment, ItemProgress
from ecampus.quizzes import grading
from ecampus.quizzes.models import Attempt

# 20,000 learners make about 100,000 enrolments with the five bundled courses.
ENROLMENTS_PER_LEARNER = 5
COHORT_SIZE = 250
BATCH_LEARNERS = 500
EMAIL_DOMAIN = "demo-{seed}.example.org"

FIRST_NAMES = (
    "Ana", "Ana Lucía", "María José", "José", "Sofía", "Lucía", "Andrés", "Martín",
    "Valentina", "Camila", "Julián", "Ramón", "Inés", "Rocío", "Héctor", "Óscar", "Nicolás",
    "Mónica", "Raúl", "Iván", "Tomás", "Jesús", "Adrián", "Débora", "Efraín", "Fátima",
    "Germán", "Joaquín", "Leticia", "Marisol", "Noé", "Rubén", "Sebastián", "Verónica", "Zoé",
    "Ángela", "Álvaro", "Elías", "Ximena", "Yolanda", "Nayeli", "Itzel", "Xóchitl", "Brenda",
    "Dulce María", "Juan Pablo", "Luis Fernando", "Gabriela", "Héctor Manuel", "Karla",
    "Wilmer", "Yesenia", "Byron", "Dámaris", "Edwin", "Fernanda", "Gerson", "Lourdes",
    "Maynor", "Nehemías", "Odilia", "Patricia", "Rigoberta", "Sonia", "Tránsito", "Úrsula",
)  # fmt: skip
SURNAMES = (
    "García", "Hernández", "López", "Martínez", "Pérez", "Rodríguez", "González", "Sánchez",
    "Ramírez", "Cruz", "Gómez", "Díaz", "Morales", "Reyes", "Jiménez", "Ruiz", "Álvarez",
    "Castillo", "Ortiz", "Chávez", "Vásquez", "Mejía", "Girón", "Barrios", "Quiñónez", "Muñoz",
    "Orellana", "Peñate", "Ixcot", "Tzul", "Cú", "Ajú", "Xicará", "Batz", "Coyoy", "Sián",
    "Zúñiga", "Núñez", "Méndez", "Ordóñez", "Guzmán", "Solís", "Aguilar", "Ávila", "Bonilla",
    "Canales", "Escobar", "Funes", "Lemus", "Maldonado", "Paz", "Portillo", "Rivas", "Umaña",
)  # fmt: skip
# Where participants of a regional programme come from, roughly.
COUNTRIES = (
    ("GT", 30), ("HN", 20), ("SV", 18), ("MX", 12), ("CR", 6), ("NI", 5), ("PA", 4),
    ("DO", 2), ("BZ", 1), ("CO", 1), ("US", 1),
)  # fmt: skip
COUNTRY_NAMES = {
    "GT": "Guatemala", "HN": "Honduras", "SV": "El Salvador", "MX": "México",
    "CR": "Costa Rica", "NI": "Nicaragua", "PA": "Panamá", "DO": "República Dominicana",
    "BZ": "Belice", "CO": "Colombia", "US": "Estados Unidos",
}  # fmt: skip
INSTITUTION_TYPES = (
    ("government", 45), ("civil_society", 22), ("academia", 13), ("international", 10),
    ("other", 10),
)  # fmt: skip
INSTITUTIONS = {
    "government": (
        "Ministerio de Trabajo y Previsión Social", "Instituto Nacional de Migración",
        "Dirección General de Migración y Extranjería", "Ministerio de Relaciones Exteriores",
        "Procuraduría de los Derechos Humanos", "Ministerio de Desarrollo Social",
        "Consulado General", "Secretaría de Bienestar Social",
    ),
    "civil_society": (
        "Asociación Caminos de Esperanza", "Fundación Manos Unidas por la Movilidad",
        "Red Comunitaria de Retorno Digno", "Casa de Acogida Santa Ana",
        "Colectivo Fronteras Humanas", "Pastoral de Movilidad Humana (ejemplo)",
    ),
    "academia": (
        "Universidad Regional de Ciencias Sociales", "Facultad de Estudios Migratorios",
        "Instituto Tecnológico del Pacífico", "Universidad Autónoma del Norte",
    ),
    "international": (
        "Organización Internacional para las Migraciones",
        "Organización Internacional del Trabajo", "Agencia de Cooperación (ejemplo)",
    ),
    "other": (
        "Cámara de Comercio Binacional", "Sindicato de Trabajadores Agrícolas",
        "Consultoría independiente", "Asociación de Empleadores del Istmo",
    ),
}  # fmt: skip
PROGRAMME_SHARE = 0.6  # learners who follow a programme take all of its courses
WITHDRAWN_SHARE = 0.02
NOT_STARTED_SHARE = 0.1


@dataclass
class DemoCounts:
    learners: int = 0
    cohorts: int = 0
    enrolments: int = 0
    withdrawn: int = 0
    completed: int = 0
    items: int = 0
    attempts: int = 0
    certificates: int = 0
    diplomas: int = 0
    seconds: float = 0.0
    first: int = 0  # number of the first learner added

    def add(self, other: DemoCounts) -> None:
        for name in ("learners", "enrolments", "withdrawn", "completed", "items", "attempts",
                     "certificates", "diplomas"):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True)
class _Variant:
    score: float
    passed: bool
    answers: dict[str, Any]
    results: dict[str, bool]


@dataclass
class _Plan:
    """What one batch writes: rows keyed by the learner's place in the batch."""

    users: list[dict[str, Any]] = field(default_factory=list)
    enrolments: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    items: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    attempts: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    certificates: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    diplomas: list[tuple[int, dict[str, Any], list[str]]] = field(default_factory=list)
    counts: DemoCounts = field(default_factory=DemoCounts)


def _weighted(pairs: Sequence[tuple[str, int]]) -> tuple[list[str], list[int]]:
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "-".join(folded.lower().split())


def _wrong_answer(question: Any) -> Any:
    if isinstance(question, schema.SingleQuestion):
        return next(o.id for o in question.options if o.id != question.answer)
    if isinstance(question, schema.MultipleQuestion):
        others = [o.id for o in question.options if o.id not in question.answer]
        return others[:1] if others else question.answer[:-1]
    if isinstance(question, schema.TrueFalseQuestion):
        return not question.answer
    if isinstance(question, schema.TextQuestion):
        return "no lo sé"
    return question.answer + question.tolerance + 1000


def quiz_variants(quiz: QuizContent) -> tuple[list[_Variant], list[_Variant]]:
    """Graded submissions with 0, 1, 2 ... wrong answers: (passing, failing)."""
    key = grading.answer_key(quiz)
    questions = list(quiz.questions)
    passing: list[_Variant] = []
    failing: list[_Variant] = []
    for wrong in range(len(questions) + 1):
        for shift in range(min(3, len(questions)) if 0 < wrong < len(questions) else 1):
            chosen = {questions[(shift + k) % len(questions)].id for k in range(wrong)}
            answers = {q.id: (_wrong_answer(q) if q.id in chosen else key[q.id]) for q in questions}
            grade = grading.grade(quiz, answers)
            variant = _Variant(
                score=grade.score,
                passed=grade.passed,
                answers=grade.answers,
                results={r.question_id: r.correct for r in grade.results},
            )
            (passing if grade.passed else failing).append(variant)
    return passing, failing


def _code(rng: random.Random) -> str:
    raw = "".join(rng.choice(ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


class _Generator:
    def __init__(
        self,
        *,
        courses: list[CourseContent],
        programmes: list[ProgrammeContent],
        seed: int,
        now: datetime,
        password_hash: str,
    ) -> None:
        self.courses = courses
        self.by_id = {c.id: c for c in courses}
        self.programmes = [p for p in programmes if all(c in self.by_id for c in p.courses)]
        self.seed = seed
        self.now = now
        self.password_hash = password_hash
        self.variants = {
            (c.id, q.id): quiz_variants(q) for c in courses for q in c.quizzes.values()
        }
        self.countries = _weighted(COUNTRIES)
        self.kinds = _weighted(INSTITUTION_TYPES)
        self.domain = EMAIL_DOMAIN.format(seed=seed)

    def cohort_code(self, number: int) -> str:
        return f"demo-{self.seed}-{(number - 1) // COHORT_SIZE + 1:03d}"

    def cohort_start(self, number: int) -> datetime:
        index = (number - 1) // COHORT_SIZE
        # Intakes spread over the last year, the newest a few days old.
        days = 5 + (200 + index * 37) % 360
        return self.now - timedelta(days=days)

    def learner(self, number: int, plan: _Plan) -> None:
        # Demo data, not secrets: a seeded stream is the point (S311).
        rng = random.Random(f"{self.seed}:{number}")  # noqa: S311
        first = rng.choice(FIRST_NAMES)
        last = f"{rng.choice(SURNAMES)} {rng.choice(SURNAMES)}"
        country = rng.choices(*self.countries)[0]
        kind = rng.choices(*self.kinds)[0]
        institution = rng.choice(INSTITUTIONS[kind])
        if kind == "government":
            institution = f"{institution}, {COUNTRY_NAMES[country]}"
        start = self.cohort_start(number) + timedelta(seconds=rng.randrange(0, 5 * 86400))
        place = len(plan.users)
        plan.users.append(
            {
                "email": f"{_slug(first)}.{_slug(last)}.{number}@{self.domain}",
                "password_hash": self.password_hash,
                "full_name": f"{first} {last}",
                "institution": institution,
                "institution_type": kind,
                "country": country,
                "language": "en" if rng.random() < 0.05 else "es",
                "role": "learner",
                "is_active": True,
                "session_version": 0,
                "created_at": start - timedelta(days=rng.randrange(0, 20)),
            }
        )
        plan.counts.learners += 1
        chosen: list[str] = []
        if self.programmes and rng.random() < PROGRAMME_SHARE:
            chosen = list(rng.choice(self.programmes).courses)
        others = [c.id for c in self.courses if c.id not in chosen]
        rng.shuffle(others)
        chosen += others[: max(0, min(ENROLMENTS_PER_LEARNER, len(self.courses)) - len(chosen))]
        drive = rng.random()  # how far this person tends to get
        age = (self.now - start).days
        completed: dict[str, tuple[datetime, float | None, str | None]] = {}
        for offset, course_id in enumerate(chosen):
            course = self.by_id[course_id]
            enrolled = start + timedelta(hours=offset * rng.uniform(0, 48))
            done = self._enrolment(rng, plan, place, course, enrolled, drive, age)
            if done is not None:
                completed[course_id] = done
        for programme in self.programmes:
            # Whoever completed every course of a programme has its diploma, as in the app.
            if not all(c in completed for c in programme.courses):
                continue
            parts = [completed[c] for c in programme.courses]
            scores = [s for _, s, _ in parts if s is not None]
            plan.diplomas.append(
                (
                    place,
                    {
                        "code": _code(rng),
                        "kind": "programme",
                        "subject_id": programme.id,
                        "learner_name": f"{first} {last}",
                        "title": programme.title,
                        "hours": programme.hours,
                        "score": round(fmean(scores), 2) if scores else None,
                        "language": programme.language or "es",
                        "content_version": "",
                        "issued_at": max(at for at, _, _ in parts),
                        "courses": [
                            {
                                "course_id": c,
                                "title": self.by_id[c].title,
                                "hours": self.by_id[c].hours,
                                "code": completed[c][2],
                            }
                            for c in programme.courses
                        ],
                    },
                    [code for c in programme.courses if (code := completed[c][2])],
                )
            )
            plan.counts.diplomas += 1

    def _enrolment(
        self,
        rng: random.Random,
        plan: _Plan,
        place: int,
        course: CourseContent,
        enrolled: datetime,
        drive: float,
        age: int,
    ) -> tuple[datetime, float | None, str | None] | None:
        """One enrolment with its items and attempts; (completed_at, score, certificate
        code) when it is completed."""
        order = course.order
        withdrawn = rng.random() < WITHDRAWN_SHARE
        ripe = min(1.0, age / 120)  # an old cohort had time to finish
        roll = rng.random()
        if roll < NOT_STARTED_SHARE:
            target = 0
        elif not withdrawn and rng.random() < ripe * (0.2 + 0.8 * drive):
            target = len(order)
        else:
            target = rng.randrange(1, len(order))
        moment = enrolled
        states: list[progress.ItemState] = []
        last_item: str | None = None
        for index, item_id in enumerate(order):
            item = course.items[item_id]
            finishing = index < target
            blocked_at_quiz = index == target and item.type == "quiz" and rng.random() < 0.4
            if not finishing and not blocked_at_quiz:
                break
            moment += timedelta(minutes=rng.randrange(5, 60 * 24 * 3))
            if moment > self.now:
                moment = self.now - timedelta(minutes=rng.randrange(1, 600))
            if item.type == "lesson":
                plan.items.append(
                    (place, self._item(course, item_id, "lesson", moment, None, passed=False))
                )
                states.append(progress.ItemState(item_id, "lesson", True))
                last_item = item_id
                continue
            assert isinstance(item, QuizContent)
            passing, failing = self.variants[(course.id, item_id)]
            limit = item.max_attempts
            if finishing:
                fails = rng.choices((0, 1, 2), (70, 22, 8))[0]
                if limit is not None:
                    fails = min(fails, limit - 1)
            else:
                most = limit if limit is not None else 3
                fails = rng.randrange(1, most + 1) if failing else 0
            tries = [rng.choice(failing) for _ in range(fails)] if failing else []
            if finishing:
                tries.append(rng.choice(passing))
            if not tries:
                break
            for number, variant in enumerate(tries, start=1):
                plan.attempts.append(
                    (
                        place,
                        {
                            "course_id": course.id,
                            "item_id": item_id,
                            "number": number,
                            "answers": variant.answers,
                            "results": variant.results,
                            "score": variant.score,
                            "passed": variant.passed,
                            "pass_mark": item.pass_mark,
                            "content_version": course.version,
                            "created_at": moment + timedelta(minutes=number * 7),
                        },
                    )
                )
            moment += timedelta(minutes=len(tries) * 7)
            best = max(t.score for t in tries)
            plan.items.append(
                (place, self._item(course, item_id, "quiz", moment, best, passed=finishing))
            )
            states.append(progress.ItemState(item_id, "quiz", finishing, best))
            last_item = item_id
            if not finishing:
                break
        state = progress.compute(course, states)
        completed_at = moment if state.completed else None
        row: dict[str, Any] = {
            "course_id": course.id,
            "cohort_id": None,
            "enrolled_at": enrolled,
            "progress": state.percent,
            "status": state.status,
            "score": state.score,
            "last_item_id": last_item,
            "last_activity_at": moment if states else None,
            "completed_at": completed_at,
            "withdrawn_at": (
                min(
                    self.now,
                    (moment if states else enrolled) + timedelta(days=rng.randrange(1, 30)),
                )
                if withdrawn
                else None
            ),
            "withdrawn_by_id": None,
        }
        plan.enrolments.append((place, row))
        plan.counts.enrolments += 1
        plan.counts.withdrawn += 1 if withdrawn else 0
        if completed_at is None:
            return None
        plan.counts.completed += 1
        code = _code(rng) if course.certificate else None
        if code is not None:
            plan.certificates.append(
                (
                    place,
                    {
                        "code": code,
                        "kind": "course",
                        "subject_id": course.id,
                        "learner_name": plan.users[place]["full_name"],
                        "title": course.title,
                        "hours": course.hours,
                        "score": state.score,
                        "language": course.language,
                        "content_version": course.version,
                        "issued_at": completed_at,
                        "courses": None,
                    },
                )
            )
            plan.counts.certificates += 1
        return completed_at, state.score, code

    def _item(
        self,
        course: CourseContent,
        item_id: str,
        kind: str,
        moment: datetime,
        best: float | None,
        *,
        passed: bool,
    ) -> dict[str, Any]:
        return {
            "course_id": course.id,
            "item_id": item_id,
            "kind": kind,
            "completed_at": moment if kind == "lesson" or passed else None,
            "best_score": best,
            "passed": passed,
            "content_version": course.version,
            "updated_at": moment,
        }


def _table(model: Any) -> Any:
    return model.__table__


def _write(connection: Connection, plan: _Plan, cohort_ids: list[int | None]) -> None:
    users = _table(User)
    ids = [
        row.id
        for row in connection.execute(
            insert(users).returning(users.c.id, sort_by_parameter_order=True), plan.users
        )
    ]

    def own(rows: list[tuple[int, dict[str, Any]]]) -> list[dict[str, Any]]:
        return [{**row, "user_id": ids[place]} for place, row in rows]

    enrolments = own(plan.enrolments)
    for (place, _), row in zip(plan.enrolments, enrolments, strict=True):
        row["cohort_id"] = cohort_ids[place]
    for model, rows in (
        (Enrollment, enrolments),
        (ItemProgress, own(plan.items)),
        (Attempt, own(plan.attempts)),
    ):
        if rows:
            connection.execute(insert(_table(model)), rows)
    certificates = _table(Certificate)
    code_ids: dict[str, int] = {}
    issued = own(plan.certificates)
    if issued:
        for returned_row in connection.execute(
            insert(certificates).returning(certificates.c.id, certificates.c.code), issued
        ):
            code_ids[str(returned_row[1])] = int(returned_row[0])
    if plan.diplomas:
        diplomas = [{**row, "user_id": ids[place]} for place, row, _ in plan.diplomas]
        parts = []
        returned = connection.execute(
            insert(certificates).returning(
                certificates.c.id, certificates.c.code, sort_by_parameter_order=True
            ),
            diplomas,
        ).all()
        for (_, _, counted), diploma in zip(plan.diplomas, returned, strict=True):
            parts += [
                {"diploma_id": diploma.id, "certificate_id": code_ids[code]}
                for code in counted
                if code in code_ids
            ]
        if parts:
            connection.execute(insert(_table(CertificatePart)), parts)


def _cohorts(connection: Connection, generator: _Generator, numbers: range) -> dict[str, int]:
    """The cohorts these learners belong to, created when missing."""
    table = _table(Cohort)
    wanted = sorted({generator.cohort_code(n) for n in numbers})
    found: dict[str, int] = dict(
        connection.execute(select(table.c.code, table.c.id).where(table.c.code.in_(wanted))).all()
    )
    missing = [code for code in wanted if code not in found]
    if missing:
        first = {generator.cohort_code(n): n for n in reversed(numbers)}
        connection.execute(
            insert(table),
            [
                {
                    "code": code,
                    "name": f"Cohorte de demostración {int(code.rsplit('-', 1)[1])} "
                    f"(semilla {generator.seed})",
                    "created_at": generator.cohort_start(first[code]) - timedelta(days=7),
                }
                for code in missing
            ],
        )
        found = dict(
            connection.execute(
                select(table.c.code, table.c.id).where(table.c.code.in_(wanted))
            ).all()
        )
    return found


def existing_learners(engine: Engine, *, seed: int) -> int:
    """How many demo learners of this seed the database already holds."""
    users = _table(User)
    domain = EMAIL_DOMAIN.format(seed=seed)
    with engine.connect() as connection:
        return int(
            connection.execute(
                select(func.count()).where(users.c.email.like(f"%@{domain}"))
            ).scalar_one()
        )


def generate(
    engine: Engine,
    catalogue: Catalogue,
    *,
    learners: int,
    seed: int = 1,
    now: datetime | None = None,
    password_hash: str | None = None,
    batch: int = BATCH_LEARNERS,
    progress_callback: Callable[[DemoCounts], None] | None = None,
) -> DemoCounts:
    """Add `learners` synthetic learners, committed in batches; returns what was written."""
    started = time.perf_counter()
    courses = sorted(
        (c for c in catalogue.courses.values() if c.published and c.items), key=lambda c: c.id
    )
    if not courses:
        raise ValueError("no published course to enrol demo learners in")
    generator = _Generator(
        courses=courses,
        programmes=sorted(catalogue.programmes.values(), key=lambda p: p.id),
        seed=seed,
        now=(now or datetime.now(UTC)).replace(microsecond=0),
        # One hash for everyone (argon2 per learner would take hours); nobody knows the
        # password, so demo accounts cannot sign in unless one is given.
        password_hash=password_hash or hash_password(secrets.token_urlsafe(24)),
    )
    first = existing_learners(engine, seed=seed) + 1
    total = DemoCounts(first=first)
    for start in range(first, first + learners, batch):
        numbers = range(start, min(start + batch, first + learners))
        plan = _Plan()
        for number in numbers:
            generator.learner(number, plan)
        plan.counts.items, plan.counts.attempts = len(plan.items), len(plan.attempts)
        with engine.begin() as connection:
            codes = _cohorts(connection, generator, numbers)
            cohort_ids: list[int | None] = [codes[generator.cohort_code(n)] for n in numbers]
            _write(connection, plan, cohort_ids)
        total.add(plan.counts)
        if progress_callback is not None:
            progress_callback(total)
    total.cohorts = len({generator.cohort_code(n) for n in range(first, first + learners)})
    total.seconds = time.perf_counter() - started
    return total
