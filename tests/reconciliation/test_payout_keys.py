"""Payouts against the bank: a decision's key holds any character a bank writes in its
references, and a run lists in transit only the payouts of its own period."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import httpx
import pytest

from reconciliation.banking import payout_bank_sides
from reconciliation.matching import add_business_days, reconcile, suggestion_key
from reconciliation.records import BankLine, Payout
from regie.kit.database import utcnow
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.payments.test_simulator_payouts import paid_invoice, sim
from tests.reconciliation.test_reconcile_api import IBAN, camt
from tests.reconciliation.world import END, build, without_remittance


@pytest.mark.parametrize(
    "refs", [("BNK+2026:77", "BNK-2"), ("A%2B:B", "C%"), ("x+y", "x:y"), ("é/ü ß", "%3A")]
)
def test_a_confirmed_suggestion_is_matched_whatever_its_references_hold(
    refs: tuple[str, str],
) -> None:
    w = without_remittance(build([[(1000, 0)], [(1000, 0)]]))
    w.bank = [dataclasses.replace(b, reference=r) for b, r in zip(w.bank, refs, strict=True)]
    first = reconcile(w.inputs())
    assert first.payout_matches == () and len(first.suggestions) == 4
    key = suggestion_key(["po_000"], [refs[0]])
    assert key in {s.key for s in first.suggestions}
    # one confirmed: that pair is matched, and the other payout has one credit left
    r = reconcile(w.inputs(confirmed=frozenset([key])))
    assert r.suggestions == () and r.discrepancies == ()
    assert sorted(r.payout_matches) == [(("po_000",), (refs[0],)), (("po_001",), (refs[1],))]


def test_a_key_reads_back_its_sides_and_plain_keys_are_unchanged() -> None:
    # decisions stored before keys were encoded: their keys read as they always did
    assert suggestion_key(["po_2", "po_1"], ["BNK-1"]) == "payout-bank:po_1+po_2:BNK-1"
    ps, bs = ["po_+:%1", "po_2"], ["BNK+2026:77", "a%b"]
    assert payout_bank_sides(suggestion_key(ps, bs)) == (sorted(ps), sorted(bs))
    assert payout_bank_sides("payout-bank:po_1+po_2:BNK-1") == (["po_1", "po_2"], ["BNK-1"])
    assert payout_bank_sides("missing_in_bank:po_1") is None


def test_a_payout_arriving_after_the_period_is_not_in_its_transit() -> None:
    """October's run, on 3 November: a payout that reaches the bank on 2 November is
    November's, not in transit in October; one of 30 October still is."""
    w = build([[(1000, 0)]])
    w.bank = []
    w.as_of = dt.date(2026, 11, 3)
    w.payouts = [Payout("po_oct", 1000, "EUR", dt.date(2026, 10, 30)),
                 Payout("po_nov", 500, "EUR", dt.date(2026, 11, 2))]  # fmt: skip
    w.ledger = []
    w.psp = []
    r = reconcile(w.inputs())
    assert r.in_transit == ("po_oct",)
    assert add_business_days(END, 2) >= w.as_of
    # nor is a payout from before the period whose window is still open (September's)
    w.payouts.append(Payout("po_sep", 700, "EUR", dt.date(2026, 9, 30)))
    w.as_of = dt.date(2026, 10, 1)
    w.bank = [BankLine("BNK-X", 1, "credit", "EUR", dt.date(2026, 12, 1), "?")]
    r = reconcile(w.inputs())
    assert "po_sep" not in r.in_transit


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(bank_iban=IBAN)  # type: ignore[no-any-return]


async def test_a_confirmed_credit_with_a_plus_in_its_reference_is_matched_next_run(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    """Through the API and the database: the credit BNK+2026:77 names the payout, one cent
    off; confirmed, the next run matches it."""
    fin = Keys.h(keys.finance)
    await paid_invoice(client, app, keys.urbanisme, reference="A", amount=3000)
    payout = (await sim(app).pay_out())[0].payout
    await app.state.applier.process_batch()
    off = payout.amount + 1
    statement = camt([("BNK+2026:77", f"{off // 100}.{off % 100:02d}", f"SIMULATOR {payout.id}")])
    today = utcnow().date().isoformat()
    period = {"period_from": today, "period_to": today}
    r = await client.post(
        "/v1/reconciliations", data=period, headers=fin,
        files={"camt053": ("releve.xml", statement, "application/xml")},
    )  # fmt: skip
    run = r.json()
    assert [(s["payout_ids"], s["bank_references"]) for s in run["suggestions"]] == [
        ([payout.id], ["BNK+2026:77"])
    ], run
    sid = run["suggestions"][0]["id"]
    r = await client.post(f"/v1/reconciliations/{run['id']}/suggestions/{sid}/confirm",
                          json={}, headers=fin)  # fmt: skip
    assert r.status_code == 200
    again = (await client.post("/v1/reconciliations", json=period, headers=fin)).json()
    assert again["suggestions"] == [] and again["summary"]["payouts_matched"] == 1, again


def test_a_suggestion_whose_key_would_not_fit_is_left_open() -> None:
    """Two payouts of one amount, ids of 255 characters full of "+" (each encoded to 765):
    their key is longer than the column that keeps it; they are left open, not suggested."""
    w = without_remittance(build([[(1000, 0)], [(1000, 0)]]))
    long_ids = ["po_" + "+" * 252, "po_" + "+" * 251 + "x"]
    w.payouts = [dataclasses.replace(p, id=i) for p, i in zip(w.payouts, long_ids, strict=True)]
    w.ledger = [x for x in w.ledger if x.kind != "payout"]
    w.psp = [dataclasses.replace(x, payout_id=None) for x in w.psp if x.category != "payout"]
    r = reconcile(w.inputs())
    assert r.suggestions == ()
    found = [d.category for d in r.discrepancies]
    assert found.count("missing_in_bank") == 2 and found.count("unexpected_bank_credit") == 2
