"""Reading a participants' spreadsheet: CSV (UTF-8 with or without BOM, `,` or `;`) or XLSX,
with its headers in English or Spanish, any case or accents. Pure: bytes in, rows out.

Row numbers are the spreadsheet's own (the header is row 1), so a coordinator finds every
problem where the program says it is.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime

from ecampus.i18n import N_, Message

# A cohort is tens or hundreds of people; a national roll-out a few thousand per file.
MAX_ROWS = 5000
# Wider rows are not a participants list; extra cells past this are not read.
MAX_COLUMNS = 50

FIELDS = ("email", "full_name", "institution", "institution_type", "country", "language")
REQUIRED = ("email", "full_name", "country")
# Header spellings, folded (no accents, lower case, `_` for spaces and dashes).
_HEADERS: dict[str, str] = {
    "email": "email",
    "e_mail": "email",
    "mail": "email",
    "correo": "email",
    "correo_electronico": "email",
    "full_name": "full_name",
    "name": "full_name",
    "nombre": "full_name",
    "nombre_completo": "full_name",
    "institution": "institution",
    "institucion": "institution",
    "institution_type": "institution_type",
    "tipo_institucion": "institution_type",
    "tipo_de_institucion": "institution_type",
    "country": "country",
    "pais": "country",
    "language": "language",
    "idioma": "language",
}
_XLSX_MAGIC = b"PK\x03\x04"


class SheetError(ValueError):
    """The file cannot be read as a participants' list at all (no row can be checked)."""

    def __init__(self, message: Message) -> None:
        super().__init__(message.render(None))
        self.message = message


@dataclass(frozen=True, slots=True)
class Cell:
    row: int
    column: str  # the header as written in the file
    field: str  # one of FIELDS


@dataclass(frozen=True, slots=True)
class SheetProblem:
    """A problem of the header row (row 1): a missing or repeated column."""

    row: int
    column: str
    message: Message


@dataclass
class Sheet:
    """The rows of a participants' list: each a spreadsheet row number and its cells by field."""

    headers: dict[str, str] = field(default_factory=dict)  # field -> header as written
    ignored: list[str] = field(default_factory=list)  # headers of columns not read
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    problems: list[SheetProblem] = field(default_factory=list)

    def column(self, name: str) -> str:
        return self.headers.get(name, name)


def fold(value: str) -> str:
    """A header or a label as compared: no accents, lower case, words joined by `_`."""
    decomposed = unicodedata.normalize("NFKD", value.strip())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return re.sub(r"[\s\-./]+", "_", plain).strip("_")


def read_sheet(data: bytes, *, max_rows: int = MAX_ROWS) -> Sheet:
    """The participants in `data`, an XLSX workbook (its first sheet) or a CSV file."""
    if not data.strip():
        raise SheetError(Message(N_("The file is empty.")))
    lines = _xlsx_lines(data) if data.startswith(_XLSX_MAGIC) else _csv_lines(data)
    return _sheet(lines, max_rows=max_rows)


def _sheet(lines: Iterator[tuple[int, list[str]]], *, max_rows: int) -> Sheet:
    sheet = Sheet()
    header: list[str] | None = None
    positions: dict[int, str] = {}
    for number, cells in lines:
        if header is None:
            if not any(c.strip() for c in cells):
                continue  # blank lines above the header
            # Row numbers stay the spreadsheet's even when blank lines come first.
            header = cells
            positions = _read_header(sheet, number, cells)
            continue
        if not any(c.strip() for c in cells):
            continue
        if len(sheet.rows) >= max_rows:
            raise SheetError(
                Message(
                    N_("The file has more than %(max)s participants; split it into smaller files."),
                    {"max": max_rows},
                )
            )
        values = {name: (cells[i] if i < len(cells) else "") for i, name in positions.items()}
        sheet.rows.append((number, values))
    if header is None:
        raise SheetError(Message(N_("The file is empty.")))
    return sheet


def _read_header(sheet: Sheet, number: int, cells: list[str]) -> dict[int, str]:
    positions: dict[int, str] = {}
    for index, raw in enumerate(cells[:MAX_COLUMNS]):
        written = raw.strip()
        name = _HEADERS.get(fold(written))
        if name is None:
            if written:
                sheet.ignored.append(written)
            continue
        if name in sheet.headers:
            sheet.problems.append(
                SheetProblem(
                    number,
                    written,
                    Message(
                        N_("Column repeated: %(first)s and %(again)s hold the same field."),
                        {"first": sheet.headers[name], "again": written},
                    ),
                )
            )
            continue
        sheet.headers[name] = written
        positions[index] = name
    for name in REQUIRED:
        if name not in sheet.headers:
            sheet.problems.append(
                SheetProblem(
                    number,
                    name,
                    Message(
                        N_("Missing column %(column)s (or its Spanish name, %(spanish)s)."),
                        {"column": name, "spanish": _SPANISH[name]},
                    ),
                )
            )
    return positions


_SPANISH = {
    "email": "correo",
    "full_name": "nombre",
    "institution": "institución",
    "institution_type": "tipo_institución",
    "country": "país",
    "language": "idioma",
}


def spanish_header(name: str) -> str:
    return _SPANISH[name]


def _csv_lines(data: bytes) -> Iterator[tuple[int, list[str]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SheetError(
            Message(
                N_(
                    "The file is neither an XLSX workbook nor a UTF-8 CSV file. In Excel or "
                    "LibreOffice, save it as \u201cCSV UTF-8\u201d or as XLSX."
                )
            )
        ) from None
    if "\x00" in text:
        raise SheetError(Message(N_("The file is not a CSV file (it holds NUL characters).")))
    first = next((line for line in text.splitlines() if line.strip()), "")
    try:
        delimiter = csv.Sniffer().sniff(first, delimiters=",;").delimiter
    except csv.Error:
        delimiter = ";" if first.count(";") > first.count(",") else ","
    # Numbered by record, as a spreadsheet numbers its rows: a blank line is a row, and a
    # quoted cell holding line breaks is still one row.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    row = 0
    try:
        for row, cells in enumerate(reader, start=1):
            yield row, cells
    except csv.Error as exc:
        raise SheetError(
            Message(
                N_("Row %(row)s cannot be read as CSV: %(error)s"),
                {"row": row + 1, "error": exc},
            )
        ) from None


def _xlsx_lines(data: bytes) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook  # only imports pay for it

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as exc:
        raise SheetError(
            Message(N_("The file cannot be read as an XLSX workbook: %(error)s"), {"error": exc})
        ) from None
    try:
        sheet = workbook.worksheets[0]
        # read_only sheets yield one tuple per row from row 1, blank rows included.
        for number, values in enumerate(
            sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS), start=1
        ):
            yield number, [_cell_text(v) for v in values]
    finally:
        workbook.close()


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)
