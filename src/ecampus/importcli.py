"""`ecampus enrol import`: the bulk import on the command line, with a progress bar on a
terminal (rich) and nothing but the results when piped."""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import ExitStack
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from sqlmodel import Session

from ecampus import i18n
from ecampus.courses.catalog import Catalogue
from ecampus.db import make_engine
from ecampus.dbretry import Contention
from ecampus.i18n import N_, Message, lazy_ngettext
from ecampus.learning import cohorts
from ecampus.onboarding import service as onboarding
from ecampus.onboarding.sheet import SheetError, read_sheet
from ecampus.settings import Settings
from ecampus.text import terminal_safe


def _fail(message: Message | str, language: str) -> int:
    print(f"ecampus: {i18n.render(message, language)}", file=sys.stderr)
    return 1


def run(args: argparse.Namespace, settings: Settings, language: str) -> int:
    """Exit status: 0 imported (or a clean dry run), 1 any error in the file or the request."""
    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        return _fail(f"{path}: {exc.strerror or exc}", language)
    if len(data) > settings.max_upload_bytes:
        return _fail(
            Message(
                N_("%(file)s is larger than %(max)s bytes (ECAMPUS_MAX_UPLOAD_BYTES)."),
                {"file": str(path), "max": settings.max_upload_bytes},
            ),
            language,
        )
    try:
        sheet = read_sheet(data)
    except SheetError as exc:
        return _fail(
            Message("%(file)s: %(why)s", {"file": str(path), "why": exc.message}), language
        )
    engine = make_engine(settings.database_url)
    try:
        catalogue = Catalogue(settings.courses_dir)
        catalogue.load(engine)
        try:
            target = onboarding.target_for(
                catalogue, course=args.course or "", programme=args.programme or ""
            )
        except (LookupError, ValueError) as exc:
            return _fail(str(exc), language)
        with Session(engine, expire_on_commit=False) as session, ExitStack() as stack:
            cohort = cohorts.by_code(session, args.cohort)
            if cohort is None:
                return _fail(f"Cohort '{args.cohort}' not found", language)
            progress = None
            if sys.stderr.isatty() and args.format == "text":
                bar = stack.enter_context(Progress(transient=True, console=Console(stderr=True)))
                task = bar.add_task(path.name, total=len(sheet.rows))

                def progress(done: int) -> None:
                    bar.update(task, completed=done)

            try:
                result = onboarding.import_sheet(
                    session,
                    sheet=sheet,
                    cohort=cohort,
                    target=target,
                    actor=None,
                    actor_label="cli",
                    dry_run=args.dry_run,
                    skip_invalid=args.skip_invalid,
                    send_invitations=args.send_invitations,
                    base_url=settings.base_url,
                    file_name=path.name,
                    progress=progress,
                )
            except cohorts.CohortClosed:
                return _fail(f"Cohort '{args.cohort}' is closed: it takes no new members", language)
            except Contention:
                return _fail("The database stayed busy; nothing was imported. Try again.", language)
    finally:
        engine.dispose()
    if args.format == "json":
        print(json.dumps(result.as_json(language), ensure_ascii=False, indent=2))
    else:
        _print_text(result, path, language)
    return 1 if result.errors else 0


def _print_text(result: onboarding.ImportResult, path: Path, language: str) -> None:
    for error in result.errors:
        # file:row: column: message, as `ecampus validate` writes file:line:col: message.
        print(
            terminal_safe(f"{path}:{error.row}: {error.column}: {error.message.render(language)}"),
            file=sys.stderr,
        )
    for email, url in result.invitations:
        print(f"{terminal_safe(email)}\t{url}")
    counts = Message(
        N_("%(rows)s: %(created)s, %(existing)s, %(enrolled)s, %(errors)s"),
        {
            "rows": lazy_ngettext("%(num)s row", "%(num)s rows", result.rows),
            "created": lazy_ngettext(
                "%(num)s account created", "%(num)s accounts created", result.created
            ),
            "existing": lazy_ngettext(
                "%(num)s existing account", "%(num)s existing accounts", result.existing
            ),
            "enrolled": lazy_ngettext(
                "%(num)s enrolment made", "%(num)s enrolments made", result.enrolled
            ),
            "errors": lazy_ngettext("%(num)s problem", "%(num)s problems", len(result.errors)),
        },
    )
    if result.dry_run:
        state = Message(N_("Dry run, nothing changed"))
    elif not result.imported:
        state = Message(
            N_("Nothing imported: fix the errors, or pass --skip-invalid to import the rest")
        )
    else:
        state = Message(N_("Imported"))
    print(f"{state.render(language)}. {counts.render(language)}.", file=sys.stderr)
