"""The `ecampus` command: a thin shell over the domain functions and Alembic."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ecampus.settings import Settings, SettingsError

IGM = "Instituto Guatemalteco de Migración"
OIM = "Organización Internacional para las Migraciones"
DEMO_ACCOUNTS = (
    # email, role, full name, password, institution, institution type, country
    ("learner@example.org", "learner", "Ana Lucía Pérez", "learner-demo-1", IGM, "government",
     "GT"),
    ("author@example.org", "author", "Carlos Méndez", "author-demo-1", "ecampus", "other", "GT"),
    ("coordinator@example.org", "coordinator", "María José Rodríguez", "coordinator-demo-1", OIM,
     "international", "SV"),
    ("admin@example.org", "admin", "Admin ecampus", "admin-demo-1", "ecampus", "other", "GT"),
)  # fmt: skip


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise SystemExit(f"ecampus: {exc}") from None


# The process beside the worker: the collector off from its first line (it ends as soon as
# the cache is written), and no more imports than it needs (not this module's pydantic):
# a restart's look costs it under 0.1 s of CPU.
_FILL_COURSE_CACHE = (
    "import gc; gc.disable(); from ecampus.settings import Settings; "
    "from ecampus.courses.cache import fill; s = Settings.from_env(); "
    "fill(s.courses_dir, s.cache_dir, s.secret_key) if s.cache_dir else None"
)


def _start_filling_the_course_cache() -> subprocess.Popen[bytes] | None:
    """A process beside this one that, when the course cache does not look current (the
    first start, or courses changed), parses the courses and writes the cache while this
    one imports the app, on another core (courses.cache.fill): the app's start then reads
    the cache back instead of parsing (0.3-0.4 s of CPU for 25 courses of 40 items). On a
    restart it only looks (a scan of the folder, off this process's path). None when there
    is no cache; if the process fails, the start parses the courses as without it."""
    from ecampus.settings import get_settings

    if get_settings().cache_dir is None:
        return None
    try:
        return subprocess.Popen(  # noqa: S603 - our own code, this interpreter
            [sys.executable, "-c", _FILL_COURSE_CACHE],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,  # its problems are the start's to report, as it loads
        )
    except OSError:
        return None


def _fewer_malloc_arenas() -> None:
    """glibc gives threads that allocate at the same moment arenas of their own (up to 8 a
    core), each keeping what was freed in it; the worker's threads (the thread pool, the
    database's) gain nothing from more than two. 3 MB less resident on PostgreSQL after
    typical pages (bench/startup.py). MALLOC_ARENA_MAX, when set, is left to decide."""
    if "MALLOC_ARENA_MAX" in os.environ or not sys.platform.startswith("linux"):
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).mallopt(-8, 2)  # M_ARENA_MAX (malloc.h), before any thread starts


def serve_app() -> Any:
    """The app `ecampus serve` runs: create_app(), started with the garbage collector off.

    Importing the app and loading the catalogue allocate some 200,000 objects that live as
    long as the process; the collector would walk them again and again while they are
    being made (a tenth of the start's CPU). Once started, they are frozen (gc.freeze: left
    out of every later collection, which then walks only what requests allocate) and the
    collector runs as usual.

    Most routers are imported once the app has started (web.routes.include: the first
    answer comes about a fifth sooner); what they make is frozen too once they are in.
    """
    gc.disable()
    _fewer_malloc_arenas()
    filling = _start_filling_the_course_cache()
    from ecampus.app import create_app

    app = create_app(defer_routers=True)
    app.state.later_routers.on_ready.append(gc.freeze)
    started = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        if filling is not None:  # the start then reads what it wrote
            await asyncio.to_thread(filling.wait)
        try:
            async with started(app) as state:
                gc.freeze()
                gc.enable()
                yield state
        finally:
            gc.enable()

    app.router.lifespan_context = lifespan
    return app


def cmd_serve(args: argparse.Namespace) -> int:
    if not args.reload:
        gc.disable()  # until the app has started (see serve_app)
    try:
        return _serve(args)
    finally:
        gc.enable()  # whatever happened, the process is left as it was found


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from ecampus.eventloop import UVICORN_LOOP
    from ecampus.ratelimit import parse_exempt, storage_kind

    settings = _settings()
    try:
        settings.require_safe_secret()
        rate_limits = storage_kind(settings.rate_limit_url)
        parse_exempt(settings.rate_limit_exempt)
    except SettingsError as exc:
        print(f"ecampus: {exc}", file=sys.stderr)
        return 2
    if rate_limits == "memory" and args.workers > 1 and not args.reload:
        print(
            f"ecampus: warning: each of the {args.workers} workers counts sign-in attempts on "
            "its own; set ECAMPUS_RATE_LIMIT_URL (Redis) to share the limits",
            file=sys.stderr,
        )
    uvicorn.run(
        "ecampus.cli:serve_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=None if args.reload else args.workers,
        reload=args.reload,
        proxy_headers=True,
        # Only these peers may set the client's address (X-Forwarded-For), which the
        # sign-in and registration limits count by.
        forwarded_allow_ips=settings.forwarded_allow_ips,
        log_level=args.log_level,
        access_log=args.access_log,
        loop=UVICORN_LOOP,  # asyncio's, with TCP_NODELAY: see ecampus.eventloop
    )
    return 0


def _validate_language(requested: str | None) -> str:
    """--lang, else the environment's locale, else the project's default language."""
    from ecampus import i18n

    if requested:
        return requested
    default = os.environ.get("ECAMPUS_DEFAULT_LANGUAGE") or i18n.DEFAULT
    return i18n.language_from_environment(default=default)


def cmd_validate(args: argparse.Namespace) -> int:
    from ecampus.courses.loader import Problem, load_catalogue
    from ecampus.i18n import N_, Message, lazy_ngettext, render

    language = _validate_language(args.lang)
    paths = [Path(p) for p in args.paths] or [_settings().courses_dir]
    result = load_catalogue([p for p in paths if p.exists()], render=False)
    missing = [
        Problem(p, 1, 1, Message(N_("no such file or folder"))) for p in paths if not p.exists()
    ]
    problems = missing + [p for p in result.problems if args.warnings or p.severity == "error"]
    cwd = Path.cwd()
    if args.format == "json":
        print(
            json.dumps(
                [
                    {
                        "file": str(p.shown_file(cwd)),
                        "line": p.line,
                        "column": p.column,
                        "severity": p.severity,
                        "message": render(p.text, language),
                        "hint": p.hint.render(language) if p.hint else None,
                    }
                    for p in problems
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        for problem in problems:
            print(problem.format(cwd, language))
    errors = len(result.errors) + len(missing)
    if args.format == "text":
        warnings = sum(p.severity == "warning" for p in result.problems)
        summary = Message(
            N_("%(courses)s: %(counts)s"),
            {
                "courses": lazy_ngettext(
                    "checked %(num)s course", "checked %(num)s courses", result.checked
                ),
                "counts": Message(
                    N_("errors: %(errors)s, warnings: %(warnings)s"),
                    {"errors": errors, "warnings": warnings},
                ),
            },
        )
        print(summary.render(language), file=sys.stderr)
    if errors or (args.strict and result.problems):
        return 1
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from ecampus.courses.schema import (
        course_json_schema,
        issuer_json_schema,
        programme_json_schema,
    )

    if args.issuer:
        schema = issuer_json_schema()
    else:
        schema = programme_json_schema() if args.programme else course_json_schema()
    print(json.dumps(schema, ensure_ascii=False, indent=2))
    return 0


def cmd_courses_new(args: argparse.Namespace) -> int:
    from ecampus.courses.scaffold import ScaffoldError, scaffold

    root = Path(args.dir) if args.dir else _settings().courses_dir
    try:
        folder = scaffold(root, course_id=args.id, title=args.title, language=args.language)
    except ScaffoldError as exc:
        print(f"ecampus: {exc}", file=sys.stderr)
        return 1
    print(f"created {folder}/course.yaml; edit it, then run: ecampus validate {folder}")
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from ecampus.dbmigrate import upgrade

    upgrade(_settings().database_url, args.revision)
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from ecampus.backup import BackupError, backup

    try:
        written = backup(database_url=_settings().database_url, path=Path(args.path))
    except BackupError as exc:
        print(f"ecampus: {exc}", file=sys.stderr)
        return 1
    print(f"backed up the database to {written}")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from ecampus.backup import BackupError, restore

    try:
        result = restore(
            database_url=_settings().database_url, path=Path(args.path), force=args.force
        )
    except BackupError as exc:
        print(f"ecampus: {exc}", file=sys.stderr)
        return 1
    print(f"restored {result.path} (database revision {result.revision or 'none'})")
    if result.needs_upgrade:
        print("the backup predates this release: run `ecampus db upgrade` before serving")
    return 0


def _create_user(email: str, role: str, full_name: str, password: str, **profile: str) -> int:
    from sqlmodel import Session

    from ecampus.accounts import service as accounts
    from ecampus.accounts.models import Role
    from ecampus.accounts.schemas import RegisterIn
    from ecampus.db import make_engine

    try:
        data = RegisterIn.model_validate(
            {"email": email, "password": password, "full_name": full_name, **profile}
        )
    except ValidationError as exc:
        for error in exc.errors():
            print(f"ecampus: {'.'.join(map(str, error['loc']))}: {error['msg']}", file=sys.stderr)
        return 2
    engine = make_engine(_settings().database_url)
    with Session(engine) as session:
        try:
            accounts.create_user(session, data=data, role=Role(role))
        except accounts.EmailTaken:
            print(f"ecampus: an account with {email} already exists", file=sys.stderr)
            return 1
    engine.dispose()
    print(f"created {role} {email}")
    return 0


def cmd_users_create(args: argparse.Namespace) -> int:
    if not args.password_stdin:
        print("ecampus: pass --password-stdin and the password on standard input", file=sys.stderr)
        return 2
    password = sys.stdin.readline().rstrip("\r\n")
    return _create_user(
        args.email,
        args.role,
        args.full_name,
        password,
        institution=args.institution,
        institution_type=args.institution_type,
        country=args.country,
        language=args.language,
    )


def cmd_users_role(args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from ecampus.accounts import service as accounts
    from ecampus.accounts.models import Role
    from ecampus.db import make_engine

    engine = make_engine(_settings().database_url)
    with Session(engine, expire_on_commit=False) as session:
        user = accounts.set_role(session, email=args.email, role=Role(args.role), actor="cli")
    engine.dispose()
    if user is None:
        print(f"ecampus: no account has the email {args.email}", file=sys.stderr)
        return 1
    print(f"{user.email} is now {user.role} (from their next request)")
    return 0


def cmd_users_access(args: argparse.Namespace) -> int:
    """deactivate: no sign-in, every session refused at once; reactivate: sign-in again."""
    from sqlmodel import Session

    from ecampus.accounts import manage
    from ecampus.accounts import service as accounts
    from ecampus.db import make_engine

    engine = make_engine(_settings().database_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            user = accounts.get_by_email(session, args.email)
            if user is None:
                print(f"ecampus: no account has the email {args.email}", file=sys.stderr)
                return 1
            # Audit-logged (as the cli) in the action's own transaction.
            if args.action == "deactivate":
                manage.deactivate(session, staff="cli", user=user)
                print(f"{user.email} is deactivated: signed out everywhere, cannot sign in")
            else:
                manage.reactivate(session, staff="cli", user=user)
                print(f"{user.email} may sign in again")
    finally:
        engine.dispose()
    return 0


def cmd_users_link(args: argparse.Namespace) -> int:
    """A fresh one-time link (reset, or invitation for an account with no password yet),
    printed for the operator to hand over; no mail is sent. Audit-logged as "cli"."""
    from sqlmodel import Session

    from ecampus.accounts import links, manage
    from ecampus.accounts import service as accounts
    from ecampus.audit.service import record
    from ecampus.db import make_engine

    settings = _settings()
    purpose = links.INVITATION if args.invitation else links.RESET
    engine = make_engine(settings.database_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            user = accounts.get_by_email(session, args.email)
            if user is None:
                print(f"ecampus: no account has the email {args.email}", file=sys.stderr)
                return 1
            if not user.is_active:
                print(f"ecampus: {user.email} is deactivated; reactivate it first", file=sys.stderr)
                return 1
            if purpose == links.INVITATION and manage.has_password(user):
                print(
                    f"ecampus: {user.email} already has a password; make a reset link instead",
                    file=sys.stderr,
                )
                return 1
            url = links.issue_link(session, user, purpose, base_url=settings.base_url)
            action = "account.invitation_link" if args.invitation else "account.reset_link"
            record(session, "cli", action, user.email, {"purpose": purpose})
            session.commit()
    finally:
        engine.dispose()
    lifetime = "14 days" if args.invitation else "60 minutes"
    print(url)
    print(f"works once, for {lifetime}; no mail was sent", file=sys.stderr)
    return 0


def cmd_users_list(_args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from ecampus.accounts import service as accounts
    from ecampus.db import make_engine
    from ecampus.text import terminal_safe

    engine = make_engine(_settings().database_url)
    try:
        with Session(engine) as session:
            for user in accounts.list_users(session, limit=100000):
                # Names and emails are what people typed: an escape sequence in one must
                # show as text, not recolour, retitle or rewrite the admin's terminal.
                fields = (user.email, user.role, user.full_name, user.country)
                print("\t".join(terminal_safe(str(field)) for field in fields))
    finally:
        engine.dispose()
    return 0


def _demo_learners(learners: int, seed: int) -> int:
    from ecampus import demo
    from ecampus.courses.catalog import Catalogue
    from ecampus.db import make_engine

    settings = _settings()
    engine = make_engine(settings.database_url)
    try:
        catalogue = Catalogue(settings.courses_dir)
        catalogue.load(engine)
        shown = sys.stderr.isatty()

        def report(counts: demo.DemoCounts) -> None:
            if shown:
                print(f"\r  {counts.learners}/{learners} learners, {counts.enrolments} "
                      "enrolments", end="", file=sys.stderr, flush=True)  # fmt: skip

        try:
            counts = demo.generate(
                engine, catalogue, learners=learners, seed=seed, progress_callback=report
            )
        except ValueError as exc:
            print(f"ecampus: {exc}", file=sys.stderr)
            return 1
    finally:
        engine.dispose()
    if shown:
        print(file=sys.stderr)
    print(
        f"added {counts.learners} demo learners (seed {seed}, numbers {counts.first}-"
        f"{counts.first + counts.learners - 1}) in {counts.cohorts} cohorts: "
        f"{counts.enrolments} enrolments ({counts.completed} completed, {counts.withdrawn} "
        f"withdrawn), {counts.items} item rows, {counts.attempts} quiz attempts, "
        f"{counts.certificates} certificates, {counts.diplomas} diplomas in "
        f"{counts.seconds:.1f} s"
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Create the demo accounts (idempotent) and print their logins; with --learners, add
    synthetic learners for measuring."""
    from sqlmodel import Session

    from ecampus.accounts import service as accounts
    from ecampus.db import make_engine

    engine = make_engine(_settings().database_url)
    with Session(engine) as session:
        existing = {u.email for u in accounts.list_users(session, limit=100000)}
    for email, role, name, password, institution, kind, country in DEMO_ACCOUNTS:
        if email not in existing:
            _create_user(
                email, role, name, password,
                institution=institution, institution_type=kind, country=country, language="es",
            )  # fmt: skip
    if args.learners:
        status = _demo_learners(args.learners, args.seed)
        if status:
            return status
    print("\nDemo logins (development only):")
    for email, role, _name, password, *_rest in DEMO_ACCOUNTS:
        print(f"  {role:<12} {email:<26} password: {password}")
    return 0


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def cmd_keys(args: argparse.Namespace) -> int:
    """generate: a signing key when none is current (idempotent); rotate: retire the current
    key (still published, so what it signed keeps verifying) and make a new one."""
    from sqlmodel import Session

    from ecampus.certificates import keys
    from ecampus.db import make_engine

    settings = _settings()
    try:
        settings.require_safe_secret()  # the private keys are encrypted under it
    except SettingsError as exc:
        print(f"ecampus: {exc}", file=sys.stderr)
        return 2
    engine = make_engine(settings.database_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            if args.action == "generate":
                key, created = keys.generate(session, secret=settings.secret_key)
                if created:
                    print(f"created signing key {key.kid} ({key.algorithm}, {keys.CURVE})")
                else:
                    print(f"signing key {key.kid} is current; nothing to do")
            else:
                key, retired = keys.rotate(session, secret=settings.secret_key)
                for kid in retired:
                    print(f"retired signing key {kid} (still published)")
                print(f"created signing key {key.kid} ({key.algorithm}, {keys.CURVE})")
    finally:
        engine.dispose()
    return 0


def cmd_enrol_import(args: argparse.Namespace) -> int:
    """A participants' list (CSV or XLSX) into a cohort: accounts, enrolments, invitations."""
    from ecampus.importcli import run

    return run(args, _settings(), _validate_language(None))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ecampus",
        description="ecampus: self-paced e-learning course engine.",
        epilog="Configuration: ECAMPUS_DATABASE_URL, ECAMPUS_SECRET_KEY, ECAMPUS_COURSES_DIR, "
        "ECAMPUS_ENV, ECAMPUS_BASE_URL (see README).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve the web app")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument(
        "--reload", action="store_true", help="restart on code changes (development)"
    )
    serve.add_argument("--log-level", default="info")
    serve.add_argument("--no-access-log", dest="access_log", action="store_false")
    serve.set_defaults(func=cmd_serve)

    validate = commands.add_parser(
        "validate",
        help="check courses; print every problem as file:line:col: message",
        description="Each PATH is a course folder, a course.yaml, or a folder of course folders "
        "(default: ECAMPUS_COURSES_DIR). Exit status: 0 no errors, 1 errors found.",
    )
    validate.add_argument("paths", nargs="*", metavar="PATH")
    validate.add_argument("--format", choices=("text", "json"), default="text")
    validate.add_argument(
        "--no-warnings", dest="warnings", action="store_false", help="print errors only"
    )
    validate.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    validate.add_argument(
        "--lang",
        choices=("es", "en"),
        default=None,
        help="language of the messages (default: from LC_ALL, LC_MESSAGES or LANG, else "
        "ECAMPUS_DEFAULT_LANGUAGE, else es)",
    )
    validate.set_defaults(func=cmd_validate)

    schema = commands.add_parser("schema", help="print the JSON Schema of course.yaml")
    schema.add_argument(
        "--programme", action="store_true", help="the schema of programme files instead"
    )
    schema.add_argument(
        "--issuer", action="store_true", help="the schema of courses/issuer.yaml instead"
    )
    schema.set_defaults(func=cmd_schema)

    courses = commands.add_parser("courses", help="course authoring helpers")
    course_commands = courses.add_subparsers(
        dest="courses_command", required=True, metavar="ACTION"
    )
    new = course_commands.add_parser("new", help="scaffold a valid course folder to start from")
    new.add_argument("id", help="the course id: lowercase letters, digits and hyphens")
    new.add_argument("--title", default=None, help="the course title")
    new.add_argument("--language", default="es", help="BCP 47 tag (default es)")
    new.add_argument("--dir", default=None, help="the courses folder (default ECAMPUS_COURSES_DIR)")
    new.set_defaults(func=cmd_courses_new)

    db = commands.add_parser("db", help="database migrations")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_commands.add_parser(
        "upgrade", help="apply Alembic migrations to ECAMPUS_DATABASE_URL"
    )
    upgrade.add_argument("revision", nargs="?", default="head")
    upgrade.set_defaults(func=cmd_db_upgrade)

    backup = commands.add_parser(
        "backup",
        help="copy the database at ECAMPUS_DATABASE_URL consistently, while it serves",
        description="SQLite: the online backup API; PostgreSQL: pg_dump --format=custom. "
        "PATH is the file to write, or a folder to write ecampus-DATE-TIME.db or .dump into.",
    )
    backup.add_argument("path", metavar="PATH")
    backup.set_defaults(func=cmd_backup)
    restore = commands.add_parser(
        "restore",
        help="write a backup into the (empty or freshly migrated) database",
        description="Writes the backup at PATH into the database at ECAMPUS_DATABASE_URL, "
        "which must be empty or freshly migrated. Stop the service first.",
    )
    restore.add_argument("path", metavar="PATH")
    restore.add_argument(
        "--force",
        action="store_true",
        help="replace a database that already holds accounts or enrolments",
    )
    restore.set_defaults(func=cmd_restore)

    users = commands.add_parser("users", help="manage accounts")
    user_commands = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    create = user_commands.add_parser("create", help="create an account with a role")
    create.add_argument("email")
    create.add_argument(
        "--role", choices=("learner", "author", "coordinator", "admin"), default="learner"
    )
    create.add_argument("--full-name", required=True)
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    create.add_argument("--institution", default="")
    create.add_argument(
        "--institution-type",
        default="other",
        choices=("government", "civil_society", "academia", "international", "other"),
    )
    create.add_argument("--country", default="GT", help="ISO 3166-1 alpha-2 code (default GT)")
    create.add_argument("--language", default="es", choices=("es", "en"))
    create.set_defaults(func=cmd_users_create)
    role = user_commands.add_parser("set-role", help="change an account's role")
    role.add_argument("email")
    role.add_argument("role", choices=("learner", "author", "coordinator", "admin"))
    role.set_defaults(func=cmd_users_role)
    for action, text in (
        ("deactivate", "stop an account from signing in and end its sessions at once"),
        ("reactivate", "let a deactivated account sign in again"),
    ):
        access = user_commands.add_parser(action, help=text)
        access.add_argument("email")
        access.set_defaults(func=cmd_users_access, action=action)
    link = user_commands.add_parser(
        "reset-link",
        help="print a fresh one-time link to set the password (60 minutes; no mail is sent)",
    )
    link.add_argument("email")
    link.add_argument(
        "--invitation",
        action="store_true",
        help="an invitation link (14 days) for an account with no password yet",
    )
    link.set_defaults(func=cmd_users_link)
    listing = user_commands.add_parser("list", help="list accounts")
    listing.set_defaults(func=cmd_users_list)

    enrol = commands.add_parser("enrol", help="enrol participants")
    enrol_commands = enrol.add_subparsers(dest="enrol_command", required=True, metavar="ACTION")
    importing = enrol_commands.add_parser(
        "import",
        help="import a participants' list (CSV or XLSX) into a cohort",
        description="Creates missing accounts (without a password: each gets an invitation "
        "link, printed as EMAIL<TAB>URL) and enrols everyone in the course, or in every course "
        "of the programme, as members of the cohort. Columns, in English or Spanish: email/"
        "correo, full_name/nombre, country/pais, and optionally institution/institucion, "
        "institution_type/tipo_institucion, language/idioma. Every bad row is reported as "
        "FILE:ROW: COLUMN: message. A file with errors imports nothing unless --skip-invalid. "
        "Exit status: 0 imported, 1 errors.",
    )
    importing.add_argument("file", metavar="FILE", help="a .csv (UTF-8, , or ;) or .xlsx file")
    importing.add_argument("--cohort", required=True, metavar="CODE")
    target = importing.add_mutually_exclusive_group(required=True)
    target.add_argument("--course", metavar="ID")
    target.add_argument("--programme", metavar="ID", help="enrol in every course of it")
    importing.add_argument("--dry-run", action="store_true", help="check and count; change nothing")
    importing.add_argument(
        "--skip-invalid", action="store_true", help="import the valid rows of a file with errors"
    )
    importing.add_argument(
        "--send-invitations",
        action="store_true",
        help="mail each invitation (through the outbox; ECAMPUS_SMTP_URL)",
    )
    importing.add_argument("--format", choices=("text", "json"), default="text")
    importing.set_defaults(func=cmd_enrol_import)

    keys = commands.add_parser(
        "keys",
        help="credential signing keys (ES256): generate, rotate",
        description="Keys that sign the certificates' Open Badges credentials. Their private "
        "halves are stored encrypted under ECAMPUS_SECRET_KEY; every public half stays in "
        "/.well-known/jwks.json.",
    )
    key_commands = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    for action, text in (
        ("generate", "create a signing key if none is current (safe to run again)"),
        ("rotate", "retire the current key (it stays published) and create a new one"),
    ):
        key_command = key_commands.add_parser(action, help=text)
        key_command.set_defaults(func=cmd_keys, action=action)

    demo = commands.add_parser(
        "demo",
        help="create the demo accounts and print their logins; --learners adds synthetic ones",
        description="Creates the demo accounts (idempotent). With --learners N, also adds N "
        "synthetic learners for measuring: each enrolled in 5 bundled courses (so 20000 "
        "learners make about 100000 enrolments) in cohorts of 250, with progress, quiz "
        "attempts, certificates and diplomas. The same seed gives the same learners; "
        "running again adds the learners that follow.",
    )
    demo.add_argument(
        "--learners",
        type=_positive,
        default=0,
        metavar="N",
        help="add N synthetic learners (default 0: only the demo accounts)",
    )
    demo.add_argument(
        "--seed", type=int, default=1, metavar="S", help="the same seed, the same learners"
    )
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
