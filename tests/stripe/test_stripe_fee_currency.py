"""The fee is in the settlement currency: an XPF invoice paid on a Stripe account that
settles in EUR has its fee stored, shown and booked in EUR, with Stripe's exchange rate."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx
from sqlalchemy import func, select

from ledger.models import JournalLine
from payments.models import Payment
from payments.providers.stripe import mapping
from regie.kit.settings import Settings
from tests.conftest import Keys, create_invoice, token_of
from tests.stripe.conftest import RESPX_BASE, RESPX_KEY, SECRETS, event_body, sign, stripe_object
from tests.stripe.stripe_payloads import CS_ID, PI_ID, expanded_intent, session

pytestmark = pytest.mark.filterwarnings(
    "ignore:Use 'content=<...>' to upload raw bytes/text content:DeprecationWarning"
)

RATE = 0.0083799  # XPF -> EUR, as Stripe's balance transaction gives it


def xpf_intent(pay_id: str | None = None, **txn: Any) -> dict[str, Any]:
    """A 5000 XPF PaymentIntent whose balance transaction is in EUR (41.90 EUR, fee 0.88)."""
    intent = expanded_intent(amount=5000, currency="xpf")
    if pay_id:
        intent["metadata"] = {"payment_id": pay_id}
    charge = intent["latest_charge"]
    charge.update(amount=5000, currency="xpf")
    values = dict(amount=4190, fee=88, net=4102, currency="eur", exchange_rate=RATE)
    values.update(txn)
    charge["balance_transaction"] = stripe_object(
        "balance_transaction", id="txn_3RegieXpf", **values
    )
    return intent


def test_the_fee_carries_the_balance_transactions_currency_and_rate() -> None:
    truth = mapping.payment_from_intent(xpf_intent())
    assert (truth.amount, truth.currency) == (5000, "XPF")
    assert (truth.fee, truth.fee_currency, truth.fee_exchange_rate) == (88, "EUR", "0.0083799")


def test_a_fee_in_the_charges_own_currency_has_no_rate() -> None:
    truth = mapping.payment_from_intent(expanded_intent())
    assert (truth.fee, truth.fee_currency, truth.fee_exchange_rate) == (93, "EUR", None)


def test_no_fee_yet_means_no_fee_currency() -> None:
    intent = expanded_intent()
    intent["latest_charge"]["balance_transaction"] = "txn_not_expanded"
    truth = mapping.payment_from_intent(intent)
    assert (truth.fee, truth.fee_currency, truth.fee_exchange_rate) == (None, None, None)


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    settings: Settings = settings_factory(
        psp="stripe",
        stripe_api_key=RESPX_KEY,
        stripe_webhook_secrets=",".join(SECRETS),
        stripe_api_base=RESPX_BASE,
    )
    return settings


async def test_an_xpf_payment_settled_in_eur_books_its_fee_in_eur(
    client: httpx.AsyncClient, app: Any, keys: Keys, respx_mock: respx.MockRouter
) -> None:
    created: dict[str, str] = {}

    def create_session(request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        created.update(form)
        return httpx.Response(
            200,
            json=session(
                amount_total=5000, currency="xpf",
                metadata={"payment_id": form["client_reference_id"]},
                client_reference_id=form["client_reference_id"],
            ),
        )  # fmt: skip

    respx_mock.post(f"{RESPX_BASE}/v1/checkout/sessions").mock(side_effect=create_session)
    inv = await create_invoice(client, keys.urbanisme, amount=5000, currency="XPF")
    assert (await client.post(f"/pay/{token_of(inv)}/checkout")).status_code == 303
    pay_id = created["client_reference_id"]

    paid = session(
        amount_total=5000, currency="xpf", status="complete", payment_status="paid",
        payment_intent=PI_ID, metadata={"payment_id": pay_id}, client_reference_id=pay_id,
    )  # fmt: skip
    body = event_body("checkout.session.completed", paid, event_id="evt_1RegieXpfFee0000000000")
    r = await client.post("/webhooks/stripe", content=body, headers=sign(body, SECRETS[0]))
    assert r.status_code == 200, r.text
    truth = dict(paid, payment_intent=xpf_intent(pay_id))
    respx_mock.get(f"{RESPX_BASE}/v1/checkout/sessions/{CS_ID}").mock(
        return_value=httpx.Response(200, json=truth)
    )
    assert await app.state.applier.process_batch() == 1

    doc = (await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))).json()
    assert doc["status"] == "paid"
    (payment,) = doc["payments"]
    assert (payment["amount"], payment["currency"]) == (5000, "XPF")
    assert (payment["fee"], payment["fee_currency"]) == (88, "EUR")
    async with app.state.db.session() as s:
        row = (await s.execute(select(Payment).where(Payment.id == pay_id))).scalar_one()
        assert (row.fee_currency, row.fee_exchange_rate) == ("EUR", "0.0083799")
        sums = {
            (account, currency): (debit, credit)
            for account, currency, debit, credit in (
                await s.execute(
                    select(
                        JournalLine.account,
                        JournalLine.currency,
                        func.sum(JournalLine.debit),
                        func.sum(JournalLine.credit),
                    ).group_by(JournalLine.account, JournalLine.currency)
                )
            ).all()
        }
    assert sums[("expenses:psp_fees", "EUR")] == (88, 0)
    assert sums[("assets:psp:stripe", "EUR")] == (0, 88)
    assert ("expenses:psp_fees", "XPF") not in sums  # no EUR cents booked as XPF
    assert sums[("assets:psp:stripe", "XPF")] == (5000, 0)
    for currency in {c for _, c in sums}:  # every currency balances on its own
        debit = sum(d for (_, c), (d, _) in sums.items() if c == currency)
        credit = sum(cr for (_, c), (_, cr) in sums.items() if c == currency)
        assert debit == credit, currency
