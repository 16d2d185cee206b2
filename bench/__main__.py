"""``make bench``: run every benchmark and print one table of medians and ratios."""

from __future__ import annotations

import os

from bench import invoices, receipts, worker_events


def main() -> None:
    rows = [("invoice creation, SQLite", invoices.main(["--n", "200", "--rounds", "5"]))]
    pg = os.environ.get("REGIE_BENCH_DATABASE_URL")
    if pg:
        rows.append(
            (
                "invoice creation, PostgreSQL",
                invoices.main(["--n", "200", "--rounds", "5", "--database-url", pg]),
            )
        )
        # payment events drained by regie worker processes vs pgbench, on the same server
        # (its own database beside REGIE_BENCH_DATABASE_URL's, dropped and made anew)
        events_url = pg.rsplit("/", 1)[0] + "/regie_bench_worker"
        events = worker_events.main(["--n", "400", "--rounds", "3", "--database-url", events_url])
        rows.append(("events, 1 worker (>=0.1x)", events))
        rows.append(
            (
                "events, 2 vs 1 worker (>=1.6x)",
                {
                    "regie_per_s": events["two_workers_per_s"],
                    "baseline_per_s": events["regie_per_s"],  # vs one worker
                    "ratio": events["two_vs_one"],
                },
            )
        )
    rows.append(("receipt rendering (CPU time)", receipts.main(["--n", "100", "--rounds", "5"])))
    print()
    print(f"{'benchmark':<32} {'regie/s':>9} {'baseline/s':>11} {'ratio':>7}")
    for name, r in rows:
        print(
            f"{name:<32} {r['regie_per_s']:>9.0f} {r['baseline_per_s']:>11.0f} {r['ratio']:>6.3g}x"
        )


if __name__ == "__main__":
    main()
