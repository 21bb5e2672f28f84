"""Certificate and diploma PDFs: a Jinja2 template rendered by WeasyPrint, with a QR code."""

from __future__ import annotations

import base64
import binascii
import threading
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_decimal, format_percent, parse_decimal
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from ecampus.localtime import local_day
from ecampus.settings import get_settings

if TYPE_CHECKING:
    from weasyprint.text.fonts import FontConfiguration

# WeasyPrint (with Pango through cffi, fontTools) and segno are imported where a PDF is made,
# not when the app starts: they are most of a worker's import time and a good part of its
# memory, and most workers never render a certificate.

TEMPLATE_NAME = "certificates/pdf.html"
DEFAULT_LANGUAGE = "es"

# Kept here rather than in the Babel catalogues: a certificate must read the same whatever
# the state of the UI translations, and employers compare wording across certificates.
LABELS: dict[str, dict[str, str]] = {
    "es": {
        "title_course": "Certificado de finalización",
        "title_programme": "Diploma",
        "certify": "Se certifica que",
        "completed_course": "ha completado satisfactoriamente el curso",
        "completed_programme": "ha completado satisfactoriamente el programa",
        "hours": "Duración",
        "hour_one": "hora",
        "hour_many": "horas",
        "score": "Calificación",
        "issued": "Fecha de emisión",
        "code": "Código de verificación",
        "verify": "Verifique la autenticidad de este documento en",
        "revoked": "REVOCADO",
        "revoked_note": "Este documento ha sido revocado y ya no es válido.",
        "superseded": "REEMPLAZADO",
        "superseded_note": "Este documento fue reemplazado por el de código",
        "issued_by": "Emitido por",
        "courses": "Cursos que comprende",
        "course_hours": "Horas",
    },
    "en": {
        "title_course": "Certificate of completion",
        "title_programme": "Diploma",
        "certify": "This is to certify that",
        "completed_course": "has successfully completed the course",
        "completed_programme": "has successfully completed the programme",
        "hours": "Duration",
        "hour_one": "hour",
        "hour_many": "hours",
        "score": "Score",
        "issued": "Date of issue",
        "code": "Verification code",
        "verify": "Check that this document is authentic at",
        "revoked": "REVOKED",
        "revoked_note": "This document has been revoked and is no longer valid.",
        "superseded": "SUPERSEDED",
        "superseded_note": "This document was replaced by the one with code",
        "issued_by": "Issued by",
        "courses": "Courses it comprises",
        "course_hours": "Hours",
    },
}


@dataclass(frozen=True, slots=True)
class Image:
    media_type: str  # image/png, image/jpeg or image/svg+xml
    data: bytes

    @property
    def uri(self) -> str:
        return f"data:{self.media_type};base64,{base64.b64encode(self.data).decode()}"


@dataclass(frozen=True, slots=True)
class Signatory:
    name: str
    title: str
    signature: Image | None = None


@dataclass(frozen=True, slots=True)
class CountedCourse:
    """A course a diploma counts."""

    title: str
    hours: float
    code: str | None = None  # its course certificate


@dataclass(frozen=True, slots=True)
class CertificateDocument:
    code: str
    learner_name: str
    course_title: str
    hours: float
    score: float | None  # 0-100; the line is left out when None
    issued_at: datetime  # UTC; a naive value (as SQLite returns) is read as UTC
    verify_url: str  # what the QR code encodes, exactly
    language: str = DEFAULT_LANGUAGE  # "es" or "en"; anything else falls back to "es"
    revoked: bool = False
    kind: str = "course"  # "course" or "programme"
    # The calendar of the printed date; None: ECAMPUS_TIMEZONE. 23:30 in Guatemala on
    # 14 March prints 14 March, although it is 15 March in UTC.
    zone: tzinfo | None = None
    issuer_name: str = ""  # in the certificate's language when the issuer has it
    issuer_url: str | None = None
    logo: Image | None = None
    signatories: tuple[Signatory, ...] = ()
    courses: tuple[CountedCourse, ...] = ()  # a diploma's
    orientation: str = "landscape"  # or "portrait"
    superseded_by: str | None = None  # the code that replaced this one


def render_certificate_pdf(doc: CertificateDocument, *, templates_dir: Path | None = None) -> bytes:
    """Render ``doc`` as a one-page A4 PDF (landscape, or portrait as the issuer asks)."""
    directory = (templates_dir or get_settings().templates_dir).resolve()
    html = _environment(directory).get_template(TEMPLATE_NAME).render(**_context(doc))
    # The base URL points at the (local) templates folder only so that relative links have
    # something to resolve against; the fetcher refuses every scheme, so neither the
    # template nor user data can make the renderer read a file or reach the network.
    from weasyprint import HTML

    page = HTML(string=html, base_url=directory.as_uri() + "/", url_fetcher=_no_fetcher())
    return page.write_pdf(font_config=_font_config())


def _context(doc: CertificateDocument) -> dict[str, object]:
    language = doc.language if doc.language in LABELS else DEFAULT_LANGUAGE
    labels = LABELS[language]
    programme = doc.kind == "programme"
    portrait = doc.orientation == "portrait"
    return {
        "portrait": portrait,
        "courses": [
            (course, _hours_text(course.hours, language=language, labels=labels, unit=False))
            for course in doc.courses
        ],
        "marked": doc.revoked or doc.superseded_by is not None,
        "signatories": doc.signatories,
        "doc": doc,
        "language": language,
        "labels": labels,
        "title": labels["title_programme" if programme else "title_course"],
        "completed": labels["completed_programme" if programme else "completed_course"],
        "hours_text": _hours_text(doc.hours, language=language, labels=labels),
        "score_text": None if doc.score is None else _score_text(doc.score, language=language),
        "issued_text": format_date(
            local_day(doc.issued_at, doc.zone or get_settings().zone),
            format="long",
            locale=language,
        ),
        "qr_svg": _qr_svg(doc.verify_url),
        "title_size": _title_size(doc.course_title),
        "name_size": _name_size(doc.learner_name, compact=portrait or bool(doc.courses)),
    }


def _hours_text(hours: float, *, language: str, labels: dict[str, str], unit: bool = True) -> str:
    number = format_decimal(hours, format="#,##0.##", locale=language)
    if not unit:
        return number
    # The plural of the number as printed, by CLDR's rule: "1 hora", "0,5 horas", "4.5 hours".
    shown = parse_decimal(number, locale=language)
    one = Locale.parse(language).plural_form(int(shown) if shown == int(shown) else shown)
    word = labels["hour_one"] if one == "one" else labels["hour_many"]
    return f"{number}\u00a0{word}"


def _score_text(score: float, *, language: str) -> str:
    # Half up, as a learner expects (Python's round() would print 92.5 as 92); Babel then
    # writes it the language's way ("93 %" with a non-breaking space in Spanish, "93%").
    rounded = Decimal(str(score)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return format_percent(rounded / 100, locale=language)


def _qr_svg(url: str) -> Markup:
    # Inline SVG rather than an <img>: nothing for the renderer to fetch, and the vector stays
    # sharp at any print size. The SVG holds only path data, never the URL as text.
    import segno

    qr = segno.make(url, error="m", micro=False)
    svg = qr.svg_inline(scale=1, border=0, omitsize=True, dark="#000")
    # segno draws each row as a 1-unit stroke; widening them a hair closes the white seams
    # that anti-aliasing leaves between rows on screen, without changing any module.
    svg = svg.replace(' stroke="#000"', ' stroke="#000" stroke-width="1.06"', 1)
    return Markup(svg)  # noqa: S704


def _title_size(title: str) -> str:
    # Long course titles shrink so that the certificate always stays on one page.
    length = len(title)
    if length <= 60:
        return "22pt"
    if length <= 110:
        return "18pt"
    if length <= 180:
        return "14pt"
    return "11pt"


def _name_size(name: str, *, compact: bool = False) -> str:
    # Compact: a narrower (portrait) page, or a diploma that also lists its courses.
    length = len(name)
    if length <= 40:
        return "26pt" if compact else "30pt"
    if length <= 70:
        return "20pt" if compact else "24pt"
    return "16pt" if compact else "18pt"


@lru_cache(maxsize=4)
def _environment(templates_dir: Path) -> Environment:
    return Environment(
        loader=FileSystemLoader(templates_dir),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/svg+xml"})


@cache
def _no_fetcher() -> Any:
    """A fetcher that loads nothing but the images embedded in the page as base64 data:
    URIs (the issuer's logo and signatures): certificates are self-contained by design.
    Stateless (fetch never touches the instance), so one instance serves every thread."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class RefuseEveryURL(URLFetcher):
        def fetch(self, url: str, headers: object = None) -> object:
            header, _comma, payload = url.partition(",")
            media_type, _semicolon, encoding = header.removeprefix("data:").partition(";")
            if url.startswith("data:") and media_type in _IMAGE_TYPES and encoding == "base64":
                try:
                    body = base64.b64decode(payload, validate=True)
                except binascii.Error as exc:
                    raise ValueError("an embedded image is not valid base64") from exc
                return URLFetcherResponse(url, body, {"Content-Type": media_type})
            raise ValueError(f"certificate PDFs load no external resources (asked for {url[:80]})")

    return RefuseEveryURL()


_local = threading.local()


def _font_config() -> FontConfiguration:
    # One per thread: Pango font maps are not documented as thread-safe, and sync routes run
    # in a thread pool. Reusing it keeps Pango's glyph and layout caches warm between renders.
    from weasyprint.text.fonts import FontConfiguration

    config: FontConfiguration | None = getattr(_local, "font_config", None)
    if config is None:
        config = _local.font_config = FontConfiguration()
    return config
