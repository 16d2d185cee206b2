"""Rate limits: per API key, per client address on public pages, per invoice for checkouts.

Where each is checked:

- ``RateLimitMiddleware`` (this module): every request to a public page (the shell names
  them: the pay links, receipt verification, the finance login, the simulator's card page)
  counts against its client address, before any query. Over the limit: 429 and
  ``Retry-After``, a bilingual page (or the one error shape under ``/v1/``).
- ``regie.kit.auth.authenticate``: each API request counts against its key; a wrong key
  counts against the client address (``auth_failures``), which stops probing for keys.
- ``payments.pages``: each press of Pay counts against its invoice (``checkouts``), so a
  pay link cannot open checkouts and payment rows without end.

The counters are ``regie.kit.ratecounters``: in memory on SQLite, shared through
PostgreSQL otherwise. Every limit is a setting (``REGIE_RATE_LIMIT_…``, "N/period";
empty or "off": no limit).
"""

from __future__ import annotations

import copy
import ipaddress
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from limits import RateLimitItem, parse
from limits.aio.strategies import FixedWindowRateLimiter
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from regie.kit.database import Database
from regie.kit.errors import ApiError
from regie.kit.http_errors import error_response
from regie.kit.i18n import translate
from regie.kit.ratecounters import Clock, MemoryCounters, SharedCounters
from regie.kit.settings import Settings
from regie.kit.web import page_lang, render

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_limit(spec: str) -> RateLimitItem | None:
    """ "100/minute", "10 per hour"… (the ``limits`` notation); "" or "off": no limit."""
    spec = spec.strip()
    return None if spec.lower() in ("", "off") else parse(spec)


def parse_networks(spec: str) -> tuple[Network, ...]:
    """ "127.0.0.1, 10.0.0.0/8, ::1" → networks (a bare address is a /32 or /128)."""
    return tuple(
        ipaddress.ip_network(p.strip(), strict=False) for p in spec.split(",") if p.strip()
    )


class Limit:
    """One limit (a name, "N per period") counted in one storage."""

    def __init__(
        self, name: str, item: RateLimitItem | None, storage: MemoryCounters, clock: Clock
    ) -> None:
        self.name = name
        self.item = item
        self.storage = storage
        self.limiter = FixedWindowRateLimiter(storage)
        self.clock = clock

    async def hit(self, who: str) -> int | None:
        """Count one hit: None while within the limit, else the seconds to wait."""
        if self.item is None:
            return None
        if await self.limiter.hit(self.item, self.name, who):
            return None
        return await self._retry_after(who)

    async def over(self, who: str) -> int | None:
        """Like ``hit`` without counting (is ``who`` already over the limit?)."""
        if self.item is None or await self.limiter.test(self.item, self.name, who):
            return None
        return await self._retry_after(who)

    async def _retry_after(self, who: str) -> int:
        assert self.item is not None
        stats = await self.limiter.get_window_stats(self.item, self.name, who)
        return max(1, math.ceil(stats.reset_time - self.clock()))


@dataclass
class RateLimits:
    """The app's limits (``app.state.rate_limits``)."""

    api_key: Limit
    address: Limit
    auth_failures: Limit
    checkouts: Limit
    trusted_proxies: tuple[Network, ...]

    @classmethod
    def build(cls, settings: Settings, db: Database, clock: Clock = time.time) -> RateLimits:
        def limit(name: str, spec: str) -> Limit:
            item = parse_limit(spec)
            storage: MemoryCounters
            if db.is_postgres:  # several processes: count together
                share = settings.rate_limit_sync_share
                batch = int(item.amount * share) if item is not None else 1
                storage = SharedCounters(db, batch=batch, clock=clock)
            else:  # SQLite: one process
                storage = MemoryCounters(clock=clock)
            return Limit(name, item, storage, clock)

        return cls(
            api_key=limit("key", settings.rate_limit_api_key),
            address=limit("address", settings.rate_limit_address),
            auth_failures=limit("auth-failures", settings.rate_limit_auth_failures),
            checkouts=limit("checkouts", settings.rate_limit_checkouts),
            trusted_proxies=parse_networks(settings.trusted_proxies),
        )

    def client_address(self, scope: Scope) -> str:
        return client_address(scope, self.trusted_proxies)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address, an IPv4 one as itself even when a dual-stack socket wrote it as IPv6
    (``::ffff:a.b.c.d``): as a /64 every IPv4 client would be one address, ``::/64``."""
    try:
        ip = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def client_address(scope: Scope, trusted: tuple[Network, ...]) -> str:
    """The address a request comes from, as a limit counts it.

    The peer's address, unless the peer is a trusted proxy (``REGIE_TRUSTED_PROXIES``):
    then ``X-Forwarded-For`` read from the right, the first hop that is not a trusted
    proxy (what comes before it, the client could have written). An IPv6 address counts
    as its /64, which one subscriber usually holds whole.
    """
    client = scope.get("client")
    ip = _ip(client[0]) if client else None

    def is_trusted(addr: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> bool:
        return addr is not None and any(addr in net for net in trusted)

    if is_trusted(ip):
        forwarded = [
            v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"x-forwarded-for"
        ]
        hops = [_ip(h) for h in ",".join(forwarded).split(",") if h.strip()]
        for hop in reversed(hops):
            if hop is None:  # garbage in the header: stop believing it here
                break
            ip = hop
            if not is_trusted(hop):
                break
    if ip is None:
        return client[0] if client else "unknown"
    if ip.version == 6:
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def too_many(retry_after: int) -> ApiError:
    """The API's 429, in the one error shape."""
    return ApiError(
        429,
        "rate_limited",
        f"Too many requests. Retry after {retry_after} seconds.",
        headers={"Retry-After": str(retry_after)},
    )


def too_many_page(
    request: Request,
    retry_after: int,
    *,
    lang: str | None = None,
    body_key: str = "too_many_body",
    switch_path: str | None = None,
    contact: object = None,
) -> HTMLResponse:
    """The citizen's 429: the page in their language, then in the other one."""
    lang = lang or page_lang(request)
    other = "en" if lang == "fr" else "fr"
    minutes = max(1, math.ceil(retry_after / 60))
    return render(
        request,
        "too_many.html",
        lang=lang,
        status_code=429,
        headers={"Retry-After": str(retry_after)},
        switch_path=switch_path,
        title=translate("too_many_title", lang),
        body=translate(body_key, lang, minutes=minutes),
        contact=contact,
        other=other,
        other_title=translate("too_many_title", other),
        other_body=translate(body_key, other, minutes=minutes),
    )


class RateLimitMiddleware:
    """Counts each request to a public page against its client address."""

    def __init__(self, app: ASGIApp, *, is_public: Callable[[str], bool]) -> None:
        self.app = app
        self.is_public = is_public

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limits: RateLimits | None = None
        if scope["type"] == "http" and self.is_public(scope["path"]):
            limits = getattr(scope["app"].state, "rate_limits", None)
        if limits is None:
            await self.app(scope, receive, send)
            return
        retry_after = await limits.address.hit(limits.client_address(scope))
        if retry_after is None:
            await self.app(scope, receive, send)
            return
        response: Response
        if scope["path"].startswith("/v1/"):
            response = error_response(too_many(retry_after))
        else:
            response = too_many_page(Request(scope, receive), retry_after)
        await response(scope, receive, send)


RATE_LIMITED: dict[str, Any] = {
    "description": "Too many requests: over a rate limit (per API key, or per client address "
    "for wrong keys and receipt checks); retry after `Retry-After` seconds",
    "headers": {
        "Retry-After": {
            "description": "Seconds until the limit's window ends",
            "schema": {"type": "integer", "minimum": 1},
        }
    },
}


def document_rate_limits(app: FastAPI) -> None:
    """Every ``/v1`` operation may answer 429: say so in the OpenAPI document."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()  # FastAPI's, cached on the app: amended once
        for path, operations in schema.get("paths", {}).items():
            if path.startswith("/v1/"):
                for operation in operations.values():
                    responses = operation.setdefault("responses", {})
                    responses.setdefault("429", copy.deepcopy(RATE_LIMITED))
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
