"""Throttling for the requests people could abuse: sign-in, registration, password reset.

The client's address is `request.client.host`: behind a proxy, uvicorn's ProxyHeadersMiddleware
has already replaced it with the forwarded one, but only for a proxy listed in
ECAMPUS_FORWARDED_ALLOW_IPS, so a client cannot choose its own address with a header.

Sign-in, per attempt (every counter is a moving window):
- the address's failed sign-ins (SIGNIN_ADDRESS_FAILURES) are tested, and all its attempts
  (SIGNIN_ADDRESS_ATTEMPTS) charged, before anything else;
- the account is charged before the password is checked (SIGNIN_ACCOUNT), so simultaneous
  guesses cannot all slip in; a success clears it, since only the password's holder can
  succeed. A browser that signed in to the account before carries a device cookie and is
  charged to SIGNIN_KNOWN_DEVICE instead, so an attacker who keeps the account's counter
  full locks out unknown browsers and API clients, never the owner's own browser.
A refused attempt is not checked at all: a 429 says nothing about the password.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from anyio import from_thread
from fastapi import Depends, Form, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from limits import RateLimitItem
from starlette.exceptions import HTTPException

from ecampus.accounts.service import normalise_email
from ecampus.ratelimit import AddressLimit, RateLimiter
from ecampus.settings import Settings
from ecampus.web.templating import ngettext

DEVICE_COOKIE = "ecampus_device"
MAX_EMAIL_LENGTH = 254  # RFC 5321: no address is longer
DEVICE_COOKIE_DAYS = 365
# For the OpenAPI document of throttled routes.
THROTTLED: dict[int | str, dict[str, Any]] = {
    429: {"description": "Too many attempts: wait the number of seconds in Retry-After"}
}


class Throttled(HTTPException):
    """429 with Retry-After; the message in the reader's language on pages, English in the API."""

    def __init__(self, request: Request, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(
            429, retry_message(request, retry_after), {"Retry-After": str(retry_after)}
        )


def retry_message(request: Request, seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    if request.url.path.startswith("/api/"):
        return f"Too many attempts: try again in {minutes} minute{'s' if minutes > 1 else ''}"
    return ngettext(
        "Too many attempts. Please try again in %(num)s minute.",
        "Too many attempts. Please try again in %(num)s minutes.",
        minutes,
    )


def limiter_of(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.limiter
    return limiter


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def charge_address(request: Request, which: AddressLimit) -> None:
    """Count one request against the client address's `which` limit; raise Throttled past it."""
    limiter, address = limiter_of(request), client_address(request)
    if limiter.is_exempt(address):
        return
    limit = getattr(limiter.limits, which)
    if not await limiter.hit(limit, which, address):
        raise Throttled(request, await limiter.retry_after(limit, which, address))


def charge_address_from_thread(request: Request, which: AddressLimit) -> None:
    """charge_address for a synchronous route (which runs in a worker thread)."""
    from_thread.run(charge_address, request, which)


def limit_per_address(which: AddressLimit) -> Any:
    """A route dependency that counts every request: `dependencies=[PasswordResetLimit]`."""

    async def dependency(request: Request) -> None:
        await charge_address(request, which)

    return Depends(dependency)


PasswordResetLimit = limit_per_address("password_reset")


def device_proof(settings: Settings, account: str) -> str:
    """What the device cookie holds: proof that this browser signed in to `account`."""
    message = f"signin-device:{account}".encode()
    return hmac.new(settings.secret_key.encode(), message, hashlib.sha256).hexdigest()


@dataclass
class SignIn:
    """One sign-in attempt's throttling; `refused` is set when it must not be checked."""

    request: Request
    account: str
    known_device: bool
    refused: Throttled | None = None
    _charged: tuple[RateLimitItem, str] | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return client_address(self.request)

    async def charge(self) -> None:
        limiter, address = limiter_of(self.request), self.address
        limits = limiter.limits
        checks: list[tuple[RateLimitItem, str, str, Callable[..., Awaitable[bool]]]] = []
        if not limiter.is_exempt(address):
            checks += [
                (limits.signin_address_failures, "signin-failed", address, limiter.test),
                (limits.signin_address_attempts, "signin", address, limiter.hit),
            ]
        if self.known_device:
            checks.append((limits.signin_known_device, "signin-device", self.account, limiter.hit))
        else:
            checks.append((limits.signin_account, "signin-account", self.account, limiter.hit))
        for limit, name, key, check in checks:
            if not await check(limit, name, key):
                self.refused = Throttled(self.request, await limiter.retry_after(limit, name, key))
                return
        self._charged = (checks[-1][0], checks[-1][1])

    async def failed(self) -> None:
        """The password was wrong (or the account unknown, which must look the same)."""
        limiter = limiter_of(self.request)
        if not limiter.is_exempt(self.address):
            await limiter.hit(limiter.limits.signin_address_failures, "signin-failed", self.address)

    async def succeeded(self, response: Response | None = None) -> None:
        """Clear the account's counter; mark this browser as one the account signed in from."""
        if self._charged is not None:
            limit, name = self._charged
            await limiter_of(self.request).clear(limit, name, self.account)
        if response is not None:
            settings: Settings = self.request.app.state.settings
            response.set_cookie(
                DEVICE_COOKIE,
                device_proof(settings, self.account),
                max_age=DEVICE_COOKIE_DAYS * 24 * 3600,
                httponly=True,
                secure=settings.cookie_secure,
                samesite="lax",
            )

    # Sign-in routes are synchronous (password hashing runs in a worker thread): these hop
    # back to the event loop, where the limiter's storage lives.
    def failed_from_thread(self) -> None:
        from_thread.run(self.failed)

    def succeeded_from_thread(self, response: Response | None = None) -> None:
        from_thread.run(self.succeeded, response)

    def raise_if_refused(self) -> None:
        if self.refused is not None:
            raise self.refused


async def start_sign_in(request: Request, email: str) -> SignIn:
    # Normalising runs on the event loop: a name longer than any address (the API's form has
    # no length limit of its own) is counted as typed, not parsed for seconds.
    account = normalise_email(email) if len(email) <= MAX_EMAIL_LENGTH else email
    cookie = request.cookies.get(DEVICE_COOKIE, "")
    proof = device_proof(request.app.state.settings, account)
    known = bool(cookie) and hmac.compare_digest(cookie.encode(), proof.encode())
    attempt = SignIn(request, account, known_device=known)
    if account:
        await attempt.charge()
    return attempt


async def _api_sign_in(
    request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()]
) -> SignIn:
    return await start_sign_in(request, form.username)


async def _page_sign_in(
    request: Request, email: Annotated[str, Form(max_length=254)] = ""
) -> SignIn:
    return await start_sign_in(request, email)


ApiSignIn = Annotated[SignIn, Depends(_api_sign_in)]
PageSignIn = Annotated[SignIn, Depends(_page_sign_in)]
