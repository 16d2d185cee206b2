"""``make bench``: run every benchmark and print one table of medians and ratios."""

from __future__ import annotations

import os

from bench import bulk_invoices, invoices, receipts


def main() -> None:
    cost = "cost: baseline/regie"
    rows = [("invoice creation, SQLite", invoices.main(["--n", "200", "--rounds", "5"]), cost)]
    pg = os.environ.get("REGIE_BENCH_DATABASE_URL")
    if pg:
        rows.append(
            (
                "invoice creation, PostgreSQL",
                invoices.main(["--n", "200", "--rounds", "5", "--database-url", pg]),
                cost,
            )
        )
        # its own database next to that one (dropped and created afresh each run)
        bulk_url = pg.rsplit("/", 1)[0] + "/regie_bench_bulk"
        bulk = bulk_invoices.main(["--rounds", "3", "--database-url", bulk_url])
        rows.append(
            (
                "bulk: 10,000 in one batch (PG)",
                bulk,
                "throughput regie/COPY (target >= 0.5)",
            )
        )
    rows.append(
        ("receipt rendering (CPU time)", receipts.main(["--n", "100", "--rounds", "5"]), cost)
    )
    print()
    print(f"machine: {os.cpu_count()} cores")
    print(f"{'benchmark':<32} {'regie/s':>9} {'baseline/s':>11} {'ratio':>7}  meaning")
    for name, r, target in rows:
        print(
            f"{name:<32} {r['regie_per_s']:>9.0f} {r['baseline_per_s']:>11.0f} "
            f"{r['ratio']:>6.3f}x  {target}"
        )


if __name__ == "__main__":
    main()
