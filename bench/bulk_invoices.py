"""Bulk invoice creation: one ``POST /v1/invoice-batches`` of 10,000 invoices, vs a COPY of
the same rows into a bare table, on the same PostgreSQL database.

regie runs as a separate process (``regie serve``); this process is the client. It sends
the batch (the JSON body built before the clock starts) and times the answer: validation,
the invoices and their lines, audit rows, the block of gap-free numbers, the ledger entries
and lines, the idempotency record, the commit and the answer. The baseline is
``asyncpg.copy_records_to_table`` of the same invoices (the same columns as regie's
``invoices`` rows, records built before the clock starts) into a table with no index but
its primary key, in one transaction. Rounds alternate; medians; the ratio is COPY's time
over regie's (issue 12's target: >= 0.5, i.e. regie within twice the COPY).

    python -m bench.bulk_invoices [--n 10000] [--rounds 3] [--profile DIR] \
        [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/regie_bench_bulk]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.http_invoices import _plain, cpu_seconds, free_port, fresh_database, make_key, server
from regie.migrate import upgrade

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/regie_bench_bulk"

BARE = """
CREATE TABLE IF NOT EXISTS bench_bare_invoices (
    id varchar(40) PRIMARY KEY, service_id varchar(40) NOT NULL, number varchar(64) NOT NULL,
    reference varchar(100) NOT NULL, description varchar(500) NOT NULL,
    currency varchar(3) NOT NULL, amount_total bigint NOT NULL, status varchar(24) NOT NULL,
    payer_name varchar(200) NOT NULL, payer_email varchar(254), metadata json NOT NULL,
    locale varchar(5) NOT NULL, pay_token varchar(64) NOT NULL,
    expires_at timestamptz NOT NULL, created_at timestamptz NOT NULL
)"""
COLUMNS = [
    "id", "service_id", "number", "reference", "description", "currency", "amount_total",
    "status", "payer_name", "payer_email", "metadata", "locale", "pay_token", "expires_at",
    "created_at",
]  # fmt: skip


def items(n: int, tag: str) -> list[dict[str, Any]]:
    return [
        {
            "amount": 350 + i % 400,
            "currency": "EUR",
            "reference": f"CANTINE-{tag}-{i:05d}",
            "description": "Cantine scolaire, novembre 2026",
            "payer": {"name": f"Famille {i}", "email": f"famille{i}@example.org"},
            "metadata": {"eleve": str(100000 + i), "ecole": "Jules Ferry"},
        }
        for i in range(n)
    ]


def records(batch: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    now = dt.datetime.now(dt.UTC)
    return [
        (
            f"inv_{secrets.token_hex(13)}",
            "svc_bench",
            f"BENCH-2026-{i:06d}",
            x["reference"],
            x["description"],
            x["currency"],
            x["amount"],
            "open",
            x["payer"]["name"],
            x["payer"]["email"],
            json.dumps(x["metadata"]),
            "fr",
            secrets.token_urlsafe(24),
            now + dt.timedelta(days=30),
            now,
        )
        for i, x in enumerate(batch)
    ]


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of one process (a PostgreSQL backend: same machine)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(x) for x in fields[11:13]) / os.sysconf("SC_CLK_TCK")


async def backends_cpu(dsn: str) -> dict[int, float]:
    """CPU so far of each backend connected to the bench database (regie's pool)."""
    conn = await asyncpg.connect(dsn)
    try:
        name = dsn.rsplit("/", 1)[1]
        pids = [
            r["pid"]
            for r in await conn.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                name,
            )
        ]
    finally:
        await conn.close()
    return {pid: proc_cpu(pid) for pid in pids}


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


async def copy_round(dsn: str, batch: list[dict[str, Any]]) -> tuple[float, float]:
    """(wall seconds, the backend's CPU seconds) of the COPY, in one transaction."""
    rows = records(batch)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(BARE)
        backend = conn.get_server_pid()
        cpu = proc_cpu(backend)
        start = time.perf_counter()
        async with conn.transaction():
            await conn.copy_records_to_table("bench_bare_invoices", records=rows, columns=COLUMNS)
        return time.perf_counter() - start, proc_cpu(backend) - cpu
    finally:
        await conn.close()


def regie_round(client: httpx.Client, key: str, batch: list[dict[str, Any]], tag: str) -> float:
    body = json.dumps({"invoices": batch}).encode()
    headers = {
        "Authorization": f"Bearer {key}",
        "Content-Type": "application/json",
        "Idempotency-Key": f"bench-{tag}",
    }
    start = time.perf_counter()
    r = client.post("/v1/invoice-batches", content=body, headers=headers)
    elapsed = time.perf_counter() - start
    if r.status_code != 201:
        raise RuntimeError(f"regie answered {r.status_code}: {r.text[:500]}")
    if r.json()["count"] != len(batch):
        raise RuntimeError("regie created another number of invoices")
    return elapsed


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--database-url", default=os.environ.get("REGIE_BENCH_BULK_DATABASE_URL", DEFAULT_URL)
    )
    parser.add_argument("--profile", help="a folder: py-spy records regie's measured rounds")
    args = parser.parse_args(argv)
    url = args.database_url
    asyncio.run(fresh_database(url))
    upgrade(url)
    key = asyncio.run(make_key(url))
    port = free_port()
    env = {
        **os.environ,
        "REGIE_DATABASE_URL": url,
        "REGIE_BASE_URL": f"http://127.0.0.1:{port}",
        "REGIE_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
    }
    cmd = [sys.executable, "-m", "regie.cli", "serve", "--port", str(port)]
    print(f"machine: {os.cpu_count()} cores; {args.n} invoices per batch, {args.rounds} rounds")
    body_mb = len(json.dumps({"invoices": items(args.n, "size")})) / 1e6
    regie_s: list[float] = []
    copy_s: list[float] = []
    cpu_s: list[float] = []
    db_cpu_s: list[float] = []
    copy_cpu_s: list[float] = []
    dsn = _plain(url)
    with (
        server(cmd, env, port) as proc,
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as client,
    ):
        regie_round(client, key, items(200, f"warm{os.getpid()}"), f"warm{os.getpid()}")
        asyncio.run(copy_round(_plain(url), items(200, "warm")))
        # the planner's statistics of the fresh tables, as a running database has them
        subprocess.run(["psql", _plain(url).replace("postgresql://", "postgres://"), "-qc",
                        "ANALYZE"], check=False, capture_output=True)  # fmt: skip
        for i in range(args.rounds):
            tag = f"r{i}-{os.getpid()}"
            batch = items(args.n, tag)
            spy = None
            if args.profile:
                Path(args.profile).mkdir(parents=True, exist_ok=True)
                spy = subprocess.Popen(
                    ["py-spy", "record", "--pid", str(proc.pid), "--subprocesses",
                     "--format", "raw", "--rate", "200", "--nonblocking",
                     "--output", str(Path(args.profile) / f"bulk-{tag}.txt")],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
                time.sleep(1.0)  # py-spy attaches
            db_before = asyncio.run(backends_cpu(dsn))
            before = cpu_seconds(proc.pid)
            regie_s.append(regie_round(client, key, batch, tag))
            cpu_s.append(cpu_seconds(proc.pid) - before)
            db_cpu_s.append(cpu_delta(db_before, asyncio.run(backends_cpu(dsn))))
            if spy is not None:
                spy.send_signal(2)  # SIGINT: py-spy writes what it sampled
                spy.wait(60)
            wall, cpu = asyncio.run(copy_round(dsn, batch))
            copy_s.append(wall)
            copy_cpu_s.append(cpu)
            print(
                f"  round {i + 1}: regie {regie_s[-1]:.2f} s (CPU: server {cpu_s[-1]:.2f} s, "
                f"database {db_cpu_s[-1]:.2f} s), COPY {copy_s[-1]:.3f} s "
                f"(database CPU {copy_cpu_s[-1]:.3f} s)"
            )
    regie = statistics.median(regie_s)
    copy = statistics.median(copy_s)
    result = {
        "regie_per_s": args.n / regie,
        "baseline_per_s": args.n / copy,
        "regie_s": regie,
        "baseline_s": copy,
        "regie_cpu_s": statistics.median(cpu_s),
        "regie_db_cpu_s": statistics.median(db_cpu_s),
        "baseline_db_cpu_s": statistics.median(copy_cpu_s),
        "ratio": copy / regie,
    }
    print(
        f"bulk creation, {args.n} invoices in one batch ({body_mb:.1f} MB): "
        f"regie {regie:.2f} s ({result['regie_per_s']:.0f} invoices/s, "
        f"CPU: server {result['regie_cpu_s']:.2f} s, database {result['regie_db_cpu_s']:.2f} s); "
        f"COPY of the same rows {copy:.3f} s ({result['baseline_per_s']:.0f} rows/s, database "
        f"CPU {result['baseline_db_cpu_s']:.3f} s); ratio {result['ratio']:.3f} "
        f"(target >= 0.5), medians of {args.rounds} rounds"
    )
    return result


if __name__ == "__main__":
    main()
