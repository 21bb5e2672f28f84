"""Accounts: create, authenticate, change roles. No HTTP here."""

from __future__ import annotations

import contextlib
import unicodedata

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from ecampus.accounts import passwords
from ecampus.accounts.models import Role, User
from ecampus.accounts.schemas import RegisterIn
from ecampus.audit.service import Actor, record

# RFC 5321's limit for a whole address (the users table holds as much).
MAX_EMAIL_LENGTH = 254


class EmailTaken(ValueError):
    pass


def normalise_email(email: str) -> str:
    """One spelling per address, for storing and for every lookup: NFC (an "é" typed as e and
    a combining accent is the same "é"), the domain in Unicode whether typed so or in
    punycode (IDNA), lower case."""
    cleaned = unicodedata.normalize("NFC", email.strip())
    if len(cleaned) > MAX_EMAIL_LENGTH:
        return cleaned.lower()  # no address is this long, and parsing one would take seconds
    # Not an address: looked up as typed, it finds nothing.
    with contextlib.suppress(EmailNotValidError):
        cleaned = validate_email(cleaned, check_deliverability=False).normalized
    return cleaned.lower()


def get_by_email(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == normalise_email(email))).first()


def create_user(session: Session, *, data: RegisterIn, role: Role = Role.learner) -> User:
    """Create an account; the slow password hash is the caller's to keep off the event loop."""
    email = normalise_email(str(data.email))
    if get_by_email(session, email) is not None:
        raise EmailTaken(email)
    user = User(
        email=email,
        password_hash=passwords.hash_password(data.password),
        full_name=data.full_name,
        institution=data.institution,
        institution_type=data.institution_type.value,
        country=data.country,
        language=data.language,
        role=role.value,
    )
    session.add(user)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise EmailTaken(email) from None
    session.refresh(user)
    return user


def authenticate(session: Session, *, email: str, password: str) -> User | None:
    user = find_for_sign_in(session, email=email)
    return user if password_matches(user, password) else None


def find_for_sign_in(session: Session, *, email: str) -> User | None:
    """The active account that may sign in with this email, read in a transaction that ends
    here, so the slow password check that follows holds no database connection."""
    user = get_by_email(session, email)
    session.commit()  # ends the read; the session keeps the loaded account (no expiry)
    return user if user is not None and user.is_active else None


def password_matches(user: User | None, password: str) -> bool:
    """The slow part of a sign-in (argon2). Unknown accounts take the same time."""
    if user is None:
        passwords.burn_time(password)
        return False
    return passwords.verify_password(password, user.password_hash)


def set_role(
    session: Session, *, email: str, role: Role, actor: Actor | str | None = None
) -> User | None:
    """Change an account's role, audit-logged (as "account.role", from and to) with the
    change; `actor` is the admin, or "cli". Commits."""
    user = get_by_email(session, email)
    if user is None:
        return None
    if user.role != role.value:
        record(session, actor, "account.role", user.email, {"from": user.role, "to": role.value})
    user.role = role.value
    session.add(user)
    session.commit()
    return user


def update_profile(
    session: Session,
    *,
    user: User,
    full_name: str,
    institution: str,
    institution_type: str,
    country: str,
    language: str,
) -> User:
    user.full_name = full_name
    user.institution = institution
    user.institution_type = institution_type
    user.country = country
    user.language = language
    session.add(user)
    session.commit()
    return user


def list_users(session: Session, *, limit: int = 500) -> list[User]:
    return list(session.exec(select(User).order_by(col(User.id)).limit(limit)))
