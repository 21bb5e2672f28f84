"""The live catalogue: courses loaded from disk, kept in memory, reloaded on change.

A broken edit never takes a course offline: the last good version keeps serving and the
problems are kept for authors to see.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from ecampus.courses.content import CourseContent, ProgrammeContent
from ecampus.courses.loader import LoadResult, Problem, load_catalogue
from ecampus.courses.models import CourseVersion

log = logging.getLogger(__name__)


def _snapshot(root: Path) -> tuple[tuple[str, int, int], ...]:
    """Names, sizes and modification times of every file under root: cheap change detection."""
    entries = []
    if root.is_dir():
        for path in root.rglob("*"):
            try:
                stat = path.stat()
            except OSError:
                continue
            if path.is_file():
                entries.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(sorted(entries))


@dataclass
class Catalogue:
    root: Path
    courses: dict[str, CourseContent] = field(default_factory=dict)
    programmes: dict[str, ProgrammeContent] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    generation: int = 0
    _snapshot: tuple[tuple[str, int, int], ...] = ()
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, course_id: str) -> CourseContent | None:
        return self.courses.get(course_id)

    def published(self) -> Iterator[CourseContent]:
        return (c for c in self.courses.values() if c.published)

    def programmes_with(self, course_id: str) -> list[ProgrammeContent]:
        return [p for p in self.programmes.values() if course_id in p.courses]

    def load(self, engine: Engine | None = None) -> LoadResult:
        """(Re)load from disk, keeping the last good version of any course that now fails."""
        with self._lock:
            snapshot = _snapshot(self.root)
            result = load_catalogue([self.root])
            courses = dict(result.courses)
            for course_id, course in self.courses.items():
                # A folder that still exists but no longer loads keeps its last good version.
                if course.folder.resolve() in result.failed_sources and course_id not in courses:
                    courses[course_id] = course
            programmes = dict(result.programmes)
            for programme_id, programme in self.programmes.items():
                source = programme.source.resolve() if programme.source else None
                if source in result.failed_sources and programme_id not in programmes:
                    programmes[programme_id] = programme
            self.courses = dict(sorted(courses.items(), key=lambda kv: kv[1].title.casefold()))
            self.programmes = programmes
            self.problems = result.problems
            self._snapshot = snapshot
            self.generation += 1
        for problem in result.errors:
            log.warning("course error: %s", problem.format(self.root))
        if engine is not None:
            record_versions(engine, result.courses.values())
        return result

    def reload_if_changed(self, engine: Engine | None = None) -> bool:
        if _snapshot(self.root) == self._snapshot:
            return False
        self.load(engine)
        return True


def record_versions(engine: Engine, courses: object) -> None:
    """Remember each content version served, so attempts and certificates can name it."""
    with Session(engine) as session:
        for course in courses:  # type: ignore[attr-defined]
            exists = session.exec(
                select(CourseVersion.id).where(
                    CourseVersion.course_id == course.id, CourseVersion.version == course.version
                )
            ).first()
            if exists is not None:
                continue
            session.add(
                CourseVersion(
                    course_id=course.id,
                    version=course.version,
                    title=course.title,
                    item_ids=" ".join(course.order),
                )
            )
            try:
                session.commit()
            except IntegrityError:  # another app process recorded it first
                session.rollback()
