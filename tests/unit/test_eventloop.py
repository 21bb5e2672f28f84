"""`ecampus serve` runs on asyncio's own event loop (ecampus.eventloop), whose connections
have TCP_NODELAY even when uvicorn made the listening socket itself (several workers)."""

from __future__ import annotations

import asyncio
import socket
import threading
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

    try:
        elsewhere(in_its_thread)
    finally:
        listener.close()  # a worker of ours served from a socket of its own (_own_listener)
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


def test_each_worker_listens_on_a_socket_of_its_own_and_the_kernel_spreads_connections() -> None:
    # uvicorn binds one socket for every worker; sharing it, the first worker to wake took
    # most connections (wrk's 64 were seen split 49/15 between two workers, the busier one
    # setting the p99). Each worker listens on its own socket at the same address instead
    # (SO_REUSEPORT), and Linux spreads new connections between them.
    if not hasattr(socket, "SO_REUSEPORT"):  # pragma: no cover - every platform we serve on
        pytest.skip("no SO_REUSEPORT")
    shared = socket.socket(family=socket.AF_INET)  # as uvicorn binds it: bound, not listening
    shared.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    shared.bind(("127.0.0.1", 0))
    address = shared.getsockname()
    listening = threading.Barrier(3, timeout=10)
    connected = threading.Event()
    accepted = [0, 0]
    listeners: list[tuple[int, int, int]] = []

    def worker(n: int) -> None:
        class Counting(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                accepted[n] += 1
                transport.close()

        async def serve() -> None:
            server = await asyncio.get_running_loop().create_server(Counting, sock=shared)
            (own,) = server.sockets
            listeners.append((own.fileno(), own.getsockname()[1],
                              own.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)))  # fmt: skip
            listening.wait()
            await asyncio.get_running_loop().run_in_executor(None, connected.wait, 10)
            await asyncio.sleep(0.2)
            server.close()
            await server.wait_closed()

        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            runner.run(serve())

    with ThreadPoolExecutor(max_workers=2) as pool:
        running = [pool.submit(worker, n) for n in (0, 1)]
        listening.wait()
        clients = [socket.create_connection(address) for _ in range(40)]
        connected.set()
        for done in running:
            done.result()
    for client in clients:
        client.close()
    try:
        assert len({fd for fd, _port, _on in listeners} | {shared.fileno()}) == 3
        assert all(port == address[1] and on for _fd, port, on in listeners)
        assert sum(accepted) == 40
        assert min(accepted) > 0  # all 40 on one of two: a chance of 2 in 2**40
        assert not shared.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
    finally:
        shared.close()


def test_a_socket_already_listening_is_served_as_it_is() -> None:
    # A server that listens before it forks its workers (connections already wait on that
    # socket): each worker accepts from it, as asyncio does.
    shared = socket.socket(family=socket.AF_INET)
    shared.bind(("127.0.0.1", 0))
    shared.listen(16)
    served: list[int] = []

    async def serve() -> None:
        server = await asyncio.get_running_loop().create_server(Closing, sock=shared)
        served.extend(sock.fileno() for sock in server.sockets)
        server.close()
        await server.wait_closed()

    def in_its_thread() -> None:
        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            runner.run(serve())

    fd = shared.fileno()
    try:
        elsewhere(in_its_thread)
        assert served == [fd]  # closed with the server, as asyncio closes what it serves
    finally:
        shared.close()
