"""Certificates and diplomas at hand: one filtered query, streamed, for the certificates
report (JSON, CSV, XLSX, ZIP) and the coordinator's list.

`q` finds certificates by the learner's name (as printed, or as the account has it now),
email or code, each word anywhere, ignoring case and accents (`ecampus.dbfold`) on SQLite
and PostgreSQL alike. Day filters are the institution's days (ECAMPUS_TIMEZONE) on the issue
date, turned into UTC bounds on the stored column.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, tzinfo
from typing import Any

from sqlalchemy import Select, and_, case, exists, false, func, or_, select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from ecampus.accounts.models import User
from ecampus.certificates.models import Certificate
from ecampus.certificates.service import normalise_code
from ecampus.courses.catalog import Catalogue
from ecampus.dbfold import contains
from ecampus.learning.models import Cohort, Enrollment
from ecampus.localtime import day_bounds
from ecampus.settings import get_settings

KINDS = ("course", "programme")
STATUSES = ("valid", "revoked", "superseded")
COLUMNS: tuple[tuple[str, str], ...] = (
    ("code", "code"),
    ("kind", "kind"),
    ("status", "status"),
    ("learner", "learner"),
    ("email", "email"),
    ("course", "course"),
    ("programme", "programme"),
    ("title", "title"),
    ("cohort", "cohort"),
    ("hours", "hours"),
    ("score", "score"),
    ("issued_at", "issued_at"),
    ("revoked_at", "revoked_at"),
    ("revoked_reason", "revoked_reason"),
    ("superseded_by", "superseded_by"),
    ("verify_url", "verify_url"),
)
MAX_WORDS = 8  # of `q`; more words than a name and an email hold add nothing but cost

_cert = Certificate.__table__  # type: ignore[attr-defined]
_users = User.__table__  # type: ignore[attr-defined]
_enrol = Enrollment.__table__  # type: ignore[attr-defined]
_cohorts = Cohort.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class CertificateFilters:
    q: str = ""
    course: str | None = None  # that course's certificates
    programme: str | None = None  # that programme's diplomas and its courses' certificates
    cohort: str | None = None  # cohort code: certificates earned in an enrolment of it
    kind: str | None = None  # course | programme
    status: str | None = None  # valid | revoked | superseded
    since: date | None = None  # inclusive, a local day of issue
    until: date | None = None  # inclusive, a local day of issue
    zone: tzinfo | None = None  # None: ECAMPUS_TIMEZONE


@dataclass(frozen=True, slots=True)
class Programmes:
    """What the catalogue says each programme counts (programme id -> course ids)."""

    courses: Mapping[str, Sequence[str]]

    @classmethod
    def of_catalogue(cls, catalogue: Catalogue) -> Programmes:
        return cls({p.id: p.courses for p in catalogue.programmes.values()})

    def of(self, programme: str) -> tuple[str, ...]:
        return tuple(self.courses.get(programme, ()))


def status_of(certificate: Certificate) -> str:
    """valid, revoked, or superseded (reissued under a new code)."""
    if certificate.superseded_by:
        return "superseded"
    return "revoked" if certificate.revoked_at is not None else "valid"


_STATUS = case(
    (_cert.c.superseded_by.is_not(None), "superseded"),
    (_cert.c.revoked_at.is_not(None), "revoked"),
    else_="valid",
)


def _counts_for(programmes: Programmes) -> ColumnElement[bool]:
    """An enrolment (of the certificate's learner) that earned the certificate: the course
    itself, or for a diploma one of the programme's courses."""
    per_programme = [
        and_(_cert.c.subject_id == programme, _enrol.c.course_id.in_(courses))
        for programme, courses in programmes.courses.items()
        if courses
    ]
    return or_(
        and_(_cert.c.kind == "course", _enrol.c.course_id == _cert.c.subject_id),
        and_(_cert.c.kind == "programme", or_(false(), *per_programme)),
    )


def _search(q: str, dialect: str) -> ColumnElement[bool] | None:
    words = q.split()[:MAX_WORDS]
    if not words:
        return None
    # One text per row holding the four fields, a line break apart (a typed word never
    # holds one, so no word matches across two fields): one comparison per row and word.
    haystack = (
        _cert.c.learner_name + "\n" + _users.c.full_name + "\n" + _users.c.email + "\n"
        + _cert.c.code
    )  # fmt: skip
    found = and_(*(contains(haystack, word, dialect=dialect) for word in words))
    # A whole code typed loosely ("abcd efgh jkmn", O for 0) finds that certificate too.
    code = normalise_code(q)
    return or_(found, _cert.c.code == code) if len(code) == 14 and code != q.strip() else found


def _filtered(
    statement: Select[Any], filters: CertificateFilters, programmes: Programmes, dialect: str
) -> Select[Any]:
    if (search := _search(filters.q, dialect)) is not None:
        statement = statement.where(search)
    if filters.course:
        statement = statement.where(_cert.c.kind == "course", _cert.c.subject_id == filters.course)
    if filters.programme:
        statement = statement.where(
            or_(
                and_(_cert.c.kind == "programme", _cert.c.subject_id == filters.programme),
                and_(
                    _cert.c.kind == "course",
                    _cert.c.subject_id.in_(programmes.of(filters.programme)),
                ),
            )
        )
    if filters.kind:
        statement = statement.where(_cert.c.kind == filters.kind)
    if filters.status == "valid":
        statement = statement.where(_cert.c.revoked_at.is_(None), _cert.c.superseded_by.is_(None))
    elif filters.status == "revoked":
        statement = statement.where(
            _cert.c.revoked_at.is_not(None), _cert.c.superseded_by.is_(None)
        )
    elif filters.status == "superseded":
        statement = statement.where(_cert.c.superseded_by.is_not(None))
    if filters.cohort:
        statement = statement.where(
            exists()
            .select_from(_enrol.join(_cohorts, _cohorts.c.id == _enrol.c.cohort_id))
            .where(
                _enrol.c.user_id == _cert.c.user_id,
                _enrol.c.withdrawn_at.is_(None),
                _cohorts.c.code == filters.cohort,
                _counts_for(programmes),
            )
        )
    start, end = day_bounds(filters.since, filters.until, filters.zone or get_settings().zone)
    if start is not None:
        statement = statement.where(_cert.c.issued_at >= start)
    if end is not None:
        statement = statement.where(_cert.c.issued_at < end)
    return statement


def count(session: Session, filters: CertificateFilters, programmes: Programmes) -> int:
    statement = _filtered(
        select(func.count()).select_from(_cert.join(_users, _users.c.id == _cert.c.user_id)),
        filters,
        programmes,
        session.get_bind().dialect.name,
    )
    return int(session.execute(statement).scalar_one())


def rows(
    session: Session,
    filters: CertificateFilters,
    programmes: Programmes,
    *,
    base_url: str,
    newest_first: bool = False,
    after_id: int | None = None,
    limit: int | None = None,
    batch: int = 500,
) -> Iterator[dict[str, Any]]:
    """Rows of `COLUMNS` (plus the certificate's `id`), streamed in batches. In issue order
    (by id), or the latest issued first; `after_id` continues a listing in id order."""
    cohort = (
        select(func.min(_cohorts.c.code))
        .select_from(_enrol.join(_cohorts, _cohorts.c.id == _enrol.c.cohort_id))
        .where(
            _enrol.c.user_id == _cert.c.user_id,
            _enrol.c.withdrawn_at.is_(None),
            _counts_for(programmes),
        )
        .scalar_subquery()
    )
    statement = _filtered(
        select(
            _cert.c.id,
            _cert.c.code,
            _cert.c.kind,
            _STATUS,
            _cert.c.learner_name,
            _users.c.email,
            _cert.c.subject_id,
            _cert.c.title,
            cohort,
            _cert.c.hours,
            _cert.c.score,
            _cert.c.issued_at,
            _cert.c.revoked_at,
            _cert.c.revoked_reason,
            _cert.c.superseded_by,
        ).select_from(_cert.join(_users, _users.c.id == _cert.c.user_id)),
        filters,
        programmes,
        session.get_bind().dialect.name,
    )
    if after_id is not None:
        statement = statement.where(_cert.c.id > after_id)
    if newest_first:
        # By id, the primary key: the latest issued first, and LIMIT reads no more rows.
        statement = statement.order_by(_cert.c.id.desc())
    else:
        statement = statement.order_by(_cert.c.id)
    if limit is not None:
        statement = statement.limit(limit)
    base = base_url.rstrip("/")
    for row in session.execute(statement.execution_options(yield_per=batch)):
        course = row[2] == "course"
        yield {
            "id": row[0],
            "code": row[1],
            "kind": row[2],
            "status": row[3],
            "learner": row[4],
            "email": row[5],
            "course": row[6] if course else None,
            "programme": None if course else row[6],
            "title": row[7],
            "cohort": row[8],
            "hours": row[9],
            "score": row[10],
            "issued_at": row[11],
            "revoked_at": row[12],
            "revoked_reason": row[13],
            "superseded_by": row[14],
            "verify_url": f"{base}/verify/{row[1]}",
        }
