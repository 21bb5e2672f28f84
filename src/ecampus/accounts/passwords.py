"""Password hashing (argon2 via pwdlib). Callers run these in a worker thread."""

from __future__ import annotations

from functools import lru_cache

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

MIN_LENGTH = 8
MAX_LENGTH = 256
# The password_hash of an account that has no password yet (invited, not yet in): no
# password verifies against it; the invitation link sets the first one.
NO_PASSWORD = ""


@lru_cache(maxsize=1)
def _hasher() -> PasswordHash:
    return PasswordHash((Argon2Hasher(),))


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def has_password(password_hash: str) -> bool:
    return password_hash != NO_PASSWORD


def verify_password(password: str, password_hash: str) -> bool:
    if not has_password(password_hash):
        burn_time(password)  # as long as a real check: no telling invited accounts apart
        return False
    try:
        return _hasher().verify(password, password_hash)
    except Exception:
        return False


# Verifying against a real hash when the account does not exist keeps login time the same
# for known and unknown emails.
_DUMMY_HASH: str | None = None


def burn_time(password: str) -> None:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password("not-a-real-password")
    verify_password(password, _DUMMY_HASH)
