"""The bulk path on PostgreSQL (``reconciliation.bulk``) gives the pure path's run.

The same generated month (payments in the ledger, the Stripe itemised payout report, a
camt.053) is reconciled twice, once in bulk and once by the pure rounds alone; the runs'
summaries, checksums, discrepancies and suggestions must be the same. The month has one of
each awkward case planted: lines missing on either side, amount, fee and currency
mismatches, a payment charged twice, a payment booked twice, a payment named by its charge
id only, ids that name two lines, a refund, a fee line, a payout that does not add up. A
report both paths refuse (a line repeated, a payout in two currencies) is refused by both
with the same message, before anything is stored."""

from __future__ import annotations

import datetime as dt
import importlib
import random
from typing import Any

import pytest

from payments.providers.simulator.camt053 import BankAccount, bank_statement
from payments.providers.simulator.records import PayoutRecord
from reconciliation.ledger_copy import window_for
from reconciliation.ledger_reads import ledger_items
from reconciliation.records import LedgerItem
from reconciliation.service import PeriodError, ReconciliationService, ReconConfig, RunRequest
from reconciliation.sources.errors import SourceError
from tests.reconciliation.test_cli_refusals import _stored

pytestmark = pytest.mark.postgres

# what migration 0021 writes for the payments booked before it: the fixtures load the
# ledger as an older regie wrote it (entries, lines, payments), then keep its payments'
# PSP postings as the migration does
BACKFILL = importlib.import_module("migrations.versions.0021_ledger_psp_postings").BACKFILL

IBAN = "FR7630001007941234567890185"
HEADER = (
    "automatic_payout_id,automatic_payout_effective_at,balance_transaction_id,created,"
    "available_on,currency,gross,fee,net,reporting_category,source_id,charge_id,"
    "payment_intent_id,description\n"
)
DAY0 = dt.datetime(2026, 10, 1, 9, tzinfo=dt.UTC)
PAYOUTS = 4


def _money(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d}"


class Month:
    """``n`` payments in October 2026 and what each side recorded of them."""

    def __init__(self, n: int, seed: int) -> None:
        rnd = random.Random(seed)
        self.rows: list[str] = []  # the report's lines
        self.payments: list[tuple[Any, ...]] = []  # (id, pi, amount, fee, currency, at)
        self.ledger_amounts: dict[str, tuple[int, str]] = {}  # payment id -> (amount, cur)
        self.nets = [0] * PAYOUTS
        plants = ["missing_in_ledger", "missing_at_psp", "amount", "fee", "currency",
                  "charged_twice", "booked_twice", "charge_id_only",
                  "cross_ref", "refund", "fee_line"]  # fmt: skip
        kinds = ["ok"] * n
        for k, plant in enumerate(plants):
            kinds[rnd.randrange(n)] = plant
        for i in range(n):
            kind, k = kinds[i], i * PAYOUTS // n
            at = DAY0 + dt.timedelta(minutes=97 * i)
            amount = rnd.randint(100, 50_000)
            fee = amount * 14 // 1000 + 25
            pi, ch = f"pi_t{seed}_{i:04d}", f"ch_t{seed}_{i:04d}"
            if kind != "missing_in_ledger":
                booked = amount + (1 if kind == "amount" else 0)
                self.payments.append((f"pay_{seed}_{i:04d}", pi, amount,
                                      fee + (1 if kind == "fee" else 0), at))  # fmt: skip
                self.ledger_amounts[f"pay_{seed}_{i:04d}"] = (
                    booked,
                    "USD" if kind == "currency" else "EUR",
                )
                if kind == "booked_twice":
                    self.payments.append((f"pay_{seed}_{i:04d}b", pi, amount, fee, at))
                    self.ledger_amounts[f"pay_{seed}_{i:04d}b"] = (amount, "EUR")
            if kind == "missing_at_psp":
                continue
            cat = "Charge" if i % 7 == 0 else "charge"
            self._line(k, f"txn_{seed}_{i:04d}", at, amount, fee, cat, ch, ch,
                       "" if kind == "charge_id_only" else pi)  # fmt: skip
            if kind == "charge_id_only":  # the report names the payment by its charge only
                self.payments[-1] = (*self.payments[-1][:1], ch, *self.payments[-1][2:])
            if kind == "charged_twice":
                self._line(k, f"txn_{seed}_{i:04d}x", at, amount, fee, "charge", ch, ch, pi)
            if kind == "cross_ref":  # another payment's line names this one's id as charge
                self._line(k, f"txn_{seed}_{i:04d}y", at, 500, 32, "charge", "", pi,
                           f"pi_t{seed}_other")  # fmt: skip
            if kind == "refund":
                self._line(k, f"txn_{seed}_{i:04d}r", at, -amount // 2, 0, "refund",
                           f"re_{seed}_{i:04d}", ch, pi)  # fmt: skip
            if kind == "fee_line":
                self._line(None, f"txn_{seed}_{i:04d}f", at, -150, 0, "stripe_fee", "", "", "")
        self.payout_day = [(DAY0 + dt.timedelta(days=8 * (k + 1))).date() for k in range(PAYOUTS)]
        self.booked_nets = list(self.nets)
        self.booked_nets[1] += 7  # the ledger's payout does not add up

    def _line(self, k: int | None, txn: str, at: dt.datetime, gross: int, fee: int, cat: str,
              src: str, ch: str, pi: str) -> None:  # fmt: skip
        eff = "" if k is None else f"{DAY0 + dt.timedelta(days=8 * (k + 1)):%Y-%m-%d 00:00:00}"
        when = at.strftime("%Y-%m-%d %H:%M:%S")
        payout = "" if k is None else f"po_t{k}"
        self.rows.append(f"{payout},{eff},{txn},{when},{when},eur,{_money(gross)},{_money(fee)},"
                         f"{_money(gross - fee)},{cat},{src},{ch},{pi},Facture {txn}\n")  # fmt: skip
        if k is not None:
            self.nets[k] += gross - fee

    def csv(self) -> bytes:
        return (HEADER + "".join(self.rows)).encode()

    def camt(self) -> bytes:
        payouts = [
            PayoutRecord(
                id=f"po_t{k}",
                amount=self.nets[k],
                currency="EUR",
                created=dt.datetime.combine(self.payout_day[k], dt.time(5), dt.UTC),
                arrival_date=self.payout_day[k],
                statement_descriptor="STRIPE",
                bank_reference=f"BANKREF{k:04d}",
                lines=(),
            )  # fmt: skip
            for k in range(PAYOUTS)
        ]
        first, last = DAY0.date(), dt.date(2026, 11, 10)
        return bank_statement(payouts, BankAccount(iban=IBAN, currency="EUR"), 0, first, last)


async def _book(app: Any, m: Month) -> None:
    """The ledger's side, written as an older regie wrote it (triggers off for the load),
    with its PSP postings then kept as migration 0021 keeps them."""
    async with app.state.db.engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        await raw.execute("SET session_replication_role = replica")
        svc = "svc_bulk"
        await raw.execute(
            "INSERT INTO services (id, slug, name, address, identifier, timezone, created_at) "
            "VALUES ($1, 'bulk', 'Ville', '', '', 'Europe/Paris', now())",
            svc,
        )
        pays, entries, lines = [], [], []
        for pid, pi, amount, fee, at in m.payments:
            booked, cur = m.ledger_amounts[pid]
            pays.append((pid, f"inv_{pid}", svc, "stripe", "succeeded", amount, "EUR", pi,
                         fee, False, 0, at, at, at))  # fmt: skip
            entries.append((f"je_{pid}", f"payment:{pid}:succeeded", "payment_succeeded", svc,
                            f"inv_{pid}", "", at, at))  # fmt: skip
            lines += [(f"je_{pid}", 1, "assets:psp:stripe", cur, booked, 0),
                      (f"je_{pid}", 2, "receivable:bulk", cur, 0, booked)]  # fmt: skip
        for k in range(PAYOUTS):
            at = dt.datetime.combine(m.payout_day[k], dt.time(6), dt.UTC)
            entries.append((f"je_po{k}", f"payout:po_t{k}:paid", "payout_paid", None, None,
                            f"payout po_t{k}", at, at))  # fmt: skip
            net = m.booked_nets[k]
            lines += [(f"je_po{k}", 1, "assets:bank:main", "EUR", net, 0),
                      (f"je_po{k}", 2, "assets:psp:stripe", "EUR", 0, net)]  # fmt: skip
        await raw.copy_records_to_table("payments", records=pays, columns=[
            "id", "invoice_id", "service_id", "provider", "status", "amount", "currency",
            "provider_payment_id", "fee", "is_overpayment", "check_count", "created_at",
            "updated_at", "succeeded_at"])  # fmt: skip
        await raw.copy_records_to_table("ledger_entries", records=entries, columns=[
            "id", "source_key", "kind", "service_id", "invoice_id", "description",
            "effective_at", "created_at"])  # fmt: skip
        await raw.copy_records_to_table("ledger_lines", records=lines, columns=[
            "entry_id", "position", "account", "currency", "debit", "credit"])  # fmt: skip
        await raw.execute(BACKFILL)
        await raw.execute("SET session_replication_role = origin")
        await conn.commit()


async def _run(app: Any, bulk: bool, csv: bytes, camt: bytes | None, name: str = "r.csv") -> Any:
    svc = ReconciliationService(
        app.state.db, app.state.reconciliation.providers, ReconConfig(bank_iban=IBAN, bulk=bulk)
    )
    run_id = await svc.start_run(
        RunRequest(
            dt.date(2026, 10, 1),
            dt.date(2026, 10, 31),
            "test",
            stripe_csv=(name, csv),
            camt053=[("releve.xml", camt)] if camt else [],
            as_of=dt.date(2026, 11, 20),
            provider="stripe",
        )  # fmt: skip
    )
    view = await svc.get_run(run_id)
    return {
        "summary": view.run.summary,
        "tie_outs": view.run.tie_outs,
        "inputs_sha256": view.run.inputs_sha256,
        "discrepancies": sorted(
            (
                d.key,
                d.category,
                d.amount,
                d.currency,
                d.psp_reference,
                d.payout_id,
                d.bank_reference,
                d.ledger_entry,
                d.detail,
            )  # fmt: skip
            for d in view.discrepancies
        ),
        "suggestions": sorted((x.key, x.kind, x.amount) for x in view.suggestions),
    }


@pytest.mark.parametrize("seed", [1, 2])
async def test_the_bulk_path_gives_the_pure_paths_run(app, seed: int, bulk_calls) -> None:
    m = Month(300, seed)
    await _book(app, m)
    pure = await _run(app, False, m.csv(), m.camt())
    assert bulk_calls == []
    bulk = await _run(app, True, m.csv(), m.camt())
    assert bulk_calls == [True]
    assert bulk == pure
    found = {d[1] for d in pure["discrepancies"]}
    assert {"missing_in_ledger", "missing_at_psp", "amount_mismatch", "fee_mismatch",
            "currency_mismatch", "duplicate", "payout_mismatch"} <= found  # fmt: skip
    assert pure["summary"]["matched_count"] > 250


async def test_a_report_with_quotes_is_read_by_the_python_reader(app, bulk_calls) -> None:
    m = Month(60, 3)
    await _book(app, m)
    quoted = m.csv().replace(b"Facture", b'"Facture, no')
    quoted = quoted.replace(b"\n", b'"\n').replace(b'description"\n', b"description\n")
    pure = await _run(app, False, quoted, m.camt())
    bulk = await _run(app, True, quoted, m.camt())
    assert bulk_calls == []  # never loaded in bulk
    assert bulk == pure


@pytest.mark.parametrize("odd", ["pi_odd\\one", "pi_odd\ttab", "pi_odd\bback"])
async def test_a_ledger_id_that_copy_would_escape_is_hashed_as_written(
    app, odd: str, bulk_calls
) -> None:
    m = Month(60, 5)
    m.payments.append(("pay_odd", odd, 1000, 39, DAY0))
    m.ledger_amounts["pay_odd"] = (1000, "EUR")
    await _book(app, m)
    pure = await _run(app, False, m.csv(), m.camt())
    bulk = await _run(app, True, m.csv(), m.camt())
    assert bulk_calls == [True]
    assert bulk == pure
    assert [d[1] for d in pure["discrepancies"] if d[4] == odd] == ["missing_at_psp"]


# how reconciliation read the ledger's payments before migration 0021 (a join of entries,
# lines and payments at every run): the backfill must give these very rows
FORMER_PAYMENTS = """
    SELECT p.provider_payment_id, e.id, e.effective_at, l.debit - l.credit, l.currency,
           COALESCE(p.fee, 0), COALESCE(p.fee_currency, p.currency)
    FROM ledger_entries e
    JOIN ledger_lines l ON l.entry_id = e.id AND l.account = $1
    JOIN payments p ON p.invoice_id = e.invoice_id
     AND e.source_key IN ('payment:' || p.id || ':succeeded', 'payment:' || p.id || ':overpayment')
    WHERE e.kind IN ('payment_succeeded', 'overpayment')
      AND e.effective_at >= $2 AND e.effective_at < $3
      AND p.provider_payment_id IS NOT NULL
    ORDER BY e.effective_at, e.id, l.debit - l.credit, l.currency
"""


async def test_the_ledgers_odd_bookings_are_kept_as_the_former_join_read_them(
    app, bulk_calls
) -> None:
    """Migration 0021 keeps the PSP postings of the payments booked before it with the join
    reconciliation read them with: an overpayment's entry, a fee in another currency, an
    entry booked on another invoice, a payment without the PSP's id, an entry with two
    lines on the PSP's account and a payment id that is not ASCII come out of the new
    table as they came out of the join, and both paths find each."""
    m = Month(60, 6)
    await _book(app, m)
    pid = [p[0] for p in m.payments]
    async with app.state.db.engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        await raw.execute("SET session_replication_role = replica")
        entries = [
            (f"je_{pid[3]}_o", f"payment:{pid[3]}:overpayment", "overpayment", f"inv_{pid[3]}"),
            (f"je_{pid[4]}_x", f"payment:{pid[4]}:succeeded:again", "payment_succeeded",
             f"inv_{pid[4]}"),  # a key of neither form
            (f"je_{pid[5]}_w", f"payment:{pid[5]}:overpayment", "overpayment", "inv_elsewhere"),
            (f"je_{pid[6]}_k", f"payment:{pid[6]}:overpayment", "refund_succeeded",
             f"inv_{pid[6]}"),  # another kind
        ]  # fmt: skip
        for entry, key, kind, invoice in entries:
            await raw.execute(
                "INSERT INTO ledger_entries (id, source_key, kind, service_id, invoice_id, "
                "description, effective_at, created_at) VALUES ($1, $2, $3, 'svc_bulk', $4, '',"
                " $5, $5)",
                entry, key, kind, invoice, DAY0 + dt.timedelta(hours=5),
            )  # fmt: skip
            await raw.execute(
                "INSERT INTO ledger_lines (entry_id, position, account, currency, debit, credit)"
                " VALUES ($1, 1, 'assets:psp:stripe', 'EUR', 700, 0),"
                " ($1, 2, 'receivable:bulk', 'EUR', 0, 700)",
                entry,
            )
        await raw.execute(
            "INSERT INTO ledger_lines (entry_id, position, account, currency, debit, credit) "
            "VALUES ($1, 3, 'assets:psp:stripe', 'EUR', 11, 0)",
            f"je_{pid[7]}",
        )  # a second line on the PSP's account
        # a payment id that is not ASCII: the id inside the key is cut in characters
        await raw.execute("UPDATE payments SET id = $2 WHERE id = $1", pid[2], f"{pid[2]}é€")
        await raw.execute(
            "UPDATE ledger_entries SET source_key = $2 WHERE id = $1",
            f"je_{pid[2]}", f"payment:{pid[2]}é€:succeeded",
        )  # fmt: skip
        await raw.execute("UPDATE payments SET fee_currency = 'USD' WHERE id = $1", pid[8])
        await raw.execute("UPDATE payments SET provider_payment_id = NULL WHERE id = $1", pid[9])
        await raw.execute(
            "UPDATE ledger_entries SET invoice_id = 'inv_elsewhere' WHERE id = $1", f"je_{pid[10]}"
        )
        await raw.execute("DELETE FROM ledger_psp_postings")  # kept again, as 0021 keeps them
        await raw.execute(BACKFILL)
        await raw.execute("SET session_replication_role = origin")
        await conn.commit()
        window = window_for("stripe", dt.date(2026, 10, 1), dt.date(2026, 10, 31))
        former = [
            LedgerItem("payment", ref, gross, fee if fee_cur == cur else 0, cur, (entry,), at)
            for ref, entry, at, gross, cur, fee, fee_cur in await raw.fetch(
                FORMER_PAYMENTS, "assets:psp:stripe", window.since, window.until
            )
        ]  # fmt: skip
        kept = [
            i
            async for i in ledger_items(conn, "stripe", window.since, window.until)
            if i.kind == "payment"
        ]
    assert kept == former
    assert {i.entry_ids[0] for i in kept} >= {f"je_{pid[3]}_o", f"je_{pid[2]}", f"je_{pid[7]}"}
    assert f"je_{pid[4]}_x" not in {i.entry_ids[0] for i in kept}  # a key of neither form
    assert len([i for i in kept if i.entry_ids == (f"je_{pid[7]}",)]) == 2
    pure = await _run(app, False, m.csv(), m.camt())
    bulk = await _run(app, True, m.csv(), m.camt())
    assert bulk_calls == [True]
    assert bulk == pure
    refs = {d[4] for d in pure["discrepancies"]}
    assert {m.payments[i][1] for i in (3, 7, 8, 9, 10)} <= refs  # each odd booking shows


async def test_an_empty_report_and_an_empty_ledger_are_nothing_to_reconcile(app) -> None:
    for bulk in (False, True):
        with pytest.raises(PeriodError, match="Nothing to reconcile"):
            await _run(app, bulk, HEADER.encode(), None)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (b",12.5O,", "column gross"),  # a letter O
        (b",12.505,", "more decimals than EUR allows"),
        (b",2026-10-32 10:00:00,", "column created"),
    ],
)
async def test_a_bad_row_is_named_as_the_python_reader_names_it(
    app, bad: bytes, message: str
) -> None:
    m = Month(40, 4)
    await _book(app, m)
    data = bytearray(m.csv())
    line = data.split(b"\n")[5]
    fields = line.split(b",")
    fields[6 if b"12" in bad else 3] = bad.strip(b",")
    if b"12" in bad:
        fields[8] = bad.strip(b",")  # net = gross - fee would fail otherwise
        fields[7] = b"0.00"
    data = bytes(data).replace(line, b",".join(fields))
    errors = []
    for bulk in (False, True):
        with pytest.raises(SourceError) as exc:
            await _run(app, bulk, data, m.camt())
        errors.append(str(exc.value))
    assert errors[0] == errors[1]
    assert message in errors[0]


@pytest.mark.parametrize("fault", ["repeated", "two-currencies"])
async def test_a_repeated_line_or_a_payout_in_two_currencies_stores_nothing_on_either_path(
    app: Any, fault: str, bulk_calls: list[bool]
) -> None:
    """Both paths refuse the report with the reader's message, naming the file and line, and
    the statement given to the same run is not imported: the bulk path refuses it when it
    opens the report, before the run stores its statements (never at the match)."""
    m = Month(300, 7)
    await _book(app, m)
    rows = list(m.rows)
    fields = [r.split(",") for r in rows]
    if fault == "repeated":
        rows.insert(200, rows[10])
        says = f"dup.csv, line 202: balance transaction {fields[10][2]} is already on line 12"
    else:
        first = next(i for i in range(len(rows)) if fields[i][0] == "po_t2")
        at = next(i for i in range(first + 1, len(rows)) if fields[i][0] == "po_t2")
        rows[at] = rows[at].replace(",eur,", ",usd,")
        says = (f"dup.csv, line {at + 2}: payout {fields[at][0]} is in EUR (line {first + 2}), "
                "this line is in USD")  # fmt: skip
    data = (HEADER + "".join(rows)).encode()
    errors = []
    for bulk in (False, True):
        with pytest.raises(SourceError) as exc:
            await _run(app, bulk, data, m.camt(), name="dup.csv")
        errors.append(str(exc.value))
    assert errors == [says, says]
    assert bulk_calls == []
    assert await _stored(app) == (0, 0)
