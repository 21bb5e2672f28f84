"""`ecampus serve` runs on asyncio's own event loop (ecampus.eventloop), whose connections
have TCP_NODELAY even when uvicorn made the listening socket itself (several workers)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from ecampus.eventloop import ACCEPT_AT_ONCE, UVICORN_LOOP, EventLoop, new_event_loop


def elsewhere(work: Callable[[], None]) -> None:
    """`work` in a thread of its own, where no event loop runs (Playwright's sync API keeps
    one running in the main thread once a browser test has run: tests/aio.py)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="test-loop") as pool:
        pool.submit(work).result()


def nodelay_of_accepted(make_loop: Callable[[], asyncio.AbstractEventLoop]) -> int:
    """TCP_NODELAY of a connection accepted on a listening socket made as uvicorn makes it
    for several workers (`socket.socket(family)`: protocol 0)."""
    listener = socket.socket(family=socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    assert listener.proto == 0
    found: list[int] = []

    class Protocol(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            sock = transport.get_extra_info("socket")
            found.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    async def scenario() -> None:
        server = await asyncio.get_running_loop().create_server(Protocol, sock=listener)
        _reader, writer = await asyncio.open_connection(*listener.getsockname())
        for _ in range(100):
            if found:
                break
            await asyncio.sleep(0.01)
        writer.close()
        server.close()
        await server.wait_closed()

    def in_its_thread() -> None:
        with asyncio.Runner(loop_factory=make_loop) as runner:
            runner.run(scenario())

    elsewhere(in_its_thread)
    assert found
    return found[0]


def test_connections_of_a_shared_listening_socket_have_tcp_nodelay() -> None:
    assert nodelay_of_accepted(new_event_loop) != 0


def test_asyncio_alone_leaves_nagle_on_there() -> None:
    # The reason for ecampus.eventloop: with plain asyncio every answer of a worker waited
    # for the client's delayed ACK (a constant 44 ms, measured).
    if not hasattr(socket, "TCP_NODELAY"):  # pragma: no cover - every platform we serve on
        pytest.skip("no TCP_NODELAY")
    assert nodelay_of_accepted(asyncio.SelectorEventLoop) == 0


def test_uvicorn_is_given_the_loop_by_its_import_string() -> None:
    module, _, name = UVICORN_LOOP.partition(":")
    imported = __import__(module, fromlist=[name])
    loop = getattr(imported, name)()
    try:
        assert isinstance(loop, EventLoop)
    finally:
        loop.close()


class CountingSocket(socket.socket):
    """A listening socket that counts the connections taken from it."""

    taken = 0

    def accept(self) -> tuple[socket.socket, object]:
        taken = super().accept()
        self.taken += 1
        return taken


class Closing(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.close()


def taken_in_one_wakeup(make_loop: Callable[[], asyncio.AbstractEventLoop]) -> int:
    """How many of twenty waiting connections one readable event of the listening socket
    takes (asyncio's accept hook, as the selector calls it)."""
    listener = CountingSocket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.setblocking(False)
    clients = [socket.create_connection(listener.getsockname()) for _ in range(20)]

    def in_its_thread() -> None:
        loop = make_loop()
        try:
            loop._accept_connection(Closing, listener, None, None, 100)  # type: ignore[attr-defined]
            loop.run_until_complete(asyncio.sleep(0.05))
        finally:
            loop.close()

    try:
        elsewhere(in_its_thread)
        return listener.taken
    finally:
        for client in clients:
            client.close()
        listener.close()


def test_a_few_connections_are_taken_each_time_so_that_workers_share_them() -> None:
    # Several workers share one listening socket: taking every connection waiting at once,
    # the first to wake took wrk's 64 and served them alone.
    assert taken_in_one_wakeup(new_event_loop) == ACCEPT_AT_ONCE
    assert taken_in_one_wakeup(asyncio.SelectorEventLoop) == 20
