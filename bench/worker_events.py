"""Payment events end to end: ``regie worker`` processes draining a full inbox, against
pgbench's INSERT+UPDATE+INSERT transaction on the same PostgreSQL server.

Method (issue 12): one ``regie serve`` process (simulator PSP, no worker) takes N citizen
payments, each through the real flow: the invoice is created with the API, the citizen
presses Pay (``POST /pay/{token}/checkout``) and pays on the simulator's card page, whose
signed event lands in the inbox. Then the events are held (their next attempt set in the
future) while K ``regie worker`` processes start; they are released at once and the clock
runs until every event is applied (the payment, its ledger entry, the receipt's number and
its client notification, in one transaction each) and every receipt PDF is rendered and
stored. Rounds alternate one worker, two workers and pgbench (``pgbench -n -f script -c 8
-T 10``); the medians are printed with the ratios against the targets (events/s ≥ 0.1 ×
pgbench's tps; two workers ≥ 1.6 × one) and the machine's core count.

    python -m bench.worker_events [--n 400] [--rounds 3] [--database-url ...]
        [--profile DIR] (py-spy records the one-worker drains)
        [--worker-path DIR] (the workers run that checkout's code: a before/after)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.http_invoices import _plain, cpu_seconds, free_port, fresh_database, server
from regie.kit.database import Database, utcnow
from regie.kit.ids import new_id
from regie.kit.sealing import Sealer
from regie.kit.settings import Settings
from regie.kit.tenancy import Role, create_key, create_service
from regie.migrate import upgrade
from webhooks.outbound.models import WebhookEndpoint
from webhooks.outbound.signing import new_secret

HERE = Path(__file__).resolve().parent
DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/regie_bench_worker"
CARD = {"card_number": "4242424242424242", "expiry": "12/39", "cvc": "123"}
PGBENCH_SCRIPT = """\\set id random(1, 100000)
BEGIN;
INSERT INTO bench_events (payload) VALUES ('{"type": "payment.succeeded"}');
UPDATE bench_accounts SET balance = balance + 1 WHERE id = :id;
INSERT INTO bench_entries (account_id, amount) VALUES (:id, 2500);
END;
"""


async def setup(url: str) -> tuple[str, str]:
    """A service with an API key and a notification endpoint (so that each payment also
    queues its client notification), and pgbench's three tables."""
    db = Database(url)
    try:
        async with db.session() as s:
            svc = await create_service(s, "bench-worker")
            _, key = await create_key(s, svc, Role.service, live=False)
            endpoint_id = new_id("whe")
            sealer = Sealer(Settings().sealing_keys)
            s.add(
                WebhookEndpoint(
                    id=endpoint_id, service_id=svc.id, url="https://hooks.example.org/regie",
                    secret_sealed=sealer.seal(new_secret(), context=endpoint_id),
                    status="enabled", created_at=utcnow(),
                )
            )  # fmt: skip
            await s.commit()
    finally:
        await db.engine.dispose()
    conn = await asyncpg.connect(_plain(url))
    try:
        await conn.execute(
            "CREATE TABLE bench_events (id bigserial PRIMARY KEY, payload jsonb NOT NULL,"
            " created_at timestamptz NOT NULL DEFAULT now());"
            "CREATE TABLE bench_accounts (id int PRIMARY KEY, balance bigint NOT NULL);"
            "INSERT INTO bench_accounts SELECT g, 0 FROM generate_series(1, 100000) g;"
            "CREATE TABLE bench_entries (id bigserial PRIMARY KEY, account_id int NOT NULL,"
            " amount bigint NOT NULL, created_at timestamptz NOT NULL DEFAULT now());"
        )
    finally:
        await conn.close()
    return svc.slug, key


async def fill_inbox(port: int, key: str, n: int, tag: str, concurrency: int = 8) -> float:
    """N citizens pay through the pages and the simulator; returns the seconds it took."""
    base = f"http://127.0.0.1:{port}"
    bound = asyncio.Semaphore(concurrency)
    started = time.perf_counter()

    async def one(client: httpx.AsyncClient, i: int) -> None:
        async with bound:
            r = await client.post(
                "/v1/invoices",
                headers={"Authorization": f"Bearer {key}"},
                json={
                    "amount": 2500,
                    "currency": "EUR",
                    "reference": f"{tag}-{i:05d}",
                    "description": "Cantine, novembre",
                    "payer": {"name": "Camille Martin", "email": "camille@example.org"},
                },
            )
            r.raise_for_status()
            token = r.json()["payment_url"].rsplit("/", 1)[1]
            r = await client.post(f"/pay/{token}/checkout")
            assert r.status_code == 303, r.text
            card_page = r.headers["location"].removeprefix(base)
            r = await client.post(card_page, data=CARD)
            assert r.status_code == 303, r.text

    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        await asyncio.gather(*(one(client, i) for i in range(n)))
    return time.perf_counter() - started


async def _scalar(conn: asyncpg.Connection, sql: str) -> int:
    return int(await conn.fetchval(sql))


async def drain(
    url: str, env: dict[str, str], workers: int, n: int, profile: Path | None, tag: str
) -> dict[str, float]:
    """Hold the N waiting events, start the workers, release the events, time the drain."""
    conn = await asyncpg.connect(_plain(url))
    pending = "SELECT count(*) FROM webhook_inbox WHERE status = 'pending'"
    try:
        assert await _scalar(conn, pending) == n, "the inbox does not hold the N events"
        # the notifications of earlier rounds are given up: their endpoint cannot be reached
        # (a private receiver would be refused by the SSRF guard), and their retries would
        # otherwise take this round's workers' time (each round queues and tries its own)
        await conn.execute(
            "UPDATE webhook_deliveries SET status = 'failed' WHERE status = 'pending'"
        )
        await conn.execute(
            "UPDATE webhook_inbox SET next_attempt_at = now() + interval '1 day'"
            " WHERE status = 'pending'"
        )
        logs = [
            Path(tempfile.mkstemp(prefix="bench-worker-", suffix=".log")[1]) for _ in range(workers)
        ]
        procs = [
            subprocess.Popen(  # noqa: ASYNC220 - the bench's own processes
                [sys.executable, "-m", "regie.cli", "worker"], env=env, cwd=env["PYTHONPATH"],
                stdout=subprocess.DEVNULL, stderr=log.open("wb"), start_new_session=True,
            )
            for log in logs
        ]  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while not all(b"worker started" in log.read_bytes() for log in logs):
                if time.monotonic() > deadline:
                    raise RuntimeError("the workers did not start")
                await asyncio.sleep(0.1)
            await asyncio.sleep(2.0)  # their first tick: every periodic job runs once
            spy = None
            if profile is not None:
                out = profile / f"worker-{tag}.txt"
                spy = subprocess.Popen(  # noqa: ASYNC220
                    [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(procs[0].pid), "--format", "raw",
                     "--rate", "200", "--output", str(out), "--nonblocking"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
                await asyncio.sleep(1.0)
            cpu_before = sum(cpu_seconds(p.pid) for p in procs)
            started = time.perf_counter()
            await conn.execute(
                "UPDATE webhook_inbox SET next_attempt_at = now() WHERE status = 'pending'"
            )
            applied_at = 0.0
            while True:
                left = await _scalar(conn, pending)
                if left == 0 and not applied_at:
                    applied_at = time.perf_counter() - started
                if left == 0 and await _scalar(conn, "SELECT count(*) FROM receipt_renders") == 0:
                    break
                if time.perf_counter() - started > 600:
                    raise RuntimeError(f"{left} events still pending after 600 s")
                await asyncio.sleep(0.02)
            elapsed = time.perf_counter() - started
            cpu = sum(cpu_seconds(p.pid) for p in procs) - cpu_before
            if spy is not None:
                spy.send_signal(2)  # SIGINT: py-spy writes its profile and stops
                spy.wait(30)
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(30)
            for log in logs:
                log.unlink(missing_ok=True)
        dead = await _scalar(conn, "SELECT count(*) FROM webhook_inbox WHERE status <> 'done'")
        assert dead == 0, f"{dead} events not applied"
        return {
            "events_per_s": round(n / elapsed, 1),
            "applied_per_s": round(n / applied_at, 1),
            "cpu_ms_per_event": round(1000 * cpu / n, 1),
        }
    finally:
        await conn.close()


def pgbench(url: str, clients: int, duration: int) -> float:
    plain = _plain(url)
    m = re.match(r"postgresql://([^@/]+)@([^:/]+):(\d+)/(.+)$", plain)
    assert m, "--database-url must be postgresql+asyncpg://user@host:port/name"
    user, host, port, name = m.groups()
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(PGBENCH_SCRIPT)
    try:
        out = subprocess.run(
            ["pgbench", "-n", "-f", f.name, "-c", str(clients), "-j", "2", "-T", str(duration),
             "-h", host, "-p", port, "-U", user, name],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    finally:
        os.unlink(f.name)
    tps = re.search(r"tps = ([0-9.]+)", out)
    assert tps, out
    return float(tps.group(1))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=400, help="payments in the inbox per drain")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pgbench-seconds", type=int, default=10)
    parser.add_argument(
        "--database-url", default=os.environ.get("REGIE_BENCH_WORKER_DATABASE_URL", DEFAULT_URL)
    )
    parser.add_argument("--profile", help="a folder: py-spy records the one-worker drains")
    parser.add_argument("--worker-path", help="run the workers from this checkout instead")
    args = parser.parse_args(argv)
    if not shutil.which("pgbench"):
        sys.exit("bench.worker_events needs pgbench (Debian's postgresql-client)")
    profile = Path(args.profile) if args.profile else None
    if profile:
        profile.mkdir(parents=True, exist_ok=True)
    url = args.database_url
    asyncio.run(fresh_database(url))
    upgrade(url)
    _, key = asyncio.run(setup(url))
    port = free_port()
    env = {
        **os.environ,
        "REGIE_DATABASE_URL": url,
        "REGIE_PSP": "simulator",
        "REGIE_BASE_URL": f"http://127.0.0.1:{port}",
        "REGIE_LOG_LEVEL": "INFO",
        "REGIE_WORKER_POLL_SECONDS": "0.05",
        "PYTHONPATH": str(HERE.parent),
        # every citizen of the bench comes from 127.0.0.1, and pays each bill once: the
        # limits still count, but never refuse the load the bench is made of
        "REGIE_RATE_LIMIT_API_KEY": "100000000/minute",
        "REGIE_RATE_LIMIT_ADDRESS": "100000000/minute",
    }
    worker_env = {**env, "PYTHONPATH": args.worker_path or str(HERE.parent)}
    serve = [sys.executable, "-m", "regie.cli", "serve", "--port", str(port)]
    one, two, base = [], [], []
    print(
        f"machine: {os.cpu_count()} cores (load {os.getloadavg()[0]:.1f}); {args.n} payments per drain; {args.rounds} rounds"
    )
    with server(serve, {**env, "REGIE_LOG_LEVEL": "WARNING"}, port):
        for i in range(args.rounds):
            fill = asyncio.run(fill_inbox(port, key, args.n, f"r{i}w1"))
            one.append(asyncio.run(drain(url, worker_env, 1, args.n, profile, f"r{i}")))
            asyncio.run(fill_inbox(port, key, args.n, f"r{i}w2"))
            two.append(asyncio.run(drain(url, worker_env, 2, args.n, None, f"r{i}")))
            base.append(pgbench(url, 8, args.pgbench_seconds))
            print(
                f"  round {i + 1}: filled {args.n} in {fill:.1f} s; 1 worker {one[-1]}; "
                f"2 workers {two[-1]}; pgbench {base[-1]:.0f} tps"
            )
    result: dict[str, Any] = {
        "regie_per_s": statistics.median(r["events_per_s"] for r in one),
        "two_workers_per_s": statistics.median(r["events_per_s"] for r in two),
        "applied_per_s": statistics.median(r["applied_per_s"] for r in one),
        "two_applied_per_s": statistics.median(r["applied_per_s"] for r in two),
        "baseline_per_s": statistics.median(base),
        "cpu_ms_per_event": statistics.median(r["cpu_ms_per_event"] for r in one),
    }
    result["ratio"] = result["regie_per_s"] / result["baseline_per_s"]
    result["two_vs_one"] = result["two_workers_per_s"] / result["regie_per_s"]
    print(
        f"payment events end to end ({os.cpu_count()} cores, medians of {args.rounds} rounds): "
        f"1 worker {result['regie_per_s']:.0f} events/s "
        f"(applied {result['applied_per_s']:.0f}/s, then PDFs; "
        f"{result['cpu_ms_per_event']:.1f} ms of worker CPU per event), "
        f"2 workers {result['two_workers_per_s']:.0f} events/s; "
        f"pgbench INSERT+UPDATE+INSERT, 8 clients {result['baseline_per_s']:.0f} tps; "
        f"ratio {result['ratio']:.3f} (target >= 0.1); "
        f"2 vs 1 {result['two_vs_one']:.2f}x (target >= 1.6)"
    )
    return result


if __name__ == "__main__":
    main()
