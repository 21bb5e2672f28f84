"""Catalogue search: words in a course's title, summary, topics and lesson text.

Matching ignores case and accents ("PASAPORTE" finds "pasaporte", "migracion" finds
"migración"); each query word may be the start or the middle of a word ("migra" finds
"inmigración"). Each course's text is folded and indexed once per content version, so a
search costs substring scans of prepared text and no rendering.
"""

from __future__ import annotations

import html
import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from ecampus.courses.content import CourseContent, LessonContent
from ecampus.courses.textmatch import normalise_text

EXCERPT_BEFORE = 40  # characters of context shown before a match
EXCERPT_AFTER = 90  # and after it
LESSONS_SHOWN = 3  # matching lessons listed per course
_CACHE_SIZE = 512  # indexed course versions kept (a reload adds one per changed course)

_TAG = re.compile(r"<[^>]+>")
_BLOCK_END = re.compile(r"</(?:p|li|h[1-6]|td|th|tr|blockquote|pre|figcaption)>|<br\s*/?>", re.I)


def html_to_text(markup: str) -> str:
    """The text a reader sees in rendered lesson HTML, one space between blocks."""
    text = _TAG.sub("", _BLOCK_END.sub(" ", markup))
    return " ".join(html.unescape(text).split())


# The combining marks of the Latin, Greek and Cyrillic scripts (accents, tildes, cedillas).
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def _fold_char(char: str) -> str:
    return "".join(
        part
        for part in unicodedata.normalize("NFKD", char.casefold())
        if not unicodedata.combining(part)
    )


def _fold(text: str) -> tuple[str, list[int] | None]:
    """Text folded for matching (case, accents), and for each folded character the index
    of the original character it came from (None when they line up one to one), to cut
    excerpts from the original text."""
    folded = _COMBINING.sub("", unicodedata.normalize("NFKD", text.casefold()))
    if len(folded) == len(text):
        return folded, None  # the usual case, in one pass of C code
    parts: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        part = _fold_char(char)
        parts.append(part)
        origin.extend([index] * len(part))
    return "".join(parts), origin


@dataclass(frozen=True, slots=True)
class _Lesson:
    id: str
    title: str
    text: str
    folded_title: str
    folded_text: str
    origin: list[int] | None

    def original(self, folded_index: int) -> int:
        return folded_index if self.origin is None else self.origin[folded_index]


@dataclass(frozen=True, slots=True)
class CourseIndex:
    course_id: str
    version: str
    folded_details: str  # title, summary and topics
    folded_all: str  # details and every lesson, for the first test
    lessons: tuple[_Lesson, ...]


def _index(course: CourseContent) -> CourseIndex:
    lessons = []
    for item in course.items.values():
        if isinstance(item, LessonContent):
            text = html_to_text(item.html)
            folded, origin = _fold(text)
            lessons.append(_Lesson(item.id, item.title, text, _fold(item.title)[0], folded, origin))
    details = normalise_text(" ".join((course.title, course.summary, *course.topics)))
    every = " ".join(
        (details, *(f"{lesson.folded_title} {lesson.folded_text}" for lesson in lessons))
    )
    return CourseIndex(course.id, course.version, details, every, tuple(lessons))


_cache: OrderedDict[tuple[str, str], CourseIndex] = OrderedDict()
_cache_lock = threading.Lock()


def index_of(course: CourseContent) -> CourseIndex:
    """The course's search index, built on first use of each content version."""
    key = (course.id, course.version)
    with _cache_lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    built = _index(course)
    with _cache_lock:
        _cache[key] = built
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return built


@dataclass(frozen=True, slots=True)
class LessonMatch:
    """A lesson that matched, with an excerpt around the first match: `before`, `match`
    and `after` are plain text (the page escapes them and marks `match`)."""

    id: str
    title: str
    before: str
    match: str
    after: str


@dataclass(frozen=True, slots=True)
class CourseMatch:
    course: CourseContent
    in_details: bool  # the words are all in the title, summary or topics
    lessons: tuple[LessonMatch, ...]  # the best few lessons that matched
    lessons_matched: int  # how many lessons matched in all


def query_words(query: str) -> list[str]:
    """The folded words of a query, longest first (the rarest, usually)."""
    words = dict.fromkeys(normalise_text(query).split())
    return sorted(words, key=len, reverse=True)


def _excerpt(lesson: _Lesson, words: list[str]) -> LessonMatch:
    found = [(lesson.folded_text.find(word), word) for word in words]
    found = [(at, word) for at, word in found if at >= 0]
    if not found:  # only the title matched: show how the lesson begins
        start_text = lesson.text[:EXCERPT_AFTER]
        cut = start_text.rfind(" ") if len(lesson.text) > EXCERPT_AFTER else len(start_text)
        after = lesson.text[: cut if cut > 0 else EXCERPT_AFTER]
        ellipsis = "…" if len(after) < len(lesson.text) else ""
        return LessonMatch(lesson.id, lesson.title, "", "", after + ellipsis)
    at, word = min(found)
    start = lesson.original(at)
    end = lesson.original(at + len(word) - 1) + 1
    text = lesson.text
    left = max(0, start - EXCERPT_BEFORE)
    if left > 0:
        space = text.find(" ", left, start)
        left = space + 1 if space >= 0 else left
    right = min(len(text), end + EXCERPT_AFTER)
    if right < len(text):
        space = text.rfind(" ", end, right)
        right = space if space >= 0 else right
    before = ("…" if left > 0 else "") + text[left:start]
    after = text[end:right] + ("…" if right < len(text) else "")
    return LessonMatch(lesson.id, lesson.title, before, text[start:end], after)


def match_course(course: CourseContent, words: list[str]) -> CourseMatch | None:
    """Whether every word occurs in the course (details or lessons), and where."""
    index = index_of(course)
    if not all(word in index.folded_all for word in words):
        return None
    scored = []
    for position, lesson in enumerate(index.lessons):
        haystack = f"{lesson.folded_title} {lesson.folded_text}"
        hits = sum(word in haystack for word in words)
        if hits:
            scored.append((-hits, position, lesson))
    scored.sort(key=lambda entry: entry[:2])
    best = [entry for entry in scored if entry[0] == -len(words)] or scored
    return CourseMatch(
        course=course,
        in_details=all(word in index.folded_details for word in words),
        lessons=tuple(_excerpt(lesson, words) for _hits, _pos, lesson in best[:LESSONS_SHOWN]),
        lessons_matched=len(best),
    )


def search(courses: Iterable[CourseContent], query: str) -> list[CourseMatch]:
    """The courses every word of the query occurs in; those whose title, summary or topics
    hold the words first, each group in the order given."""
    words = query_words(query)
    if not words:
        return [CourseMatch(course, True, (), 0) for course in courses]
    found = [m for course in courses if (m := match_course(course, words)) is not None]
    return sorted(found, key=lambda m: not m.in_details)
