"""Reading participants' lists and checking their rows: pure, table-driven."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook

from ecampus.onboarding.participants import check, country_code
from ecampus.onboarding.sheet import SheetError, fold, read_sheet


@pytest.mark.parametrize(
    ("written", "folded"),
    [("País", "pais"), ("  Tipo de Institución ", "tipo_de_institucion"), ("E-mail", "e_mail"),
     ("NOMBRE COMPLETO", "nombre_completo"), ("tipo_institución", "tipo_institucion")],
)  # fmt: skip
def test_headers_fold_case_accents_and_spacing(written: str, folded: str) -> None:
    assert fold(written) == folded


@pytest.mark.parametrize(
    ("cell", "code"),
    [("GT", "GT"), ("gt", "GT"), (" gtm ", "GT"), ("Guatemala", "GT"), ("México", "MX"),
     ("mexico", "MX"), ("Estados Unidos", "US"), ("United States", "US"), ("Panamá", "PA"),
     ("República Dominicana", "DO"), ("Dominican Republic", "DO"), ("Belice", "BZ"),
     ("Narnia", None), ("", None), ("XX", None)],
)  # fmt: skip
def test_countries_by_code_or_name(cell: str, code: str | None) -> None:
    assert country_code(cell) == code


def rows_of(text: str) -> list[tuple[int, str, str]]:
    checked = check(read_sheet(text.encode("utf-8")))
    return [(e.row, e.field, e.message.render(None)) for e in checked.errors]


@pytest.mark.parametrize(
    ("body", "row", "field", "says"),
    [
        ("x@example.org;Ana;GT;Iglesia;es", 2, "institution_type", "Unknown institution type Iglesia"),
        ("x@example.org;Ana;GT;government;de", 2, "language", "Unknown language de"),
        ("x@example.org;A;GT;government;es", 2, "full_name", "at least 2 characters"),
        ("x@example.org;\u200b\u200b;GT;;", 2, "full_name", ""),
        ("x@example.org;Ana\u202eZ;GT;;", 2, "full_name", "text-direction controls"),
        ("not-an-email;Ana;GT;;", 2, "email", "not a valid email address"),
        (";Ana;GT;;", 2, "email", "An email is required"),
        ("x@example.org;Ana;;;", 2, "country", "A country is required"),
    ],
)  # fmt: skip
def test_each_bad_cell_is_named(body: str, row: int, field: str, says: str) -> None:
    found = rows_of("correo;nombre;país;tipo_institución;idioma\n" + body + "\n")
    assert [(r, f) for r, f, _ in found] == [(row, field)]
    assert says in found[0][2]


def test_good_rows_become_participants_with_registration_values() -> None:
    sheet = read_sheet(
        "\ufeffEmail,Full name,Country,Institution type,Language,Phone\r\n"
        "  ANA@Example.ORG ,  Ana  María ,sv,Sociedad civil,English,555\r\n".encode()
    )
    checked = check(sheet)
    assert checked.errors == []
    assert sheet.ignored == ["Phone"]
    (ana,) = checked.participants
    assert (ana.row, ana.email, ana.full_name, ana.country) == (
        2,
        "ana@example.org",
        "Ana María",
        "SV",
    )
    assert (ana.institution_type, ana.language, ana.institution) == ("civil_society", "en", "")


def test_row_numbers_are_the_spreadsheets_even_with_blank_lines_and_quoted_breaks() -> None:
    # As a spreadsheet opens it: row 2 blank, row 3 with notes over two lines, row 4 blank.
    text = (
        'correo;nombre;pais;notas\n\na@example.org;"López; Ana";GT;"llega\ntarde"\n\n'
        "b@@example.org;Bea;GT;\na@example.org;Ana;GT;\n"
    )
    assert [(r, f) for r, f, _ in rows_of(text)] == [(5, "email"), (6, "email")]
    assert "already on row 3" in rows_of(text)[1][2]
    assert check(read_sheet(text.encode())).participants[0].full_name == "López; Ana"


def test_xlsx_rows_keep_their_numbers_and_typed_cells() -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["correo", "nombre", "país", "idioma"])
    sheet.append([None, None, None, None])
    sheet.append(["a@example.org", "Ana", "GT", "es"])
    sheet.append(["b@example.org", 12.0, "GT", None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    read = read_sheet(buffer.getvalue())
    assert [n for n, _ in read.rows] == [3, 4]
    assert read.rows[1][1]["full_name"] == "12"
    assert [(e.row, e.field) for e in check(read).errors] == [(4, "full_name")]


@pytest.mark.parametrize(
    ("data", "says"),
    [(b"", "empty"), (b"\n\n", "empty"), (b"\xff\xfe\x00x", "CSV UTF-8"), (b"a\x00b\n", "NUL"),
     (b"PK\x03\x04broken", "XLSX workbook")],
)  # fmt: skip
def test_unreadable_files_say_why(data: bytes, says: str) -> None:
    with pytest.raises(SheetError) as raised:
        read_sheet(data)
    assert says in str(raised.value)


def test_too_many_rows_are_refused() -> None:
    body = "correo;nombre;pais\n" + "x@example.org;Ana;GT\n" * 4
    assert len(read_sheet(body.encode(), max_rows=4).rows) == 4
    with pytest.raises(SheetError, match="more than 3 participants"):
        read_sheet(body.encode(), max_rows=3)


def test_header_problems_are_row_1() -> None:
    found = rows_of("correo;Email;nombre\nx@example.org;y@example.org;Ana\n")
    assert [(r, f) for r, f, _ in found] == [(1, "Email"), (1, "country")]
