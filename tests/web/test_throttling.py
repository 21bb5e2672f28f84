"""Sign-in, registration and password-reset throttling: 429 with Retry-After, per account and
per address, shared between processes through Redis, keyed on the address uvicorn trusts."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from limits import parse
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from ecampus import ratelimit
from ecampus.app import create_app
from ecampus.ratelimit import Limits, RateLimiter
from ecampus.settings import Settings
from tests import factories
from tests.conftest import ROOT, make_settings, skip_or_fail
from tests.web.test_pages import csrf

REDIS_URL = os.environ.get("ECAMPUS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
DEFAULTS = Limits()
# Most tests run with smaller limits of the same shape: every failed sign-in costs a
# deliberately slow password hash.
SMALL = Limits(
    signin_account=parse("3 per 15 minutes"),
    signin_known_device=parse("3 per 15 minutes"),
    signin_address_failures=parse("6 per 15 minutes"),
    signin_address_attempts=parse("12 per 15 minutes"),
    registration=parse("4 per hour"),
    password_reset=parse("3 per hour"),
)
PER_ACCOUNT = SMALL.signin_account.amount
PER_ADDRESS = SMALL.signin_address_failures.amount
REGISTRATIONS = SMALL.registration.amount


def small_limits(app: FastAPI, settings: Settings) -> FastAPI:
    app.state.limiter = RateLimiter(
        settings.rate_limit_url,
        key_secret=settings.secret_key,
        limits=SMALL,
        exempt=settings.rate_limit_exempt,
    )
    return app


@pytest.fixture
def small(settings: Settings) -> Iterator[TestClient]:
    """The app with SMALL limits, reached from an address of its own."""
    app = small_limits(create_app(settings), settings)
    with TestClient(app, client=(new_address(), 50000)) as client:
        yield client


def new_address() -> str:
    """An address no other test (or earlier run, for Redis) has counted."""
    a, b, c = uuid.uuid4().bytes[:3]
    return f"10.{a}.{b}.{c}"


def wrong(client: TestClient, email: str, **kwargs: Any) -> Any:
    return client.post(
        "/api/v1/auth/token", data={"username": email, "password": "not the password"}, **kwargs
    )


def assert_throttled(response: Any, *, window: int = 15 * 60) -> int:
    assert response.status_code == 429, response.text
    retry_after = int(response.headers["retry-after"])
    assert 0 < retry_after <= window
    return retry_after


def test_wrong_passwords_are_throttled_per_account_over_the_api(client: TestClient) -> None:
    # The product's own limit, not a small one: the figure the operator guide gives.
    learner = factories.register(client)
    for _ in range(DEFAULTS.signin_account.amount):
        assert wrong(client, learner["email"]).status_code == 401
    refused = wrong(client, learner["email"])
    assert_throttled(refused)
    assert refused.json()["detail"].startswith("Too many attempts: try again in 15 minutes")
    # Past the limit the password is not even checked: the right one is refused too, so a
    # 429 tells an attacker nothing; the same account in another case is the same account.
    right = client.post(
        "/api/v1/auth/token",
        data={"username": learner["email"].upper(), "password": learner["password"]},
    )
    assert_throttled(right)
    # Other accounts from the same address are not held by this one's limit.
    other = factories.register(client)
    assert factories.token(client, other["email"], other["password"])


def test_simultaneous_guesses_cannot_slip_past_the_account_limit(small: TestClient) -> None:
    learner = factories.register(small)
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda _: wrong(small, learner["email"]).status_code, range(10)))
    assert sorted(answers) == [401] * PER_ACCOUNT + [429] * (10 - PER_ACCOUNT)


def test_a_successful_sign_in_clears_the_account_counter(small: TestClient) -> None:
    learner = factories.register(small)
    for _ in range(PER_ACCOUNT - 1):
        assert wrong(small, learner["email"]).status_code == 401
    assert factories.token(small, learner["email"], learner["password"])
    for _ in range(PER_ACCOUNT):
        assert wrong(small, learner["email"]).status_code == 401
    assert_throttled(wrong(small, learner["email"]))


def page_login(client: TestClient, email: str, password: str) -> Any:
    token = csrf(client.get("/login").text)
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token, "next": "/me"},
        follow_redirects=False,
    )


def test_the_login_page_answers_429_in_the_readers_language(small: TestClient) -> None:
    learner = factories.register(small)
    for _ in range(PER_ACCOUNT):
        assert page_login(small, learner["email"], "equivocada").status_code == 400
    refused = page_login(small, learner["email"], learner["password"])
    assert_throttled(refused)
    assert "Demasiados intentos. Vuelva a intentarlo dentro de 15 minutos." in refused.text
    assert 'role="alert"' in refused.text
    assert refused.headers["content-type"].startswith("text/html")
    small.cookies.set("ecampus_lang", "en")
    english = page_login(small, learner["email"], learner["password"])
    assert_throttled(english)
    assert "Too many attempts. Please try again in 15 minutes." in english.text


def test_the_owners_browser_still_signs_in_while_an_attacker_fills_the_counter(
    settings: Settings,
) -> None:
    app = small_limits(create_app(settings), settings)
    with (
        TestClient(app, client=(new_address(), 50000)) as owner,
        TestClient(app, client=(new_address(), 50000)) as attacker,
    ):
        learner = factories.register(owner)
        signed_in = page_login(owner, learner["email"], learner["password"])
        assert signed_in.status_code == 303
        assert "ecampus_device=" in signed_in.headers["set-cookie"]
        owner.cookies.delete("ecampus_session")  # signed out; the device cookie stays

        for _ in range(PER_ACCOUNT):
            assert wrong(attacker, learner["email"]).status_code == 401
        assert_throttled(wrong(attacker, learner["email"]))
        # A forged device cookie does not help the attacker.
        attacker.cookies.set("ecampus_device", "0" * 64)
        assert_throttled(wrong(attacker, learner["email"]))

        assert page_login(owner, learner["email"], learner["password"]).status_code == 303
        # The owner's browsers have a counter of their own: typos there are limited too.
        for _ in range(SMALL.signin_known_device.amount):
            assert page_login(owner, learner["email"], "typo").status_code == 400
        assert_throttled(page_login(owner, learner["email"], learner["password"]))


def behind_proxy(settings: Settings, peer: str) -> TestClient:
    """The app behind uvicorn's ProxyHeadersMiddleware trusting ECAMPUS_FORWARDED_ALLOW_IPS,
    as `ecampus serve` runs it, reached from `peer`."""
    app = small_limits(create_app(settings), settings)
    proxied = ProxyHeadersMiddleware(app, trusted_hosts=settings.forwarded_allow_ips)  # type: ignore[arg-type]
    return TestClient(proxied, client=(peer, 40000))  # type: ignore[arg-type]


def test_per_address_limit_spans_accounts_and_per_account_limit_spans_addresses(
    settings: Settings,
) -> None:
    with behind_proxy(settings, "127.0.0.1") as proxy:  # the default trusted proxy
        # Password spraying: one address, a different account each time.
        sprayer = {"X-Forwarded-For": new_address()}
        for n in range(PER_ADDRESS):
            response = wrong(proxy, f"nobody{n}@example.org", headers=sprayer)
            assert response.status_code == 401, n
        learner = factories.register(proxy)
        assert_throttled(
            proxy.post(
                "/api/v1/auth/token",
                data={"username": learner["email"], "password": learner["password"]},
                headers=sprayer,
            )
        )
        # The same account from another address is fine.
        assert factories.token(proxy, learner["email"], learner["password"])

        # Guessing one account from many addresses: each address is new, the account is not.
        target = factories.register(proxy)
        for _ in range(PER_ACCOUNT):
            response = wrong(proxy, target["email"], headers={"X-Forwarded-For": new_address()})
            assert response.status_code == 401
        fresh = {"X-Forwarded-For": new_address()}
        assert_throttled(wrong(proxy, target["email"], headers=fresh))


def test_an_overlong_username_is_a_failed_sign_in_like_any_other(small: TestClient) -> None:
    # Longer than any email: answered without parsing it (which takes seconds at this size),
    # and counted against the address all the same.
    overlong = "x" * 500_000 + "@example.org"
    for n in range(PER_ADDRESS):
        answer = wrong(small, f"{n}{overlong}")
        assert answer.json() == {"detail": "Incorrect email or password"}
    assert_throttled(wrong(small, f"last{overlong}"))


def test_every_attempt_from_an_address_is_bounded_successes_included(small: TestClient) -> None:
    learner = factories.register(small)
    attempts = SMALL.signin_address_attempts.amount
    for _ in range(attempts):
        assert factories.token(small, learner["email"], learner["password"])
    assert_throttled(
        small.post(
            "/api/v1/auth/token",
            data={"username": learner["email"], "password": learner["password"]},
        )
    )


def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(settings: Settings) -> None:
    with behind_proxy(settings, new_address()) as client:
        for n in range(PER_ADDRESS):
            forged = {"X-Forwarded-For": new_address()}
            assert wrong(client, f"spray{n}@example.org", headers=forged).status_code == 401
        # Every attempt counted against the peer's own address, whatever the header said.
        forged = {"X-Forwarded-For": "192.0.2.77"}
        assert_throttled(wrong(client, "one-more@example.org", headers=forged))


def test_exempt_addresses_skip_the_per_address_limits_only(settings: Settings) -> None:
    room = new_address()
    exempt = replace(settings, rate_limit_exempt=f"{room}, 192.0.2.0/24")
    with TestClient(small_limits(create_app(exempt), exempt), client=(room, 50000)) as client:
        for n in range(PER_ADDRESS + 1):
            assert wrong(client, f"colleague{n}@example.org").status_code == 401
        learners = [factories.register(client) for _ in range(REGISTRATIONS + 1)]
        for _ in range(PER_ACCOUNT):
            assert wrong(client, learners[0]["email"]).status_code == 401
        assert_throttled(wrong(client, learners[0]["email"]))
    assert RateLimiter(exempt="192.0.2.0/24").is_exempt("192.0.2.200")
    assert not RateLimiter(exempt="192.0.2.0/24").is_exempt("192.0.3.1")
    with pytest.raises(ratelimit.RateLimitConfigError, match="ECAMPUS_RATE_LIMIT_EXEMPT"):
        RateLimiter(exempt="10.0.0.0/33")


def test_registration_probes_are_throttled_per_address(small: TestClient) -> None:
    taken = factories.register(small)
    for _ in range(REGISTRATIONS - 1):
        # A taken email still says so (people need to know they have an account)...
        probe = small.post("/api/v1/auth/register", json=factories.profile(email=taken["email"]))
        assert probe.status_code == 409
    # ...but only so many times per address, new emails included.
    refused = small.post("/api/v1/auth/register", json=factories.profile())
    assert assert_throttled(refused, window=3600) > 15 * 60
    assert refused.json()["detail"].startswith("Too many attempts")

    token = csrf(small.get("/register").text)
    page = small.post(
        "/register", data={**factories.profile(), "csrf_token": token}, follow_redirects=False
    )
    assert_throttled(page, window=3600)
    assert "Demasiados intentos" in page.text
    # A form with mistakes is still answered (it looks nothing up).
    bad = small.post("/register", data={"email": "nope", "csrf_token": token})
    assert bad.status_code == 422


def test_password_reset_limit_is_a_reusable_dependency(settings: Settings) -> None:
    from ecampus.web.throttle import PasswordResetLimit

    router = APIRouter()

    @router.post("/api/v1/test-only/reset", dependencies=[PasswordResetLimit], status_code=202)
    def reset() -> None:
        return None

    app = small_limits(create_app(settings), settings)
    app.include_router(router)
    with TestClient(app, client=(new_address(), 50000)) as client:
        for _ in range(SMALL.password_reset.amount):
            assert client.post("/api/v1/test-only/reset").status_code == 202
        assert_throttled(client.post("/api/v1/test-only/reset"), window=3600)


def test_the_default_limits_are_the_documented_ones() -> None:
    operating = (ROOT / "docs" / "operating.md").read_text(encoding="utf-8")
    for name, limit in vars(DEFAULTS).items():
        unit = limit.GRANULARITY.name
        per = f"{limit.amount} per " + (
            f"{limit.multiples} {unit}s" if limit.multiples > 1 else unit
        )
        assert f"`{name}`" in operating, name
        assert per in operating, (name, per)


# Several processes: the counters live in Redis.


@pytest.fixture
def redis_url() -> str:
    try:
        with redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1) as connection:
            connection.ping()
    except redis.RedisError as exc:
        skip_or_fail(f"Redis is not answering at {REDIS_URL}: {exc}")
    return REDIS_URL


def test_two_app_instances_share_the_limits_through_redis(
    database_url: str, courses_dir: Path, redis_url: str
) -> None:
    shared = make_settings(database_url, courses_dir, rate_limit_url=redis_url)
    address = new_address()
    first_app = small_limits(create_app(shared), shared)
    second_app = small_limits(create_app(shared), shared)
    with (
        TestClient(first_app, client=(address, 50000)) as first,
        TestClient(second_app, client=(address, 50001)) as second,
    ):
        # Redis outlives the test: emails of their own, not the factories' learnerN.
        learner = factories.register(first, email=f"{uuid.uuid4().hex}@example.org")
        for n in range(PER_ACCOUNT):
            assert wrong(first if n % 2 else second, learner["email"]).status_code == 401
        assert_throttled(wrong(first, learner["email"]))
        assert_throttled(wrong(second, learner["email"]))
        # A success on one instance clears the account's counter for both.
        other = factories.register(second, email=f"{uuid.uuid4().hex}@example.org")
        for n in range(PER_ACCOUNT - 1):
            assert wrong(first if n % 2 else second, other["email"]).status_code == 401
        assert factories.token(first, other["email"], other["password"])
        assert wrong(second, other["email"]).status_code == 401
        # Registrations are counted in the same place too (two made above).
        for n in range(REGISTRATIONS - 2):
            probe = (first if n % 2 else second).post(
                "/api/v1/auth/register", json=factories.profile(email=learner["email"])
            )
            assert probe.status_code == 409
        refused = first.post("/api/v1/auth/register", json=factories.profile())
        assert_throttled(refused, window=3600)


def test_a_redis_outage_does_not_stop_sign_in(
    database_url: str, courses_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Nothing listens on port 1: the limiter logs the outage and lets requests through.
    down = make_settings(database_url, courses_dir, rate_limit_url="redis://127.0.0.1:1/0")
    with TestClient(create_app(down)) as client:
        learner = factories.register(client, email=f"{uuid.uuid4().hex}@example.org")
        assert wrong(client, learner["email"]).status_code == 401
        assert factories.token(client, learner["email"], learner["password"])
    assert "rate-limit storage unavailable" in caplog.text


def test_a_bad_rate_limit_url_is_refused_at_start() -> None:
    with pytest.raises(ratelimit.RateLimitConfigError, match="ECAMPUS_RATE_LIMIT_URL"):
        ratelimit.RateLimiter("memcached://127.0.0.1:11211")
    with pytest.raises(ratelimit.RateLimitConfigError):
        ratelimit.RateLimiter("redis://")
    assert ratelimit.RateLimiter("").kind == "memory"
    assert ratelimit.RateLimiter("rediss://cache.internal:6380/2").kind == "redis"


def test_wrong_current_passwords_at_a_password_change_are_throttled(client: TestClient) -> None:
    """A stolen session cannot be used to guess the account's password through the
    password-change form: wrong current passwords count as failed sign-ins."""
    data, headers = factories.learner(client)
    change = {"current_password": "not it at all", "new_password": "a new passphrase"}
    for _ in range(10):
        response = client.post("/api/v1/me/password", json=change, headers=headers)
        assert response.status_code == 400, response.text
    refused = client.post(
        "/api/v1/me/password",
        json={**change, "current_password": data["password"]},  # even the right one now
        headers=headers,
    )
    assert_throttled(refused)
    assert client.get("/api/v1/me", headers=headers).status_code == 200
