"""The fault drill (issue 13): regie keeps its books and its word through a worker killed
and a database restarted while PSP events pour in.

Setup, on PostgreSQL (``bench.drill_setup``): a fresh database where citizens of two
services have paid, been declined, paid after a decline, or given up, through regie's
pages and the simulator PSP's hosted checkout, and the simulator has paid its balance out
to the bank; their PSP events are kept back. A copy of that database is taken for the
serial replay. Then two ``regie serve`` and two ``regie worker`` processes start (separate
OS processes, on loopback ports), with a notification receiver in this process
(``bench.drill_receiver``) as both services' endpoint. Everything runs with
``REGIE_ENV=development``: the SSRF guard (``webhooks/outbound/ssrf.py``) refuses loopback
notification URLs in production, and the simulator PSP refuses to run there.

The drill: 8 concurrent senders POST the events to ``/webhooks/simulator`` of either
server, signed as the simulator signs them (``payments.signing``, ``Simulator-Signature``):
``--events`` sends (2,000), of which ``--duplicates`` (30 %) repeat an event already in
the list, all shuffled. A sender retries an event until regie answers 2xx, as a PSP does.
Mid-run, one worker is killed with SIGKILL and started again, and PostgreSQL is restarted
(``--pg-fault restart``: ``pg_ctlcluster … main restart``, the whole cluster) or every
backend of the drill's database is terminated (``--pg-fault terminate``: other databases
on the server are not disturbed; what ``make test`` runs). Then the drill waits until
everything is applied, delivered, rendered and sealed, stops the processes with SIGTERM,
and replays the unique events one by one on the copy (``bench.drill_state``).

The checks (each PASS or FAIL; the exit status is 1 if any fails):
- every send was acknowledged with a 2xx;
- the inbox holds each unique event exactly once, applied (``done`` or ``ignored``): none
  pending, none dead, no event twice;
- ``regie ledger verify`` passes;
- every invoice's state (status, amounts, its payments' statuses, its receipts) and every
  ledger account's balance equal those of the serial replay; so do the notifications the
  outbox holds (per type and invoice);
- every notification reached the receiver exactly once per event id, meaning: every
  notification event id in the outbox was received (none missing, none unknown), each
  delivery's Standard Webhooks signature verifies and its ``webhook-id`` is its
  ``Regie-Event-Id``, and a receiver that deduplicates on that id, as the README asks
  (delivery is at least once), handles each notification once. An id received more than
  once must carry the same body each time, and its first copy must have arrived during a
  fault (a worker killed, or the database gone, after the POST and before the answer was
  recorded); any other repeat fails the drill.

    python -m bench.drill [--events 2000] [--pg-fault restart|terminate]
        [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/regie_drill]
        [--replay-database-url …/regie_drill_replay]

The drill drops and creates both databases. Bounded: ``--timeout`` seconds (600) after the
setup, the number of sends, loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.drill_checks import Check, Progress, judge, watch
from bench.drill_fleet import ROOT, Fault, Fleet, restart_postgres, terminate_backends
from bench.drill_receiver import Receiver
from bench.drill_senders import Sends, send_all
from bench.drill_setup import clone, prepare
from bench.drill_state import replay, snapshot
from bench.http_invoices import free_port, fresh_database

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/regie_drill"
SIMULATOR_SECRET = "whsec_drill_simulator_secret"  # signs the drill's simulator events


@dataclass
class Options:
    database_url: str = DEFAULT_URL
    replay_database_url: str = ""  # default: the drill's database name + "_replay"
    events: int = 2000
    duplicates: float = 0.30
    senders: int = 8
    pg_fault: str = "restart"  # restart | terminate | none
    kill_worker: bool = True
    seed: int = 13
    timeout: float = 600.0
    logs: Path | None = None  # the processes' logs go there (default: a new temporary folder)

    @property
    def replay_url(self) -> str:
        return self.replay_database_url or f"{self.database_url}_replay"


@dataclass
class Report:
    figures: dict[str, Any]
    checks: list[Check]
    faults: list[Fault] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def lines(self) -> list[str]:
        f = self.figures
        out = [
            f"fault drill: {f['sent']} events sent ({f['unique']} unique + {f['duplicates']}"
            f" duplicates, shuffled), {f['senders']} senders, 2 regie serve, 2 regie worker,"
            f" PostgreSQL fault: {f['pg_fault']}",
            f"  setup: {f['invoices']} invoices ({f['scenarios']}), {f['payouts']} payouts,"
            f" {f['setup_s']:.1f} s",
            f"  sending: {f['acked']} acknowledged in {f['send_s']:.1f} s, {f['retries']}"
            f" retries (5xx or no answer), regie answered duplicate={f['dup_answers']} times",
            f"  applied: {f['applied']} events ({f['inbox_status']}) in {f['applied_s']:.1f} s"
            f" from the first send ({f['per_s']:.1f} events/s); all quiet after"
            f" {f['quiet_s']:.1f} s",
        ]
        for fault in self.faults:
            out.append(
                f"  fault: {fault.what} at {fault.start - f['t0']:.1f} s, over in"
                f" {fault.end - fault.start:.1f} s ({fault.detail})"
            )
        out += [
            f"  restarts: {f['worker_restarts']} worker (after SIGKILL),"
            f" {f['pg_restarts']} PostgreSQL; {f['errors_logged']} ERROR lines in the logs",
            f"  notifications: {f['outbox_ids']} in the outbox, {f['received']} deliveries"
            f" received, {f['distinct_ids']} distinct webhook-ids, {f['redeliveries']}"
            f" duplicates received (redeliveries: at least once)",
            f"  replay: {f['unique']} events one by one on the copy in {f['replay_s']:.1f} s",
            "checks:",
        ]
        out += [f"  {'PASS' if c.ok else 'FAIL'}  {c.name}: {c.detail}" for c in self.checks]
        out.append("drill PASSED" if self.ok else "drill FAILED")
        return out


def the_sends(events: list[dict[str, Any]], total: int, seed: int) -> list[dict[str, Any]]:
    """Every event once and ``total - len(events)`` repeats of random ones, shuffled."""
    rng = random.Random(seed)
    sends = list(events) + [rng.choice(events) for _ in range(total - len(events))]
    rng.shuffle(sends)
    return sends


def environment(opts: Options, base_port: int) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "REGIE_ENV": "development",  # loopback notification URLs, the simulator PSP
        "REGIE_DATABASE_URL": opts.database_url,
        "REGIE_BASE_URL": f"http://127.0.0.1:{base_port}",
        "REGIE_PSP": "simulator",
        "REGIE_SIMULATOR_WEBHOOK_SECRET": SIMULATOR_SECRET,
        "REGIE_SIMULATOR_PAYOUTS": "manual",
        "REGIE_RUN_WORKER_IN_PROCESS": "false",
        "REGIE_LOG_LEVEL": "INFO",
        "REGIE_WORKER_POLL_SECONDS": "0.1",
        # a dead worker's claims are taken over soon (the drill's time is bounded)
        "REGIE_WORKER_LEASE_SECONDS": "5",
        "REGIE_NOTIFICATION_LEASE_SECONDS": "10",
        "REGIE_SHUTDOWN_GRACE_SECONDS": "10",
    }


async def faults(opts: Options, fleet: Fleet, sends: Sends, total: int, out: list[Fault]) -> None:
    """SIGKILL a worker a quarter into the sends, start it again; then, once it runs and
    three quarters are sent, the database fault."""
    if opts.kill_worker:
        await sends.reached(total // 4).wait()
        start = time.monotonic()
        fleet.kill_worker(0)
        await asyncio.sleep(1.0)
        fleet.restart_worker(0)
        out.append(Fault("SIGKILL worker 1", start, time.monotonic(), "started again after 1 s"))
        while not fleet.worker_started(0):  # noqa: ASYNC110 - its log file says so
            await asyncio.sleep(0.1)
    if opts.pg_fault == "none":
        return
    await sends.reached(3 * total // 4).wait()
    start = time.monotonic()
    if opts.pg_fault == "restart":
        detail = await restart_postgres()
    else:
        detail = await terminate_backends(opts.database_url)
    out.append(Fault(f"PostgreSQL {opts.pg_fault}", start, time.monotonic(), detail))


async def run(opts: Options) -> Report:
    url, replay_url = opts.database_url, opts.replay_url
    unique = round(opts.events * (1 - opts.duplicates))
    started = time.monotonic()
    receiver_port, ports = free_port(), [free_port(), free_port()]
    await fresh_database(url)
    setup = await prepare(url, receiver_port, unique, opts.seed, SIMULATOR_SECRET)
    await clone(url, replay_url)
    setup_s = time.monotonic() - started
    sends_list = the_sends(setup.events, opts.events, opts.seed)
    receiver = Receiver(receiver_port, setup.secrets)
    await receiver.start()
    logdir = opts.logs or Path(tempfile.mkdtemp(prefix="regie-drill-"))
    fleet = Fleet(environment(opts, ports[0]), logdir, ports)
    out_faults: list[Fault] = []
    progress = Progress()
    try:
        fleet.start()
        await asyncio.to_thread(fleet.wait_ready)
        sends = Sends()
        t0 = time.monotonic()
        deadline = t0 + opts.timeout
        injector = asyncio.create_task(faults(opts, fleet, sends, len(sends_list), out_faults))
        watcher = asyncio.create_task(
            watch(url, progress, sends, len(sends_list), injector, deadline)
        )
        await send_all(sends_list, ports, SIMULATOR_SECRET, opts.senders, sends, deadline)
        send_s = time.monotonic() - t0
        await injector
        await watcher
        codes = await asyncio.to_thread(fleet.stop)
    finally:
        fleet.stop()  # (after a failure: the processes still running)
        await receiver.stop()
    verify = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "regie.cli", "ledger", "verify"],
        env=fleet.env, cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    drill_state = await snapshot(url)
    t_replay = time.monotonic()
    replay_pending = await replay(replay_url, setup.events, SIMULATOR_SECRET)
    replay_s = time.monotonic() - t_replay
    replay_state = await snapshot(replay_url)
    checks, counts = judge(
        setup=setup, sends=sends, total=len(sends_list), drill=drill_state, replay=replay_state,
        replay_pending=replay_pending, verify=verify, receiver=receiver, faults=out_faults,
        codes=codes, progress=progress,
    )  # fmt: skip
    figures = {
        "sent": len(sends_list), "unique": unique, "duplicates": len(sends_list) - unique,
        "senders": opts.senders, "pg_fault": opts.pg_fault, "invoices": setup.invoices,
        "scenarios": ", ".join(f"{k} {v}" for k, v in sorted(setup.scenarios.items())),
        "payouts": setup.payouts, "setup_s": setup_s, "acked": sends.acked,
        "send_s": send_s, "retries": sends.retries, "dup_answers": sends.duplicate_answers,
        "applied": counts["applied"], "inbox_status": counts["inbox_status"],
        "applied_s": (progress.applied_at or float("nan")) - t0,
        "per_s": unique / ((progress.applied_at or float("inf")) - t0),
        "quiet_s": (progress.quiet_at or float("nan")) - t0, "t0": t0,
        "worker_restarts": len(fleet.killed), "pg_restarts": sum(
            f.what.startswith("PostgreSQL") for f in out_faults
        ), "errors_logged": fleet.errors_logged(), "outbox_ids": len(drill_state.outbox),
        "received": len(receiver.deliveries), "distinct_ids": counts["distinct_ids"],
        "redeliveries": counts["redeliveries"], "replay_s": replay_s, "logs": str(logdir),
    }  # fmt: skip
    return Report(figures, checks, out_faults)


def main(argv: list[str] | None = None) -> Report:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url", default=os.environ.get("REGIE_DRILL_DATABASE_URL", DEFAULT_URL)
    )
    parser.add_argument("--replay-database-url", default="")
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--duplicates", type=float, default=0.30)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--pg-fault", choices=["restart", "terminate", "none"], default="restart")
    parser.add_argument("--no-kill", action="store_true", help="do not SIGKILL a worker")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args(argv)
    if not args.database_url.startswith("postgresql"):
        sys.exit("the drill runs on PostgreSQL: --database-url postgresql+asyncpg://…")
    opts = Options(
        args.database_url, args.replay_database_url, args.events, args.duplicates,
        args.senders, args.pg_fault, not args.no_kill, args.seed, args.timeout,
    )  # fmt: skip
    report = asyncio.run(run(opts))
    print("\n".join(report.lines()))
    print(f"  (the processes' logs: {report.figures['logs']})")
    return report


if __name__ == "__main__":
    sys.exit(0 if main().ok else 1)
