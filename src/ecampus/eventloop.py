"""The event loop `ecampus serve` runs on: asyncio's own, each TCP connection with TCP_NODELAY.

Not uvloop (uvicorn's default when it is installed, as `uvicorn[standard]` installs it):
under a full load it let the first request of a new connection wait behind the requests of
the connections it already served. Measured with bench/suite.py (wrk, 64 new connections
per run, one SQLite worker, 2026-12-01): quiz submissions at the same rate either way,
about 1,970 req/s, with a p99 of 499-553 ms on uvloop against 37.6 ms here (lesson done
257-280 against 27.2 ms); in a client that reused its connections the p99 was 41-43 ms on
uvloop too, and only the first request of each connection had waited (up to 1.2 s).

TCP_NODELAY: with several workers, uvicorn binds the listening socket itself
(`socket.socket(family)`, protocol 0), and asyncio turns Nagle's algorithm off only on
sockets whose protocol says TCP, so every answer waited for the client's delayed ACK
(measured: a constant 44 ms, 1,450 req/s for any page). Linux gives an accepted connection
its listening socket's TCP_NODELAY: it is set there.

A listening socket of each worker's own: uvicorn binds one socket and every worker accepts
from it, and the first to wake took most of a burst of new connections (wrk's 64 were
counted split 49/15, 46/18, 40/24 between two workers, and the busier one set the p99).
Each worker now listens on a socket of its own at that address (SO_REUSEPORT: _own_listener),
and Linux spreads new connections between them. Measured with bench/suite.py, PostgreSQL,
two workers, alternated with the shared socket twice: quiz p99 36.9 and 42.5 ms against
153.6 and 52.4 ms, and 21.4-21.7 % of the ceiling against 14.6-18.6 %.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

# Connections taken from the listening socket each time it is found readable.
ACCEPT_AT_ONCE = 16


class EventLoop(asyncio.SelectorEventLoop):
    """asyncio's selector loop, with TCP_NODELAY on the listening sockets it is given."""

    async def create_server(
        self, protocol_factory: Any, host: Any = None, port: Any = None, **kwargs: Any
    ) -> asyncio.Server:
        sock = kwargs.get("sock")
        if (
            sock is not None
            and sock.family in (socket.AF_INET, socket.AF_INET6)
            and sock.type == socket.SOCK_STREAM
        ):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            own = _own_listener(sock)
            if own is not None:
                kwargs["sock"] = own
        return await super().create_server(protocol_factory, host, port, **kwargs)

    def _accept_connection(  # asyncio's own hook (BaseSelectorEventLoop), Python 3.11+
        self,
        protocol_factory: Any,
        sock: Any,
        sslcontext: Any = None,
        server: Any = None,
        backlog: int = 100,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        # At most ACCEPT_AT_ONCE connections each time the listening socket is found
        # readable, where asyncio takes up to `backlog` at once: several workers share one
        # listening socket, and the first to wake took every connection waiting (measured:
        # wrk's 64 connections all on one of two workers, which then served at one
        # worker's rate). The socket stays readable while connections wait, so the next
        # turn takes the next ones, on whichever worker wakes first. Not one at a time: a
        # busy worker's turn lasts milliseconds, and the first request of the 64th
        # connection then waited 64 turns (a write's p99 of 97-231 ms with one worker,
        # against 27-40 ms taking them all).
        super()._accept_connection(  # type: ignore[misc]
            protocol_factory, sock, sslcontext, server, ACCEPT_AT_ONCE, *args, **kwargs
        )


def _own_listener(shared: socket.socket) -> socket.socket | None:
    """A listening socket of this worker's own on the shared socket's address (SO_REUSEPORT),
    so that the kernel spreads new connections between the workers; None (the shared socket
    is used) where the shared one already listens or the system refuses."""
    if not hasattr(socket, "SO_REUSEPORT"):
        return None
    try:
        if shared.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
            return None  # already listening (a pre-fork server): connections wait on it
        shared.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        own = socket.socket(shared.family, socket.SOCK_STREAM)
    except OSError:
        return None
    try:
        own.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        own.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        own.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        own.bind(shared.getsockname())
    except OSError:
        own.close()
        return None
    return own


def new_event_loop() -> asyncio.AbstractEventLoop:
    """The loop factory `ecampus serve` gives uvicorn (its `--loop`: UVICORN_LOOP)."""
    return EventLoop()


# What `ecampus serve`, the benchmarks and the load tests pass to uvicorn as its `loop`.
UVICORN_LOOP = "ecampus.eventloop:new_event_loop"
