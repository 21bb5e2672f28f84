import csv
import io
import zipfile
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum

import pytest
from openpyxl import load_workbook

from ecampus.reports.export import (
    CHUNK_SIZE,
    Column,
    column_batches,
    csv_cell,
    csv_chunks,
    csv_column_chunks,
    utc_texts,
    xlsx_bytes,
    xlsx_column_bytes,
)

BOM = "\ufeff".encode()

COLUMNS: list[Column] = [
    ("learner", "Participante"),
    ("country", "País"),
    ("progress", "Progreso"),
    ("score", "Calificación"),
    ("passed", "Aprobado"),
    ("enrolled_at", "Inscripción"),
    ("completed_on", "Finalización"),
    ("note", "Nota"),
]


class Status(StrEnum):
    COMPLETED = "completed"


def sample_rows() -> list[dict[str, object]]:
    return [
        {
            "learner": "Ñandú São",
            "country": "GT",
            "progress": 100,
            "score": 85.0,
            "passed": True,
            "enrolled_at": datetime(2025, 3, 1, 8, 30, 15, 123456, tzinfo=UTC),
            "completed_on": date(2025, 3, 15),
            "note": "=1+1",
        },
        {
            "learner": 'Ana "la jefa", Pérez',
            "country": "SV",
            "progress": 40,
            "score": None,
            "passed": False,
            # Six hours behind UTC, as in Guatemala: the export must show the UTC instant.
            "enrolled_at": datetime(2025, 3, 2, 20, 0, tzinfo=timezone(timedelta(hours=-6))),
            "completed_on": None,
            "note": "línea 1\nlínea 2",
        },
    ]


def read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_csv_round_trip_with_bom_header_and_unicode() -> None:
    data = b"".join(csv_chunks(sample_rows(), COLUMNS))

    assert data.startswith(BOM)
    assert data.count(BOM) == 1
    assert read_csv(data) == [
        ["Participante", "País", "Progreso", "Calificación", "Aprobado", "Inscripción",
         "Finalización", "Nota"],
        ["Ñandú São", "GT", "100", "85", "true", "2025-03-01T08:30:15Z", "2025-03-15", "'=1+1"],
        ['Ana "la jefa", Pérez', "SV", "40", "", "false", "2025-03-03T02:00:00Z", "",
         "línea 1\nlínea 2"],
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+502 5555 0000", "'+502 5555 0000"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        (" =1", " =1"),
        ("a=1", "a=1"),
        ("", ""),
        (None, ""),
        (-5, "-5"),
        (-2.5, "-2.5"),
        (85.0, "85"),
        (85.333, "85.33"),
        (1.005, "1.01"),
        (Decimal("92.50"), "92.5"),
        (float("nan"), ""),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (Status.COMPLETED, "completed"),
        (datetime(2025, 1, 2, 3, 4, 5), "2025-01-02T03:04:05Z"),  # naive means UTC (SQLite)
        (date(2025, 1, 2), "2025-01-02"),
    ],
)
def test_csv_cell(value: object, expected: str) -> None:
    assert csv_cell(value) == expected


def test_csv_formula_cells_stay_text_in_the_file() -> None:
    rows = [{"a": "=1+1", "b": "+1", "c": "-1", "d": "@x", "e": "\tx"}]
    columns: list[Column] = [(key, key) for key in "abcde"]

    parsed = read_csv(b"".join(csv_chunks(rows, columns)))

    assert parsed[1] == ["'=1+1", "'+1", "'-1", "'@x", "'\tx"]


def test_csv_streams_large_input_in_chunks_of_about_64_kb() -> None:
    total = 20_000
    consumed = 0

    def rows() -> Iterator[Mapping[str, object]]:
        nonlocal consumed
        for number in range(total):
            consumed += 1
            yield {"learner": f"Participante {number} Ñandú", "score": number / 7}

    columns: list[Column] = [("learner", "Participante"), ("score", "Calificación")]
    chunks = csv_chunks(rows(), columns)

    first = next(chunks)
    assert consumed < total, "the whole input was read before the first chunk went out"
    rest = list(chunks)

    assert len(rest) >= 5
    assert first.startswith(BOM)
    assert not any(chunk.startswith(BOM) for chunk in rest)
    for chunk in [first, *rest[:-1]]:
        # Sized in characters, so multi-byte text makes a chunk somewhat larger in bytes.
        assert CHUNK_SIZE <= len(chunk) < 2 * CHUNK_SIZE
    parsed = read_csv(first + b"".join(rest))
    assert len(parsed) == total + 1
    assert parsed[-1] == [f"Participante {total - 1} Ñandú", "2857"]  # 19999 / 7


def test_csv_of_no_rows_is_just_the_header() -> None:
    data = b"".join(csv_chunks([], COLUMNS[:2]))

    assert data == BOM + "Participante,País\r\n".encode()


def test_xlsx_reads_back_with_headers_types_and_literal_formulas() -> None:
    data = xlsx_bytes(sample_rows(), COLUMNS, sheet_name="Completions")

    workbook = load_workbook(io.BytesIO(data))
    sheet = workbook["Completions"]
    values = [list(row) for row in sheet.iter_rows(values_only=True)]

    assert values[0] == [label for _, label in COLUMNS]
    assert values[1] == [
        "Ñandú São", "GT", 100, 85, True, datetime(2025, 3, 1, 8, 30, 15),
        datetime(2025, 3, 15), "=1+1",
    ]  # fmt: skip
    assert values[2] == [
        'Ana "la jefa", Pérez', "SV", 40, None, False, datetime(2025, 3, 3, 2, 0), None,
        "línea 1\nlínea 2",
    ]  # fmt: skip
    assert sheet["H2"].data_type == "s"
    assert sheet["F2"].is_date
    assert sheet["F2"].number_format == "yyyy-mm-dd hh:mm"
    assert sheet["G2"].number_format == "yyyy-mm-dd"
    assert sheet["A1"].font.bold
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:H3"
    assert 8 <= sheet.column_dimensions["A"].width <= 60


def test_xlsx_never_writes_formulas_or_links() -> None:
    rows = [{"a": "=1+1", "b": "http://example.org", "c": "123", "d": '=HYPERLINK("x")'}]
    columns: list[Column] = [(key, key) for key in "abcd"]

    data = xlsx_bytes(rows, columns)

    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    assert [cell.value for cell in sheet[2]] == ["=1+1", "http://example.org", "123", rows[0]["d"]]
    assert all(cell.data_type == "s" for cell in sheet[2])
    assert sheet["B2"].hyperlink is None
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert "<f>" not in archive.read("xl/worksheets/sheet1.xml").decode()


def test_xlsx_constant_memory_handles_many_rows() -> None:
    total = 30_000
    rows = (
        {"n": number, "name": f"Participante {number}", "at": datetime(2025, 1, 1, tzinfo=UTC)}
        for number in range(total)
    )
    columns: list[Column] = [("n", "N"), ("name", "Nombre"), ("at", "Fecha")]

    data = xlsx_bytes(rows, columns)

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        # Inline strings, not a shared-strings table, are the mark of constant_memory mode.
        assert 't="inlineStr"' in archive.read("xl/worksheets/sheet1.xml").decode()
    sheet = load_workbook(io.BytesIO(data), read_only=True).active
    assert sheet is not None
    read = list(sheet.iter_rows(values_only=True))
    assert len(read) == total + 1
    assert read[-1] == (total - 1, f"Participante {total - 1}", datetime(2025, 1, 1))


@pytest.mark.parametrize(
    ("asked", "expected"),
    [
        ("Report", "Report"),
        ("Código de Migración: 2025/03 [GT]", "Código de Migración- 2025-03 -G"),
        ("''", "Report"),
        ("", "Report"),
    ],
)
def test_xlsx_sheet_name_is_made_acceptable_to_excel(asked: str, expected: str) -> None:
    data = xlsx_bytes([], [("a", "A")], sheet_name=asked)

    assert load_workbook(io.BytesIO(data)).sheetnames == [expected]


# The batch writers (csv_column_chunks, xlsx_column_bytes' _SheetRows) against the rules
# they stand for: csv_cell for each cell, XlsxWriter's own per-cell writers.

ODD_COLUMNS: list[Column] = [
    ("text", "Texto"),
    ("code", "Código"),
    ("int", "Entero"),
    ("float", "Número"),
    ("when", "Cuándo"),
    ("day", "Día"),
    ("mixed", "Mezcla"),
    ("empty", "Vacía"),
]
GUATEMALA = timezone(timedelta(hours=-6))


def odd_rows() -> list[dict[str, object]]:
    texts = [
        "Ñandú São", "=cmd|' /C calc'!A0", "+502", "-1", "@SUM(A1)", "\tx", "\rx", "a\n=b",
        "", " lead", "trail ", "a&b<c>d", "_x0041_", "ctl\x01\x1f", "<r>rich</r>", "😀 emoji",
        "x" * 40_000, "\ufffe", 'q"uote', "línea 1\nlínea 2", None,
    ]  # fmt: skip
    whens: list[object] = [
        datetime(2026, 1, 1, 23, 59, 59, 999999, tzinfo=GUATEMALA),  # next day in UTC
        datetime(2026, 1, 1, 0, 0, 0, 500000, tzinfo=UTC),
        datetime(2025, 12, 31, 18, 30),  # naive: UTC
        datetime(1900, 1, 1, 12, 0, tzinfo=UTC),  # Excel's own first days
        datetime(1900, 2, 28, 6, 0, tzinfo=UTC),
        datetime(1900, 3, 1, 0, 0, 1, tzinfo=UTC),
        None,
    ]
    mixed: list[object] = [True, False, Status.COMPLETED, Decimal("92.50"), date(2025, 3, 15),
                           3, 2.5, float("nan"), float("inf"), "texto", None]  # fmt: skip
    rows = []
    for n in range(300):  # several batches of both writers
        rows.append(
            {
                "text": texts[n % len(texts)],
                "code": ["GT", "SV", None, "=x"][n % 4],
                "int": [0, -5, 100, None][n % 4],
                "float": [85.0, 85.333, 1.005, None, -2.5, float("nan")][n % 6],
                "when": whens[n % len(whens)],
                "day": [date(2025, 3, 15), None, date(1900, 1, 1)][n % 3],
                "mixed": mixed[n % len(mixed)],
                "empty": None,
            }
        )
    return rows


def reference_csv(rows: list[dict[str, object]], columns: list[Column]) -> bytes:
    """A CSV as csv_chunks wrote it before batches: csv_cell for each cell."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow([label for _, label in columns])
    for row in rows:
        writer.writerow([csv_cell(row.get(key)) for key, _ in columns])
    return buffer.getvalue().encode("utf-8")


def test_csv_batches_equal_csv_cell_for_every_cell() -> None:
    rows = odd_rows()
    expected = reference_csv(rows, ODD_COLUMNS)

    assert b"".join(csv_chunks(rows, ODD_COLUMNS)) == expected
    keys = [key for key, _ in ODD_COLUMNS]
    labels = [label for _, label in ODD_COLUMNS]
    for size in (1, 7, 1000):
        batches = column_batches(rows, keys, size=size)
        assert b"".join(csv_column_chunks(batches, labels)) == expected
    # One column of one kind at a time, as the exports' columns are.
    for key, label in ODD_COLUMNS:
        alone = [{key: row[key]} for row in rows]
        assert b"".join(csv_chunks(alone, [(key, label)])) == reference_csv(alone, [(key, label)])


def test_csv_with_no_columns_has_a_line_a_row() -> None:
    assert b"".join(csv_chunks([{}, {}], [])) == BOM + b"\r\n\r\n\r\n"


def test_utc_texts_of_sqlite_text_equal_those_of_datetimes() -> None:
    stored = ["2026-01-02 03:04:05.999999", "1999-12-31 23:59:59.000000", None,
              "2026-01-02 03:04:05"]  # fmt: skip
    as_datetimes = [None if s is None else datetime.fromisoformat(s) for s in stored]

    assert utc_texts(stored) == [None if d is None else csv_cell(d) for d in as_datetimes]
    assert utc_texts(stored)[0] == "2026-01-02T03:04:05Z"
    # Text of another shape is read as a datetime first (an offset is honoured).
    assert utc_texts(["2026-01-02T03:04:05+02:00"]) == ["2026-01-02T01:04:05Z"]


def xlsx_parts(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        # docProps/core.xml holds the time the workbook was made: all else must be equal.
        return {n: archive.read(n) for n in archive.namelist() if n != "docProps/core.xml"}


@pytest.mark.parametrize("size", [1, 64, 1000])
def test_xlsx_batches_write_what_xlsxwriter_writes_cell_by_cell(size: int) -> None:
    rows = odd_rows()
    keys = [key for key, _ in ODD_COLUMNS]

    fast = xlsx_column_bytes(column_batches(rows, keys, size=size), ODD_COLUMNS)
    slow = xlsx_column_bytes(column_batches(rows, keys, size=size), ODD_COLUMNS, fast=False)

    assert xlsx_parts(fast) == xlsx_parts(slow)
    assert xlsx_parts(xlsx_bytes(rows, ODD_COLUMNS)) == xlsx_parts(slow)
    sheet = load_workbook(io.BytesIO(fast)).active
    assert sheet is not None
    assert sheet["A3"].value == "=cmd|' /C calc'!A0"
    assert sheet["A3"].data_type == "s"
    assert sheet["E2"].value == datetime(2026, 1, 2, 5, 59, 59)  # UTC wall time


def test_xlsx_batches_index_formats_as_xlsxwriter_does() -> None:
    # A date column before the datetime one, dates first met in a later row: styles.xml
    # must list the formats in the order XlsxWriter meets them.
    rows = [{"d": None, "t": datetime(2026, 1, 1, tzinfo=UTC)}, {"d": date(2026, 1, 2), "t": None}]
    columns: list[Column] = [("d", "D"), ("t", "T")]
    batches = list(column_batches(rows, ["d", "t"], size=10))

    fast = xlsx_column_bytes(batches, columns)
    slow = xlsx_column_bytes(batches, columns, fast=False)

    assert xlsx_parts(fast) == xlsx_parts(slow)


def test_xlsx_of_rows_with_nothing_in_them() -> None:
    rows: list[dict[str, object]] = [{"a": None}, {"a": "x"}, {"a": None}]
    fast = xlsx_bytes(rows, [("a", "A")])
    slow = xlsx_column_bytes(column_batches(rows, ["a"]), [("a", "A")], fast=False)

    assert xlsx_parts(fast) == xlsx_parts(slow)
