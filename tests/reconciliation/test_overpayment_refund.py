"""A duplicate payment (an overpayment) and its automatic refund reconcile like any other
payment and refund: the refund's ledger entry (``overpayment_refunded``) is the PSP's refund
line, not a refund the ledger never recorded."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from payments.models import Refund
from regie.kit.settings import Settings
from tests.conftest import Keys, create_invoice, pay_twice
from tests.payments.test_simulator_payouts import sim
from tests.reconciliation.test_end_to_end import payout_files


async def test_an_overpayment_refunded_reconciles_clean(
    app: Any, client: httpx.AsyncClient, keys: Keys, settings: Settings
) -> None:
    inv = await create_invoice(client, keys.urbanisme, amount=2500, reference="D")
    await pay_twice(client, app, inv)
    await app.state.payments.refunds.retry_due()  # the overpayment is given back
    await app.state.applier.process_batch()
    async with app.state.db.session() as s:
        (back,) = (await s.execute(select(Refund))).scalars().all()
    assert (back.origin, back.status, back.amount) == ("overpayment", "succeeded", 2500)
    made = await sim(app).pay_out()
    assert len(made) == 1 and made[0].payout.amount == 2500 + 2500 - 2 * 63 - 2500
    await app.state.applier.process_batch()

    camt, csv_, period = await payout_files(settings, made[0].payout.arrival_date)
    fin = Keys.h(keys.finance)
    ties_of_first_run: dict[tuple[str, str], int] = {}
    for files in (
        {"camt053": ("releve.xml", camt, "application/xml")},
        {"stripe_csv": ("payouts.csv", csv_, "text/csv"),
         "camt053": ("releve.xml", camt, "application/xml")},
    ):  # fmt: skip
        r = await client.post("/v1/reconciliations", data=period, headers=fin, files=files)
        assert r.status_code == 201, r.text
        run = r.json()
        assert run["discrepancies"] == [], run["discrepancies"]
        s = run["summary"]
        assert (s["matched_count"], s["payouts_matched"], s["open"]) == (3, 1, 0)
        ties = {(t["name"], t["currency"]): t["difference"] for t in run["tie_outs"]}
        assert ties[("bank", "EUR")] == 0 and set(ties.values()) == {0}, run["tie_outs"]
        ties_of_first_run = ties_of_first_run or ties
    # the PSP's live balance (no report uploaded) ties out with the ledger's clearing account
    assert ties_of_first_run == {("psp_clearing", "EUR"): 0, ("bank", "EUR"): 0}
