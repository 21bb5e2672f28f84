"""Admin API: the audit log, as JSON or CSV."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import Response, StreamingResponse
from sqlmodel import Session

from ecampus.audit import queries
from ecampus.reports import export
from ecampus.web.auditfilters import AuditFiltersDep
from ecampus.web.deps import Admin, EngineDep, GateDep, SessionDep, gated_stream
from ecampus.web.downloads import content_disposition

router = APIRouter(prefix="/api/v1", tags=["administration"])


@router.get("/audit")
def audit_log(
    principal: Admin,
    session: SessionDep,
    engine: EngineDep,
    gate: GateDep,
    filters: AuditFiltersDep,
    format: Literal["json", "csv"] = "json",
    limit: Annotated[int, Query(ge=1, le=10_000, description="JSON only")] = 1000,
    offset: Annotated[int, Query(ge=0, description="JSON only")] = 0,
) -> Response:
    """Staff actions, newest first: `{at, actor, action, subject, detail}` rows, `at` in
    UTC. `since`/`until` are inclusive days in the institution's time zone
    (ECAMPUS_TIMEZONE). CSV holds every matching row; JSON pages with `limit`/`offset`."""
    if format == "csv":
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")

        def chunks() -> Iterator[bytes]:
            # Its own session: the request's is closed before streaming starts.
            with Session(engine) as own:
                rows = (
                    {**row, "detail": queries.detail_text(row["detail"])}
                    for row in queries.stream(own, filters)
                )
                yield from export.csv_chunks(rows, queries.COLUMNS)

        return StreamingResponse(
            gated_stream(gate, chunks),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": content_disposition(f"audit-{stamp}.csv")},
        )
    rows: list[dict[str, Any]] = [
        queries.as_json(row)
        for row in queries.entries(session, filters, limit=limit, offset=offset)
    ]
    return Response(orjson.dumps(rows), media_type="application/json")
