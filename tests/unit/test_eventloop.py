"""`ecampus serve` runs on asyncio's own event loop (ecampus.eventloop), whose connections
have TCP_NODELAY even when uvicorn made the listening socket itself (several workers)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import pytest

from ecampus.eventloop import UVICORN_LOOP, EventLoop, new_event_loop


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

    with asyncio.Runner(loop_factory=make_loop) as runner:
        runner.run(scenario())
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
