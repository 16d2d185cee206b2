"""What the tests of a period's edges share: the clock stood still (regie's one clock,
``tests.test_year_boundaries.clock``), a run through the API, and the PSP's own records of
what the simulator does not simulate (a refund that fails after it succeeded, a dispute, a
payout that fails), written as the simulator writes its balance transactions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from payments.providers.base import EVENT_PAYOUT_FAILED, ProviderEvent
from payments.providers.simulator.commands import bank_statement_file, settlement_report
from payments.providers.simulator.models import SimBalanceTransaction
from regie.kit.ids import ulid
from regie.kit.settings import Settings
from tests.conftest import Keys

UTC = dt.UTC
OCT_FIRST, OCT_LAST = dt.date(2026, 10, 1), dt.date(2026, 10, 31)
NOV_FIRST, NOV_LAST = dt.date(2026, 11, 1), dt.date(2026, 11, 19)


async def run(
    client: httpx.AsyncClient,
    keys: Keys,
    first: dt.date,
    last: dt.date,
    files: dict[str, Any] | None = None,
) -> dict[str, Any]:
    period = {"period_from": first.isoformat(), "period_to": last.isoformat()}
    fin = Keys.h(keys.finance)
    if files:
        r = await client.post("/v1/reconciliations", data=period, headers=fin, files=files)
    else:  # the PSP's side from the PSP, no bank statement: a JSON body
        r = await client.post("/v1/reconciliations", json=period, headers=fin)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def found(run_doc: dict[str, Any]) -> list[tuple[str, int, str | None]]:
    return sorted(
        (d["category"], d["amount"], d.get("psp_reference") or d.get("payout_id"))
        for d in run_doc["discrepancies"]
    )


def ties(run_doc: dict[str, Any]) -> dict[tuple[str, str], int]:
    return {(t["name"], t["currency"]): t["difference"] for t in run_doc["tie_outs"]}


async def psp_line(
    app: Any,
    *,
    type_: str,
    category: str,
    source_id: str,
    amount: int,
    at: dt.datetime,
    fee: int = 0,
    payment_id: str | None = None,
    payout_id: str | None = None,
    currency: str = "EUR",
) -> str:
    """A balance transaction at the simulated PSP, as its own lines are written
    (``payments.providers.simulator.settlement``)."""
    txn = SimBalanceTransaction(
        id=f"txn_sim_{ulid()}",
        type=type_,
        reporting_category=category,
        source_id=source_id,
        payment_id=payment_id,
        amount=amount,
        fee=fee,
        net=amount - fee,
        currency=currency,
        description=category.upper(),
        created_at=at,
        available_on=at,
        payout_id=payout_id,
    )
    async with app.state.db.session() as s:
        s.add(txn)
        await s.commit()
    return txn.id


_n = iter(range(1, 1_000_000))


async def deliver(app: Any, etype: str, at: dt.datetime, **data: Any) -> None:
    """A PSP event, received and applied by the worker."""
    ev = ProviderEvent(
        id=f"evt_review_{next(_n)}", provider="simulator", type=etype, raw_type=etype,
        created=at, data=data,
        provider_payment_id=data.get("provider_payment_id"),
    )  # fmt: skip
    assert await app.state.intake.store(ev)
    await app.state.applier.process_batch()


async def payout_failed(app: Any, payout_id: str, amount: int, at: dt.datetime) -> None:
    """The bank refused payout ``payout_id`` at ``at``: the PSP's balance has the money back
    (its ``payout_reversal`` line) and regie receives ``payout.failed``."""
    await psp_line(
        app, type_="payout", category="payout_reversal", source_id=payout_id,
        payout_id=payout_id, amount=amount, at=at,
    )  # fmt: skip
    await deliver(
        app, EVENT_PAYOUT_FAILED, at,
        payout_id=payout_id, amount=amount, currency="EUR", status="failed",
    )  # fmt: skip


async def october_and_november(
    client: httpx.AsyncClient, keys: Keys, settings: Settings
) -> dict[tuple[int, str], list[tuple[str, int, str | None]]]:
    """October and November (to the 19th) reconciled, each from the PSP's own lines and from
    its payout report, with the bank's statement of the month: what each run found. Each
    month is consistent (its payout is at the bank, the tie-outs are zero) or this fails."""
    outcomes = {}
    for first, last, written in (
        (OCT_FIRST, OCT_LAST, dt.datetime(2026, 10, 30, 22, tzinfo=UTC)),
        (NOV_FIRST, NOV_LAST, dt.datetime(2026, 11, 19, 22, tzinfo=UTC)),
    ):
        camt = (await bank_statement_file(settings, first, last, now=written)).content
        csv_ = (await settlement_report(settings, first, last)).content
        for source, files in (
            ("psp", {"camt053": ("releve.xml", camt, "application/xml")}),
            ("report", {"stripe_csv": ("payouts.csv", csv_, "text/csv"),
                        "camt053": ("releve.xml", camt, "application/xml")}),
        ):  # fmt: skip
            doc = await run(client, keys, first, last, files)
            assert set(ties(doc).values()) == {0}, doc["tie_outs"]
            assert doc["summary"]["payouts_matched"] >= 1
            assert doc["summary"]["in_transit"] == []
            outcomes[first.month, source] = found(doc)
    return outcomes
