"""The report filters the coordinator API and pages share: query parameters read into
`reports.queries.Filters`, with a clear 422 for a value that cannot be one."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, HTTPException, Query, status

from ecampus import countries
from ecampus.accounts.models import InstitutionType
from ecampus.reports.queries import DATE_FIELDS, Filters
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
    since: Annotated[
        str, Query(description="first day, YYYY-MM-DD, inclusive, in the institution's time zone")
    ] = "",
    until: Annotated[
        str, Query(description="last day, YYYY-MM-DD, inclusive, in the institution's time zone")
    ] = "",
    date_field: Annotated[str, Query(description=" or ".join(DATE_FIELDS))] = "enrolled_at",
) -> Filters:
    """Empty parameters mean "any", so a filter form can send every field as it is."""
    code = countries.normalise(country) if country.strip() else ""
    if code is None:
        raise _invalid(
            "`country` must be an ISO 3166-1 alpha-2 country code such as GT or HN, "
            f"not {country.strip()[:40]!r}"
        )
    kinds = {t.value for t in InstitutionType}
    if institution_type and institution_type not in kinds:
        raise _invalid(f"`institution_type` must be one of {', '.join(sorted(kinds))}")
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
        since=first,
        until=last,
        date_field=date_field or "enrolled_at",
        zone=settings.zone,
    )


FiltersDep = Annotated[Filters, Depends(report_filters)]
