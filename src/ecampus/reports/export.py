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
_TRIGGER_AFTER_NEWLINE = re.compile(r"\n[=+\-@\t\r]")
# SQLite's text for a UTCDateTime (SQLAlchemy writes "YYYY-MM-DD HH:MM:SS.ffffff"), one a line.
_SQLITE_DATETIMES = re.compile(r"(?:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{6})?(?:\n|$))*")
# Anything XlsxWriter would escape or mark in an inline string: control characters, its own
# _xHHHH_ escapes, XML's &, < and >, non-characters, leading or trailing white space.
_XML_SPECIAL = re.compile(r"[\x00-\x08\x0b-\x1f&<>\ufffe\uffff]|_x[0-9a-fA-F]{4}_|^\s|\s$")
_XLSX_SHORT_STRING = 16383  # no longer than this, a string is within Excel's 32,767 UTF-16 units
_XLSX_GROUP_ROWS = 256
_EXCEL_EPOCH = date(1899, 12, 31).toordinal()
# Rows formatted together by csv_chunks and xlsx_bytes: small, so chunks stay near their size.
_GROUP_ROWS = 64


def csv_chunks(
    rows: Iterable[Mapping[str, object]],
    columns: Sequence[Column],
    *,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[bytes]:
    """Yield a UTF-8 CSV (BOM first, header of labels) in chunks of about ``chunk_size``."""
    keys = [key for key, _ in columns]
    if not keys:  # no columns: an empty line for the header and for each row
        yield ("\ufeff" + "\r\n" * (1 + sum(1 for _ in rows))).encode("utf-8")
        return
    yield from csv_column_chunks(
        column_batches(rows, keys), [label for _, label in columns], chunk_size=chunk_size
    )


def column_batches(
    rows: Iterable[Mapping[str, object]], keys: Sequence[str], *, size: int = _GROUP_ROWS
) -> Iterator[list[list[object]]]:
    """Rows as batches of columns (one list of values per key), `size` rows at a time."""
    remaining = iter(rows)
    while group := list(itertools.islice(remaining, size)):
        yield [[row.get(key) for row in group] for key in keys]


def csv_column_chunks(
    batches: Iterable[Sequence[Sequence[object]]],
    labels: Sequence[str],
    *,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[bytes]:
    """A CSV as `csv_chunks` writes it, of rows given as batches of columns (each batch a
    list of columns in label order, each column a sequence of values, one per row).

    Each column of a batch is formatted at once by the kind of value it holds, which is
    what makes a 100,000-row export fast: a cell costs a comprehension step, not
    `csv_cell`'s function call and type checks (the same text: `csv_cell` is the rule,
    and what a column of one plain kind gets is checked against it cell for cell)."""
    buffer = io.StringIO()
    # The BOM is what makes Excel read UTF-8 rather than the local code page ("Ñandú").
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(labels)
    for columns in batches:
        # csv writes None as an empty field and an int as str(int), as csv_cell does.
        writer.writerows(zip(*map(_csv_column, columns), strict=True))
        if buffer.tell() >= chunk_size:
            yield buffer.getvalue().encode("utf-8")
            buffer = io.StringIO()
            writer = csv.writer(buffer)
    if tail := buffer.getvalue():
        yield tail.encode("utf-8")


def _csv_column(values: Sequence[object]) -> Sequence[object]:
    kinds = set(map(type, values))
    kinds.discard(type(None))
    if not kinds:
        return values
    if len(kinds) == 1:
        kind = kinds.pop()
        if kind is str:
            # One search over the column's text finds whether any value needs defusing (a
            # trigger after a line break inside a value only makes it look again, by value).
            if not _TRIGGER_AFTER_NEWLINE.search("\n" + "\n".join(filter(None, values))):  # type: ignore[arg-type]
                return values
            return [
                "'" + v if v is not None and v.startswith(FORMULA_TRIGGERS) else v  # type: ignore[attr-defined,operator]
                for v in values
            ]
        if kind is int:
            return values
        if kind is float:
            return [None if v is None else _compact_float(v) for v in values]
        if kind is datetime:
            return utc_texts(values)
    return [csv_cell(value) for value in values]


def utc_texts(values: Sequence[object]) -> list[str | None]:
    """A column of datetimes as `csv_cell` writes them ("2026-11-30T12:34:56Z"): aware or
    naive-UTC datetimes, or the text SQLite stores them as ("2026-11-30 12:34:56.123456",
    read without making a datetime of it: the same text, for a fifth of the time)."""
    present = [value for value in values if value is not None]
    if all(type(value) is str for value in present) and _SQLITE_DATETIMES.fullmatch(
        "\n".join(present)  # type: ignore[arg-type]
    ):
        return [None if v is None else v[:10] + "T" + v[11:19] + "Z" for v in values]  # type: ignore[index]
    return [
        None if v is None else _utc_text(datetime.fromisoformat(v) if type(v) is str else v)  # type: ignore[arg-type]
        for v in values
    ]


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
    keys = [key for key, _ in columns]
    return xlsx_column_bytes(
        column_batches(rows, keys, size=_XLSX_GROUP_ROWS), columns, sheet_name=sheet_name
    )


def xlsx_column_bytes(
    batches: Iterable[Sequence[Sequence[object]]],
    columns: Sequence[Column],
    *,
    sheet_name: str = "Report",
    fast: bool = True,
) -> bytes:
    """`xlsx_bytes` of rows given as batches of columns (as `csv_column_chunks` takes them).

    The cells' XML is written a batch at a time by `_SheetRows` (the same XML as
    XlsxWriter's per-cell writers, which cost about 12 µs a cell); `fast=False`, or a sheet
    it cannot vouch for, writes each cell through XlsxWriter's own writers instead."""
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

    remaining = iter(batches)
    # Widths must be set before rows stream out, so they are guessed from the first rows only.
    sample: list[Sequence[Sequence[object]]] = []
    sampled = 0
    while sampled < _WIDTH_SAMPLE_ROWS and (batch := next(remaining, None)) is not None:
        sample.append(batch)
        sampled += _rows_in(batch)
    for index, (_, label) in enumerate(columns):
        values = [value for batch in sample for value in batch[index]][:_WIDTH_SAMPLE_ROWS]
        sheet.set_column(index, index, _column_width(label, values))
    for index, (_, label) in enumerate(columns):
        sheet.write_string(0, index, label, header)
    sheet.freeze_panes(1, 0)

    rows = _SheetRows(sheet, datetime_format, date_format, len(columns)) if fast else None
    last_row = 0
    for batch in itertools.chain(sample, remaining):
        count = _rows_in(batch)
        if last_row + count > XLSX_MAX_ROWS:
            # XlsxWriter would drop the extra rows silently; a short report must not pass as whole.
            raise ValueError(f"an XLSX sheet holds at most {XLSX_MAX_ROWS} rows; export as CSV")
        if rows is not None and rows.fast:
            rows.write(batch, last_row + 1)
        else:
            for offset, cells in enumerate(zip(*batch, strict=True), start=last_row + 1):
                for index, value in enumerate(cells):
                    _write_cell(sheet, offset, index, value, datetime_format, date_format)
        last_row += count
    if columns:
        sheet.autofilter(0, 0, last_row, len(columns) - 1)
    workbook.close()
    return output.getvalue()


def _rows_in(batch: Sequence[Sequence[object]]) -> int:
    return len(batch[0]) if batch else 0


class _SheetRows:
    """Rows of a constant_memory worksheet written as XML a batch at a time.

    XlsxWriter formats each cell in Python through several calls (a decorator, a dimension
    check, a cell tuple, attribute lists and escapes): 10-12 µs a cell, a hundred thousand
    rows of 17 columns in 18-20 s. Here a column of one kind is formatted at once and each
    distinct string or number once, and the rows go to the sheet's row file as XlsxWriter
    would have written them: `<row r="N">` and its cells, strings inline (escaped by
    XlsxWriter's own functions when they hold anything to escape, else as they are),
    numbers as `{:.16G}`, datetimes as Excel serial numbers with their format's index.
    Anything else (booleans, dates, enums, Decimals, mixed columns) is rendered by
    XlsxWriter's own `_write_cell`. tests/unit/reports/test_export.py compares the sheet's
    XML with XlsxWriter's per-cell writers for odd values; a sheet with row formats or
    heights, or an XlsxWriter without these internals, is written the slow way instead."""

    _CACHE = 1024  # distinct strings or numbers remembered per column

    def __init__(
        self, sheet: Worksheet, datetime_format: Format, date_format: Format, width: int
    ) -> None:
        from xlsxwriter.utility import xl_col_to_name

        self.sheet = sheet
        self.formats = {datetime: datetime_format, date: date_format}
        self.indices: dict[type, int] = {}
        self.refs = [xl_col_to_name(index) for index in range(width)]
        self.caches: list[dict[object, str]] = [{None: ""} for _ in range(width)]
        try:
            self.fast = bool(
                sheet.constant_memory
                and not sheet.row_info
                and sheet.excel_version == 2007
                and sheet.default_row_height == sheet.original_row_height
                and callable(sheet._write_single_row)
                and callable(sheet._write_cell)
                and callable(sheet._check_dimensions)
                and callable(sheet._convert_date_time)
            )
        except AttributeError:  # another XlsxWriter: its own writers only
            self.fast = False

    def write(self, batch: Sequence[Sequence[object]], first: int) -> None:
        sheet = self.sheet
        # The row pending in XlsxWriter (the header) goes out first, as it would, and gets
        # its format's index before the cells below do theirs.
        sheet._write_single_row(first)
        kinds = [self._kind(values) for values in batch]
        wanted: set[type] = set()
        for kind in kinds:
            wanted |= (
                {datetime} if kind is datetime else {datetime, date} if kind is None else set()
            )
        if wanted := wanted.difference(self.indices):
            self._index_formats(batch, wanted)
        bodies = [
            self._bodies(values, kind, index)
            for index, (values, kind) in enumerate(zip(batch, kinds, strict=True))
        ]
        refs = self.refs
        lines = []
        last = first
        for number, cells in enumerate(zip(*bodies, strict=True), start=first + 1):
            parts = [
                f'<c r="{ref}{number}"{body}' for ref, body in zip(refs, cells, strict=True) if body
            ]
            if parts:
                lines.append(f'<row r="{number}">{"".join(parts)}</row>')
                last = number - 1
        if not lines:
            return
        used = [index for index, column in enumerate(bodies) if any(column)]
        sheet._check_dimensions(last, used[0])
        sheet._check_dimensions(last, used[-1])
        sheet._write_single_row(first + _rows_in(batch) - 1)
        sheet.fh.write("".join(lines))

    @staticmethod
    def _kind(values: Sequence[object]) -> type | None:
        # str, float (ints and floats) or datetime when the column holds only those and
        # None; None for anything else (each value is then written by its own type).
        kinds = set(map(type, values))
        kinds.discard(type(None))
        if kinds <= {int, float}:
            return float
        if len(kinds) == 1 and (kind := next(iter(kinds))) in (str, datetime):
            return kind
        return None

    def _index_formats(self, batch: Sequence[Sequence[object]], wanted: set[type]) -> None:
        # Formats get their index where XlsxWriter would give it: at their first cell, row
        # by row (styles.xml lists them in that order).
        for values in zip(*batch, strict=True):
            for value in values:
                if isinstance(value, Enum):
                    value = value.value
                if isinstance(value, datetime):
                    kind: type = datetime
                elif isinstance(value, date):
                    kind = date
                else:
                    continue
                if kind in wanted:
                    self.indices[kind] = self.formats[kind]._get_xf_index()  # type: ignore[index]
                    wanted.discard(kind)
                    if not wanted:
                        return

    def _bodies(self, values: Sequence[object], kind: type | None, index: int) -> list[str]:
        if kind is datetime:
            return [self._datetime(value) for value in values]  # type: ignore[arg-type]
        if kind is None:
            return [self._any(value, index) for value in values]
        cache = self.caches[index]
        missing = set(values).difference(cache)
        if len(cache) + len(missing) > self._CACHE:
            cache.clear()
            cache[None] = ""
            missing = set(values)
            missing.discard(None)
        make = self._string if kind is str else self._number
        for value in missing:
            cache[value] = make(value, index)  # type: ignore[arg-type]
        return list(map(cache.__getitem__, values))

    def _string(self, text: str, index: int) -> str:
        if len(text) > _XLSX_SHORT_STRING:
            from xlsxwriter.utility import _utf16_len, _utf16_truncate

            if _utf16_len(text) > self.sheet.xls_strmax:
                text = _utf16_truncate(text, self.sheet.xls_strmax)
            return self._stock(_string_cell(text), index)
        if _XML_SPECIAL.search(text):
            return self._stock(_string_cell(text), index)
        return f' t="inlineStr"><is><t>{text}</t></is></c>'

    def _number(self, value: float, index: int) -> str:
        number = float(value)
        return f"><v>{number:.16G}</v></c>" if math.isfinite(number) else ""

    def _datetime(self, moment: datetime | None) -> str:
        if moment is None:
            return ""
        # Excel has no time zones: cells hold UTC wall time, as the CSV does.
        if moment.tzinfo is not UTC:
            moment = _as_utc(moment)
        days = moment.toordinal() - _EXCEL_EPOCH
        if days > 60 and not self.sheet.date_1904:
            # XlsxWriter's _datetime_to_excel_datetime, step by step (the same float): days
            # since 1899-12-31 plus the day's fraction, plus Excel's 29 February 1900.
            number = days + (moment.hour * 3600 + moment.minute * 60 + moment.second) / 86400
            number += 1
        else:
            number = self.sheet._convert_date_time(moment.replace(tzinfo=None, microsecond=0))
        return f' s="{self.indices[datetime]}"><v>{number:.16G}</v></c>'

    def _any(self, value: object, index: int) -> str:
        # As _write_cell, value by value.
        if isinstance(value, Enum):
            value = value.value
        if value is None:
            return ""
        if isinstance(value, bool):
            from xlsxwriter.worksheet import CellBooleanTuple

            # As write_boolean stores it: 1 or 0.
            return self._stock(CellBooleanTuple(1 if value else 0, None), index)
        if isinstance(value, datetime):
            return self._datetime(value)
        if isinstance(value, date):
            number = self.sheet._convert_date_time(value)
            return f' s="{self.indices[date]}"><v>{number:.16G}</v></c>'
        if isinstance(value, int | float | Decimal):
            return self._number(value, index)  # type: ignore[arg-type]
        return self._string(str(value), index)

    def _stock(self, cell: object, index: int) -> str:
        # The cell as XlsxWriter writes it, less its opening `<c r="A1"`.
        sheet = self.sheet
        real, sheet.fh = sheet.fh, io.StringIO()
        try:
            sheet._write_cell(0, index, cell)
            text = sheet.fh.getvalue()
        finally:
            sheet.fh = real
        opening = f'<c r="{self.refs[index]}1"'
        if not text.startswith(opening):  # pragma: no cover - another XlsxWriter
            raise RuntimeError(f"unexpected cell XML from XlsxWriter: {text[:80]!r}")
        return text[len(opening) :]


def _string_cell(text: str) -> object:
    from xlsxwriter.worksheet import CellStringTuple

    return CellStringTuple(text, None)


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
