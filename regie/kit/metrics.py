"""Prometheus metrics in the text format, without a client library.

Counters live in process (per replica, as Prometheus expects); the gauges are registered
by the packages (``regie.kit.wiring.Gauge``: a name and a query) and read from the database
at scrape time, so every replica reports the same shared truth. The kernel knows no
domain table.
"""

from __future__ import annotations

import hmac
import time
from collections import defaultdict
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from regie.kit.database import Database
from regie.kit.errors import ApiError, NotFound
from regie.kit.settings import Settings
from regie.kit.wiring import Gauge, Sample


def check_metrics_access(settings: Settings, authorization: str | None) -> None:
    """``/metrics`` with ``REGIE_METRICS_TOKEN`` set: ``Authorization: Bearer <token>`` or
    401. Without a token: open in development, not served (404) in production."""
    token = settings.metrics_token.get_secret_value()
    if not token:
        if settings.env == "production":
            raise NotFound("route")
        return
    scheme, _, given = (authorization or "").partition(" ")
    # (as bytes: compare_digest raises TypeError on a str holding a character outside ASCII)
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        raise ApiError(
            401,
            "metrics_token_required",
            "The metrics need the bearer token of REGIE_METRICS_TOKEN.",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )


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

    async def render(self, db: Database, gauges: Sequence[Gauge]) -> str:
        """The counters of this process, then each gauge read from the database."""
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
            for gauge in gauges:
                out.append(f"# TYPE {gauge.name} gauge")
                for sample in await gauge.read(conn):
                    out.append(_sample_line(gauge.name, sample))
        return "\n".join(out) + "\n"


def _sample_line(name: str, sample: Sample) -> str:
    labels = ",".join(f'{key}="{value}"' for key, value in sample.labels.items())
    value = f"{sample.value:.3f}" if isinstance(sample.value, float) else str(sample.value)
    return f"{name}{{{labels}}} {value}" if labels else f"{name} {value}"


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
