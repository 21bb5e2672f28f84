"""The connection gate: requests wait for a database slot on the event loop, never in a
thread, and give up with DatabaseBusy (a 503) instead of queueing without end."""

from __future__ import annotations

import asyncio

import pytest

from ecampus.db import ConnectionGate, DatabaseBusy, make_engine, make_gate, pool_capacity
from tests import aio


def test_a_free_slot_is_taken_without_waiting() -> None:
    async def scenario() -> int:
        gate = ConnectionGate(2, timeout=0.1)
        async with gate.slot():
            return gate.in_use

    assert aio.run(scenario()) == 1


def test_a_full_gate_times_out_with_database_busy() -> None:
    async def scenario() -> None:
        gate = ConnectionGate(1, timeout=0.05)
        async with gate.slot():
            with pytest.raises(DatabaseBusy):
                async with gate.slot():
                    pass
        async with gate.slot():  # the slot came back
            assert gate.in_use == 1

    aio.run(scenario())


def test_waiters_are_admitted_in_turn() -> None:
    async def scenario() -> int:
        gate = ConnectionGate(2, timeout=5)
        most = 0

        async def work() -> None:
            nonlocal most
            async with gate.slot():
                most = max(most, gate.in_use)
                await asyncio.sleep(0.01)

        await asyncio.gather(*(work() for _ in range(20)))
        assert gate.in_use == 0
        return most

    assert aio.run(scenario()) == 2


def test_too_many_waiters_are_refused_at_once() -> None:
    async def scenario() -> None:
        gate = ConnectionGate(1, timeout=5, max_waiting=1)
        async with gate.slot():
            waiter = asyncio.create_task(gate.acquire())
            await asyncio.sleep(0)
            with pytest.raises(DatabaseBusy):
                await gate.acquire()
            waiter.cancel()

    aio.run(scenario())


def test_the_gate_leaves_connections_for_background_work(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'gate.db'}", pool_size=10)
    try:
        assert pool_capacity(engine) == 10
        assert make_gate(engine).capacity == 6
    finally:
        engine.dispose()
