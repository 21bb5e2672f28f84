"""The framework's ceiling and the bare write, served with the app's uvicorn settings.

`GET /` is an `async def` route returning a constant `HTMLResponse` of BENCH_PAGE_BYTES bytes
(the size of the lesson page as the app answers wrk): the best FastAPI can do for the same bytes.

`POST /insert` is an `async def` route that inserts one row into `bench_insert` in a worker
thread, through an engine made by `ecampus.db.make_engine` on BENCH_DATABASE_URL (the same
pool and connection settings as the app): the reference for a quiz submission.

    uvicorn bench.bare_app:create_app --factory  (bench/suite.py starts it)
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, insert
from starlette.concurrency import run_in_threadpool

from ecampus.db import make_engine

metadata = MetaData()
bench_insert = Table(
    "bench_insert",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("learner", Integer, nullable=False),
    Column("payload", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


def page_of(size: int) -> bytes:
    """An HTML page of exactly `size` bytes."""
    head = b"<!doctype html><title>ceiling</title><p>"
    tail = b"</p>"
    filler = b"Hola mundo. " * (size // 12 + 1)
    return head + filler[: max(size - len(head) - len(tail), 0)] + tail


def create_app() -> FastAPI:
    page = page_of(int(os.environ.get("BENCH_PAGE_BYTES", "20000")))
    url = os.environ.get("BENCH_DATABASE_URL", "")
    engine = make_engine(url) if url else None
    # As ecampus's app: FastAPI's OpenTelemetry bridge off (it costs each request a check).
    app = FastAPI(telemetry={"tracing": False, "metrics": False, "logs": False})

    @app.get("/", response_class=HTMLResponse)
    async def ceiling() -> HTMLResponse:
        return HTMLResponse(page)

    def write() -> int:
        assert engine is not None
        with engine.begin() as connection:
            result = connection.execute(
                insert(bench_insert).values(
                    learner=1, payload="bench", created_at=datetime.now(UTC)
                )
            )
            return int(result.inserted_primary_key[0])

    @app.post("/insert", status_code=201)
    async def insert_one() -> JSONResponse:
        if engine is None:
            return JSONResponse({"detail": "BENCH_DATABASE_URL is not set"}, status_code=503)
        return JSONResponse({"id": await run_in_threadpool(write)}, status_code=201)

    return app
