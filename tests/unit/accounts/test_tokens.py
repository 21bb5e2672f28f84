from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

from jose import jwt

from ecampus.accounts import passwords, tokens

SECRET = "s" * 40
ISSUER = "https://campus.example.org"


def make(**overrides: object) -> str:
    values = {
        "secret": SECRET, "issuer": ISSUER, "user_id": 7, "session_id": "s" * 32,
        "language": "es", "minutes": 5,
    }  # fmt: skip
    values.update(overrides)
    return tokens.create_access_token(**values)[0]  # type: ignore[arg-type]


def decode(token: str) -> tokens.Claims | None:
    return tokens.decode_access_token(token, secret=SECRET, issuer=ISSUER)


def test_round_trip() -> None:
    claims = decode(make())
    assert claims is not None
    assert (claims.user_id, claims.session_id, claims.language) == (7, "s" * 32, "es")
    assert claims.expires_at - claims.issued_at == 300


def test_tokens_carry_issuer_audience_and_a_unique_id() -> None:
    token = make()
    raw = jwt.get_unverified_claims(token)
    assert raw["iss"] == ISSUER
    assert raw["aud"] == tokens.AUDIENCE
    assert "role" not in raw  # roles are read from the account, never from a token
    assert raw["jti"]
    assert raw["jti"] != jwt.get_unverified_claims(make())["jti"]
    assert tokens.decode_access_token(token, secret=SECRET, issuer="https://other.example") is None
    # The same secret signing something for another audience (or none) is not a session.
    for audience in ("ecampus:reset", None):
        claims = {k: v for k, v in raw.items() if k != "aud"}
        if audience:
            claims["aud"] = audience
        assert decode(jwt.encode(claims, SECRET, algorithm="HS256")) is None
    for missing in ("iss", "jti", "sid", "sub", "exp", "iat"):
        claims = {k: v for k, v in raw.items() if k != missing}
        assert decode(jwt.encode(claims, SECRET, algorithm="HS256")) is None, missing


def test_a_token_never_outlives_its_session() -> None:
    now = datetime.now(UTC)
    claims = decode(make(minutes=600, not_after=now + timedelta(minutes=2), now=now))
    assert claims is not None
    assert claims.expires_at == int((now + timedelta(minutes=2)).timestamp())


def test_rejects_expired_forged_and_unsigned_tokens() -> None:
    past = datetime.now(UTC) - timedelta(hours=1)
    assert decode(make(now=past)) is None
    assert tokens.decode_access_token(make(), secret="other" * 10, issuer=ISSUER) is None
    claims = {"sub": "1", "role": "admin", "exp": 4102444800, "iss": ISSUER,
              "aud": tokens.AUDIENCE, "sid": "x", "jti": "y", "iat": 0}  # fmt: skip
    unsigned = (
        ".".join(
            base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()
            for part in ({"alg": "none", "typ": "JWT"}, claims)
        )
        + "."
    )
    assert decode(unsigned) is None
    hs512 = jwt.encode(claims, SECRET, algorithm="HS512")
    assert decode(hs512) is None  # algorithm is pinned
    assert decode(jwt.encode(claims, SECRET, algorithm="HS256")) is not None  # the control
    future = jwt.encode({**claims, "nbf": 4102444000}, SECRET, algorithm="HS256")
    assert decode(future) is None
    assert decode("garbage") is None


def test_csrf_token_is_bound_to_the_session() -> None:
    token = tokens.csrf_token(secret=SECRET, token_id="abc")
    assert tokens.csrf_ok(token, secret=SECRET, token_id="abc")
    assert not tokens.csrf_ok(token, secret=SECRET, token_id="abd")
    assert not tokens.csrf_ok(None, secret=SECRET, token_id="abc")


def test_passwords() -> None:
    hashed = passwords.hash_password("correct horse")
    assert hashed.startswith("$argon2")
    assert passwords.verify_password("correct horse", hashed)
    assert not passwords.verify_password("wrong", hashed)
    assert not passwords.verify_password("x", "not-a-hash")


def test_draft_keys_are_per_account_and_do_not_show_the_id() -> None:
    key = tokens.draft_key(secret=SECRET, user_id=7)
    assert key == tokens.draft_key(secret=SECRET, user_id=7)
    assert key != tokens.draft_key(secret=SECRET, user_id=8)
    assert key != tokens.draft_key(secret="t" * 40, user_id=7)  # not guessable from the id
