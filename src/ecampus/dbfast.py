"""One SELECT, compiled once, run on the pool's own driver connection: for the hot path.

SQLAlchemy's work around each execution (a Connection, the execution context, the result
object, the pool's events) costs about four times what SQLite needs for the lesson page's
whole query (measured: 230 µs against 47 µs, bench/profile.py and a micro-benchmark). The
lesson page runs that query on every request, so it runs it here instead: the statement is
compiled by SQLAlchemy once per dialect, its parameters and results go through the
columns' own type processors (rows read exactly as through SQLAlchemy: aware UTC datetimes,
booleans), and driver errors come out as SQLAlchemy's, after SQLAlchemy's own disconnect
handling, so the app's 503 handlers and pool recovery work unchanged.

Reads only, and in autocommit on PostgreSQL: no BEGIN and ROLLBACK round trips.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Plan:
    sql: str
    positional: tuple[str, ...] | None  # parameter names in order, for positional drivers
    binds: Mapping[str, Processor]
    columns: tuple[Any, ...]  # the statement's selected columns, for their types
    autocommit: bool
    # Result processors depend on the driver's type codes, read from the first result.
    results: list[tuple[Processor, ...]] = field(default_factory=list)

    def parameters(self, params: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        values = {
            name: (process(params[name]) if process else params[name])
            for name, process in self.binds.items()
        }
        if self.positional is not None:
            return tuple(values[name] for name in self.positional)
        return values

    def processors(self, dialect: Dialect, description: Sequence[Any]) -> tuple[Processor, ...]:
        if not self.results:
            self.results.append(
                tuple(
                    column.type._cached_result_processor(dialect, described[1])
                    for column, described in zip(self.columns, description, strict=True)
                )
            )
        return self.results[0]


class PreparedQuery:
    """`rows(engine, params)` gives what `connection.execute(statement, params).all()` would,
    as tuples. Every bind parameter of the statement must be given by name."""

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        self._plans: dict[str, _Plan] = {}
        self._lock = threading.Lock()

    def _plan(self, dialect: Dialect) -> _Plan:
        plan = self._plans.get(dialect.name)
        if plan is not None:
            return plan
        with self._lock:
            compiled = self.statement.compile(dialect=dialect)
            binds = {
                bind.key: bind.type._cached_bind_processor(dialect)
                for bind in compiled.binds.values()
            }
            positional = tuple(compiled.positiontup or ()) if compiled.positional else None
            plan = _Plan(
                sql=compiled.string,
                positional=positional,
                binds=binds,
                columns=tuple(self.statement.selected_columns),
                autocommit=dialect.name == "postgresql",
            )
            self._plans[dialect.name] = plan
            return plan

    def rows(self, engine: Engine, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        dialect = engine.dialect
        plan = self._plan(dialect)
        values = plan.parameters(params)
        try:
            fairy = engine.raw_connection()
        except dialect.loaded_dbapi.Error as exc:  # no connection: the server is gone
            raise DBAPIError.instance(
                None, None, exc, dialect.loaded_dbapi.Error, dialect=dialect
            ) from exc
        cursor = None
        try:
            driver = fairy.driver_connection
            if plan.autocommit:
                driver.autocommit = True  # type: ignore[union-attr]
            try:
                cursor = fairy.cursor()
                # The engine's statement listeners still hear of it (tests count statements
                # this way), with no Connection or execution context, which it has not.
                for listener in engine.dispatch.before_cursor_execute:
                    listener(None, cursor, plan.sql, values, None, False)
                cursor.execute(plan.sql, values)
                raw = cursor.fetchall()
                processors = plan.processors(dialect, cursor.description)
            finally:
                if plan.autocommit and fairy.is_valid:
                    driver.autocommit = False  # type: ignore[union-attr]
                if cursor is not None:
                    cursor.close()
        except dialect.loaded_dbapi.Error as exc:
            disconnect = dialect.is_disconnect(exc, fairy.dbapi_connection, cursor)
            if disconnect:
                # As SQLAlchemy does on a disconnect: this connection and the pool's older
                # ones are replaced, so the next requests reconnect by themselves.
                engine.pool._invalidate(fairy, exc)
            raise DBAPIError.instance(
                plan.sql,
                values,
                exc,
                dialect.loaded_dbapi.Error,
                connection_invalidated=disconnect,
                dialect=dialect,
            ) from exc
        finally:
            fairy.close()
        return [
            tuple(
                process(value) if process is not None else value
                for process, value in zip(processors, row, strict=True)
            )
            for row in raw
        ]
