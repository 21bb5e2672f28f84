"""Forged tokens get nothing: 401 from the API, the login page from pages.

Each forgery is built by hand (header, claims, signature) from a real session's claims, so the
only thing wrong with it is the thing under test; the control, built the same way with the real
key, is accepted, which proves the forgeries fail for their flaw and not for the harness.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from ecampus.settings import DEV_SECRET_PLACEHOLDER
from ecampus.web.sessions import SESSION_COOKIE
from tests.security.world import COURSE, LESSON, World

HS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def part(value: dict[str, Any]) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


def unverified(token: str) -> dict[str, Any]:
    body = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return claims


def hs(claims: dict[str, Any], key: str | bytes, alg: str = "HS256", **header: Any) -> str:
    signing = f"{part({'alg': alg, 'typ': 'JWT', **header})}.{part(claims)}"
    raw = key.encode() if isinstance(key, str) else key
    return f"{signing}.{b64(hmac.new(raw, signing.encode(), HS[alg]).digest())}"


def unsigned(claims: dict[str, Any], alg: str = "none", dot: bool = True) -> str:
    return f"{part({'alg': alg, 'typ': 'JWT'})}.{part(claims)}" + ("." if dot else "")


def rs256(claims: dict[str, Any]) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signing = f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}"
    signature = key.sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing}.{b64(signature)}"


def es256(claims: dict[str, Any]) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    signing = f"{part({'alg': 'ES256', 'typ': 'JWT'})}.{part(claims)}"
    r, s = decode_dss_signature(key.sign(signing.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def forgeries(world: World) -> dict[str, str]:
    """Tokens that claim the admin's account (or the learner's, for tampering), each with one
    flaw."""
    secret = world.secret
    admin = unverified(world.callers["admin"].token)
    learner_token = world.callers["learner"].token
    learner = unverified(learner_token)
    now = int(time.time())
    head, _body, signature = learner_token.split(".")
    without = lambda name: {k: v for k, v in admin.items() if k != name}  # noqa: E731
    return {
        "alg none": unsigned(admin),
        "alg None": unsigned(admin, "None"),
        "alg NONE, no trailing dot": unsigned(admin, "NONE", dot=False),
        "alg none with the real signature kept": f"{unsigned(admin)}{signature}",
        "key ''": hs(admin, ""),
        "key 'secret'": hs(admin, "secret"),
        "key of the dev placeholder": hs(admin, DEV_SECRET_PLACEHOLDER),
        "key 'changeme'": hs(admin, "changeme"),
        "key: the real one minus its last character": hs(admin, secret[:-1]),
        "learner's signature on the admin's sub": f"{head}.{part({**learner, 'sub': admin['sub']})}.{signature}",
        "learner's signature with a role claim": f"{head}.{part({**learner, 'role': 'admin'})}.{signature}",
        "learner's signature, sid and sub of the admin": f"{head}.{part({**learner, 'sub': admin['sub'], 'sid': admin['sid']})}.{signature}",
        "HS384 with the real key": hs(admin, secret, "HS384"),
        "HS512 with the real key": hs(admin, secret, "HS512"),
        "header RS256 over an HS256 signature": hs(admin, secret).replace(
            part({"alg": "HS256", "typ": "JWT"}), part({"alg": "RS256", "typ": "JWT"}), 1
        ),
        "RS256 with an attacker's key": rs256(admin),
        "ES256 with an attacker's key": es256(admin),
        "header with an attacker's jwk": hs(admin, "k", jwk={"kty": "oct", "k": b64(b"k")}),
        "header with a kid path": hs(admin, "", kid="../../../../dev/null"),
        "expired": hs({**admin, "iat": now - 7200, "exp": now - 3600}, secret),
        "no exp": hs(without("exp"), secret),
        "nbf in the future": hs({**admin, "nbf": now + 3600}, secret),
        "wrong iss": hs({**admin, "iss": "https://evil.example"}, secret),
        "no iss": hs(without("iss"), secret),
        "wrong aud": hs({**admin, "aud": "ecampus:reset"}, secret),
        "no aud": hs(without("aud"), secret),
        "no jti": hs(without("jti"), secret),
        "no sid": hs(without("sid"), secret),
        "sid of no session": hs({**admin, "sid": "x" * 32}, secret),
        "the admin's sub on the learner's session": hs({**learner, "sub": admin["sub"]}, secret),
        "sub not a number": hs({**admin, "sub": "admin"}, secret),
        "sub of no account": hs({**admin, "sub": "999999"}, secret),
        "sub zero": hs({**admin, "sub": "0"}, secret),
        "sub negative": hs({**admin, "sub": "-1"}, secret),
        "sub too large for the database": hs({**admin, "sub": "9" * 40}, secret),
        "exp not a number": hs({**admin, "exp": "tomorrow"}, secret),
        "garbage": "garbage",
        "three empty parts": "..",
        "bad base64": "@@@.###.$$$",
        "a very long token": "a" * 8000 + "." + "b" * 8000 + "." + "c" * 100,
    }


def control(world: World) -> str:
    """The admin's own claims with a new jti, signed as the server signs: accepted."""
    admin = unverified(world.callers["admin"].token)
    return hs({**admin, "jti": "control"}, world.secret)


Check = Callable[[Any], bool]


def to_login(response: Any) -> bool:
    return response.status_code == 303 and response.headers["location"].startswith("/login")


# Where a token is read: the API's dependency, the pages' dependency, and the lesson page's
# own path (it checks the session inside its query).
TARGETS: list[tuple[str, str, Check]] = [
    (
        "api",
        "/api/v1/me",
        lambda r: r.status_code == 401 and r.headers["www-authenticate"] == "Bearer",
    ),
    ("api", "/api/v1/users", lambda r: r.status_code == 401),
    ("api", f"/api/v1/courses/{COURSE}/progress", lambda r: r.status_code == 401),
    ("page", "/me", to_login),
    ("page", "/coordinator", to_login),
    ("page", f"/courses/{COURSE}/items/{LESSON}", to_login),
    # htmx follows HX-Redirect instead of a 303.
    (
        "htmx",
        "/me",
        lambda r: r.status_code == 204 and r.headers["hx-redirect"].startswith("/login"),
    ),
]


def attempt(world: World, where: str, path: str, token: str) -> Any:
    header = (
        {"Authorization": f"Bearer {token}"}
        if where == "api"
        else {"Cookie": f"{SESSION_COOKIE}={token}"}
    )
    if where == "htmx":
        header["HX-Request"] = "true"
    try:
        return world.client.get(path, headers=header)
    finally:
        world.client.cookies.clear()


def test_forged_tokens_get_nothing(world: World) -> None:
    good = control(world)
    for where, path, refused in TARGETS:
        response = attempt(world, where, path, good)
        assert response.status_code < 500, (path, response.text[:200])
        assert not refused(response), (path, response.text[:200])
    problems = []
    for name, token in forgeries(world).items():
        for where, path, refused in TARGETS:
            response = attempt(world, where, path, token)
            if not refused(response):
                problems.append(f"{name} on {path}: {response.status_code} {response.text[:120]}")
    assert not problems, "\n".join(problems)
    forged_cookie_cannot_post(world)


def forged_cookie_cannot_post(world: World) -> None:
    """A forged cookie with a CSRF token computed for its (stolen) session id still posts
    nothing: the session check comes first."""
    admin = unverified(world.callers["admin"].token)
    token = hs(admin, "secret")
    response = world.client.post(
        "/coordinator/cohorts",
        headers={
            "Cookie": f"{SESSION_COOKIE}={token}",
            "X-CSRF-Token": world.callers["admin"].csrf,
        },
        data={"action": "create", "code": "FORGED", "name": "Forged"},
    )
    world.client.cookies.clear()
    assert response.status_code in (303, 403), response.text[:200]
    listed = world.client.get(
        "/api/v1/cohorts", headers={"Authorization": f"Bearer {world.callers['admin'].token}"}
    ).json()
    assert "FORGED" not in {c["code"] for c in listed}
