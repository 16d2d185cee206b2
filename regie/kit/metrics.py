"""Prometheus metrics in the text format, without a client library.

Counters live in process (per replica, as Prometheus expects); the gauges about
payments and the inbox are read from the database at scrape time, so every replica
reports the same shared truth.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict

from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from regie.kit.database import Database

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.latency_buckets: dict[str, list[int]] = defaultdict(lambda: [0] * (len(_BUCKETS) + 1))
        self.latency_sum: dict[str, float] = defaultdict(float)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests[(method, route, status)] += 1
        buckets = self.latency_buckets[route]
        for i, bound in enumerate(_BUCKETS):
            if seconds <= bound:
                buckets[i] += 1
        buckets[-1] += 1
        self.latency_sum[route] += seconds

    async def render(self, db: Database) -> str:
        out = ["# TYPE regie_http_requests_total counter"]
        for (method, route, status), n in sorted(self.requests.items()):
            out.append(
                f'regie_http_requests_total{{method="{method}",route="{route}",status="{status}"}} {n}'
            )
        out.append("# TYPE regie_http_request_duration_seconds histogram")
        for route, buckets in sorted(self.latency_buckets.items()):
            for bound, n in zip(_BUCKETS, buckets, strict=False):
                out.append(
                    f'regie_http_request_duration_seconds_bucket{{route="{route}",le="{bound}"}} {n}'
                )
            out.append(
                f'regie_http_request_duration_seconds_bucket{{route="{route}",le="+Inf"}} {buckets[-1]}'
            )
            out.append(
                f'regie_http_request_duration_seconds_sum{{route="{route}"}} {self.latency_sum[route]:.6f}'
            )
            out.append(
                f'regie_http_request_duration_seconds_count{{route="{route}"}} {buckets[-1]}'
            )
        async with db.engine.connect() as conn:
            out.append("# TYPE regie_payments gauge")
            for status, n in (
                await conn.execute(text("SELECT status, count(*) FROM payments GROUP BY status"))
            ).all():
                out.append(f'regie_payments{{status="{status}"}} {n}')
            out.append("# TYPE regie_webhook_inbox gauge")
            for status, n in (
                await conn.execute(
                    text("SELECT status, count(*) FROM webhook_inbox GROUP BY status")
                )
            ).all():
                out.append(f'regie_webhook_inbox{{status="{status}"}} {n}')
            oldest = (
                await conn.execute(
                    text("SELECT min(received_at) FROM webhook_inbox WHERE status = 'pending'")
                )
            ).scalar()
            out.append("# TYPE regie_outbox_deliveries gauge")
            rows = await conn.execute(
                text("SELECT status, count(*) FROM webhook_deliveries GROUP BY status")
            )
            for status, n in rows.all():
                out.append(f'regie_outbox_deliveries{{status="{status}"}} {n}')
            unsealed = (
                await conn.execute(
                    text(
                        # cheap on a large ledger (primary-key range): entries after the
                        # chain's head; a late commit sealed out of order is not counted
                        "SELECT count(*) FROM ledger_entries WHERE seq > COALESCE(("
                        "SELECT e.seq FROM ledger_seals s JOIN ledger_entries e ON e.id = s.entry_id "
                        "ORDER BY s.position DESC LIMIT 1), 0)"
                    )
                )
            ).scalar()
        lag = 0.0
        if oldest is not None:
            if isinstance(oldest, str):  # SQLite returns text
                oldest = dt.datetime.fromisoformat(oldest)
            if oldest.tzinfo is None:
                oldest = oldest.replace(tzinfo=dt.UTC)
            lag = max((dt.datetime.now(dt.UTC) - oldest).total_seconds(), 0.0)
        out.append("# TYPE regie_webhook_lag_seconds gauge")
        out.append(f"regie_webhook_lag_seconds {lag:.3f}")
        out.append("# TYPE regie_ledger_unsealed_entries gauge")
        out.append(f"regie_ledger_unsealed_entries {unsealed or 0}")
        return "\n".join(out) + "\n"


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            self.metrics.observe(scope["method"], path, status, time.perf_counter() - start)
