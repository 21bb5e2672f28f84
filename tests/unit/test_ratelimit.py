"""The limiter itself: a Redis that stops answering slows nobody down for long."""

from __future__ import annotations

import logging
import socket
import time

import pytest
from limits import parse

from ecampus.ratelimit import RateLimiter
from tests import aio

LIMIT = parse("3 per minute")


def test_a_redis_that_hangs_costs_one_time_out_then_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A server that accepts connections and never answers: each Redis command would wait
    # for the client's 0.5 s time-out.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        port = silent.getsockname()[1]

        async def run() -> tuple[float, float, list[bool]]:
            limiter = RateLimiter(f"redis://127.0.0.1:{port}/0", key_secret="k")
            started = time.monotonic()
            first = await limiter.hit(LIMIT, "signin", "someone")
            first_took = time.monotonic() - started
            started = time.monotonic()
            rest = [await limiter.hit(LIMIT, "signin", "someone") for _ in range(20)]
            rest_took = time.monotonic() - started
            await limiter.close()
            return first_took, rest_took, [first, *rest]

        with caplog.at_level(logging.ERROR, logger="ecampus.ratelimit"):
            first_took, rest_took, allowed = aio.run(run())
    # Let through (passwords are still checked), logged once, and only the first waited.
    assert allowed == [True] * 21
    assert caplog.text.count("rate-limit storage unavailable") == 1
    assert first_took >= 0.4
    assert rest_took < 0.2


def test_memory_limits_count_and_clear() -> None:
    async def run() -> list[bool]:
        limiter = RateLimiter("")
        answers = [await limiter.hit(LIMIT, "signin", "a@example.org") for _ in range(4)]
        answers.append(await limiter.hit(LIMIT, "signin", "b@example.org"))
        retry = await limiter.retry_after(LIMIT, "signin", "a@example.org")
        assert 0 < retry <= 60
        await limiter.clear(LIMIT, "signin", "a@example.org")
        answers.append(await limiter.test(LIMIT, "signin", "a@example.org"))
        await limiter.close()
        return answers

    assert aio.run(run()) == [True, True, True, False, True, True]
