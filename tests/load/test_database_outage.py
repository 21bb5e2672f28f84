"""PostgreSQL unreachable for 10 s: fast 503s with Retry-After, then recovery by itself.

The database sits behind a TCP proxy that the test cuts (every open connection dropped,
new ones refused) and restores, as a restart or a network failure would, without touching
the PostgreSQL server other tests share."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import httpx2 as httpx
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import fresh_postgres_database
from tests.liveserver import free_port
from tests.load.conftest import PASSWORD, Served, serve

OUTAGE_SECONDS = 10.0
ANSWER_WITHIN = 5.0  # a request during the outage is answered (503) at least this fast
RECOVER_WITHIN = 10.0


class TcpProxy:
    """Forwards 127.0.0.1:port to the database; stop() is the outage, start() the end."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        if self._listener is not None:
            for close in (lambda s: s.shutdown(socket.SHUT_RDWR), lambda s: s.close()):
                with contextlib.suppress(OSError):
                    close(self._listener)
            self._listener = None
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            self._close(sock)

    @staticmethod
    def _close(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                self._close(client)
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            self._close(source)
            self._close(target)


@pytest.fixture
def behind_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, TcpProxy]]:
    with fresh_postgres_database() as database_url:
        url = make_url(database_url)
        proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
        proxy.start()
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        folder = tmp_path_factory.mktemp("outage")
        try:
            with serve(folder, database_url, learners=1, ECAMPUS_DATABASE_URL=proxied) as served:
                yield served, proxy
        finally:
            proxy.stop()


def test_postgres_outage_gives_fast_503s_and_recovers(
    behind_proxy: tuple[Served, TcpProxy],
) -> None:
    served, proxy = behind_proxy
    with httpx.Client(base_url=served.base_url, timeout=30) as client:
        response = client.post(
            "/api/v1/auth/token", data={"username": served.learners[0], "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        token = response.json()["access_token"]
        bearer = {"authorization": f"Bearer {token}"}
        cookie = {"cookie": f"ecampus_session={token}", "accept-language": "es"}
        assert client.get("/api/v1/me", headers=bearer).status_code == 200

        proxy.stop()
        outage_ends = time.monotonic() + OUTAGE_SECONDS
        answered = 0
        while time.monotonic() < outage_ends:
            for path, headers in (
                ("/api/v1/me", bearer),
                ("/healthz", {}),
                ("/courses/demo-course/items/leccion-1", cookie),
            ):
                started = time.monotonic()
                response = client.get(path, headers=headers)
                took = time.monotonic() - started
                assert response.status_code == 503, (path, response.status_code, response.text)
                assert response.headers.get("retry-after", "").isdigit(), (
                    path,
                    response.headers,
                    response.text[:3000],
                )
                assert took < ANSWER_WITHIN, f"{path} took {took:.1f} s to answer 503"
                answered += 1
            time.sleep(0.5)
        assert answered >= 6
        page = client.get("/courses/demo-course/items/leccion-1", headers=cookie)
        assert "El servidor está ocupado" in page.text or "no responde" in page.text

        proxy.start()
        restored = time.monotonic()
        while True:
            response = client.get("/api/v1/me", headers=bearer)
            if response.status_code == 200:
                break
            assert response.status_code == 503, response.text
            assert time.monotonic() - restored < RECOVER_WITHIN, "no recovery without a restart"
            time.sleep(0.2)
        assert client.get("/healthz").status_code == 200
