"""JWT access tokens and CSRF tokens. The only module that imports jose."""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from jose import JWTError, jwt

ALGORITHM = "HS256"
ALGORITHMS = [ALGORITHM]  # always pinned: never trust the token's own header


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, read from the token alone (no database round-trip)."""

    user_id: int
    role: str
    name: str
    language: str
    email: str
    token_id: str
    expires_at: int = 0

    def has_role(self, *roles: str) -> bool:
        return self.role in roles or self.role == "admin"


def create_access_token(
    *,
    secret: str,
    user_id: int,
    role: str,
    name: str,
    language: str,
    email: str,
    minutes: int,
    now: datetime | None = None,
) -> tuple[str, int]:
    """Return the signed token and its lifetime in seconds."""
    issued = now or datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "role": role,
        "name": name,
        "lang": language,
        "email": email,
        "iat": int(issued.timestamp()),
        "exp": int((issued + timedelta(minutes=minutes)).timestamp()),
        "jti": hashlib.sha256(f"{user_id}:{issued.timestamp()}".encode()).hexdigest()[:16],
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM), minutes * 60


def decode_access_token(token: str, *, secret: str) -> Principal | None:
    """A Principal for a valid, unexpired token; None for anything else."""
    principal = _decode_cached(token, secret)
    if principal is None or principal.expires_at <= time.time():
        return None
    return principal


@lru_cache(maxsize=4096)
def _decode_cached(token: str, secret: str) -> Principal | None:
    # Verifying a signature costs more than the rest of a lesson page's logic; a browser
    # sends the same token on every request, so each one is verified once per process.
    # Expiry is still checked on every call, by decode_access_token.
    try:
        claims = jwt.decode(token, secret, algorithms=ALGORITHMS)
        return Principal(
            user_id=int(claims["sub"]),
            role=str(claims["role"]),
            name=str(claims.get("name", "")),
            language=str(claims.get("lang", "es")),
            email=str(claims.get("email", "")),
            token_id=str(claims.get("jti", "")),
            expires_at=int(claims["exp"]),
        )
    except (JWTError, KeyError, ValueError, TypeError):
        return None


def csrf_token(*, secret: str, token_id: str) -> str:
    """A CSRF token bound to one login session (the JWT's id)."""
    return hmac.new(secret.encode(), f"csrf:{token_id}".encode(), hashlib.sha256).hexdigest()[:32]


def csrf_ok(candidate: str | None, *, secret: str, token_id: str) -> bool:
    if not candidate:
        return False
    return hmac.compare_digest(candidate, csrf_token(secret=secret, token_id=token_id))
