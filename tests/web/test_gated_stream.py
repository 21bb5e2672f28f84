"""Streamed report bodies (web.deps.gated_stream): chunks made in worker threads a batch at a
time, sent whole and in order, the database slot held for the whole body and given back,
and the producer closed when the body is not sent to its end."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from ecampus.db import ConnectionGate
from ecampus.web import deps
from tests.aio import run


def test_every_chunk_is_sent_in_order_a_batch_per_thread_turn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    threads: list[str] = []
    turns = []
    batch = deps._next_batch

    def counted(iterator: Iterator[bytes]) -> list[bytes]:
        turns.append(1)
        return batch(iterator)

    monkeypatch.setattr(deps, "_next_batch", counted)
    chunk = b"x" * 65536

    def chunks() -> Iterator[bytes]:
        for n in range(40):
            threads.append(threading.current_thread().name)
            yield chunk[:-3] + b"%03d" % n

    async def main() -> tuple[list[bytes], int]:
        gate = ConnectionGate(2)
        sent = [c async for c in deps.gated_stream(gate, chunks)]
        return sent, gate.capacity

    sent, capacity = run(main())
    assert sent == [chunk[:-3] + b"%03d" % n for n in range(40)]
    assert capacity == 2
    main_thread = threading.main_thread().name
    assert main_thread not in threads  # made in worker threads, never on the event loop
    # 40 chunks of 64 KB in batches of up to 1 MB: a few hand-overs (four on an idle
    # machine: three batches and the end), not forty.
    assert 4 <= len(turns) <= 20


def test_a_slow_producer_still_sends_as_it_goes() -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(3):
            time.sleep(deps.STREAM_BATCH_SECONDS * 1.5)
            yield b"pdf"

    async def main() -> list[float]:
        started = time.monotonic()
        arrivals = []
        async for _chunk in deps.gated_stream(ConnectionGate(1), chunks):
            arrivals.append(time.monotonic() - started)
        return arrivals

    arrivals = run(main())
    assert len(arrivals) == 3
    # Each chunk went out once made, not after the last one.
    assert arrivals[0] < arrivals[2] - deps.STREAM_BATCH_SECONDS


def test_a_body_left_unsent_closes_its_producer_and_frees_the_slot() -> None:
    closed = threading.Event()

    def chunks() -> Iterator[bytes]:
        try:
            for _ in range(100):
                yield b"y" * 65536
        finally:
            closed.set()  # where the report's session is closed

    async def main() -> bool:
        gate = ConnectionGate(1, timeout=1)
        body = deps.gated_stream(gate, chunks)
        first = await body.__anext__()
        assert first.startswith(b"y")
        await body.aclose()  # the client went away
        async with gate.slot():  # the one slot is free again
            return True

    assert run(main())
    assert closed.is_set()
