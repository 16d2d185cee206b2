"""A resolution holds in the next runs for the discrepancy it was written for: the same item,
the same amount and currency. The same item found off by another amount is another
discrepancy, open, which a note written for the first does not explain: a review found a
5,000.00 € discrepancy shown as resolved by a note written for 5.00 € (the key named the
item only). And resolving the new one leaves the old run's resolved (on SQLite and
PostgreSQL; migration 0026 rewrites the keys stored before)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any

from reconciliation.book import MAX_KEY, discrepancy_key
from reconciliation.service import ReconciliationService, ReconConfig, RunRequest

IBAN = "FR7630001007941234567890185"
HEADER = (
    "automatic_payout_id,automatic_payout_effective_at,balance_transaction_id,created,"
    "available_on,currency,gross,fee,net,reporting_category,source_id,charge_id,"
    "payment_intent_id,description\n"
)


def report(gross: str, fee: str, net: str) -> bytes:
    line = (f",,txn_1,2026-10-05 10:00:00,2026-10-05 10:00:00,eur,{gross},{fee},{net},"
            "charge,ch_1,ch_1,pi_1,Facture 1\n")  # fmt: skip
    return (HEADER + line).encode()


async def run(svc: ReconciliationService, csv: bytes) -> Any:
    run_id = await svc.start_run(
        RunRequest(dt.date(2026, 10, 1), dt.date(2026, 10, 31), "key_x",
                   stripe_csv=("r.csv", csv), as_of=dt.date(2026, 11, 20), provider="stripe")
    )  # fmt: skip
    return await svc.get_run(run_id)


async def test_a_resolution_holds_for_its_amount_and_not_for_another(app: Any) -> None:
    svc = ReconciliationService(app.state.db, None, ReconConfig(bank_iban=IBAN, bulk=False))
    first = await run(svc, report("5.00", "0.32", "4.68"))
    (d,) = first.discrepancies
    assert (d.category, d.amount) == ("missing_in_ledger", 500)
    await svc.resolve(first.run.id, d.id, "Test payment of 5 EUR, refunded by hand", "key_x")
    same = await run(svc, report("5.00", "0.32", "4.68"))  # the same discrepancy: resolved
    assert [same.status_of(x.key) for x in same.discrepancies] == ["resolved"]

    bigger = await run(svc, report("5000.00", "70.25", "4929.75"))  # the item, 1,000 times
    (b,) = bigger.discrepancies
    assert (b.category, b.amount, bigger.status_of(b.key)) == ("missing_in_ledger", 500000, "open")
    await svc.resolve(bigger.run.id, b.id, "Régularisation de 5 000 € attendue", "key_x")
    # each run keeps the resolution written for it; the earlier one is not superseded
    first, bigger = await svc.get_run(first.run.id), await svc.get_run(bigger.run.id)
    assert first.decisions[d.key].note == "Test payment of 5 EUR, refunded by hand"
    assert bigger.decisions[b.key].note == "Régularisation de 5 000 € attendue"
    assert first.open_count == bigger.open_count == 0


def test_a_key_names_the_amount_and_stays_within_its_column() -> None:
    assert discrepancy_key("missing_in_ledger", "charge:pi_1", 500, "EUR") == (
        "missing_in_ledger:charge:pi_1@500 EUR"
    )
    assert discrepancy_key("missing_in_ledger", "charge:pi_1", 500, "EUR") != discrepancy_key(
        "missing_in_ledger", "charge:pi_1", 501, "EUR"
    ) != discrepancy_key("missing_in_ledger", "charge:pi_1", 500, "XPF")  # fmt: skip
    long = discrepancy_key("unexpected_bank_credit", "bank:" + "R" * 290, 10**15, "EUR")
    assert len(long) <= MAX_KEY and long.startswith("unexpected_bank_credit:sha256:")
    assert long != discrepancy_key("unexpected_bank_credit", "bank:" + "R" * 290, 10**15 + 1, "EUR")


def test_migration_0026_gives_each_stored_key_its_amount(tmp_path: Path) -> None:
    """On SQLite, upgraded from 0025: two runs found ``pi_1`` off by 5.00 € then 5,000.00 €
    under one key, and one resolution (on the first) covered both. After: each discrepancy's
    key has its amount, the resolution the first's, so the second is open; a key too long
    for its column is its digest; a suggestion's confirmation keeps its key."""
    from regie.migrate import upgrade

    path = tmp_path / "old.db"
    upgrade(f"sqlite+aiosqlite:///{path}", "0025")
    db = sqlite3.connect(path)
    for run_id in ("run_1", "run_2"):
        db.execute(
            "INSERT INTO recon_runs (id, period_from, period_to, as_of, provider, sources, "
            "inputs_sha256, summary, tie_outs, actor, created_at) VALUES (?, '2026-10-01', "
            "'2026-10-31', '2026-11-20', 'stripe', '[]', 'x', '{}', '[]', 'key_x', "
            "'2026-11-20 10:00:00.000000')",
            (run_id,),
        )
    long_ref = "bank:" + "R" * 270  # its key fits 300, not with its amount
    db.executemany(
        "INSERT INTO recon_discrepancies (id, run_id, key, category, amount, currency, detail) "
        "VALUES (?, ?, ?, ?, ?, 'EUR', '')",
        [
            ("dsc_1", "run_1", "missing_in_ledger:charge:pi_1", "missing_in_ledger", 500),
            ("dsc_2", "run_2", "missing_in_ledger:charge:pi_1", "missing_in_ledger", 500000),
            ("dsc_3", "run_2", f"unexpected_bank_credit:{long_ref}", "unexpected_bank_credit", 7),
        ],
    )
    db.executemany(
        "INSERT INTO recon_decisions (id, key, action, note, actor, run_id, created_at) "
        "VALUES (?, ?, ?, 'n', 'key_x', ?, '2026-11-20 11:00:00.000000')",
        [
            ("dec_1", "missing_in_ledger:charge:pi_1", "resolve", "run_1"),
            ("dec_2", "payout-bank:po_1:BNK-1", "confirm", "run_2"),
        ],
    )
    db.commit()
    db.close()
    upgrade(f"sqlite+aiosqlite:///{path}")
    db = sqlite3.connect(path)
    keys = dict(db.execute("SELECT id, key FROM recon_discrepancies"))
    decided = sorted(db.execute("SELECT id, key, superseded_by FROM recon_decisions"))
    db.close()
    assert keys == {
        "dsc_1": "missing_in_ledger:charge:pi_1@500 EUR",
        "dsc_2": "missing_in_ledger:charge:pi_1@500000 EUR",
        "dsc_3": discrepancy_key("unexpected_bank_credit", long_ref, 7, "EUR"),
    }
    assert keys["dsc_3"].startswith("unexpected_bank_credit:sha256:")
    assert decided == [
        ("dec_1", "missing_in_ledger:charge:pi_1@500 EUR", None),
        ("dec_2", "payout-bank:po_1:BNK-1", None),
    ]
