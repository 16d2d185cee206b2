"""``make bench``: run every benchmark and print one table of medians and ratios."""

from __future__ import annotations

import os

from bench import invoices, receipts


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
    rows.append(("receipt rendering (CPU time)", receipts.main(["--n", "100", "--rounds", "5"])))
    print()
    print(f"{'benchmark':<32} {'regie/s':>9} {'baseline/s':>11} {'ratio':>7}")
    for name, r in rows:
        print(
            f"{name:<32} {r['regie_per_s']:>9.0f} {r['baseline_per_s']:>11.0f} {r['ratio']:>6.2f}x"
        )


if __name__ == "__main__":
    main()
