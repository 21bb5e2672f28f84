"""Statements compiled once, run on a Connection's own driver cursor: for the hot writes.

A quiz submission or a lesson read runs a handful of statements in one transaction.
SQLAlchemy's work around each execution (the execution context, its parameter and result
objects, the cache-key match of every bound parameter) costs several times what SQLite
needs for the statement itself (measured: 50-60 µs against under 10 µs for a one-row
insert), so these statements are compiled by SQLAlchemy once per dialect and then run on
the connection's driver cursor, inside the Connection's transaction (SQLAlchemy commits or
rolls it back as usual, and a Session bound to the Connection shares it). Parameters and
rows go through the columns' own type processors, as through SQLAlchemy; driver errors come
out as SQLAlchemy's (DBAPIError, so ecampus.dbretry sees contention), after SQLAlchemy's own
disconnect handling; the engine's before_cursor_execute listeners hear of each statement
(tests count statements that way), as for ecampus.dbfast's reads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError


@dataclass(frozen=True)
class _Plan:
    sql: str
    positional: tuple[str, ...] | None  # parameter names in order, for positional drivers
    given: tuple[str, ...]  # parameters taken as given
    converted: tuple[tuple[str, Callable[[Any], Any]], ...]  # and through their processor
    fixed: Mapping[str, Any]  # parameters with a value of their own, processed
    columns: tuple[Any, ...]  # the result's columns, for their types
    # (column index, processor) for the result's columns whose type converts; they depend
    # on the driver's type codes, read from the first result.
    results: list[tuple[tuple[int, Callable[[Any], Any]], ...]] = field(default_factory=list)

    def parameters(self, params: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        values = dict(self.fixed)
        for name in self.given:
            values[name] = params[name]
        for name, process in self.converted:
            values[name] = process(params[name])
        if self.positional is not None:
            return tuple(values[name] for name in self.positional)
        return values

    def processors(
        self, dialect: Dialect, description: Sequence[Any]
    ) -> tuple[tuple[int, Callable[[Any], Any]], ...]:
        if not self.results:
            found = (
                (index, column.type._cached_result_processor(dialect, described[1]))
                for index, (column, described) in enumerate(
                    zip(self.columns, description, strict=True)
                )
            )
            self.results.append(tuple((i, p) for i, p in found if p is not None))
        return self.results[0]


class Prepared:
    """`run(connection, params)`: what `connection.execute(statement, params)` would return
    as a list of tuples (empty for a statement that returns no rows). Every bound parameter
    without a value of its own must be given by name."""

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self._plans: dict[str, _Plan] = {}
        self._lock = threading.Lock()

    def _plan(self, dialect: Dialect) -> _Plan:
        plan = self._plans.get(dialect.name)
        if plan is not None:
            return plan
        with self._lock:
            compiled = self.statement.compile(dialect=dialect)
            given: list[str] = []
            converted: list[tuple[str, Callable[[Any], Any]]] = []
            fixed: dict[str, Any] = {}
            for bind, name in compiled.bind_names.items():
                process = bind.type._cached_bind_processor(dialect)
                if not bind.required and bind.callable is None:
                    fixed[name] = process(bind.value) if process else bind.value
                elif process is None:
                    given.append(name)
                else:
                    converted.append((name, process))
            positional = tuple(compiled.positiontup or ()) if compiled.positional else None
            columns: tuple[Any, ...] = tuple(
                getattr(self.statement, "selected_columns", None)
                or getattr(self.statement, "_returning", None)
                or ()
            )
            plan = _Plan(
                compiled.string, positional, tuple(given), tuple(converted), fixed, columns
            )
            self._plans[dialect.name] = plan
            return plan

    def sql(self, dialect: Dialect) -> str:
        return self._plan(dialect).sql

    def run(self, connection: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        dialect = connection.dialect
        plan = self._plan(dialect)
        values = plan.parameters(params)
        raw = connection.connection  # the pool's connection: the Connection's transaction
        cursor = raw.cursor()
        try:
            for listener in connection.engine.dispatch.before_cursor_execute:
                listener(connection, cursor, plan.sql, values, None, False)
            cursor.execute(plan.sql, values)
            if cursor.description is None:
                return []
            rows = cursor.fetchall()
            processors = plan.processors(dialect, cursor.description)
        except dialect.loaded_dbapi.Error as exc:
            disconnect = dialect.is_disconnect(exc, raw.dbapi_connection, cursor)
            error = DBAPIError.instance(
                plan.sql,
                values,
                exc,
                dialect.loaded_dbapi.Error,
                connection_invalidated=disconnect,
                dialect=dialect,
            )
            if disconnect:  # as SQLAlchemy does: this connection (and the pool) is replaced
                connection.invalidate(error)
            raise error from exc
        finally:
            cursor.close()
        if not processors:
            return [tuple(row) for row in rows]
        return _processed(processors, rows)


def _processed(
    processors: Sequence[tuple[int, Callable[[Any], Any]]], rows: Sequence[Sequence[Any]]
) -> list[tuple[Any, ...]]:
    """Rows through their columns' processors. A joined read repeats the same values on
    each row (the account, the enrolment): a value equal to the row above's is not
    converted again."""
    out: list[tuple[Any, ...]] = []
    above: Sequence[Any] = ()
    done: list[Any] = []
    for row in rows:
        values = list(row)
        for index, process in processors:
            value = values[index]
            if value is None:
                continue
            if above and above[index] == value:
                values[index] = done[index]
            else:
                values[index] = process(value)
        above, done = row, values
        out.append(tuple(values))
    return out
