"""`GET /api/v1/reports/certificates`: certificates and diplomas as JSON, CSV, XLSX, or a
ZIP of their PDFs with an index CSV, streamed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from typing import Literal

import orjson
from fastapi import APIRouter
from fastapi.responses import Response, StreamingResponse
from sqlmodel import Session

from ecampus.certificates import service as certificates
from ecampus.certificates.listing import COLUMNS, rows
from ecampus.reports import export
from ecampus.reports.certificate_archive import archive_chunks
from ecampus.web.certificate_filters import CertificateFiltersDep, ProgrammesDep
from ecampus.web.deps import Coordinator, EngineDep, GateDep, SessionDep, SettingsDep, gated_stream
from ecampus.web.downloads import content_disposition

router = APIRouter(prefix="/api/v1", tags=["coordination"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/reports/certificates")
def certificate_report(
    principal: Coordinator,
    session: SessionDep,
    engine: EngineDep,
    gate: GateDep,
    settings: SettingsDep,
    filters: CertificateFiltersDep,
    programmes: ProgrammesDep,
    format: Literal["json", "csv", "xlsx", "zip"] = "json",
) -> Response:
    """Certificates and diplomas, in issue order. `q` finds words of the learner's name,
    email or code ignoring case and accents; `since`/`until` are inclusive days of issue in
    the institution's time zone (ECAMPUS_TIMEZONE); timestamps in the rows are UTC. `zip`
    streams `index.csv` and one PDF per certificate, named by its code."""
    name = f"certificates-{datetime.now(UTC).strftime('%Y%m%d-%H%M')}"
    base = settings.base_url
    if format in ("csv", "zip"):
        # Each PDF kept since it was first rendered, or rendered now and kept.
        pdf_of = partial(certificates.pdf_bytes, settings=settings)

        def stream() -> Iterator[bytes]:
            # Its own session: the request's is closed before streaming starts.
            with Session(engine) as own:
                if format == "csv":
                    yield from export.csv_chunks(
                        rows(own, filters, programmes, base_url=base), COLUMNS
                    )
                else:
                    yield from archive_chunks(
                        own, filters, programmes, base_url=base, pdf_of=pdf_of
                    )

        return StreamingResponse(
            gated_stream(gate, stream),
            media_type="text/csv; charset=utf-8" if format == "csv" else "application/zip",
            headers={"content-disposition": content_disposition(f"{name}.{format}")},
        )
    listed = rows(session, filters, programmes, base_url=base)
    if format == "xlsx":
        data = export.xlsx_bytes(listed, COLUMNS, sheet_name="Certificates")
        return Response(
            data,
            media_type=XLSX,
            headers={"content-disposition": content_disposition(f"{name}.xlsx")},
        )
    payload = [
        {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items() if k != "id"}
        for row in listed
    ]
    return Response(orjson.dumps(payload), media_type="application/json")
