"""The course versions a start records: all new ones in one transaction, each change
reported by the first process to record it."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from sqlalchemy import event, func, select
from sqlmodel import Session

from ecampus.courses.catalog import record_versions
from ecampus.courses.models import CourseVersion
from ecampus.db import make_engine


def course(course_id: str, version: str) -> Any:
    return SimpleNamespace(id=course_id, version=version, title=course_id.title(), order=["a"])


def versions(engine: Any) -> dict[tuple[str, str], int]:
    with Session(engine) as session:
        rows = session.exec(
            select(CourseVersion.course_id, CourseVersion.version, func.count()).group_by(
                CourseVersion.course_id, CourseVersion.version
            )
        ).all()
    return {(c, v): n for c, v, n in rows}


def test_a_first_start_records_every_course_in_one_commit(database_url: str) -> None:
    engine = make_engine(database_url)
    commits: list[int] = []

    def committed(_session: Session) -> None:
        commits.append(1)

    event.listen(Session, "after_commit", committed)
    try:
        courses = [course(f"c{n}", "v1") for n in range(25)]
        assert [c.id for c in record_versions(engine, courses)] == [c.id for c in courses]
        assert len(commits) == 1
        assert record_versions(engine, courses) == []  # nothing new the second time
        # A new version, and a return to an older one, are each reported.
        changed = record_versions(engine, [course("c0", "v2"), *courses[1:]])
        assert [c.id for c in changed] == ["c0"]
        assert [c.id for c in record_versions(engine, courses)] == ["c0"]
        assert versions(engine)[("c0", "v1")] == 1  # marked current again, not added twice
    finally:
        event.remove(Session, "after_commit", committed)
        engine.dispose()


def test_a_course_another_process_recorded_first_is_not_reported_again(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    other = make_engine(database_url)
    raced: list[bool] = []

    def meanwhile(_session: Session) -> None:
        if raced:
            return
        raced.append(True)
        # Another app process records c1 between this one's look and its commit.
        with Session(other) as session:
            session.add(CourseVersion(course_id="c1", version="v1", title="C1", item_ids="a"))
            session.commit()

    event.listen(Session, "before_commit", meanwhile)
    try:
        changed = record_versions(engine, [course(f"c{n}", "v1") for n in range(3)])
        # c1 was reported by the process that recorded it; this one reports the others.
        assert [c.id for c in changed] == ["c0", "c2"]
        assert versions(engine) == {("c0", "v1"): 1, ("c1", "v1"): 1, ("c2", "v1"): 1}
    finally:
        event.remove(Session, "before_commit", meanwhile)
        engine.dispose()
        other.dispose()
