"""Counters that say when to stop: moving-window rate limits shared by every process.

Memory storage serves one process; with ECAMPUS_RATE_LIMIT_URL (Redis) every worker and
machine counts in the same place. Storage calls are async (limits.aio), so a request past
its limit is refused on the event loop, without a worker thread or a database connection.
If Redis cannot be reached the limiter lets requests through and logs it: passwords are
still checked, and a throttle outage must not become a site outage.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Literal, TypeVar
from urllib.parse import urlsplit

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

from ecampus.settings import SettingsError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    """Every limit the app applies, as moving windows (the defaults are the product's)."""

    # Failed sign-ins per account, from every address together. Charged before the password
    # is checked (so simultaneous guesses cannot slip past) and cleared by a success.
    signin_account: RateLimitItem = field(default_factory=partial(parse, "10 per 15 minutes"))
    # The same, for a browser that has signed in to that account before: an attacker who
    # keeps an account's counter full locks out unknown browsers, not its owner's.
    signin_known_device: RateLimitItem = field(default_factory=partial(parse, "10 per 15 minutes"))
    # Failed sign-ins per client address, whatever the account (password spraying). Higher
    # than per account, because a training room shares one public address.
    signin_address_failures: RateLimitItem = field(
        default_factory=partial(parse, "50 per 15 minutes")
    )
    # Every sign-in attempt per address, charged up front: bounds a burst of simultaneous
    # attempts that are all in flight before any of them has failed.
    signin_address_attempts: RateLimitItem = field(
        default_factory=partial(parse, "200 per 15 minutes")
    )
    # Registrations (well-formed ones, which look the email up) per address.
    registration: RateLimitItem = field(default_factory=partial(parse, "30 per hour"))
    # Password-reset requests per address (each may send an e-mail).
    password_reset: RateLimitItem = field(default_factory=partial(parse, "10 per hour"))


AddressLimit = Literal["registration", "password_reset"]

REDIS_SCHEMES = ("redis", "rediss")
_OUTAGE_LOG_SECONDS = 60.0
_OUTAGE_PAUSE_SECONDS = 5.0
T = TypeVar("T")


class _MemoryStorage(MemoryStorage):
    """limits' in-process storage, with a `clear` that its expiry task can run beside.

    MemoryStorage (limits 5.8.0, the latest release) drops expired moving-window entries in a
    task (`__expire_events`) that lists the keys, then for each takes the key's lock and
    reads `self.events[key]` to bisect it in a worker thread (`await asyncio.to_thread`).
    Its `clear` pops the key's events and lock at once, without the lock. A sign-in that
    succeeds clears its account's counter, so under load that lands mid-pass and:
    - a key cleared before the pass reaches it raises KeyError in the task ("Task exception
      was never retrieved"; that pass expires nothing more);
    - a key cleared while the pass bisects it in the thread loses its lock, so a hit right
      after (a fresh list, a fresh lock) is cut with the old list's cut-off: when every old
      entry had expired the new hit is dropped, and one more attempt gets through.
    Here clearing leaves the key's events an empty list under its existing lock: to every
    reader the same as no entries (the strategy's counts and windows are unchanged), a hit
    waits for the lock the pass holds, and the pass itself drops the key and its lock once
    it finds the list empty (the next pass, for a key it did not list).
    """

    async def clear(self, key: str) -> None:
        # No await: atomic on the event loop, as the library's own clear is.
        self.storage.pop(key, None)
        self.expirations.pop(key, None)
        if key in self.events:
            self.events[key] = []


class RateLimitConfigError(SettingsError):
    """The rate-limit storage URL is not one we can use."""


def storage_kind(url: str) -> str:
    """'memory' or 'redis' for a ECAMPUS_RATE_LIMIT_URL value; raise for anything else."""
    if url in ("", "memory://"):
        return "memory"
    parts = urlsplit(url)
    if parts.scheme in REDIS_SCHEMES and parts.hostname:
        return "redis"
    raise RateLimitConfigError(
        f"ECAMPUS_RATE_LIMIT_URL must be redis://host:port/db, rediss://… or memory://, not {url!r}"
    )


def parse_exempt(
    value: str,
) -> tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...], frozenset[str]]:
    """Comma-separated addresses or networks (10.0.0.0/8); other words are literal names."""
    networks, names = [], set()
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            if "/" in item or any(c.isspace() for c in item):
                raise RateLimitConfigError(
                    f"ECAMPUS_RATE_LIMIT_EXEMPT: {item!r} is not an address or a network"
                ) from None
            names.add(item)
    return tuple(networks), frozenset(names)


class RateLimiter:
    """Named moving-window limits over hashed keys; one per app, storage opened lazily."""

    def __init__(
        self,
        url: str = "",
        *,
        key_secret: str = "",
        limits: Limits | None = None,
        exempt: str = "",
    ) -> None:
        self.url = url
        self.limits = limits or Limits()
        self._exempt_networks, self._exempt_names = parse_exempt(exempt)
        self.kind = storage_kind(url)
        # Keys hold hashes, never emails or addresses: the counters reveal nobody.
        self._key_secret = hashlib.sha256(key_secret.encode()).digest()
        self._storage: Storage | None = None
        self._strategy: MovingWindowRateLimiter | None = None
        self._last_outage_log = -math.inf
        self._down_until = -math.inf

    def is_exempt(self, address: str) -> bool:
        """Whether per-address limits skip this client (ECAMPUS_RATE_LIMIT_EXEMPT)."""
        if address in self._exempt_names:
            return True
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._exempt_networks)

    def _open(self) -> MovingWindowRateLimiter:
        # Opened inside the running event loop, because Redis connections belong to one.
        if self._strategy is None:
            if self.kind == "memory":
                self._storage = _MemoryStorage()
            else:
                self._storage = RedisStorage(
                    "async+" + self.url,
                    implementation="redispy",
                    wrap_exceptions=True,
                    key_prefix="ecampus",
                    socket_timeout=0.5,
                    socket_connect_timeout=0.5,
                )
            self._strategy = MovingWindowRateLimiter(self._storage)
        return self._strategy

    def _keys(self, keys: tuple[str, ...]) -> list[str]:
        return [
            hashlib.blake2b(k.encode(), key=self._key_secret, digest_size=16).hexdigest()
            for k in keys
        ]

    def _outage(self, exc: Exception) -> None:
        now = time.monotonic()
        # For a while, do not even try: a Redis that times out would add its time-out to
        # every sign-in.
        self._down_until = now + _OUTAGE_PAUSE_SECONDS
        if now - self._last_outage_log >= _OUTAGE_LOG_SECONDS:
            self._last_outage_log = now
            log.error("rate-limit storage unavailable, not limiting: %s", exc)

    async def _guarded(
        self, call: Callable[[MovingWindowRateLimiter], Awaitable[T]], fallback: T
    ) -> T:
        if time.monotonic() < self._down_until:
            return fallback
        try:
            return await call(self._open())
        except StorageError as exc:
            self._outage(exc)
            return fallback

    async def hit(self, limit: RateLimitItem, name: str, *keys: str) -> bool:
        """Count one event; False when the limit was already reached (nothing is counted)."""
        hashed = self._keys(keys)
        return await self._guarded(lambda s: s.hit(limit, name, *hashed), True)

    async def test(self, limit: RateLimitItem, name: str, *keys: str) -> bool:
        """Whether one more event would be allowed, without counting it."""
        hashed = self._keys(keys)
        return await self._guarded(lambda s: s.test(limit, name, *hashed), True)

    async def retry_after(self, limit: RateLimitItem, name: str, *keys: str) -> int:
        """Whole seconds until one more event is allowed (at least 1)."""
        hashed = self._keys(keys)
        stats = await self._guarded(lambda s: s.get_window_stats(limit, name, *hashed), None)
        return 1 if stats is None else max(1, math.ceil(stats.reset_time - time.time()))

    async def clear(self, limit: RateLimitItem, name: str, *keys: str) -> None:
        hashed = self._keys(keys)
        await self._guarded(lambda s: s.clear(limit, name, *hashed), None)

    async def close(self) -> None:
        """Let go of the storage (Redis connections); the next call opens it again."""
        storage, self._storage, self._strategy = self._storage, None, None
        if isinstance(storage, MemoryStorage) and storage.timer is not None:
            storage.timer.cancel()  # its expiry task belongs to the loop that is ending
        if isinstance(storage, RedisStorage):
            client = getattr(storage.bridge, "storage", None)
            if client is not None:
                await client.aclose()
