"""A year of a large city, reconciled: ``regie reconcile`` end to end vs a DuckDB join.

Generates, in a database of its own on PostgreSQL: N payments (1,000,000 by default) in the
ledger (payments, entries, lines and the PSP postings the ledger keeps with them, written
with COPY, triggers off for the load only, so the entries are queued for their seal by the
loader, as the trigger would), about 250 payouts, the Stripe itemised payout
CSV of the same payments with their fees, a camt.053 with the payout credits, and 1 %
planted discrepancies (a quarter each: missing in the ledger, missing at the PSP, amount
mismatch, fee mismatch). Invoices are not generated: reconciliation never reads them.

Then, alternating, ``--rounds`` times:
- regie: ``regie reconcile --from --to --stripe-csv F --camt053 G --format json`` as a
  separate process (load, match, store, report), its wall time and peak RSS;
- baseline: DuckDB reads the same CSV and the same ledger rows (one file of the ledger's
  payments, one row a payment: what regie's bulk path has PostgreSQL write,
  ``bulk_load.read_ledger``; none of this in its timing) and full-outer-joins them on the
  PSP id, counting mismatches (an in-memory analytical join);
- the floor under any engine that keeps the ledger in PostgreSQL: the ledger's payments
  handed over by PostgreSQL (``read_ledger`` itself: regie's reads and window, COPY to
  files, timed) and ``regie reconcile --help`` (Python and the CLI starting).

Prints medians, the ratio and regie's peak memory, the floor as a ratio to the DuckDB join,
and the ratio to a baseline that reads the ledger from PostgreSQL too (export + join); and
checks regie found what was planted.

    python -m bench.reconcile [--payments 1000000] [--rounds 3] [--compare CHECKOUT] \
        [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/regie_bench_recon] \
        [--keep DIR]

``--keep DIR`` leaves the generated files in ``DIR`` (and the database as it is after the
run): ``bench.reconcile_phases`` then times one run phase by phase on them (``--rounds 0``
only generates).

``--compare`` times another checkout's ``regie reconcile`` (a worktree of ``main``) on the same
inputs, alternating round by round, each of the two first in every other round: on a shared
machine whose speed drifts by tens of percent from one minute to the next, a change is judged
by the round-by-round ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg

from regie.kit.tenancy import Role, create_key, create_service
from regie.migrate import upgrade

YEAR = 2025
IBAN = "FR7630001007941234567890185"
PAYOUTS = 250
# regie's top-level packages (``compile_bytecode``)
PACKAGES = ("regie", "payments", "webhooks", "ledger", "reconciliation", "receipts", "migrations")
CSV_HEADER = (
    "automatic_payout_id,automatic_payout_effective_at,balance_transaction_id,created,"
    "available_on,currency,gross,fee,net,reporting_category,source_id,charge_id,"
    "payment_intent_id,description\n"
)


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def _money(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    minor = abs(minor)
    return f"{sign}{minor // 100}.{minor % 100:02d}"


class World:
    """The generated year, deterministic for a seed."""

    def __init__(self, n: int, seed: int = 7) -> None:
        rnd = random.Random(seed)
        self.n = n
        start = dt.datetime(YEAR, 1, 1, 8, tzinfo=dt.UTC)
        step = (365 * 86400 - 3 * 86400) / n
        self.created = [start + dt.timedelta(seconds=int(i * step)) for i in range(n)]
        self.amount = [rnd.randint(100, 50_000) for _ in range(n)]
        self.fee = [a * 14 // 1000 + 25 for a in self.amount]
        # 1 %: every 100th payment is planted, one kind in four
        self.kind = ["ok"] * n
        for i in range(0, n, 100):
            self.kind[i] = ("missing_in_ledger", "missing_at_psp", "amount_mismatch",
                            "fee_mismatch")[(i // 100) % 4]  # fmt: skip
        per = -(-n // PAYOUTS)
        self.payout_of = [i // per for i in range(n)]
        self.payout_net = [0] * PAYOUTS
        self.payout_day = [dt.date(YEAR, 1, 1)] * PAYOUTS
        for i in range(n):
            if self.kind[i] != "missing_at_psp":
                self.payout_net[self.payout_of[i]] += self.amount[i] - self.fee[i]
            self.payout_day[self.payout_of[i]] = self.created[i].date() + dt.timedelta(days=1)

    def pi(self, i: int) -> str:
        return f"pi_bench{i:08d}"


async def load(url: str, w: World) -> None:
    conn = await asyncpg.connect(_plain(url))
    try:
        await conn.execute("SET session_replication_role = replica")  # the load only
        svc = "svc_bench"
        await conn.execute(
            "INSERT INTO services (id, slug, name, address, identifier, timezone, created_at) "
            "VALUES ($1, 'ville', 'Ville', '', '', 'Europe/Paris', now())",
            svc,
        )

        def payments() -> Iterator[tuple[Any, ...]]:
            for i in range(w.n):
                if w.kind[i] == "missing_in_ledger":
                    continue
                fee = w.fee[i] + (1 if w.kind[i] == "fee_mismatch" else 0)
                at = w.created[i]
                yield (f"pay_b{i:08d}", f"inv_b{i:08d}", svc, "stripe", "succeeded", w.amount[i],
                       "EUR", w.pi(i), fee, False, 0, at, at, at)  # fmt: skip

        await conn.copy_records_to_table(
            "payments", records=payments(),
            columns=["id", "invoice_id", "service_id", "provider", "status", "amount",
                     "currency", "provider_payment_id", "fee", "is_overpayment", "check_count",
                     "created_at", "updated_at", "succeeded_at"],
        )  # fmt: skip

        def entries() -> Iterator[tuple[Any, ...]]:
            for i in range(w.n):
                if w.kind[i] == "missing_in_ledger":
                    continue
                at = w.created[i]
                yield (f"je_b{i:08d}", f"payment:pay_b{i:08d}:succeeded", "payment_succeeded",
                       svc, f"inv_b{i:08d}", "", at, at)  # fmt: skip
            for k in range(PAYOUTS):
                at = dt.datetime.combine(w.payout_day[k], dt.time(6), tzinfo=dt.UTC)
                yield (f"je_po{k:04d}", f"payout:po_bench{k:04d}:paid", "payout_paid", None,
                       None, f"payout po_bench{k:04d}", at, at)  # fmt: skip

        await conn.copy_records_to_table(
            "ledger_entries", records=entries(),
            columns=["id", "source_key", "kind", "service_id", "invoice_id", "description",
                     "effective_at", "created_at"],
        )  # fmt: skip
        # the trigger that queues each entry for its seal (migration 0032) is off with the
        # others: queued here, or none would be sealed and ``regie ledger verify`` would fail
        await conn.execute("INSERT INTO ledger_unsealed (seq) SELECT seq FROM ledger_entries")

        def lines() -> Iterator[tuple[Any, ...]]:
            for i in range(w.n):
                if w.kind[i] == "missing_in_ledger":
                    continue
                a = w.amount[i] + (1 if w.kind[i] == "amount_mismatch" else 0)
                yield (f"je_b{i:08d}", 1, "assets:psp:stripe", "EUR", a, 0)
                yield (f"je_b{i:08d}", 2, "receivable:ville", "EUR", 0, a)
            for k in range(PAYOUTS):
                yield (f"je_po{k:04d}", 1, "assets:bank:main", "EUR", w.payout_net[k], 0)
                yield (f"je_po{k:04d}", 2, "assets:psp:stripe", "EUR", 0, w.payout_net[k])

        await conn.copy_records_to_table(
            "ledger_lines",
            records=lines(),
            columns=["entry_id", "position", "account", "currency", "debit", "credit"],
        )

        def postings() -> Iterator[tuple[Any, ...]]:  # what ``ledger.service.post`` keeps
            for i in range(w.n):
                if w.kind[i] == "missing_in_ledger":
                    continue
                a = w.amount[i] + (1 if w.kind[i] == "amount_mismatch" else 0)
                fee = w.fee[i] + (1 if w.kind[i] == "fee_mismatch" else 0)
                yield (f"je_b{i:08d}", "payment_succeeded", "assets:psp:stripe", w.pi(i),
                       w.created[i], a, "EUR", fee)  # fmt: skip

        await conn.copy_records_to_table(
            "ledger_psp_postings", records=postings(),
            columns=["entry_id", "kind", "account", "reference", "effective_at", "amount",
                     "currency", "fee"],
        )  # fmt: skip
        await conn.execute("SET session_replication_role = origin")
        await conn.execute(
            "ANALYZE payments; ANALYZE ledger_entries; ANALYZE ledger_lines; "
            "ANALYZE ledger_psp_postings"
        )
    finally:
        await conn.close()


def write_csv(path: Path, w: World) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write(CSV_HEADER)
        for i in range(w.n):
            if w.kind[i] == "missing_at_psp":
                continue
            k = w.payout_of[i]
            at = w.created[i].strftime("%Y-%m-%d %H:%M:%S")
            eff = f"{w.payout_day[k]} 00:00:00"
            a, fee = w.amount[i], w.fee[i]
            f.write(f"po_bench{k:04d},{eff},txn_b{i:08d},{at},{at},eur,{_money(a)},{_money(fee)},"
                    f"{_money(a - fee)},charge,ch_b{i:08d},ch_b{i:08d},{w.pi(i)},Facture {i}\n")  # fmt: skip


def write_camt(path: Path, w: World) -> None:
    from payments.providers.simulator.camt053 import BankAccount, bank_statement
    from payments.providers.simulator.records import PayoutRecord

    payouts = [
        PayoutRecord(
            id=f"po_bench{k:04d}",
            amount=w.payout_net[k],
            currency="EUR",
            created=dt.datetime.combine(w.payout_day[k], dt.time(5), tzinfo=dt.UTC),
            arrival_date=w.payout_day[k],
            statement_descriptor="STRIPE",
            bank_reference=f"BANKREF{k:06d}",
            lines=(),
        )
        for k in range(PAYOUTS)
    ]
    first, last = dt.date(YEAR, 1, 1), dt.date(YEAR + 1, 1, 5)
    path.write_bytes(
        bank_statement(payouts, BankAccount(iban=IBAN, currency="EUR"), 0, first, last)
    )


async def export_ledger(url: str, path: Path) -> float:
    """The ledger's payments as regie's bulk path reads them (``bulk_load.read_ledger``: its
    reads, window and settings, PostgreSQL writing CSV with ``COPY``), the seconds
    PostgreSQL took to hand them over: timed each round, a floor under any engine that keeps
    the ledger in PostgreSQL, and the fair part of a baseline that must read it too. Then,
    untimed, the one file the DuckDB baseline reads at ``path``, as regie reads it
    (``bulk_sql.ledger_read``), one row a payment (ref, entry, gross, currency, fee)."""
    import duckdb
    from sqlalchemy.ext.asyncio import create_async_engine

    from reconciliation.bulk_load import read_ledger
    from reconciliation.bulk_sql import ledger_read
    from reconciliation.ledger_copy import ledger_parts, window_for

    window = window_for("stripe", dt.date(YEAR, 1, 1), dt.date(YEAR, 12, 31))
    engine = create_async_engine(url)
    prefix = path.with_suffix(".parts")
    try:
        async with engine.connect() as conn:  # the pool's connection opened before the clock
            await conn.exec_driver_sql("SELECT 1")
        t0 = time.perf_counter()
        await read_ledger(engine, prefix, window)
        elapsed = time.perf_counter() - t0
    finally:
        await engine.dispose()
    parts = ledger_parts(prefix)
    con = duckdb.connect()
    con.execute(f"COPY ({ledger_read(parts)}) TO '{path}' (FORMAT csv, HEADER false)")
    con.close()
    for part in parts.values():
        part.unlink()
    return elapsed


def compile_bytecode(checkout: Path) -> None:
    """The checkout's modules compiled to bytecode, as an install has them (pip compiles what
    it installs; the Dockerfile's image too): with ``PYTHONDONTWRITEBYTECODE`` set and no
    ``__pycache__``, every run would compile regie's sources again (0.5 s here)."""
    dirs = [str(checkout / d) for d in PACKAGES if (checkout / d).is_dir()]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *dirs], check=True)


def cli_start() -> float:
    """The seconds ``regie reconcile --help`` takes: Python and regie's CLI starting."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "regie.cli", "reconcile", "--help"],
                   capture_output=True, check=True)  # fmt: skip
    return time.perf_counter() - t0


def regie_env(url: str) -> dict[str, str]:
    """The settings a timed ``regie reconcile`` of the generated year runs with."""
    return {"REGIE_DATABASE_URL": url, "REGIE_PSP": "simulator", "REGIE_BANK_IBAN": IBAN,
            "REGIE_MAX_UPLOAD_BYTES": str(2 * 1024**3), "REGIE_LOG_LEVEL": "WARNING"}  # fmt: skip


def regie_args(csv_path: Path, camt_path: Path, out: Path) -> list[str]:
    """``regie reconcile``'s arguments (after ``regie``) for the generated year."""
    return ["reconcile", "--from", f"{YEAR}-01-01", "--to", f"{YEAR}-12-31", "--provider",
            "stripe", "--as-of", f"{YEAR + 1}-01-31", "--stripe-csv", str(csv_path),
            "--camt053", str(camt_path), "--format", "json", "--output", str(out)]  # fmt: skip


def run_regie(
    url: str, csv_path: Path, camt_path: Path, checkout: Path | None = None
) -> tuple[float, int, dict[str, Any]]:
    """``regie reconcile`` as a separate process: its wall time, peak RSS and JSON. With
    ``checkout``, the regie of that directory (another branch's worktree) instead."""
    env = {**os.environ, **regie_env(url)}
    if checkout is not None:
        env["PYTHONPATH"] = str(checkout.resolve())
    out = csv_path.with_suffix(".json")
    cmd = [sys.executable, "-m", "regie.cli", *regie_args(csv_path, camt_path, out)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=checkout)
    elapsed = time.perf_counter() - t0
    if done.returncode not in (0, 1):
        raise SystemExit(f"regie reconcile failed ({done.returncode}): {done.stderr[-2000:]}")
    peak_kb = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return elapsed, peak_kb * 1024, json.loads(out.read_text())


def run_duckdb(csv_path: Path, ledger_path: Path) -> tuple[float, int]:
    import duckdb

    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"CREATE TABLE psp AS SELECT payment_intent_id, gross, fee FROM read_csv('{csv_path}', header=true, columns={{'automatic_payout_id':'VARCHAR','automatic_payout_effective_at':'VARCHAR','balance_transaction_id':'VARCHAR','created':'VARCHAR','available_on':'VARCHAR','currency':'VARCHAR','gross':'DECIMAL(18,2)','fee':'DECIMAL(18,2)','net':'DECIMAL(18,2)','reporting_category':'VARCHAR','source_id':'VARCHAR','charge_id':'VARCHAR','payment_intent_id':'VARCHAR','description':'VARCHAR'}})")  # fmt: skip
    con.execute(f"CREATE TABLE led AS SELECT provider_payment_id, gross, fee FROM read_csv('{ledger_path}', header=false, columns={{'provider_payment_id':'VARCHAR','entry':'VARCHAR','gross':'BIGINT','currency':'VARCHAR','fee':'BIGINT'}})")  # fmt: skip
    bad = con.execute(
        "SELECT count(*) FROM psp FULL OUTER JOIN led ON psp.payment_intent_id = "
        "led.provider_payment_id WHERE led.provider_payment_id IS NULL OR "
        "psp.payment_intent_id IS NULL OR CAST(psp.gross * 100 AS BIGINT) <> led.gross OR "
        "CAST(psp.fee * 100 AS BIGINT) <> led.fee"
    ).fetchone()
    elapsed = time.perf_counter() - t0
    con.close()
    return elapsed, int(bad[0]) if bad else 0


async def prepare(url: str, n: int, workdir: Path) -> tuple[World, Path, Path, Path]:
    admin = await asyncpg.connect(_plain(url).rsplit("/", 1)[0] + "/postgres")
    name = url.rsplit("/", 1)[1]
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    await asyncio.to_thread(upgrade, url)
    w = World(n)
    t0 = time.perf_counter()
    await load(url, w)
    from regie.kit.database import Database

    db = Database(url)
    async with db.session() as s:  # a finance key, as a real deployment would have
        svc = await create_service(s, "tresorerie", "Trésorerie")
        await create_key(s, svc, Role.finance, live=False)
        await s.commit()
    await db.dispose()
    csv_path, camt_path, ledger_path = (workdir / "payouts.csv", workdir / "releve.xml",
                                        workdir / "ledger.csv")  # fmt: skip
    write_csv(csv_path, w)
    write_camt(camt_path, w)
    await export_ledger(url, ledger_path)
    print(f"generated {n:,} payments, {PAYOUTS} payouts in {time.perf_counter() - t0:.0f} s; "
          f"CSV {csv_path.stat().st_size / 1e6:.0f} MB", file=sys.stderr)  # fmt: skip
    return w, csv_path, camt_path, ledger_path


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--payments", type=int, default=1_000_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--database-url", default=os.environ.get(
        "REGIE_BENCH_RECON_URL",
        "postgresql+asyncpg://postgres@127.0.0.1:5432/regie_bench_recon"))  # fmt: skip
    p.add_argument("--compare", type=Path, default=None, metavar="CHECKOUT",
                   help="also time the regie of this checkout (say, a worktree of main), "
                        "alternating with this one round by round")  # fmt: skip
    p.add_argument("--keep", type=Path, default=None, metavar="DIR",
                   help="write the generated files into DIR and keep them (and the database) "
                        "for bench.reconcile_phases; with --rounds 0, only generate")  # fmt: skip
    args = p.parse_args(argv)
    for checkout in (Path(__file__).resolve().parent.parent, args.compare):
        if checkout is not None:
            compile_bytecode(checkout)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        w, csv_path, camt_path, ledger_path = asyncio.run(
            prepare(args.database_url, args.payments, args.keep or Path(tmp))
        )
        if not args.rounds:
            print(f"kept {csv_path}, {camt_path} and {ledger_path}", file=sys.stderr)
            return {}
        planted = sum(1 for k in w.kind if k != "ok")
        regie_t, duck_t, peaks, export_t, start_t = [], [], [], [], []
        other_t: list[float] = []
        for k in range(args.rounds):
            # the same inputs, alternately, in the same minutes; the other checkout first in
            # every other round: the first run after the DuckDB join and the export was the
            # slower by 6 % (round by round, this regie over another and that one over this
            # gave 1.02 and 1.10 on 2 December)
            if args.compare is not None and k % 2:
                other_t.append(run_regie(args.database_url, csv_path, camt_path, args.compare)[0])
            t, peak, doc = run_regie(args.database_url, csv_path, camt_path)
            regie_t.append(t)
            peaks.append(peak)
            if args.compare is not None and not k % 2:
                other_t.append(run_regie(args.database_url, csv_path, camt_path, args.compare)[0])
            d, bad = run_duckdb(csv_path, ledger_path)
            duck_t.append(d)
            export_t.append(asyncio.run(export_ledger(args.database_url, ledger_path)))
            start_t.append(cli_start())
        found = len(doc["discrepancies"])
        by_cat: dict[str, int] = {}
        for x in doc["discrepancies"]:
            by_cat[x["category"]] = by_cat.get(x["category"], 0) + 1
    r, b = statistics.median(regie_t), statistics.median(duck_t)
    e, c = statistics.median(export_t), statistics.median(start_t)
    print(f"reconcile {args.payments:,} payments: regie {r:.1f} s (median of {args.rounds}), "
          f"DuckDB join {b:.2f} s, ratio {r / b:.1f}x; regie peak RSS "
          f"{max(peaks) / 2**20:.0f} MiB")  # fmt: skip
    print(f"planted {planted:,}, regie found {found:,} {by_cat}; DuckDB counted {bad:,} mismatches")
    print(f"floor, before any matching: regie's CLI starts in {c:.2f} s and PostgreSQL hands "
          f"over the ledger's payments (regie's query, COPY) in {e:.2f} s: "
          f"{(c + e) / b:.1f}x the DuckDB join")  # fmt: skip
    print(f"DuckDB join with the ledger read from PostgreSQL timed too: {b + e:.2f} s, "
          f"ratio {r / (b + e):.1f}x")  # fmt: skip
    if other_t:
        paired = statistics.median(x / y for x, y in zip(regie_t, other_t, strict=True))
        print(f"regie of {args.compare} in the same rounds: {statistics.median(other_t):.1f} s "
              f"(ratio {statistics.median(other_t) / b:.1f}x); this regie's time over its, "
              f"round by round: median {paired:.2f}")  # fmt: skip
    return {
        "regie_s": r,
        "baseline_s": b,
        "ratio": r / b,
        "peak_mib": max(peaks) / 2**20,
        "export_s": e,
        "cli_start_s": c,
    }


if __name__ == "__main__":
    main()
