"""What the coordinator dashboard page and its JSON share: the options beyond the report
filters (programme, period), and the figures labelled for a reader (course and programme
titles, cohort names, countries and institution types in the reader's language), with
their charts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from babel.dates import format_date
from fastapi import Depends, HTTPException, Query, status
from markupsafe import Markup

from ecampus import countries
from ecampus.courses.catalog import Catalogue
from ecampus.learning.models import Cohort
from ecampus.reports import charts
from ecampus.reports.dashboard import ACTIVE_DAYS, PERIODS, Dashboard, Line, Period
from ecampus.web import i18n
from ecampus.web.deps import CatalogueDep
from ecampus.web.templating import gettext as _
from ecampus.web.templating import ngettext


@dataclass(frozen=True, slots=True)
class Options:
    programme: str | None
    period: Period


def dashboard_options(
    catalogue: CatalogueDep,
    programme: Annotated[
        str, Query(description="a programme id: only the enrolments in its courses")
    ] = "",
    period: Annotated[
        str, Query(description="completions over time by `month` or ISO `week`")
    ] = "month",
) -> Options:
    chosen = programme.strip()
    if chosen and chosen not in catalogue.programmes:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"No programme has the id {chosen[:80]!r}"
        )
    if period not in PERIODS:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"`period` must be one of {', '.join(PERIODS)}"
        )
    return Options(programme=chosen or None, period="week" if period == "week" else "month")


OptionsDep = Annotated[Options, Depends(dashboard_options)]


def programme_courses(catalogue: Catalogue) -> dict[str, tuple[str, ...]]:
    return {p.id: tuple(p.courses) for p in catalogue.programmes.values()}


def institution_type_label(value: str) -> str:
    labels = {
        "government": _("Government"),
        "civil_society": _("Civil society"),
        "academia": _("Academia"),
        "international": _("International organisation"),
    }
    return labels.get(value, _("Other"))


@dataclass(frozen=True, slots=True)
class Row:
    """One line of a breakdown as the page shows it."""

    key: str
    label: str
    lang: str | None  # the language of a course or programme title
    enrolled: int
    active: int
    completed: int
    rate: float | None
    average_score: float | None


@dataclass(frozen=True, slots=True)
class Section:
    id: str
    heading: str
    caption: str
    key_header: str
    enrolled_header: str
    completed_header: str
    rows: list[Row]
    chart: Markup


def _rows(lines: list[Line], label: Any, lang: Any = lambda key: None) -> list[Row]:
    rows = [
        Row(
            key=line.key,
            label=label(line.key),
            lang=lang(line.key),
            enrolled=line.figures.enrolled,
            active=line.figures.active,
            completed=line.figures.completed,
            rate=line.figures.rate,
            average_score=line.figures.average_score,
        )
        for line in lines
    ]
    sort_key = countries.collator().sort_key  # built on first use: DUCET takes a second
    return sorted(rows, key=lambda r: (-r.enrolled, sort_key(r.label)))


def _number(value: float, language: str) -> str:
    return i18n.format_number(value, language)


def _chart(
    section_id: str, heading: str, rows: list[Row], language: str, whole: str, part: str
) -> Markup:
    description = _(
        "Grey bars: %(whole)s; green: %(part)s. The table below gives every number.",
        whole=whole,
        part=part,
    )
    bars = [
        charts.Bar(
            label=row.label,
            total=row.enrolled,
            part=row.completed,
            text=f"{_number(row.completed, language)} / {_number(row.enrolled, language)}",
        )
        for row in rows
    ]
    return charts.bar_chart(f"chart-{section_id}", heading, description, bars)


def sections(
    figures: Dashboard, catalogue: Catalogue, cohorts: list[Cohort], language: str
) -> list[Section]:
    """The breakdowns of the page, each with its chart, labelled for the reader."""
    cohort_names = {c.code: c.name for c in cohorts}
    names = countries.names(language)

    def course_title(key: str) -> str:
        course = catalogue.get(key)
        return course.title if course else key

    def course_lang(key: str) -> str | None:
        course = catalogue.get(key)
        return course.language if course else None

    def programme_title(key: str) -> str:
        programme = catalogue.programmes.get(key)
        return programme.title if programme else key

    def programme_lang(key: str) -> str | None:
        programme = catalogue.programmes.get(key)
        return programme.language if programme else None

    specs = [
        ("courses", _("By course"), _("Course"), figures.courses, course_title, course_lang),
        (
            "programmes",
            _("By programme"),
            _("Programme"),
            figures.programmes,
            programme_title,
            programme_lang,
        ),
        (
            "cohorts",
            _("By cohort"),
            _("Cohort"),
            figures.cohorts,
            lambda key: cohort_names.get(key, key) if key else _("No cohort"),
            lambda key: None,
        ),
        (
            "countries",
            _("By country"),
            _("Country"),
            figures.countries,
            lambda key: names.get(key, key) if key else _("Not given"),
            lambda key: None,
        ),
        (
            "institution-types",
            _("By institution type"),
            _("Institution type"),
            figures.institution_types,
            institution_type_label,
            lambda key: None,
        ),
    ]
    result = []
    for section_id, heading, key_header, lines, label, lang in specs:
        rows = _rows(lines, label, lang)
        programme = section_id == "programmes"
        whole = _("participants") if programme else _("enrolments")
        completed = _("diplomas") if programme else _("completed")
        result.append(
            Section(
                id=section_id,
                heading=heading,
                caption=heading
                + ": "
                + (
                    ngettext(
                        "participants, active in the last %(num)s day, diplomas, "
                        "completion rate and average score",
                        "participants, active in the last %(num)s days, diplomas, "
                        "completion rate and average score",
                        ACTIVE_DAYS,
                    )
                    if programme
                    else ngettext(
                        "enrolments, active in the last %(num)s day, completed, "
                        "completion rate and average score",
                        "enrolments, active in the last %(num)s days, completed, "
                        "completion rate and average score",
                        ACTIVE_DAYS,
                    )
                ),
                key_header=key_header,
                enrolled_header=_("Participants") if programme else _("Enrolled"),
                completed_header=_("Diplomas") if programme else _("Completed"),
                rows=rows,
                chart=_chart(section_id, heading, rows, language, whole, completed),
            )
        )
    return result


def bucket_label(start: date, period: Period, language: str) -> str:
    locale = i18n.locale(language)
    if period == "month":
        return format_date(start, format="MMM y", locale=locale)
    return _("week of %(day)s", day=format_date(start, format="d MMM y", locale=locale))


def over_time_chart(figures: Dashboard, language: str) -> tuple[Markup, list[dict[str, Any]]]:
    """The completions-over-time chart and the rows of the table behind it."""
    rows = [
        {
            "start": bucket.start,
            "label": bucket_label(bucket.start, figures.period, language),
            "completed": bucket.completed,
        }
        for bucket in figures.over_time
    ]
    title = _("Completions per month") if figures.period == "month" else _("Completions per week")
    total = sum(b.completed for b in figures.over_time)
    description = (
        _(
            "%(count)s from %(first)s to %(last)s.",
            count=ngettext("%(num)s completion", "%(num)s completions", total),
            first=rows[0]["label"],
            last=rows[-1]["label"],
        )
        if rows
        else _("No completions in this selection.")
    )
    points = [
        charts.Point(label=b_label, value=b.completed, text=_number(b.completed, language))
        for b, b_label in zip(figures.over_time, (str(r["label"]) for r in rows), strict=True)
    ]
    return charts.line_chart("chart-over-time", title, description, points), rows
