"""The limiter itself: a Redis that stops answering slows nobody down for long."""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import time

import pytest
from limits import parse
from limits.aio.storage import MemoryStorage

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


# MemoryStorage drops expired moving-window entries in a task of its own, one key at a time,
# each behind an await (the cut-off is computed in a worker thread). A sign-in that succeeds
# clears its account's counter, and under load that happens while the task is part way
# through the keys. These drive that interleaving through the calls the app makes.


async def _expiry_pass_done(limiter: RateLimiter) -> None:
    """Wait, without retrieving its outcome, for the expiry task running now to finish."""
    storage = limiter._storage
    assert isinstance(storage, MemoryStorage)
    assert storage.timer is not None
    await asyncio.wait([storage.timer], timeout=5)
    assert storage.timer.done()


def test_clearing_a_key_the_memory_expiry_task_has_yet_to_reach_fails_nothing() -> None:
    async def run() -> tuple[list[dict[str, object]], list[bool]]:
        errors: list[dict[str, object]] = []
        asyncio.get_running_loop().set_exception_handler(lambda _, context: errors.append(context))
        limiter = RateLimiter("")
        assert await limiter.hit(LIMIT, "signin", "a@example.org")  # starts an expiry pass
        assert await limiter.hit(LIMIT, "signin", "b@example.org")
        await asyncio.sleep(0)  # the pass lists both keys and waits on a thread for the first
        await limiter.clear(LIMIT, "signin", "b@example.org")  # meanwhile the second goes
        await _expiry_pass_done(limiter)
        storage = limiter._storage
        assert isinstance(storage, MemoryStorage)
        assert len(storage.events) == len(storage.locks) == 1  # the pass dropped b@'s key
        del storage
        answers = [await limiter.hit(LIMIT, "signin", "b@example.org") for _ in range(4)]
        answers += [await limiter.hit(LIMIT, "signin", "a@example.org") for _ in range(3)]
        await limiter.close()
        del limiter
        gc.collect()  # a failed task reports its never-retrieved exception when collected
        return errors, answers

    errors, answers = aio.run(run())
    assert errors == []
    # The cleared account starts again from nothing; the other keeps the hit it had.
    assert answers == [True, True, True, False, True, True, False]


def test_a_hit_just_after_a_clear_survives_the_memory_expiry_pass() -> None:
    once = parse("1 per second")

    async def run() -> tuple[list[dict[str, object]], bool, bool, int]:
        errors: list[dict[str, object]] = []
        asyncio.get_running_loop().set_exception_handler(lambda _, context: errors.append(context))
        limiter = RateLimiter("")
        assert await limiter.hit(once, "signin", "a@example.org")
        await asyncio.sleep(1.05)  # that hit has left the window, its entry not yet dropped
        assert await limiter.hit(once, "signin", "c@example.org")  # starts an expiry pass
        await asyncio.sleep(0)  # the pass holds a@'s entries, working out which have expired
        await limiter.clear(once, "signin", "a@example.org")  # a@ signs in
        fresh = await limiter.hit(once, "signin", "a@example.org")  # a@ fails once more
        await _expiry_pass_done(limiter)
        # The fresh hit is still counted: a second one within the second is refused.
        again = await limiter.hit(once, "signin", "a@example.org")
        retry = await limiter.retry_after(once, "signin", "a@example.org")
        await limiter.close()
        del limiter
        gc.collect()
        return errors, fresh, again, retry

    errors, fresh, again, retry = aio.run(run())
    assert errors == []
    assert fresh
    assert not again
    assert retry == 1
