"""The certificates report's filters, shared by its API and the coordinator's list page:
query parameters read into `certificates.listing.CertificateFilters`, 422 for a value that
cannot be one. Empty parameters mean "any", so a filter form can send every field."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, HTTPException, Query, status

from ecampus.certificates.listing import KINDS, STATUSES, CertificateFilters, Programmes
from ecampus.web.deps import CatalogueDep, SettingsDep

Q_LIMIT = 200


def _invalid(message: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, message)


def _day(name: str, value: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise _invalid(f"`{name}` must be a date written YYYY-MM-DD") from None


def certificate_filters(
    settings: SettingsDep,
    q: Annotated[
        str,
        Query(
            max_length=Q_LIMIT,
            description="words of the learner's name, email or code; any case or accents",
        ),
    ] = "",
    course: Annotated[str, Query(description="a course id: its certificates")] = "",
    programme: Annotated[
        str, Query(description="a programme id: its diplomas and its courses' certificates")
    ] = "",
    cohort: Annotated[str, Query(description="a cohort code")] = "",
    kind: Annotated[str, Query(description=" or ".join(KINDS))] = "",
    status_: Annotated[str, Query(alias="status", description=", ".join(STATUSES))] = "",
    since: Annotated[
        str, Query(description="first day of issue, YYYY-MM-DD, in the institution's time zone")
    ] = "",
    until: Annotated[
        str, Query(description="last day of issue, YYYY-MM-DD, in the institution's time zone")
    ] = "",
) -> CertificateFilters:
    if kind and kind not in KINDS:
        raise _invalid(f"`kind` must be one of {', '.join(KINDS)}")
    if status_ and status_ not in STATUSES:
        raise _invalid(f"`status` must be one of {', '.join(STATUSES)}")
    first, last = _day("since", since), _day("until", until)
    if first and last and first > last:
        raise _invalid("`since` is after `until`")
    return CertificateFilters(
        q=q.strip(),
        course=course.strip() or None,
        programme=programme.strip() or None,
        cohort=cohort.strip() or None,
        kind=kind or None,
        status=status_ or None,
        since=first,
        until=last,
        zone=settings.zone,
    )


def catalogue_programmes(catalogue: CatalogueDep) -> Programmes:
    """Which courses each programme counts, as the catalogue says now."""
    return Programmes.of_catalogue(catalogue)


CertificateFiltersDep = Annotated[CertificateFilters, Depends(certificate_filters)]
ProgrammesDep = Annotated[Programmes, Depends(catalogue_programmes)]
