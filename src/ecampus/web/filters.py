"""The report filters the coordinator API and pages share: query parameters read into
`reports.queries.Filters` (and `reports.programmes.ProgrammeFilters`), with a clear 422 for
a value that cannot be one."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, HTTPException, Query, status

from ecampus import countries
from ecampus.accounts.models import InstitutionType
from ecampus.reports.programmes import ProgrammeFilters
from ecampus.reports.queries import DATE_FIELDS, STATUSES, Filters
from ecampus.web.deps import CatalogueDep, SettingsDep


def _invalid(message: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, message)


def _day(name: str, value: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _invalid(f"`{name}` must be a date written YYYY-MM-DD") from None


def _country(value: str) -> str:
    code = countries.normalise(value) if value.strip() else ""
    if code is None:
        raise _invalid(
            "`country` must be an ISO 3166-1 alpha-2 country code such as GT or HN, "
            f"not {value.strip()[:40]!r}"
        )
    return code


def _institution_type(value: str) -> None:
    kinds = {t.value for t in InstitutionType}
    if value and value not in kinds:
        raise _invalid(f"`institution_type` must be one of {', '.join(sorted(kinds))}")


def report_filters(
    catalogue: CatalogueDep,
    settings: SettingsDep,
    course: str = "",
    course_group: Annotated[
        str, Query(description="any course id: that course and all its translations")
    ] = "",
    cohort: str = "",
    country: Annotated[str, Query(description="ISO 3166-1 alpha-2, e.g. GT")] = "",
    institution_type: Annotated[
        str, Query(description=", ".join(t.value for t in InstitutionType))
    ] = "",
    programme: Annotated[
        str, Query(description="a programme id: the enrolments in its courses")
    ] = "",
    status_: Annotated[
        str,
        Query(
            alias="status",
            description=", ".join(STATUSES) + "; withdrawn enrolments appear only with "
            "status=withdrawn",
        ),
    ] = "",
    since: Annotated[
        str, Query(description="first day, YYYY-MM-DD, inclusive, in the institution's time zone")
    ] = "",
    until: Annotated[
        str, Query(description="last day, YYYY-MM-DD, inclusive, in the institution's time zone")
    ] = "",
    date_field: Annotated[str, Query(description=" or ".join(DATE_FIELDS))] = "enrolled_at",
) -> Filters:
    """Empty parameters mean "any", so a filter form can send every field as it is."""
    code = _country(country)
    _institution_type(institution_type)
    if status_ and status_ not in STATUSES:
        raise _invalid(f"`status` must be one of {', '.join(STATUSES)}")
    chosen = catalogue.programmes.get(programme.strip()) if programme.strip() else None
    if programme.strip() and chosen is None:
        raise _invalid(f"No programme has the id {programme.strip()[:80]!r}")
    if date_field and date_field not in DATE_FIELDS:
        raise _invalid(f"`date_field` must be one of {', '.join(DATE_FIELDS)}")
    first, last = _day("since", since), _day("until", until)
    if first and last and first > last:
        raise _invalid("`since` is after `until`")
    group = course_group.strip()
    return Filters(
        course=course.strip() or None,
        courses=(tuple(v.id for v in catalogue.variants(group)) or (group,)) if group else (),
        cohort=cohort.strip() or None,
        country=code or None,
        institution_type=institution_type or None,
        programme=chosen.id if chosen else None,
        programme_courses=tuple(chosen.courses) if chosen else (),
        status=status_ or None,
        since=first,
        until=last,
        date_field=date_field or "enrolled_at",
        zone=settings.zone,
    )


FiltersDep = Annotated[Filters, Depends(report_filters)]


def programme_filters(
    catalogue: CatalogueDep,
    programme: Annotated[str, Query(description="a programme id")] = "",
    cohort: str = "",
    country: Annotated[str, Query(description="ISO 3166-1 alpha-2, e.g. GT")] = "",
    institution_type: Annotated[
        str, Query(description=", ".join(t.value for t in InstitutionType))
    ] = "",
) -> ProgrammeFilters:
    """The programme report's filters; empty parameters mean "any"."""
    chosen = programme.strip()
    if chosen and chosen not in catalogue.programmes:
        raise _invalid(f"No programme has the id {chosen[:80]!r}")
    code = _country(country)
    _institution_type(institution_type)
    return ProgrammeFilters(
        programme=chosen or None,
        cohort=cohort.strip() or None,
        country=code or None,
        institution_type=institution_type or None,
    )


ProgrammeFiltersDep = Annotated[ProgrammeFilters, Depends(programme_filters)]
