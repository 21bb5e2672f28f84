"""Running a coroutine from a test, whatever else the test session runs.

Playwright's sync API (the browser tests' session-wide Chromium) keeps an event loop running
in the main thread for the rest of the session, where asyncio.run() then refuses to start:
coroutines run on a loop of their own in a worker thread instead."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="test-loop") as pool:
        return pool.submit(asyncio.run, coroutine).result()
