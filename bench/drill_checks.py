"""The fault drill's watch and verdicts (``bench.drill``): when everything is quiet, and
what passes or fails."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import asyncpg

from bench.drill_fleet import Fault
from bench.drill_receiver import Delivery, Receiver
from bench.drill_senders import Sends
from bench.drill_setup import Setup
from bench.drill_state import State, differences
from bench.http_invoices import _plain

FAULT_MARGIN = 2.0  # seconds around a fault in which a delivery may be received twice
COUNTS = """SELECT
 (SELECT count(*) FROM webhook_inbox) AS inbox,
 (SELECT count(*) FROM webhook_inbox WHERE status = 'pending') AS pending,
 (SELECT count(*) FROM webhook_inbox WHERE status = 'dead') AS dead,
 (SELECT count(*) FROM webhook_deliveries WHERE status = 'pending') AS out_pending,
 (SELECT count(*) FROM webhook_deliveries WHERE status = 'failed') AS out_failed,
 (SELECT count(*) FROM receipt_renders) AS renders,
 (SELECT count(*) FROM ledger_entries e
   WHERE NOT EXISTS (SELECT 1 FROM ledger_seals s WHERE s.entry_id = e.id)) AS unsealed"""


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class Progress:
    counts: dict[str, int] | None = None
    applied_at: float | None = None  # every send answered and nothing left to apply
    quiet_at: float | None = None  # … and nothing left to deliver, render or seal
    timed_out: bool = False
    failed_polls: int = 0


async def watch(
    url: str,
    progress: Progress,
    sends: Sends,
    total: int,
    faults: asyncio.Task[None],
    deadline: float,
) -> None:
    """Poll the drill's database (a new connection each time: it may be restarting) until
    everything is quiet, twice in a row after the faults, or the deadline."""
    calm = 0
    while time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        try:
            conn = await asyncpg.connect(_plain(url), timeout=2)
            try:
                row = await conn.fetchrow(COUNTS)
            finally:
                await conn.close()
        except (TimeoutError, OSError, asyncpg.PostgresError):
            progress.failed_polls += 1
            calm = 0
            continue
        c = progress.counts = dict(row)
        now = time.monotonic()
        if sends.done < total or not faults.done() or c["pending"]:
            calm = 0
            continue
        if progress.applied_at is None:
            progress.applied_at = now
        if c["out_pending"] or c["renders"] or c["unsealed"]:
            calm = 0
            continue
        calm += 1
        if calm == 2:
            progress.quiet_at = now
            return
    progress.timed_out = True


def judge(
    *,
    setup: Setup,
    sends: Sends,
    total: int,
    drill: State,
    replay: State,
    replay_pending: int,
    verify: subprocess.CompletedProcess[str],
    receiver: Receiver,
    faults: list[Fault],
    codes: dict[str, int | None],
    progress: Progress,
) -> tuple[list[Check], dict[str, Any]]:
    checks = [
        Check(
            "every send acknowledged",
            sends.acked == total and not sends.refused and not sends.given_up,
            f"{sends.acked} of {total} answered 2xx; refused {sends.refused[:3]};"
            f" given up {sends.given_up[:3]}",
        ),
        Check(
            "all quiet before the deadline",
            not progress.timed_out,
            "applied, delivered, rendered and sealed"
            if not progress.timed_out
            else f"still busy at the deadline: {progress.counts}",
        ),
    ]
    ids = {str(e["id"]) for e in setup.events}
    twice = sorted(k for k, v in drill.inbox.items() if len(v) > 1)
    statuses: Counter[str] = Counter(s for v in drill.inbox.values() for s in v)
    missing, extra = sorted(ids - set(drill.inbox)), sorted(set(drill.inbox) - ids)
    unapplied = sum(n for s, n in statuses.items() if s not in ("done", "ignored"))
    checks.append(
        Check(
            "inbox: each unique event once, applied",
            not (twice or missing or extra or unapplied),
            f"{len(drill.inbox)} events, rows {dict(statuses)}; stored twice {twice[:3]},"
            f" missing {missing[:3]}, unknown {extra[:3]}",
        )
    )
    last = (verify.stdout.strip().splitlines() or [verify.stderr.strip()])[-1]
    checks.append(Check("regie ledger verify", verify.returncode == 0, last[:200]))
    checks.append(
        _same(
            "invoices equal the serial replay",
            drill.invoices,
            replay.invoices,
            f"{len(drill.invoices)} invoices:"
            f" {dict(Counter(v[0] for v in drill.invoices.values()))};"
            f" replay left {replay_pending} pending",
            extra_ok=replay_pending == 0,
        )
    )
    checks.append(
        _same(
            "ledger balances equal the serial replay",
            {**drill.balances, **{("entries", k): v for k, v in drill.entries.items()}},
            {**replay.balances, **{("entries", k): v for k, v in replay.entries.items()}},
            f"{len(drill.balances)} accounts, {sum(drill.entries.values())} entries"
            f" {dict(drill.entries)}",
        )
    )
    checks.append(
        _same(
            "outbox equals the serial replay",
            dict(drill.facts),
            dict(replay.facts),
            f"{sum(drill.facts.values())} notifications:"
            f" {dict(Counter(t for (t, _inv), n in drill.facts.items() for _ in range(n)))}",
        )
    )
    delivery, once, counts = _notifications(drill, receiver.deliveries, faults)
    checks += [delivery, once]
    bad_exits = {k: v for k, v in codes.items() if v != 0}
    checks.append(
        Check(
            "processes stopped cleanly on SIGTERM",
            not bad_exits,
            f"{len(codes)} processes exited 0" if not bad_exits else f"exit codes {bad_exits}",
        )
    )
    counts["applied"] = statuses["done"] + statuses["ignored"]
    counts["inbox_status"] = ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))
    return checks, counts


def _same(
    name: str, got: dict[Any, Any], want: dict[Any, Any], detail: str, extra_ok: bool = True
) -> Check:
    diff = differences(name.split()[0], got, want)
    return Check(name, not diff and extra_ok, "; ".join(diff) if diff else detail)


def _notifications(
    drill: State, got: list[Delivery], faults: list[Fault]
) -> tuple[Check, Check, dict[str, Any]]:
    by_id: dict[str, list[Delivery]] = defaultdict(list)
    for d in got:
        by_id[d.webhook_id].append(d)
    outbox = set(drill.outbox)
    undelivered = sorted(k for k, s in drill.outbox.items() if s != "delivered")
    missing, unknown = sorted(outbox - set(by_id)), sorted(set(by_id) - outbox)
    unverified = sum(not d.verified for d in got)
    mismatched = sum(d.webhook_id != d.regie_event_id for d in got)
    delivery = Check(
        "every notification received, signed",
        not (undelivered or missing or unknown or unverified or mismatched),
        f"{len(outbox)} event ids, {len(got)} deliveries; not delivered {undelivered[:3]},"
        f" never received {missing[:3]}, unknown {unknown[:3]}, bad signature {unverified},"
        f" webhook-id not Regie-Event-Id {mismatched}",
    )
    repeated = {k: v for k, v in by_id.items() if len(v) > 1}
    changed = sorted(k for k, v in repeated.items() if len({d.body_sha256 for d in v}) > 1)
    during: Counter[str] = Counter()  # the fault each repeated id was first received in
    unexplained = []
    for k, v in sorted(repeated.items()):
        first = min(d.at for d in v)
        fault = next(
            (f for f in faults if f.start - FAULT_MARGIN <= first <= f.end + FAULT_MARGIN), None
        )
        if fault is None:
            unexplained.append(k)
        else:
            during[fault.what] += 1
    redeliveries = len(got) - len(by_id)
    once = Check(
        "exactly once per event id (deduplicated on webhook-id)",
        not (changed or unexplained),
        f"{len(by_id)} ids; {redeliveries} deliveries repeated {len(repeated)} ids, first"
        f" received during {dict(during) or 'no fault'}; repeats with another body"
        f" {changed[:3]}, repeats of an id first received outside any fault"
        f" {unexplained[:3]}",
    )
    return delivery, once, {"distinct_ids": len(by_id), "redeliveries": redeliveries}
