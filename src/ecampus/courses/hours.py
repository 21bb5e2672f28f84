"""Honest hours: what a course states against what its items take.

Pure rules, no I/O: the loader feeds them numbers and turns what they return into warnings.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ecampus.i18n import N_, Message

# A course's (or programme's) `hours` may differ from the sum of its items' `minutes` by at
# most this share of the stated hours.
HOURS_TOLERANCE = 0.25
# The study pace a lesson's `minutes` are checked against: at most FASTEST words a minute
# (less time is not enough to read it) and at least SLOWEST (more time is not reading).
FASTEST_WORDS_PER_MINUTE = 200
SLOWEST_WORDS_PER_MINUTE = 100

_LINK_TARGET = re.compile(r"\]\([^)]*\)|<[^>]*>|https?://\S+|^\s*\[[^\]]+\]:\s*\S+.*$", re.M)
_WORD = re.compile(r"\w+(?:['’-]\w+)*")


def count_words(markdown_text: str) -> int:
    """Words a reader reads in a Markdown text: link targets, URLs and HTML tags excluded."""
    return len(_WORD.findall(_LINK_TARGET.sub(" ", markdown_text)))


@dataclass(frozen=True, slots=True)
class Pace:
    """The reading minutes a number of words takes, at the fastest and slowest study pace."""

    words: int

    @property
    def fewest_minutes(self) -> int:
        return math.floor(self.words / FASTEST_WORDS_PER_MINUTE)

    @property
    def most_minutes(self) -> int:
        return max(1, math.ceil(self.words / SLOWEST_WORDS_PER_MINUTE))


def lesson_minutes(lesson_id: str, minutes: int, words: int) -> Message | None:
    """A warning when a lesson's `minutes` do not fit its length at a study pace."""
    pace = Pace(words)
    params = {
        "id": lesson_id,
        "minutes": minutes,
        "words": words,
        "fewest": pace.fewest_minutes,
        "most": pace.most_minutes,
        "fast": FASTEST_WORDS_PER_MINUTE,
        "slow": SLOWEST_WORDS_PER_MINUTE,
    }
    if minutes < pace.fewest_minutes:
        return Message(
            N_(
                "lesson '%(id)s' has %(words)s words, at least %(fewest)s min of reading at "
                "%(fast)s words a minute, but its `minutes` is %(minutes)s"
            ),
            params,
        )
    if minutes > pace.most_minutes:
        return Message(
            N_(
                "lesson '%(id)s' has %(words)s words, at most %(most)s min of reading at "
                "%(slow)s words a minute, but its `minutes` is %(minutes)s; lower `minutes` or "
                "add the readings and activities that take that time"
            ),
            params,
        )
    return None


def _apart(stated_hours: float, minutes: int) -> bool:
    stated = stated_hours * 60
    return abs(minutes - stated) > HOURS_TOLERANCE * stated


def course_hours(stated_hours: float, minutes: int) -> Message | None:
    """A warning when a course's `hours` and its items' `minutes` are too far apart."""
    if not _apart(stated_hours, minutes):
        return None
    return Message(
        N_(
            "the course states %(hours)s h, but the `minutes` of its items add up to "
            "%(actual)s h (%(minutes)s min); make them agree within %(tolerance)s %%"
        ),
        {
            "hours": stated_hours,
            "actual": round(minutes / 60, 1),
            "minutes": minutes,
            "tolerance": round(HOURS_TOLERANCE * 100),
        },
    )


def programme_hours(stated_hours: float, minutes: int) -> Message | None:
    """A warning when a programme's `hours` and its courses' item `minutes` are too far apart."""
    if not _apart(stated_hours, minutes):
        return None
    return Message(
        N_(
            "the programme states %(hours)s h, but the `minutes` of its courses' items add "
            "up to %(actual)s h (%(minutes)s min); make them agree within "
            "%(tolerance)s %%"
        ),
        {
            "hours": stated_hours,
            "actual": round(minutes / 60, 1),
            "minutes": minutes,
            "tolerance": round(HOURS_TOLERANCE * 100),
        },
    )
