from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

from jose import jwt

from ecampus.accounts import passwords, tokens

SECRET = "s" * 40


def make(**overrides: object) -> str:
    values = {
        "secret": SECRET, "user_id": 7, "role": "learner", "name": "Ana", "language": "es",
        "email": "ana@example.org", "minutes": 5,
    }  # fmt: skip
    values.update(overrides)
    return tokens.create_access_token(**values)[0]  # type: ignore[arg-type]


def test_round_trip() -> None:
    principal = tokens.decode_access_token(make(), secret=SECRET)
    assert principal is not None
    assert (principal.user_id, principal.role, principal.name) == (7, "learner", "Ana")


def test_rejects_expired_forged_and_unsigned_tokens() -> None:
    past = datetime.now(UTC) - timedelta(hours=1)
    assert tokens.decode_access_token(make(now=past), secret=SECRET) is None
    assert tokens.decode_access_token(make(), secret="other" * 10) is None
    claims = {"sub": "1", "role": "admin", "exp": 4102444800}
    unsigned = (
        ".".join(
            base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()
            for part in ({"alg": "none", "typ": "JWT"}, claims)
        )
        + "."
    )
    assert tokens.decode_access_token(unsigned, secret=SECRET) is None
    hs512 = jwt.encode(claims, SECRET, algorithm="HS512")
    assert tokens.decode_access_token(hs512, secret=SECRET) is None  # algorithm is pinned
    assert tokens.decode_access_token("garbage", secret=SECRET) is None


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
