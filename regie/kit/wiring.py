"""What a domain package hands the composition root: its ``Wiring``.

Each package has a ``wiring`` module whose ``wire(...)`` takes that package's services and
returns their periodic jobs, the inbox drains the worker runs on every tick, the domain
events they subscribe to and the gauges they expose on ``/metrics``. The composition root
(``regie.app``) loops over the wirings: it names no handler, no job and no table, and a new
package joins by adding its own ``wiring`` module. See docs/architecture.md, "Wiring".

The shapes live in the kernel so that packages can build them without importing the shell.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy.ext.asyncio import AsyncConnection

from regie.kit.events import DomainEvent, Handler


class Job(NamedTuple):
    """A periodic job: run ``run()`` at most every ``every``; a failure is logged, not fatal."""

    name: str
    every: dt.timedelta
    run: Callable[[], Awaitable[object]]


#: Handles up to ``n`` due items; returns how many it handled (the worker sleeps only when
#: its drains together handled less than a full batch).
Drain = Callable[[int], Awaitable[int]]


class Subscription(NamedTuple):
    """``handler(uow, event)`` runs inside the publisher's transaction for every event of
    ``event_type`` (or a subclass)."""

    event_type: type[DomainEvent]
    handler: Handler


class Sample(NamedTuple):
    """One value of a gauge. An ``int`` is rendered as is, a ``float`` with 3 decimals."""

    labels: Mapping[str, str]
    value: int | float


#: Reads a gauge's samples on the scrape's connection (one connection for all gauges).
GaugeRead = Callable[[AsyncConnection], Awaitable[Sequence[Sample]]]


def by_status(rows: Iterable[tuple[str, int]], statuses: Iterable[str]) -> list[Sample]:
    """A gauge's samples per status: every known status, 0 when no row has it (a series
    that appears only with its first row starts above 0, and ``increase`` never sees that
    rise), then any other status the rows hold."""
    counts = {status: n for status, n in rows}
    known = list(statuses)
    return [Sample({"status": s}, counts.get(s, 0)) for s in known] + [
        Sample({"status": s}, n) for s, n in counts.items() if s not in known
    ]


class Gauge(NamedTuple):
    """A Prometheus gauge read from the database at scrape time, so that every replica
    reports the same shared truth."""

    name: str
    read: GaugeRead


@dataclass(frozen=True)
class Wiring:
    """Everything one package registers with the shell."""

    jobs: Sequence[Job] = ()
    drains: Sequence[Drain] = ()
    subscriptions: Sequence[Subscription] = ()
    gauges: Sequence[Gauge] = ()
