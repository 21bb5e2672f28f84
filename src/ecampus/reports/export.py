"""Reports as CSV and JSON (streamed) and XLSX, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
import itertools
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum
from functools import lru_cache
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:  # XlsxWriter itself is imported when a workbook is written, not at start
    from xlsxwriter.format import Format
    from xlsxwriter.worksheet import Worksheet

Column = tuple[str, str]  # (key in the row mapping, header label)

CHUNK_SIZE = 64 * 1024
XLSX_MAX_ROWS = 1_048_575  # Excel's 1,048,576 rows, less the header
# OWASP "CSV injection": a cell starting with one of these is run as a formula by Excel,
# LibreOffice or Google Sheets; a leading apostrophe makes it plain text.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

_WIDTH_SAMPLE_ROWS = 200
_MIN_WIDTH, _MAX_WIDTH = 8, 60
_DATETIME_WIDTH, _DATE_WIDTH = 17, 11
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def csv_chunks(
    rows: Iterable[Mapping[str, object]],
    columns: Sequence[Column],
    *,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[bytes]:
    """Yield a UTF-8 CSV (BOM first, header of labels) in chunks of about ``chunk_size``."""
    buffer = io.StringIO()
    # The BOM is what makes Excel read UTF-8 rather than the local code page ("Ñandú").
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow([label for _, label in columns])
    keys = [key for key, _ in columns]
    for row in rows:
        writer.writerow([csv_cell(row.get(key)) for key in keys])
        if buffer.tell() >= chunk_size:
            yield buffer.getvalue().encode("utf-8")
            buffer = io.StringIO()
            writer = csv.writer(buffer)
    if tail := buffer.getvalue():
        yield tail.encode("utf-8")


def json_chunks(
    rows: Iterable[Mapping[str, object]], *, chunk_size: int = CHUNK_SIZE
) -> Iterator[bytes]:
    """Yield a JSON array of the rows in chunks of about ``chunk_size``; datetimes as ISO
    8601 with their offset (``+00:00`` for the stored UTC instants)."""
    buffer = bytearray(b"[")
    separator = b""
    for row in rows:
        buffer += separator
        # orjson writes datetimes itself, exactly as isoformat() does ("+00:00" for UTC).
        buffer += orjson.dumps(row, default=_json_value)
        separator = b","
        if len(buffer) >= chunk_size:
            yield bytes(buffer)
            buffer.clear()
    buffer += b"]"
    yield bytes(buffer)


def _json_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def csv_cell(value: object) -> str:
    """Format one value as CSV text: UTC ISO 8601 datetimes, compact numbers, no formulas."""
    # The exact types a report row holds come first, each with one type check: a 100,000
    # row export formats a million and a half cells, and the chain below costs seconds.
    kind = type(value)
    if kind is str:
        return _defuse(value)  # type: ignore[arg-type]
    if value is None:
        return ""
    if kind is datetime:
        return _utc_text(value)  # type: ignore[arg-type]
    if kind is int:
        return str(value)
    if kind is float:
        return _compact_float(value)
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return _utc_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        return _compact_number(value)
    return _defuse(str(value))


def _utc_text(moment: datetime) -> str:
    # isoformat() is C and several times faster than strftime(); whole seconds, Z for UTC.
    # "2026-11-30T12:34:56+00:00"[:19]: no replace(), which cost a third of a CSV export.
    return _as_utc(moment).isoformat(timespec="seconds")[:19] + "Z"


@lru_cache(maxsize=4096)
def _compact_float(value: float) -> str:
    # Scores and hours repeat across rows: each distinct value is rounded once.
    return _compact_number(value)


def xlsx_bytes(
    rows: Iterable[Mapping[str, object]],
    columns: Sequence[Column],
    *,
    sheet_name: str = "Report",
) -> bytes:
    """Build an XLSX workbook of one sheet: bold frozen header, autofilter, typed cells."""
    import xlsxwriter

    output = io.BytesIO()
    # constant_memory flushes each row to a temporary file as it is written, so memory stays
    # flat however many enrolments there are; in_memory would silently turn it off.
    workbook = xlsxwriter.Workbook(
        output,
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
            "remove_timezone": True,
        },
    )
    header = workbook.add_format({"bold": True, "bottom": 1})
    datetime_format = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    sheet = workbook.add_worksheet(_sheet_name(sheet_name))

    keys = [key for key, _ in columns]
    remaining = iter(rows)
    # Widths must be set before rows stream out, so they are guessed from the first rows only.
    sample = list(itertools.islice(remaining, _WIDTH_SAMPLE_ROWS))
    for index, (key, label) in enumerate(columns):
        sheet.set_column(index, index, _column_width(label, [row.get(key) for row in sample]))
    for index, (_, label) in enumerate(columns):
        sheet.write_string(0, index, label, header)
    sheet.freeze_panes(1, 0)

    last_row = 0
    for last_row, row in enumerate(itertools.chain(sample, remaining), start=1):
        if last_row > XLSX_MAX_ROWS:
            # XlsxWriter would drop the extra rows silently; a short report must not pass as whole.
            raise ValueError(f"an XLSX sheet holds at most {XLSX_MAX_ROWS} rows; export as CSV")
        for index, key in enumerate(keys):
            _write_cell(sheet, last_row, index, row.get(key), datetime_format, date_format)
    if columns:
        sheet.autofilter(0, 0, last_row, len(columns) - 1)
    workbook.close()
    return output.getvalue()


def _write_cell(
    sheet: Worksheet,
    row: int,
    col: int,
    value: object,
    datetime_format: Format,
    date_format: Format,
) -> None:
    if isinstance(value, Enum):
        value = value.value
    if value is None:
        return
    if isinstance(value, bool):
        sheet.write_boolean(row, col, value)
    elif isinstance(value, datetime):
        # Excel has no time zones: cells hold UTC wall time, as the CSV does.
        naive = _as_utc(value).replace(tzinfo=None, microsecond=0)
        sheet.write_datetime(row, col, naive, datetime_format)
    elif isinstance(value, date):
        sheet.write_datetime(row, col, value, date_format)
    elif isinstance(value, int | float | Decimal):
        number = float(value)
        if math.isfinite(number):
            sheet.write_number(row, col, number)
    else:
        # write_string, never write(): a learner-typed "=HYPERLINK(...)" stays text.
        sheet.write_string(row, col, str(value))


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is UTC:
        return moment
    # Naive datetimes come from SQLite, which stores UTC.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _compact_number(value: float | Decimal) -> str:
    # 85.0 prints as "85" and 85.333 as "85.33": what a coordinator expects in a score column.
    # Decimal via str() rounds half up on the shortest repr, so 1.005 gives "1.01" as on paper.
    if not (value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)):
        return ""
    number = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if number == number.to_integral_value():
        return str(int(number))
    return format(number, "f").rstrip("0")


def _defuse(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def _sheet_name(name: str) -> str:
    # Excel refuses these characters and names over 31 characters; a course title may hold both.
    cleaned = _SHEET_NAME_FORBIDDEN.sub("-", name).strip("'").strip()[:31]
    return cleaned or "Report"


def _column_width(label: str, values: list[object]) -> float:
    widths = [len(label) + 2]
    for value in values:
        if isinstance(value, datetime):
            widths.append(_DATETIME_WIDTH)
        elif isinstance(value, date):
            widths.append(_DATE_WIDTH)
        elif value is not None:
            widths.append(len(csv_cell(value)) + 1)
    return max(_MIN_WIDTH, min(_MAX_WIDTH, max(widths)))
