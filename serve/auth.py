"""Access control: an optional bearer token and a per-client rate limit.

Both are off by default for a server on a loopback address. A configured token
(``SNAPSEARCH_API_TOKEN``) turns on both: every request but the open paths
(``SNAPSEARCH_OPEN_PATHS``, by default ``/livez``, ``/readyz``, ``/metrics``) needs
``Authorization: Bearer <token>`` (401 otherwise), and each client address gets a token bucket of
``SNAPSEARCH_RATE_LIMIT_PER_S`` requests per second with bursts of ``SNAPSEARCH_RATE_LIMIT_BURST``
(429 with ``Retry-After`` past it). A server on another address is rate limited too, with or
without a token (and warns at start when it has none). The rate is checked before the token, so
guessing tokens is rate limited as well. Refusals are answered in the one error shape.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import SecretStr
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from snapsearch.settings import ServeSettings

from .errors import error_response
from .logging import SERVE_LOGGER

log = logging.getLogger(SERVE_LOGGER)

DEFAULT_RATE_PER_S = 20.0
MAX_CLIENTS = 10_000


def is_loopback(host: str) -> bool:
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class AccessPolicy:
    token: SecretStr | None
    rate_per_s: float  # 0: no rate limit
    burst: int
    open_paths: tuple[str, ...]

    @classmethod
    def from_settings(cls, settings: ServeSettings) -> AccessPolicy:
        exposed = not is_loopback(settings.host)
        rate = settings.rate_limit_per_s
        if rate is None:
            rate = DEFAULT_RATE_PER_S if (exposed or settings.api_token) else 0.0
        if exposed and settings.api_token is None:
            log.warning(
                "serving on %s without a token: anyone who reaches it can search "
                "(set SNAPSEARCH_API_TOKEN to require one)", settings.host,
            )
        return cls(settings.api_token, rate, settings.rate_limit_burst,
                   tuple(settings.open_paths))

    def is_open(self, path: str) -> bool:
        return any(path.startswith(p[:-1]) if p.endswith("*") else path == p
                   for p in self.open_paths)

    def token_ok(self, authorization: str | None) -> bool:
        if self.token is None:
            return True
        scheme, _, given = (authorization or "").partition(" ")
        expected = self.token.get_secret_value().encode()
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected)


class TokenBuckets:
    """One bucket per client: ``burst`` requests at once, refilled at ``rate`` per second. At most
    ``max_clients`` buckets are kept (the least recently seen go first: a full bucket is the same
    as none)."""

    def __init__(self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic,
                 max_clients: int = MAX_CLIENTS) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, client: str) -> float:
        """0 when ``client`` may go ahead (one token taken), else the seconds until it may."""
        now = self.clock()
        tokens, last = self._buckets.pop(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[client] = (tokens, now)
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait


class AccessControl:
    """The middleware: rate limit, then token, for every path but the open ones."""

    def __init__(self, app: ASGIApp, *, policy: AccessPolicy,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.policy = policy
        self.buckets = TokenBuckets(policy.rate_per_s, policy.burst, clock=clock) \
            if policy.rate_per_s > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.policy.is_open(scope["path"]):
            await self.app(scope, receive, send)
            return
        if self.buckets is not None:
            client = scope.get("client")
            wait = self.buckets.take(client[0] if client else "unknown")
            if wait > 0:
                seconds = max(1, math.ceil(wait))
                response = error_response(
                    Request(scope), 429, "rate_limited",
                    f"too many requests from this client: at most {self.policy.rate_per_s:g} "
                    f"a second (bursts of {self.policy.burst}); retry after {seconds} s",
                    headers={"Retry-After": str(seconds)},
                )
                await response(scope, receive, send)
                return
        if not self.policy.token_ok(Headers(scope=scope).get("authorization")):
            response = error_response(
                Request(scope), 401, "unauthorized",
                "this server needs a bearer token: send 'Authorization: Bearer <token>' "
                "(the token is the server's SNAPSEARCH_API_TOKEN)",
                headers={"WWW-Authenticate": 'Bearer realm="snapsearch"'},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
