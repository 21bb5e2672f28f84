"""JWT access tokens, CSRF tokens and the signature of credentials (VC-JWT). The only
module that imports jose, so a change of JOSE library touches this file alone."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey
from jose import JWTError, jwt

ALGORITHM = "HS256"
ALGORITHMS = [ALGORITHM]  # always pinned: never trust the token's own header
AUDIENCE = "ecampus:session"  # other signed things (reset links, credentials) use their own
_REQUIRED = ("exp", "iat", "iss", "aud", "sub", "jti")
# Credentials (Open Badges VC-JWTs, status lists) are signed with an asymmetric key whose
# public half anyone can fetch; verifiers pin the same algorithm.
CREDENTIAL_ALGORITHM = "ES256"


@dataclass(frozen=True, slots=True)
class Claims:
    """What a valid access token says. Who the caller is, and whether the session still
    counts, is read from the database (see accounts.sessions)."""

    user_id: int
    session_id: str
    token_id: str
    language: str
    issued_at: int
    expires_at: int


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the account as stored now, reached through a live session."""

    user_id: int
    role: str
    name: str
    language: str
    email: str
    # The sign-in session's id (stable while its tokens are renewed): CSRF tokens are bound
    # to it, so forms opened before a renewal still post.
    token_id: str
    expires_at: int = 0

    def has_role(self, *roles: str) -> bool:
        return self.role in roles or self.role == "admin"


def create_access_token(
    *,
    secret: str,
    issuer: str,
    user_id: int,
    session_id: str,
    language: str,
    minutes: int,
    not_after: datetime | None = None,
    now: datetime | None = None,
) -> tuple[str, int]:
    """Return the signed token and its lifetime in seconds (never past `not_after`)."""
    issued = now or datetime.now(UTC)
    expires = issued + timedelta(minutes=minutes)
    if not_after is not None:
        expires = min(expires, not_after)
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": AUDIENCE,
        "sub": str(user_id),
        "sid": session_id,
        "jti": secrets.token_urlsafe(12),
        "lang": language,  # a hint for the language of pages, never for access
        "iat": int(issued.timestamp()),
        "exp": int(expires.timestamp()),
    }
    lifetime = max(int(expires.timestamp()) - int(issued.timestamp()), 0)
    return jwt.encode(claims, secret, algorithm=ALGORITHM), lifetime


def decode_access_token(token: str, *, secret: str, issuer: str) -> Claims | None:
    """The claims of a well-signed, unexpired token of ours; None for anything else."""
    claims = _decode_cached(token, secret, issuer)
    if claims is None or claims.expires_at <= time.time():
        return None
    return claims


@lru_cache(maxsize=4096)
def _decode_cached(token: str, secret: str, issuer: str) -> Claims | None:
    # Verifying a signature costs more than the rest of a lesson page's logic; a browser
    # sends the same token on every request, so each one is verified once per process.
    # Expiry is still checked on every call, by decode_access_token.
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=ALGORITHMS,
            audience=AUDIENCE,
            issuer=issuer,
            options={f"require_{name}": True for name in _REQUIRED},
        )
        session_id = claims["sid"]
        user_id = int(claims["sub"])
        # Ids are positive 64-bit integers: anything else would make the session query fail.
        if not isinstance(session_id, str) or not session_id or not 0 < user_id < 2**63:
            return None
        return Claims(
            user_id=user_id,
            session_id=session_id,
            token_id=str(claims["jti"]),
            language=str(claims.get("lang", "")),
            issued_at=int(claims["iat"]),
            expires_at=int(claims["exp"]),
        )
    except (JWTError, KeyError, ValueError, TypeError):
        return None


def sign_credential(
    claims: dict[str, Any], *, key: EllipticCurvePrivateKey, kid: str, media_type: str
) -> str:
    """A compact JWS of `claims` signed ES256, naming its key (`kid`, published in the
    JWKS) and its media type (`typ`, e.g. vc+jwt) in the protected header."""
    return jwt.encode(
        claims, key, algorithm=CREDENTIAL_ALGORITHM, headers={"kid": kid, "typ": media_type}
    )


def new_session_id() -> str:
    return secrets.token_urlsafe(24)  # 32 characters, 192 random bits


def csrf_token(*, secret: str, token_id: str) -> str:
    """A CSRF token bound to one login session (the JWT's id)."""
    return _keyed(secret, f"csrf:{token_id}")[:32]


def csrf_ok(candidate: str | None, *, secret: str, token_id: str) -> bool:
    if not candidate:
        return False
    return hmac.compare_digest(candidate, csrf_token(secret=secret, token_id=token_id))


def draft_key(*, secret: str, user_id: int) -> str:
    """A per-account name for quiz drafts kept in the browser: stable, and not the id."""
    return _keyed(secret, f"drafts:{user_id}")[:16]


# Every page asks for both (a learner reads page after page in one session): kept for the
# sessions and accounts seen lately instead of two HMACs per request.
@lru_cache(maxsize=8192)
def _keyed(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
