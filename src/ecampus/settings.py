"""One Settings object, read from ECAMPUS_* environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from ecampus.localtime import DEFAULT_TIMEZONE
from ecampus.localtime import zone as _zone

PACKAGE_DIR = Path(__file__).resolve().parent
# In a wheel, templates/ and static/ are shipped inside the package (see pyproject.toml);
# in a source checkout (editable install) they sit at the top of the repository.
_SHIPPED = PACKAGE_DIR / "_data"
_REPO_ROOT = PACKAGE_DIR.parent.parent

DEV_SECRET_PLACEHOLDER = "dev-insecure-secret-change-me"  # noqa: S105 - refused outside dev
ENVIRONMENTS = ("development", "test", "production")
SMTP_SCHEMES = ("smtp", "smtp+starttls", "smtps")


class SettingsError(RuntimeError):
    """Raised when the configuration is unsafe or inconsistent."""


def _data_dir(name: str) -> Path:
    shipped = _SHIPPED / name
    return shipped if shipped.is_dir() else _REPO_ROOT / name


def _number(env: Mapping[str, str], name: str, default: float, *, minimum: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum:g}, not {raw!r}")
    return value


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _check_smtp_url(url: str) -> None:
    """Refuse at start an ECAMPUS_SMTP_URL the mail sender could not use (never echoing
    its password)."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in SMTP_SCHEMES:
        raise SettingsError(
            "ECAMPUS_SMTP_URL must start with smtp://, smtp+starttls:// or smtps://, "
            f"not {parts.scheme + '://' if parts.scheme else 'nothing'}"
        )
    try:
        parts.port  # noqa: B018 - raises ValueError when the port is not one
    except ValueError:
        raise SettingsError("ECAMPUS_SMTP_URL's port must be a number from 1 to 65535") from None
    if not parts.hostname:
        raise SettingsError("ECAMPUS_SMTP_URL names no host, e.g. smtp://mail.example.org:25")


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///./ecampus.db"
    secret_key: str = DEV_SECRET_PLACEHOLDER
    environment: str = "development"
    courses_dir: Path = Path("courses")
    base_url: str = "http://127.0.0.1:8000"
    token_minutes: int = 60 * 12
    session_hours: float = 24 * 7
    cookie_secure: bool = False
    # Swagger UI at /docs (its files are served from static/vendor, under the site's policy).
    api_docs: bool = True
    default_language: str = "es"
    templates_dir: Path = field(default_factory=lambda: _data_dir("templates"))
    static_dir: Path = field(default_factory=lambda: _data_dir("static"))
    watch_courses: bool = True
    watch_seconds: float = 2.0
    db_queue_seconds: float = 10.0
    db_pool_size: int = 0  # 0: the default for the database (ecampus.db)
    # Who learners ask for another quiz attempt (an email, a web address or a short text).
    support_contact: str = ""
    rate_limit_url: str = ""
    rate_limit_exempt: str = ""
    forwarded_allow_ips: str = "127.0.0.1"
    max_body_bytes: int = 1_000_000
    max_upload_bytes: int = 20_000_000
    # The institution's calendar (IANA name): the day printed on certificates and the day
    # boundaries of report filters. Stored times stay UTC.
    timezone: str = DEFAULT_TIMEZONE
    # The name mail and pages sign with.
    site_name: str = "ecampus"
    # smtp://[user:password@]host:port, smtp+starttls://..., smtps://...; empty: mail waits.
    smtp_url: str = ""
    mail_from: str = ""  # default: no-reply@ the host of base_url
    # Where the loaded courses are kept between starts (ecampus.courses.cache); None: nowhere.
    cache_dir: Path | None = None

    def __post_init__(self) -> None:
        if self.smtp_url:
            _check_smtp_url(self.smtp_url)
        if self.environment not in ENVIRONMENTS:
            raise SettingsError(
                f"ECAMPUS_ENV must be one of {', '.join(ENVIRONMENTS)}, not {self.environment!r}"
            )
        try:
            _zone(self.timezone)
        except ValueError:
            raise SettingsError(
                f"ECAMPUS_TIMEZONE must be an IANA time zone name such as America/Guatemala "
                f"or UTC, not {self.timezone!r}"
            ) from None

    @property
    def zone(self) -> ZoneInfo:
        """The ECAMPUS_TIMEZONE zone (ZoneInfo keeps one instance per name)."""
        return _zone(self.timezone)

    def require_safe_secret(self) -> None:
        """Refuse to serve outside development with a default or short secret key."""
        if self.environment != "development" and (
            self.secret_key == DEV_SECRET_PLACEHOLDER or len(self.secret_key) < 32
        ):
            raise SettingsError(
                "ECAMPUS_SECRET_KEY must be set to a random value of at least 32 characters "
                "in production (python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        defaults = cls.__dataclass_fields__
        return cls(
            database_url=env.get("ECAMPUS_DATABASE_URL") or str(defaults["database_url"].default),
            secret_key=env.get("ECAMPUS_SECRET_KEY") or DEV_SECRET_PLACEHOLDER,
            environment=env.get("ECAMPUS_ENV") or "production",
            courses_dir=Path(env.get("ECAMPUS_COURSES_DIR") or "courses").resolve(),
            base_url=(env.get("ECAMPUS_BASE_URL") or "http://127.0.0.1:8000").rstrip("/"),
            token_minutes=int(_number(env, "ECAMPUS_TOKEN_MINUTES", 60 * 12, minimum=1)),
            session_hours=_number(env, "ECAMPUS_SESSION_HOURS", 24 * 7, minimum=1),
            # A site served over https sends its session cookie over https only.
            cookie_secure=_bool(
                env.get("ECAMPUS_COOKIE_SECURE"),
                default=(env.get("ECAMPUS_BASE_URL") or "").strip().lower().startswith("https://"),
            ),
            api_docs=_bool(
                env.get("ECAMPUS_API_DOCS"),
                default=(env.get("ECAMPUS_ENV") or "production") != "production",
            ),
            default_language=env.get("ECAMPUS_DEFAULT_LANGUAGE") or "es",
            watch_courses=_bool(env.get("ECAMPUS_WATCH_COURSES"), default=True),
            watch_seconds=_number(env, "ECAMPUS_WATCH_SECONDS", 2.0, minimum=0.1),
            db_queue_seconds=_number(env, "ECAMPUS_DB_QUEUE_SECONDS", 10.0, minimum=0.1),
            db_pool_size=int(_number(env, "ECAMPUS_DB_POOL_SIZE", 0, minimum=0)),
            support_contact=(env.get("ECAMPUS_SUPPORT_CONTACT") or "").strip(),
            rate_limit_url=(env.get("ECAMPUS_RATE_LIMIT_URL") or "").strip(),
            rate_limit_exempt=env.get("ECAMPUS_RATE_LIMIT_EXEMPT") or "",
            forwarded_allow_ips=(env.get("ECAMPUS_FORWARDED_ALLOW_IPS") or "127.0.0.1").strip(),
            max_body_bytes=int(_number(env, "ECAMPUS_MAX_BODY_BYTES", 1_000_000, minimum=1024)),
            max_upload_bytes=int(
                _number(env, "ECAMPUS_MAX_UPLOAD_BYTES", 20_000_000, minimum=1024)
            ),
            timezone=(env.get("ECAMPUS_TIMEZONE") or "").strip() or DEFAULT_TIMEZONE,
            site_name=(env.get("ECAMPUS_SITE_NAME") or "").strip() or "ecampus",
            smtp_url=(env.get("ECAMPUS_SMTP_URL") or "").strip(),
            mail_from=(env.get("ECAMPUS_MAIL_FROM") or "").strip(),
            cache_dir=_cache_dir(env),
        )


def _cache_dir(env: Mapping[str, str]) -> Path | None:
    """ECAMPUS_CACHE_DIR; `off` for none; by default systemd's CacheDirectory= (the
    CACHE_DIRECTORY it sets), else $XDG_CACHE_HOME/ecampus or ~/.cache/ecampus, except
    under ECAMPUS_ENV=test."""
    raw = (env.get("ECAMPUS_CACHE_DIR") or "").strip()
    if raw.lower() in {"off", "none", "false", "0"}:
        return None
    if raw:
        return Path(raw).expanduser().resolve()
    if (env.get("ECAMPUS_ENV") or "production") == "test":
        return None
    if env.get("CACHE_DIRECTORY"):  # systemd: the first of its colon-separated folders
        return Path(env["CACHE_DIRECTORY"].split(":")[0]).resolve()
    base = env.get("XDG_CACHE_HOME") or ""
    if not base:
        home = env.get("HOME") or ""
        if not home:
            return None
        base = os.path.join(home, ".cache")
    return Path(base).resolve() / "ecampus"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()
