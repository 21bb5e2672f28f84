"""Credential signing keys (ES256, P-256): generate, rotate, publish, load.

The newest unretired key signs; every key, retired or not, stays in the JWKS so that what
it signed keeps verifying. The private half is stored as PKCS#8 PEM encrypted with a
password derived from ECAMPUS_SECRET_KEY, so a copy of the database alone (a backup, a
dump) cannot sign credentials. A changed secret key leaves the stored key unreadable:
`ecampus keys rotate` then retires it (its public half stays published) and makes a new one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select
from sqlmodel import Session, col

from ecampus.audit.service import record
from ecampus.certificates.models import SigningKey

ALGORITHM = "ES256"
CURVE = "P-256"


class NoSigningKey(RuntimeError):
    """No current key: an operator runs `ecampus keys generate`."""


class UnreadableKey(RuntimeError):
    """The current key was encrypted under another ECAMPUS_SECRET_KEY."""


@dataclass(frozen=True, slots=True)
class Signer:
    kid: str
    key: ec.EllipticCurvePrivateKey


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _password(secret: str) -> bytes:
    # A key of its own, derived from the secret, so the PEM password is never the secret.
    return hmac.new(secret.encode(), b"ecampus:signing-keys", hashlib.sha256).hexdigest().encode()


def public_jwk(key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    """The public JWK, with `kid` its RFC 7638 thumbprint (SHA-256)."""
    numbers = key.public_numbers()
    members = {
        "crv": CURVE,
        "kty": "EC",
        "x": _b64(numbers.x.to_bytes(32, "big")),
        "y": _b64(numbers.y.to_bytes(32, "big")),
    }
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    kid = _b64(hashlib.sha256(canonical).digest())
    return {**members, "kid": kid, "alg": ALGORITHM, "use": "sig"}


def _new_key(secret: str, now: datetime) -> SigningKey:
    private = ec.generate_private_key(ec.SECP256R1())
    jwk = public_jwk(private.public_key())
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(_password(secret)),
    ).decode("ascii")
    return SigningKey(
        kid=jwk["kid"], algorithm=ALGORITHM, private_pem=pem, public_jwk=jwk, created_at=now
    )


def current(session: Session) -> SigningKey | None:
    """The key that signs: the newest one not retired."""
    return session.scalars(
        select(SigningKey)
        .where(col(SigningKey.retired_at).is_(None))
        .order_by(col(SigningKey.created_at).desc(), col(SigningKey.kid))
    ).first()


def all_keys(session: Session) -> list[SigningKey]:
    return list(
        session.scalars(select(SigningKey).order_by(col(SigningKey.created_at), SigningKey.kid))
    )


def generate(session: Session, *, secret: str, actor: str = "cli") -> tuple[SigningKey, bool]:
    """The current key, creating one when there is none; True when it was created."""
    existing = current(session)
    if existing is not None:
        return existing, False
    key = _new_key(secret, datetime.now(UTC))
    session.add(key)
    record(session, actor, "signing_key.generate", key.kid, {"algorithm": ALGORITHM})
    session.commit()
    session.refresh(key)
    return key, True


def rotate(session: Session, *, secret: str, actor: str = "cli") -> tuple[SigningKey, list[str]]:
    """Retire every current key and make a new one, together; returns the new key and the
    kids retired. Retired keys stay published."""
    now = datetime.now(UTC)
    retired = []
    for old in session.scalars(select(SigningKey).where(col(SigningKey.retired_at).is_(None))):
        old.retired_at = now
        session.add(old)
        retired.append(old.kid)
    key = _new_key(secret, now)
    session.add(key)
    record(session, actor, "signing_key.rotate", key.kid, {"retired": retired})
    session.commit()
    session.refresh(key)
    return key, retired


def jwks(session: Session) -> dict[str, Any]:
    """The JSON Web Key Set: the public half of every key, current and retired."""
    return {"keys": [dict(key.public_jwk) for key in all_keys(session)]}


@lru_cache(maxsize=16)
def _load(pem: str, secret: str) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(pem.encode("ascii"), password=_password(secret))
    if not isinstance(key, ec.EllipticCurvePrivateKey):  # pragma: no cover - we wrote it
        raise UnreadableKey("the stored signing key is not an EC key")
    return key


def signer(session: Session, *, secret: str) -> Signer:
    """The current key, ready to sign; NoSigningKey or UnreadableKey when it cannot."""
    stored = current(session)
    if stored is None:
        raise NoSigningKey("no credential signing key: run `ecampus keys generate`")
    try:
        key = _load(stored.private_pem, secret)
    except (ValueError, TypeError):
        raise UnreadableKey(
            f"the signing key {stored.kid} was stored under another ECAMPUS_SECRET_KEY: "
            "run `ecampus keys rotate`"
        ) from None
    return Signer(kid=stored.kid, key=key)
