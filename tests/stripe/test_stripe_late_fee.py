"""A payment whose fee Stripe reports after regie booked its success: the charge's balance
transaction is not there yet when the payment succeeds (asynchronous capture, Stripe's
default since 2024-04-10; or Stripe attaching it a moment later), so the success is booked
without a fee. Stripe then attaches it and says so with ``charge.updated``; any later
re-read of the payment shows it too. The fee is booked then, once (``payment:pay_…:fee``,
dated with the payment's success: it is on the charge's own balance transaction), and the
month's reconciliation, pure or in bulk, finds no ``fee_mismatch``.

regie wired to Stripe, respx answering with Stripe's recorded objects, webhooks signed as
Stripe signs them (as ``test_stripe_psp_fees``)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx
from sqlalchemy import select

from ledger.models import JournalEntry
from payments.models import Payment
from reconciliation.bulk import BulkReport
from reconciliation.service import ReconciliationService, ReconConfig, RunRequest
from tests.conftest import Keys, create_invoice, token_of
from tests.stripe.conftest import RESPX_BASE, RESPX_KEY, SECRETS, event_body, sign, stripe_object
from tests.stripe.stripe_payloads import CH_ID, CS_ID, PI_ID, expanded_intent, session
from tests.test_year_boundaries import Clock, clock  # noqa: F401  (the fixture)

pytestmark = pytest.mark.filterwarnings(
    "ignore:Use 'content=<...>' to upload raw bytes/text content:DeprecationWarning"
)

FEE = 93  # Stripe's fee on the 45.00 EUR charge (its balance transaction: txn_3RegieTest)
PSP, FEES = ("assets:psp:stripe", "EUR"), ("expenses:psp_fees", "EUR")
PAID_AT = dt.datetime(2026, 10, 15, 9, 30, tzinfo=dt.UTC)


@pytest.fixture
def settings(settings_factory):
    return settings_factory(
        psp="stripe",
        stripe_api_key=RESPX_KEY,
        stripe_webhook_secrets=",".join(SECRETS),
        stripe_api_base=RESPX_BASE,
    )


_events = iter(range(1, 1_000_000))


async def webhook(client: httpx.AsyncClient, etype: str, obj: dict[str, Any]) -> None:
    body = event_body(etype, obj, event_id=f"evt_1RegieLateFee{next(_events):012d}")
    r = await client.post("/webhooks/stripe", content=body, headers=sign(body, SECRETS[0]))
    assert r.status_code == 200 and r.json()["ignored"] is False, r.text


def intent(ref: str, *, settled: bool) -> dict[str, Any]:
    """The PaymentIntent, succeeded, its charge's balance transaction attached (``settled``)
    or not yet (``null``: captured asynchronously, Stripe attaches it a moment later)."""
    doc = expanded_intent(metadata={"payment_id": ref})
    if not settled:
        doc["latest_charge"]["balance_transaction"] = None
    return doc


def charge(*, settled: bool) -> dict[str, Any]:
    """``charge.updated``'s object: the charge, its balance transaction now named (an id:
    event bodies never expand)."""
    return stripe_object(
        "charge", id=CH_ID, amount=4500, amount_captured=4500, captured=True,
        currency="eur", status="succeeded", payment_intent=PI_ID,
        balance_transaction="txn_3RegieTest" if settled else None,
    )  # fmt: skip


async def paid_without_fee(
    client: httpx.AsyncClient,
    app: Any,
    keys: Keys,
    respx_mock: respx.MockRouter,
    still: Clock | None = None,
) -> tuple[str, dict[str, Any]]:
    """An invoice of 45.00 EUR paid through Stripe's Checkout while the charge's balance
    transaction is not there yet: the session's re-read shows no fee (its success booked at
    ``PAID_AT`` when regie's clock, ``still``, is given). Gives the invoice's id and ``state``,
    whose ``settled`` decides what the next re-reads show."""
    created: dict[str, str] = {}

    def create_session(request: httpx.Request) -> httpx.Response:
        ref = parse_qs(request.content.decode())["client_reference_id"][0]
        created["ref"] = ref
        return httpx.Response(
            200, json=session(metadata={"payment_id": ref}, client_reference_id=ref)
        )

    respx_mock.post(f"{RESPX_BASE}/v1/checkout/sessions").mock(side_effect=create_session)
    inv = await create_invoice(client, keys.urbanisme, amount=4500)
    assert (await client.post(f"/pay/{token_of(inv)}/checkout")).status_code == 303
    ref = created["ref"]
    state: dict[str, Any] = {"settled": False, "ref": ref}

    def paid(request: httpx.Request | None = None) -> httpx.Response:
        return httpx.Response(
            200,
            json=session(
                status="complete",
                payment_status="paid",
                metadata={"payment_id": ref},
                client_reference_id=ref,
                payment_intent=intent(ref, settled=state["settled"]),
            ),  # fmt: skip
        )

    respx_mock.get(f"{RESPX_BASE}/v1/checkout/sessions/{CS_ID}").mock(side_effect=paid)
    body = {**paid().json(), "payment_intent": PI_ID}
    if still is not None:
        still.set(PAID_AT)
    await webhook(client, "checkout.session.completed", body)
    assert await app.state.applier.process_batch() == 1
    return str(inv["id"]), state


async def balances(app: Any) -> dict[tuple[str, str], int]:
    return {(b.account, b.currency): b.balance for b in await app.state.ledger.balances()}


async def fee_entries(app: Any) -> list[tuple[str, str, dt.datetime]]:
    async with app.state.db.session() as s:
        rows = (
            await s.execute(select(JournalEntry).where(JournalEntry.kind == "psp_fee"))  # type: ignore[arg-type]
        ).scalars()
        return [(e.source_key, e.kind, e.effective_at) for e in rows]


async def test_a_fee_stripe_attaches_after_the_success_is_booked_once_on_charge_updated(
    client: httpx.AsyncClient, app: Any, keys: Keys, respx_mock: respx.MockRouter
) -> None:
    """The success is booked without a fee (none known yet): the PSP clearing account holds
    the whole 45.00 EUR. ``charge.updated`` (the balance transaction attached) re-reads the
    payment: its fee, 0.93 EUR, is booked once (``expenses:psp_fees`` ← ``assets:psp``), the
    payment shows it; the same event delivered again, and another one, book nothing more."""
    inv, state = await paid_without_fee(client, app, keys, respx_mock)
    before = await balances(app)
    assert before[PSP] == 4500 and before.get(FEES, 0) == 0
    assert await fee_entries(app) == []

    state["settled"] = True
    for _ in range(2):  # delivered twice (two events: Stripe sends charge.updated often)
        await webhook(client, "charge.updated", charge(settled=True))
        await app.state.applier.process_batch()
    after = await balances(app)
    assert (after[PSP], after.get(FEES, 0)) == (4500 - FEE, FEE)
    (entry,) = await fee_entries(app)
    assert entry[:2] == (f"payment:{state['ref']}:fee", "psp_fee")
    async with app.state.db.session() as s:
        (p,) = (await s.execute(select(Payment))).scalars().all()
        succeeded = (
            await s.execute(
                select(JournalEntry).where(
                    JournalEntry.source_key == f"payment:{p.id}:succeeded"  # type: ignore[arg-type]
                )
            )
        ).scalar_one()
    assert (p.fee, p.fee_currency) == (FEE, "EUR")
    assert entry[2] == succeeded.effective_at  # dated with the success, as its PSP line is
    doc = (await client.get(f"/v1/invoices/{inv}", headers=Keys.h(keys.urbanisme))).json()
    assert doc["status"] == "paid"


async def test_a_charge_updated_before_the_balance_transaction_books_nothing(
    client: httpx.AsyncClient, app: Any, keys: Keys, respx_mock: respx.MockRouter
) -> None:
    """A ``charge.updated`` about something else while the balance transaction is still not
    attached, then a later re-read of the payment (its ``payment_intent.succeeded``, late)
    that shows the fee: booked then, once."""
    _inv, state = await paid_without_fee(client, app, keys, respx_mock)
    await webhook(client, "charge.updated", charge(settled=False))
    await app.state.applier.process_batch()
    assert (await balances(app)).get(FEES, 0) == 0
    state["settled"] = True
    for _ in range(2):
        await webhook(client, "payment_intent.succeeded", {**intent(state["ref"], settled=True),
                                                           "latest_charge": CH_ID})  # fmt: skip
        await app.state.applier.process_batch()
    after = await balances(app)
    assert (after[PSP], after.get(FEES, 0)) == (4500 - FEE, FEE)
    assert len(await fee_entries(app)) == 1


# ------------------------------------------------------------------- the month's reconciliation
HEADER = (
    "automatic_payout_id,automatic_payout_effective_at,balance_transaction_id,created,"
    "available_on,currency,gross,fee,net,reporting_category,source_id,charge_id,"
    "payment_intent_id,description\n"
)


def report() -> bytes:
    """Stripe's itemised payout report of October: the charge, its fee on its own line."""
    when = PAID_AT.strftime("%Y-%m-%d %H:%M:%S")
    line = (f"po_1RegieLate,2026-10-17 00:00:00,txn_3RegieTest,{when},{when},eur,45.00,0.93,"
            f"44.07,charge,{CH_ID},{CH_ID},{PI_ID},Facture\n")  # fmt: skip
    return (HEADER + line).encode()


async def _run(app: Any, bulk: bool) -> dict[str, Any]:
    svc = ReconciliationService(
        app.state.db, app.state.reconciliation.providers, ReconConfig(bulk=bulk)
    )
    run_id = await svc.start_run(
        RunRequest(
            dt.date(2026, 10, 1),
            dt.date(2026, 10, 31),
            "test",
            stripe_csv=("r.csv", report()),
            camt053=[],
            as_of=dt.date(2026, 11, 20),
            provider="stripe",
        )  # fmt: skip
    )
    view = await svc.get_run(run_id)
    return {
        "matched": view.run.summary["matched_count"],
        "inputs_sha256": view.run.inputs_sha256,
        "discrepancies": sorted(
            (d.category, d.amount, d.psp_reference) for d in view.discrepancies
        ),
    }


@pytest.mark.postgres
async def test_a_fee_booked_late_reconciles_on_the_pure_and_the_bulk_path(
    client: httpx.AsyncClient,
    app: Any,
    keys: Keys,
    respx_mock: respx.MockRouter,
    clock: Clock,  # noqa: F811  (the fixture imported above)
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Paid on 15 October without a fee, the fee booked by ``charge.updated`` a moment
    later: October's run finds the charge's line (45.00, fee 0.93) matched with the
    ledger's payment and its fee, with no ``fee_mismatch``, on both paths alike (the same
    discrepancies, the same checksum)."""
    calls: list[bool] = []
    match = BulkReport.match

    async def spy(self: BulkReport, *args: Any) -> Any:
        got = await match(self, *args)
        calls.append(got is not None)
        return got

    monkeypatch.setattr(BulkReport, "match", spy)
    _inv, state = await paid_without_fee(client, app, keys, respx_mock, clock)
    clock.set(PAID_AT + dt.timedelta(seconds=40))
    state["settled"] = True
    await webhook(client, "charge.updated", charge(settled=True))
    await app.state.applier.process_batch()
    clock.set(dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC))
    pure = await _run(app, False)
    assert calls == []
    bulk = await _run(app, True)
    assert calls == [True]
    assert bulk == pure
    assert "fee_mismatch" not in {d[0] for d in pure["discrepancies"]}, pure
    assert pure["matched"] >= 1
