"""The audit log's filters, shared by its API and its admin page: query parameters read
into `audit.queries.AuditFilters`, 422 for a value that cannot be one."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, HTTPException, Query, status

from ecampus.audit.queries import AuditFilters
from ecampus.web.deps import SettingsDep


def _day(name: str, value: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"`{name}` must be a date written YYYY-MM-DD"
        ) from None


def audit_filters(
    settings: SettingsDep,
    since: Annotated[
        str,
        Query(
            max_length=10,
            description="first day, YYYY-MM-DD, inclusive, in the institution's time zone",
        ),
    ] = "",
    until: Annotated[
        str,
        Query(
            max_length=10,
            description="last day, YYYY-MM-DD, inclusive, in the institution's time zone",
        ),
    ] = "",
    actor: Annotated[
        str, Query(max_length=254, description="the email of who acted, or cli / system")
    ] = "",
    action: Annotated[
        str,
        Query(
            max_length=60,
            description='e.g. cohort.import; ending in "." matches all its kind (account.)',
        ),
    ] = "",
    subject: Annotated[
        str, Query(max_length=300, description="whom or what: an email, a cohort code ...")
    ] = "",
) -> AuditFilters:
    first, last = _day("since", since), _day("until", until)
    if first and last and first > last:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "`since` is after `until`")
    return AuditFilters(
        since=first,
        until=last,
        actor=actor.strip() or None,
        action=action.strip() or None,
        subject=subject.strip() or None,
        zone=settings.zone,
    )


AuditFiltersDep = Annotated[AuditFilters, Depends(audit_filters)]
