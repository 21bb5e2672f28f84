"""The live catalogue: courses loaded from disk, kept in memory, reloaded on change.

A broken edit never takes a course offline: the last good version keeps serving and the
problems are kept for authors to see.
"""

from __future__ import annotations

import logging
import stat
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from ecampus.courses.cache import CourseCache, scan
from ecampus.courses.content import CourseContent, ProgrammeContent
from ecampus.courses.issuer import IssuerContent
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
    failed: set[Path] = field(default_factory=set)  # sources that failed at the last load
    loaded_at: datetime | None = None
    new_versions: list[CourseContent] = field(default_factory=list)
    issuer: IssuerContent | None = None  # issuer.yaml (its last good version when it breaks)
    _groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Where the loaded catalogue is kept between starts (None: parse the files every time).
    cache: CourseCache | None = None
    from_cache: bool = False  # whether the last load came from the cache
    _snapshot: tuple[tuple[str, int, int], ...] = ()
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.cache is not None and self.cache.folder.resolve().is_relative_to(
            self.root.resolve()
        ):
            log.warning(
                "the course cache folder %s is inside the courses folder: not used",
                self.cache.folder,
            )
            self.cache = None

    def get(self, course_id: str) -> CourseContent | None:
        return self.courses.get(course_id)

    def published(self) -> Iterator[CourseContent]:
        return (c for c in self.courses.values() if c.published)

    def variants(self, course_id: str) -> list[CourseContent]:
        """The course and its translations (declared on either side), by language."""
        group = self._groups.get(course_id, (course_id,))
        return sorted(
            (c for i in group if (c := self.courses.get(i)) is not None), key=lambda c: c.language
        )

    def group_key(self, course_id: str) -> str:
        """One id that names a course and all its translations (the smallest), for reports."""
        return min(self._groups.get(course_id, (course_id,)))

    def _group_translations(self) -> None:
        parent = {course_id: course_id for course_id in self.courses}

        def root(course_id: str) -> str:
            while parent[course_id] != course_id:
                parent[course_id] = parent[parent[course_id]]
                course_id = parent[course_id]
            return course_id

        for course in self.courses.values():
            for other in course.translations:
                if other in parent:
                    parent[root(other)] = root(course.id)
        members: dict[str, list[str]] = {}
        for course_id in self.courses:
            members.setdefault(root(course_id), []).append(course_id)
        self._groups = {i: tuple(sorted(group)) for group in members.values() for i in group}

    def programmes_with(self, course_id: str) -> list[ProgrammeContent]:
        return [p for p in self.programmes.values() if course_id in p.courses]

    def load(self, engine: Engine | None = None) -> LoadResult:
        """(Re)load from disk, keeping the last good version of any course that now fails."""
        with self._lock:
            snapshot, result = self._read()
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
            self.issuer = result.issuer
            self._group_translations()
            # A programme naming a course that now fails to load is fine while that
            # course's last good version is still served.
            self.problems = [
                p for p in result.problems if not (p.about and p.about in self.courses)
            ]
            self.failed = result.failed_sources
            self.loaded_at = datetime.now(UTC)
            self._snapshot = snapshot
            self.generation += 1
        for problem in (p for p in self.problems if p.severity == "error"):
            log.warning("course error: %s", problem.format(self.root))
        self.new_versions = (
            record_versions(engine, result.courses.values()) if engine is not None else []
        )
        return result

    def _read(self) -> tuple[tuple[tuple[str, int, int], ...], LoadResult]:
        """The folder's snapshot, and the courses: from the cache when it holds, else
        parsed from the files (and cached)."""
        if self.cache is None:
            snapshot = _snapshot(self.root)
            self.from_cache = False
            return snapshot, load_catalogue([self.root], fallback_issuer=self.issuer)
        before = scan(self.root)
        snapshot = tuple(
            (path, size, mtime)
            for path, mode, size, mtime, _ctime, _ino in before.entries
            if stat.S_ISREG(mode)
        )
        cached = self.cache.read(self.root, before)
        self.from_cache = cached is not None
        if cached is not None:
            log.info("courses read from %s", self.cache.file_for(self.root))
            return snapshot, cached
        racy = self.cache.racy_hashes(before)
        result = load_catalogue([self.root], fallback_issuer=self.issuer)
        if racy is not None and not result.issuer_failed:
            self.cache.write(self.root, before, racy, result)
        return snapshot, result

    def reload_if_changed(self, engine: Engine | None = None) -> bool:
        if _snapshot(self.root) == self._snapshot:
            return False
        self.load(engine)
        return True

    def serving_last_good(self, course_id: str) -> bool:
        """Whether this course's files now fail to load, so an older version is served."""
        course = self.courses.get(course_id)
        return course is not None and course.folder.resolve() in self.failed

    def sources_of(self, course_id: str) -> list[Problem]:
        """The problems found in one course's files at the last load."""
        course = self.courses.get(course_id)
        if course is None:
            return []
        folder = course.folder.resolve()
        return [p for p in self.problems if p.file.resolve().is_relative_to(folder)]


def record_versions(engine: Engine, courses: Iterable[CourseContent]) -> list[CourseContent]:
    """Remember each content version served, so attempts and certificates can name it.

    Returns the courses whose version differs from the one this database saw last (a new
    version, or a return to an older one): their learners' stored progress needs
    recomputing. With several app processes, the first to record a change reports it.
    """
    changed: list[CourseContent] = []
    now = datetime.now(UTC)
    courses = list(courses)
    with Session(engine) as session:
        # The latest version of every course in one query (a start checks them all).
        latest: dict[str, tuple[datetime, int, str]] = {}
        for chunk in range(0, len(courses), 500):
            ids = [course.id for course in courses[chunk : chunk + 500]]
            rows = session.exec(
                select(
                    CourseVersion.course_id,
                    CourseVersion.loaded_at,
                    CourseVersion.id,
                    CourseVersion.version,
                ).where(col(CourseVersion.course_id).in_(ids))
            )
            for course_id, loaded_at, row_id, version in rows:
                candidate = (loaded_at, row_id or 0, version)
                if course_id not in latest or candidate[:2] > latest[course_id][:2]:
                    latest[course_id] = candidate
        todo = [c for c in courses if not (c.id in latest and latest[c.id][2] == c.version)]
        if not todo:
            return []
        # All in one transaction (a first start records every course: one commit, not one
        # each); if another app process recorded one of them first, one by one.
        for course in todo:
            _stage_version(session, course, latest.get(course.id), now)
        try:
            session.commit()
            return todo
        except IntegrityError:
            session.rollback()
        for course in todo:
            _stage_version(session, course, latest.get(course.id), now)
            try:
                session.commit()
                changed.append(course)
            except IntegrityError:  # another app process recorded it first
                session.rollback()
    return changed


def _stage_version(
    session: Session,
    course: CourseContent,
    known: tuple[datetime, int, str] | None,
    now: datetime,
) -> None:
    """Add the course's version to the session, or mark an older one current again."""
    seen = (
        None  # no version of it at all: nothing to look up
        if known is None
        else session.exec(
            select(CourseVersion).where(
                CourseVersion.course_id == course.id, CourseVersion.version == course.version
            )
        ).first()
    )
    if seen is not None:
        seen.loaded_at = now  # back to an older version: it is the current one again
        session.add(seen)
        return
    session.add(
        CourseVersion(
            course_id=course.id,
            version=course.version,
            title=course.title,
            item_ids=" ".join(course.order),
            loaded_at=now,
        )
    )
