"""Invoice creation over HTTP, regie vs a bare one-INSERT endpoint, both as separate processes.

The load comes from wrk (Debian's ``wrk``), a separate process, with a Lua script that makes
every request a new invoice (bench/invoice.lua). The servers are separate processes too:
``regie serve`` and ``uvicorn bench.bare_server:app`` (one raw asyncpg INSERT), on the same
PostgreSQL database. Rounds alternate between the two, so the machine's noise hits both alike.

For each round: requests/s, p50 and p99 latency, and the server's CPU time per request (read
from /proc, the server process and its children). Prints medians and the ratios against the
targets of issue 12, with the machine's core count.

    python -m bench.http_invoices [--connections 32] [--duration 10] [--rounds 3] \
        [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/regie_bench_http]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg

from regie.kit.database import Database
from regie.kit.tenancy import Role, create_key, create_service
from regie.migrate import upgrade

HERE = Path(__file__).resolve().parent
DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/regie_bench_http"
TICKS = os.sysconf("SC_CLK_TCK")


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def fresh_database(url: str) -> None:
    plain = _plain(url)
    base, name = plain.rsplit("/", 1)
    conn = await asyncpg.connect(f"{base}/postgres")
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
        )
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def make_key(url: str) -> str:
    db = Database(url)
    try:
        async with db.session() as s:
            svc = await create_service(s, f"bench-http-{os.getpid()}"[:40])
            _, key = await create_key(s, svc, Role.service, live=False)
            await s.commit()
    finally:
        await db.engine.dispose()
    return key


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and of its (reaped and living) children."""
    total = 0.0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # utime, stime, cutime, cstime are fields 14-17 (1-based) of stat
        total += sum(int(x) for x in fields[11:15]) / TICKS
    return total


def database_cpu_seconds(dbname: str) -> float:
    """CPU time of PostgreSQL's backends serving ``dbname`` (their process titles name it).

    Pooled connections live through a round, so the difference across a round is the
    database's own work for it (a backend that ends mid-round loses its share)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if not title.startswith("postgres:") or f" {dbname} " not in title:
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(x) for x in fields[11:13]) / TICKS
    return total


def child_cpu_seconds(pid: int) -> list[float]:
    """CPU time of each child of ``pid`` (the server processes of ``regie serve --workers``)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    out = []
    for c in children:
        try:
            fields = Path(f"/proc/{c}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out.append(sum(int(x) for x in fields[11:13]) / TICKS)
    return out


def wait_ready(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


@contextmanager
def server(cmd: list[str], env: dict[str, str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    # its output goes to a file: a pipe nobody reads would block the server once full
    log = tempfile.NamedTemporaryFile(prefix="bench-server-", suffix=".log", delete=False)
    proc = subprocess.Popen(
        cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        wait_ready(port)
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
        size = os.path.getsize(log.name)
        if size:
            print(f"  ({cmd[2]}… wrote {size} bytes of log: {log.name})")
        else:
            os.unlink(log.name)


def wrk(port: int, connections: int, duration: int, key: str, tag: str) -> dict[str, Any]:
    env = {**os.environ, "BENCH_KEY": key, "BENCH_TAG": tag}
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{duration}s",
            "--timeout",
            "10s",
            "-s",
            str(HERE / "invoice.lua"),
            f"http://127.0.0.1:{port}",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRK_JSON "))
    return dict(json.loads(line.removeprefix("WRK_JSON ")))


def measure(
    proc: subprocess.Popen[bytes], port: int, args: argparse.Namespace, key: str, tag: str
) -> dict[str, float]:
    wrk(port, args.connections, 2, key, f"{tag}-warm")  # warm-up: pools, caches
    spy = None
    if args.profile and tag[0] in "rm":
        # py-spy samples regie's server for the measured round (collapsed stacks, for
        # flamegraph.pl or speedscope); needs ptrace rights (root, or ptrace_scope 0)
        out = Path(args.profile) / f"regie-{tag}.txt"
        spy = subprocess.Popen(
            ["py-spy", "record", "--pid", str(proc.pid), "--subprocesses", "--format", "raw",
             "--duration", str(args.duration), "--output", str(out), "--nonblocking"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
    dbname = args.database_url.rsplit("/", 1)[1]
    before, children_before = cpu_seconds(proc.pid), child_cpu_seconds(proc.pid)
    db_before = database_cpu_seconds(dbname)
    r = wrk(port, args.connections, args.duration, key, tag)
    cpu = cpu_seconds(proc.pid) - before
    db_cpu = database_cpu_seconds(dbname) - db_before
    children = [a - b for a, b in zip(child_cpu_seconds(proc.pid), children_before, strict=False)]
    if spy is not None:
        spy.wait(30)
    ok = r["requests"] - r["non2xx"]
    if r["non2xx"] or r["socket_errors"]:
        print(f"  {tag}: {r['non2xx']} non-2xx answers, {r['socket_errors']} socket errors")
    total: float = sum(children)
    return {
        "rps": ok / (r["duration_us"] / 1e6),
        "p50_ms": r["p50_us"] / 1000,
        "p99_ms": r["p99_us"] / 1000,
        "cpu_ms": 1000 * cpu / max(ok, 1),
        "db_cpu_ms": 1000 * db_cpu / max(ok, 1),
        # the busiest server process's share of the servers' CPU (1/N when evenly loaded)
        "top_share": max(children) / total if len(children) > 1 and total > 0 else 1.0,
    }


def median(rows: list[dict[str, float]], field: str) -> float:
    return statistics.median(r[field] for r in rows)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--database-url", default=os.environ.get("REGIE_BENCH_HTTP_DATABASE_URL", DEFAULT_URL)
    )
    parser.add_argument(
        "--processes", type=int, default=2, help="also measure regie serve --workers N"
    )
    parser.add_argument("--profile", help="a folder: py-spy records regie's measured rounds")
    args = parser.parse_args(argv)
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    if not shutil.which("wrk"):
        sys.exit("bench.http_invoices needs wrk (apt-get install wrk)")
    url = args.database_url
    asyncio.run(fresh_database(url))
    upgrade(url)
    key = asyncio.run(make_key(url))
    regie_port, multi_port, bare_port = free_port(), free_port(), free_port()
    py = sys.executable
    env = {
        **os.environ,
        "REGIE_DATABASE_URL": url,
        "REGIE_BASE_URL": f"http://127.0.0.1:{regie_port}",
        "REGIE_LOG_LEVEL": "WARNING",
        # wrk drives one key far past the default 6000/minute: count (its cost is part of
        # the measure) but never refuse
        "REGIE_RATE_LIMIT_API_KEY": "100000000/minute",
        "BENCH_DSN": _plain(url),
        "PYTHONPATH": str(HERE.parent),
    }
    regie_cmd = [py, "-m", "regie.cli", "serve", "--port", str(regie_port)]
    multi_cmd = [
        py, "-m", "regie.cli", "serve", "--port", str(multi_port), "--workers",
        str(args.processes),
    ]  # fmt: skip
    bare_cmd = [
        py, "-m", "uvicorn", "bench.bare_server:app", "--port", str(bare_port),
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    regie_rows: list[dict[str, float]] = []
    multi_rows: list[dict[str, float]] = []
    bare_rows: list[dict[str, float]] = []
    print(f"machine: {os.cpu_count()} cores; wrk -t1 -c{args.connections} -d{args.duration}s")
    with (
        server(regie_cmd, env, regie_port) as rp,
        server(bare_cmd, env, bare_port) as bp,
        server(multi_cmd, env, multi_port) if args.processes > 1 else _none() as mp,
    ):
        for i in range(args.rounds):
            tag = f"{i}-{os.getpid()}"
            regie_rows.append(measure(rp, regie_port, args, key, f"r{tag}"))
            bare_rows.append(measure(bp, bare_port, args, key, f"b{tag}"))
            print(f"  round {i + 1}: regie {_short(regie_rows[-1])}; bare {_short(bare_rows[-1])}")
            if mp is not None:
                multi_rows.append(measure(mp, multi_port, args, key, f"m{tag}"))
                print(f"           regie x{args.processes} processes {_short(multi_rows[-1])}")
    result = {
        "regie_per_s": median(regie_rows, "rps"),
        "baseline_per_s": median(bare_rows, "rps"),
        "regie_p50_ms": median(regie_rows, "p50_ms"),
        "regie_p99_ms": median(regie_rows, "p99_ms"),
        "regie_cpu_ms": median(regie_rows, "cpu_ms"),
        "baseline_cpu_ms": median(bare_rows, "cpu_ms"),
        "regie_db_cpu_ms": median(regie_rows, "db_cpu_ms"),
        "baseline_db_cpu_ms": median(bare_rows, "db_cpu_ms"),
    }
    result["ratio"] = result["regie_per_s"] / result["baseline_per_s"]
    print(
        f"invoice creation over HTTP, {args.connections} connections: "
        f"regie {result['regie_per_s']:.0f}/s (p50 {result['regie_p50_ms']:.0f} ms, "
        f"p99 {result['regie_p99_ms']:.0f} ms, {result['regie_cpu_ms']:.1f} ms CPU/invoice, "
        f"database {result['regie_db_cpu_ms']:.2f} ms); bare INSERT "
        f"{result['baseline_per_s']:.0f}/s ({result['baseline_cpu_ms']:.2f} ms CPU, database "
        f"{result['baseline_db_cpu_ms']:.2f} ms); "
        f"ratio {result['ratio']:.2f} (target >= 0.3), medians of {args.rounds} rounds"
    )
    if multi_rows:
        result["multi_per_s"] = median(multi_rows, "rps")
        result["multi_ratio"] = result["multi_per_s"] / result["regie_per_s"]
        result["multi_top_share"] = median(multi_rows, "top_share")
        print(
            f"regie serve --workers {args.processes}: {result['multi_per_s']:.0f}/s = "
            f"{result['multi_ratio']:.2f} x one process (target >= 1.6 for 2); the busiest "
            f"process did {100 * result['multi_top_share']:.0f} % of the servers' CPU"
        )
    return result


@contextmanager
def _none() -> Iterator[None]:
    yield None


def _short(row: dict[str, float]) -> str:
    return (
        f"{row['rps']:.0f}/s p50 {row['p50_ms']:.0f} ms p99 {row['p99_ms']:.0f} ms "
        f"{row['cpu_ms']:.2f} ms CPU, database {row['db_cpu_ms']:.2f} ms"
    )


if __name__ == "__main__":
    main()
