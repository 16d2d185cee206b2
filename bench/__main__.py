"""``make bench``: run every benchmark and print one table: regie's figure, the baseline's
(measured in the same run, in alternating rounds), the ratio and the target it is held to.

The HTTP benchmarks need PostgreSQL and wrk: set ``REGIE_BENCH_DATABASE_URL`` (a database
that each benchmark drops and creates again, e.g.
postgresql+asyncpg://postgres@127.0.0.1:5432/regie_bench) and install Debian's ``wrk``.
Without them, only the in-process benchmarks run.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

from bench import bulk_invoices, http_invoices, invoices, receipts, worker_events


@dataclass
class Row:
    name: str
    regie: str
    baseline: str
    ratio: float
    target: str
    met: bool | None


def main() -> None:
    rows: list[Row] = []
    r = invoices.main(["--n", "200", "--rounds", "5"])
    rows.append(
        Row(
            "invoice creation, SQLite, in process",
            f"{r['regie_per_s']:.0f}/s",
            f"{r['baseline_per_s']:.0f}/s",
            r["regie_per_s"] / r["baseline_per_s"],
            "(none)",
            None,
        )
    )
    r = receipts.main(["--n", "100", "--rounds", "5"])
    rows.append(
        Row(
            "receipt rendering (CPU time)",
            f"{r['regie_per_s']:.0f}/s",
            f"{r['baseline_per_s']:.0f}/s (bare reportlab page)",
            r["ratio"],
            "cost <= 2x",
            r["ratio"] <= 2,
        )
    )
    pg = os.environ.get("REGIE_BENCH_DATABASE_URL")
    if pg and shutil.which("wrk"):
        r = http_invoices.main(["--database-url", pg, "--rounds", "3", "--processes", "2"])
        rows.append(
            Row(
                "POST /v1/invoices, 1 process, 32 conns",
                f"{r['regie_per_s']:.0f}/s p99 {r['regie_p99_ms']:.0f} ms "
                f"{r['regie_cpu_ms']:.1f} ms CPU",
                f"{r['baseline_per_s']:.0f}/s (one asyncpg INSERT)",
                r["ratio"],
                ">= 0.3, p99 <= 100 ms, <= 2 ms CPU",
                r["ratio"] >= 0.3 and r["regie_p99_ms"] <= 100 and r["regie_cpu_ms"] <= 2,
            )
        )
        rows.append(
            Row(
                "POST /v1/invoices, serve --workers 2",
                f"{r['multi_per_s']:.0f}/s",
                f"{r['regie_per_s']:.0f}/s (one process)",
                r["multi_ratio"],
                ">= 1.6",
                r["multi_ratio"] >= 1.6,
            )
        )
    else:
        print("(REGIE_BENCH_DATABASE_URL or wrk missing: the HTTP benchmarks are skipped)")
    if pg:
        # its own database next to that one (dropped and created afresh each run)
        bulk_url = pg.rsplit("/", 1)[0] + "/regie_bench_bulk"
        r = bulk_invoices.main(["--rounds", "3", "--database-url", bulk_url])
        rows.append(
            Row(
                "bulk: 10,000 invoices in one batch",
                f"{r['regie_per_s']:.0f} invoices/s",
                f"{r['baseline_per_s']:.0f} rows/s (COPY, bare table)",
                r["ratio"],
                ">= 0.5",
                r["ratio"] >= 0.5,
            )
        )
        # payment events drained by regie worker processes vs pgbench, on the same server
        # (its own database beside REGIE_BENCH_DATABASE_URL's, dropped and made anew)
        events_url = pg.rsplit("/", 1)[0] + "/regie_bench_worker"
        e = worker_events.main(["--n", "400", "--rounds", "3", "--database-url", events_url])
        rows.append(
            Row(
                "payment events, 1 worker",
                f"{e['regie_per_s']:.0f} events/s",
                f"{e['baseline_per_s']:.0f} tps (pgbench, 8 clients)",
                e["ratio"],
                ">= 0.1",
                e["ratio"] >= 0.1,
            )
        )
        rows.append(
            Row(
                "payment events, 2 workers",
                f"{e['two_workers_per_s']:.0f} events/s",
                f"{e['regie_per_s']:.0f} events/s (1 worker)",
                e["two_vs_one"],
                ">= 1.6",
                e["two_vs_one"] >= 1.6,
            )
        )
    print(f"\nmachine: {os.cpu_count()} cores")
    print(f"{'benchmark':<40} {'regie':<34} {'baseline':<34} {'ratio':>6}  target")
    for row in rows:
        verdict = "" if row.met is None else (" met" if row.met else " NOT met")
        print(
            f"{row.name:<40} {row.regie:<34} {row.baseline:<34} {row.ratio:>6.2f}  "
            f"{row.target}{verdict}"
        )


if __name__ == "__main__":
    main()
