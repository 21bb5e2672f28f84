"""Importing a participants' list into a cohort: missing accounts created without a password
(each gets an invitation link), everyone enrolled in a course or in every course of a
programme, as members of the cohort, and the audit entries, all in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from ecampus.accounts import links, passwords
from ecampus.accounts.models import Role, User
from ecampus.audit import service as audit
from ecampus.courses.catalog import Catalogue
from ecampus.dbretry import run_transaction
from ecampus.learning import cohorts
from ecampus.learning.models import Cohort, Enrollment
from ecampus.mail import outbox
from ecampus.onboarding.participants import Checked, Participant, RowError, check
from ecampus.onboarding.sheet import Sheet

CohortClosed = cohorts.CohortClosed
CREATED = "created"
EXISTING = "existing"
INVALID = "invalid"
# An account made by an import has no password until its invitation link is used.
NO_PASSWORD = passwords.NO_PASSWORD
_CHUNK = 500  # emails per IN (...) lookup, well under every database's parameter limit

_enrollments = Enrollment.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Target:
    """What the participants are enrolled in: one course, or every course of a programme."""

    courses: tuple[str, ...]
    course: str | None = None
    programme: str | None = None

    def describe(self) -> dict[str, Any]:
        if self.programme:
            return {"programme": self.programme, "courses": list(self.courses)}
        return {"course": self.course}


@dataclass
class RowOutcome:
    """What became of one row: created, existing, or invalid (with its errors)."""

    row: int
    email: str
    full_name: str
    status: str
    enrolled: int = 0  # enrolments made for this person (new ones)
    invitation: str | None = None
    errors: list[RowError] = field(default_factory=list)


@dataclass
class ImportResult:
    dry_run: bool
    imported: bool  # False: a dry run, or a file with errors refused whole
    rows: int
    created: int = 0
    existing: int = 0
    enrolled: int = 0
    already_enrolled: int = 0
    errors: list[RowError] = field(default_factory=list)
    invitations: list[tuple[str, str]] = field(default_factory=list)
    outcomes: list[RowOutcome] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    def as_json(self, language: str | None = None) -> dict[str, Any]:
        """The API's shape; messages in `language` (English when None)."""
        return {
            "dry_run": self.dry_run,
            "imported": self.imported,
            "rows": self.rows,
            "created": self.created,
            "existing": self.existing,
            "enrolled": self.enrolled,
            "already_enrolled": self.already_enrolled,
            "errors": [
                {"row": e.row, "column": e.column, "message": e.message.render(language)}
                for e in self.errors
            ],
            "invitations": [{"email": email, "url": url} for email, url in self.invitations],
            "ignored_columns": self.ignored_columns,
        }


def has_password(user: User) -> bool:
    return passwords.has_password(user.password_hash)


def import_sheet(
    session: Session,
    *,
    sheet: Sheet,
    cohort: Cohort,
    target: Target,
    actor: User | None,
    actor_label: str = "cli",
    dry_run: bool = False,
    skip_invalid: bool = False,
    send_invitations: bool = False,
    base_url: str | None = None,
    file_name: str = "",
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Check every row, then (unless it is a dry run, or there are errors and not
    `skip_invalid`) create, enrol and invite in one transaction, committed here.
    `actor` is the staff account acting (None on the command line, as `actor_label`);
    `progress` is told how many rows are done, as they are."""
    cohorts.require_open(cohort)
    checked = check(sheet)
    result = ImportResult(
        dry_run=dry_run,
        imported=False,
        rows=checked.rows,
        errors=checked.errors,
        ignored_columns=list(sheet.ignored),
    )
    header_broken = any(e.row == 1 for e in checked.errors)
    refused = header_broken or (bool(checked.errors) and not skip_invalid)
    if dry_run or refused:
        _plan(session, checked, target, result, refused=refused)
        if progress is not None:
            progress(checked.rows)
        return result

    def work() -> ImportResult:
        done = _apply(
            session,
            checked=checked,
            cohort=cohort,
            target=target,
            actor=actor,
            actor_label=actor_label,
            send_invitations=send_invitations,
            base_url=base_url,
            file_name=file_name,
            skip_invalid=skip_invalid,
            progress=progress,
        )
        session.commit()
        return done

    try:
        return run_transaction(session, work)
    except IntegrityError:
        # Someone created one of these accounts or enrolments meanwhile: run it again,
        # finding them as existing this time.
        return run_transaction(session, work)


def _users_by_email(session: Session, emails: Sequence[str]) -> dict[str, User]:
    found: dict[str, User] = {}
    for start in range(0, len(emails), _CHUNK):
        chunk = list(emails[start : start + _CHUNK])
        for user in session.scalars(select(User).where(User.email.in_(chunk))):  # type: ignore[attr-defined]
            found[user.email] = user
    return found


def _enrolled_pairs(
    session: Session, user_ids: Sequence[int], courses: Iterable[str]
) -> dict[tuple[int, str], bool]:
    """(user id, course) -> withdrawn, for the enrolments these people already have."""
    found: dict[tuple[int, str], bool] = {}
    course_list = list(courses)
    for start in range(0, len(user_ids), _CHUNK):
        chunk = list(user_ids[start : start + _CHUNK])
        rows = session.execute(
            select(_enrollments.c.user_id, _enrollments.c.course_id, _enrollments.c.withdrawn_at)
            .where(_enrollments.c.user_id.in_(chunk))
            .where(_enrollments.c.course_id.in_(course_list))
        )
        for user_id, course_id, withdrawn_at in rows:
            found[(user_id, course_id)] = withdrawn_at is not None
    return found


def _invalid_outcomes(checked: Checked, sheet_rows: dict[int, RowOutcome]) -> None:
    for error in checked.errors:
        if error.row == 1:
            continue
        outcome = sheet_rows.get(error.row)
        if outcome is None:
            outcome = sheet_rows[error.row] = RowOutcome(
                row=error.row, email="", full_name="", status=INVALID
            )
        outcome.errors.append(error)


def _plan(
    session: Session, checked: Checked, target: Target, result: ImportResult, *, refused: bool
) -> None:
    """What an import would do, without writing: a dry run, or a refused file's preview."""
    users = _users_by_email(session, [p.email for p in checked.participants])
    ids = [u.id for u in users.values() if u.id is not None]
    pairs = _enrolled_pairs(session, ids, target.courses)
    outcomes: dict[int, RowOutcome] = {}
    created = existing = enrolled = already = 0
    for person in checked.participants:
        user = users.get(person.email)
        new = len(target.courses)
        if user is None:
            created += 1
        else:
            existing += 1
            new = sum(
                1 for course in target.courses if pairs.get((user.id or 0, course)) in (None, True)
            )
        enrolled += new
        already += len(target.courses) - new
        outcomes[person.row] = RowOutcome(
            row=person.row,
            email=person.email,
            full_name=person.full_name if user is None else user.full_name,
            status=CREATED if user is None else EXISTING,
            enrolled=new,
        )
    _invalid_outcomes(checked, outcomes)
    result.outcomes = [outcomes[row] for row in sorted(outcomes)]
    if result.dry_run or not refused:  # a refused import did nothing, and says so
        result.created, result.existing = created, existing
        result.enrolled, result.already_enrolled = enrolled, already


def _new_user(person: Participant) -> User:
    return User(
        email=person.email,
        password_hash=NO_PASSWORD,
        full_name=person.full_name,
        institution=person.institution,
        institution_type=person.institution_type,
        country=person.country,
        language=person.language,
        role=Role.learner.value,
    )


def _apply(
    session: Session,
    *,
    checked: Checked,
    cohort: Cohort,
    target: Target,
    actor: User | None,
    actor_label: str,
    send_invitations: bool,
    base_url: str | None,
    file_name: str,
    skip_invalid: bool,
    progress: Callable[[int], None] | None,
) -> ImportResult:
    result = ImportResult(
        dry_run=False, imported=True, rows=checked.rows, errors=list(checked.errors)
    )
    who: audit.Actor | str = actor if actor is not None else actor_label
    users = _users_by_email(session, [p.email for p in checked.participants])
    outcomes: dict[int, RowOutcome] = {}
    people: list[tuple[Participant, User, bool]] = []
    for person in checked.participants:
        user = users.get(person.email)
        created = user is None
        if user is None:
            user = _new_user(person)
            session.add(user)
        people.append((person, user, created))
    session.flush()  # the new accounts get their ids
    pairs = _enrolled_pairs(
        session, [u.id for _, u, _ in people if u.id is not None], target.courses
    )
    for done, (person, user, created) in enumerate(people, start=1):
        assert user.id is not None
        outcome = RowOutcome(
            row=person.row,
            email=user.email,
            full_name=user.full_name,
            status=CREATED if created else EXISTING,
        )
        for course in target.courses:
            withdrawn = pairs.get((user.id, course))
            if withdrawn is None:
                session.add(Enrollment(user_id=user.id, course_id=course, cohort_id=cohort.id))
                outcome.enrolled += 1
            else:
                # Already enrolled: now a member of this cohort; a withdrawn enrolment counts
                # again, as enrolling anew does.
                session.execute(
                    update(_enrollments)
                    .where(_enrollments.c.user_id == user.id, _enrollments.c.course_id == course)
                    .values(cohort_id=cohort.id, withdrawn_at=None, withdrawn_by_id=None)
                )
                if withdrawn:
                    outcome.enrolled += 1
        result.enrolled += outcome.enrolled
        result.already_enrolled += len(target.courses) - outcome.enrolled
        if created:
            result.created += 1
        else:
            result.existing += 1
        # Created accounts get their invitation link; earlier imports' accounts still
        # without a password get a fresh one when the invitations are to be mailed now.
        if created or (send_invitations and not has_password(user) and user.is_active):
            url = links.issue_link(
                session, user, links.INVITATION, created_by=actor, base_url=base_url
            )
            if send_invitations:
                outbox.queue_invitation(
                    session, user, url, inviter_name=actor.full_name if actor else None
                )
            outcome.invitation = url
            result.invitations.append((user.email, url))
            audit.record(
                session,
                who,
                "account.invite",
                user.email,
                {"cohort": cohort.code, "mailed": send_invitations, "created": created},
            )
        outcomes[person.row] = outcome
        if progress is not None:
            progress(done)
    _invalid_outcomes(checked, outcomes)
    result.outcomes = [outcomes[row] for row in sorted(outcomes)]
    audit.record(
        session,
        who,
        "cohort.import",
        cohort.code,
        {
            **target.describe(),
            "file": file_name,
            "rows": result.rows,
            "created": result.created,
            "existing": result.existing,
            "enrolled": result.enrolled,
            "skipped_rows": sorted(checked.invalid_rows()) if skip_invalid else [],
            "invitations": len(result.invitations),
            "mailed": send_invitations,
        },
    )
    if progress is not None and not people:
        progress(checked.rows)
    return result


class UnknownTarget(LookupError):
    """No such course or programme."""


class TargetRequired(ValueError):
    """Neither a course nor a programme was named, or both were."""


def target_for(catalogue: Catalogue, *, course: str = "", programme: str = "") -> Target:
    """The course, or every course of the programme, that an import or enrolment names
    (exactly one of them): TargetRequired or UnknownTarget otherwise."""
    course, programme = course.strip(), programme.strip()
    if bool(course) == bool(programme):
        raise TargetRequired("Send either `course` or `programme` (one of them)")
    if course:
        if catalogue.get(course) is None:
            raise UnknownTarget(f"Course '{course}' not found")
        return Target(courses=(course,), course=course)
    found = catalogue.programmes.get(programme)
    if found is None:
        raise UnknownTarget(f"Programme '{programme}' not found")
    missing = [c for c in found.courses if catalogue.get(c) is None]
    if missing:
        raise UnknownTarget(
            f"Programme '{programme}' names courses that are not loaded: {', '.join(missing)}"
        )
    return Target(courses=tuple(found.courses), programme=programme)


def enrol_existing(
    session: Session,
    *,
    cohort: Cohort,
    target: Target,
    emails: Sequence[str],
    actor: audit.Actor | str | None,
) -> cohorts.BulkEnrolment:
    """Enrol existing accounts in the course, or every course of the programme, as members
    of the cohort (v1's cohort enrolment), audit-logged as "cohort.enrol". An email counts
    as enrolled when it got at least one new enrolment, already when it had them all."""
    cohorts.require_open(cohort)
    outcome = cohorts.BulkEnrolment()
    order: dict[str, int] = {}
    enrolled: set[str] = set()
    for course in target.courses:
        one = cohorts.enrol(session, cohort=cohort, course_id=course, emails=list(emails))
        for email in (*one.enrolled, *one.already):
            order.setdefault(email, len(order))
        enrolled.update(one.enrolled)
        outcome.unknown, outcome.already = one.unknown, one.already
    outcome.enrolled = sorted(enrolled, key=order.__getitem__)
    outcome.already = [e for e in outcome.already if e not in enrolled]
    audit.record(
        session,
        actor,
        "cohort.enrol",
        cohort.code,
        {
            **target.describe(),
            "enrolled": len(outcome.enrolled),
            "already": len(outcome.already),
            "unknown": len(outcome.unknown),
        },
    )
    session.commit()
    return outcome
