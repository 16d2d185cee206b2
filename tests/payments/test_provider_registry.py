"""The registry of PSPs: which adapters exist, which ones a regie runs, and that everything
about an existing payment goes to the PSP recorded on it, not to the default one.

``OtherPSP`` is a recording fake of the port: these tests check the routing between
providers, not how a PSP behaves (tests/stripe and the simulator tests do that).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from payments.models import Payment
from payments.providers.adapters import ADAPTERS, enabled_providers
from payments.providers.base import (
    EVENT_PAYMENT_SUCCEEDED,
    EVENT_REFUND_UPDATED,
    CheckoutRequest,
    CheckoutSession,
    CheckoutUrls,
    PaymentProvider,
    ProviderDispute,
    ProviderError,
    ProviderEvent,
    ProviderPayment,
    ProviderRefund,
    SettlementLine,
)
from payments.providers.context import BuildContext
from payments.providers.registry import ProviderRegistry, UnknownProvider
from regie.composition import build_providers
from regie.kit.database import Database, utcnow
from regie.kit.settings import Settings
from tests.conftest import Keys, create_invoice, token_of
from tests.stripe.conftest import RESPX_BASE, RESPX_KEY, SECRETS

OTHER = "otherpsp"


class OtherPSP:
    """A second PSP that records every call it receives."""

    name = OTHER
    shared_account = False
    min_checkout_life = dt.timedelta(0)

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.checkouts: dict[str, CheckoutRequest] = {}
        self.paid = False
        self.events: list[ProviderEvent] = []

    def _payment_id(self, checkout_id: str) -> str:
        return "pi_other_" + self.checkouts[checkout_id].payment_id

    async def create_checkout(
        self, request: CheckoutRequest, urls: CheckoutUrls
    ) -> CheckoutSession:
        checkout_id = f"cs_other_{request.payment_id}"
        self.calls.append(("create_checkout", checkout_id))
        self.checkouts[checkout_id] = request
        return CheckoutSession(
            checkout_id, f"https://psp.example/pay/{checkout_id}", request.expires_at
        )

    async def retrieve_payment(self, provider_ref: str) -> ProviderPayment:
        self.calls.append(("retrieve_payment", provider_ref))
        request = self.checkouts[provider_ref]
        return ProviderPayment(
            checkout_id=provider_ref,
            provider_payment_id=self._payment_id(provider_ref) if self.paid else None,
            status="succeeded" if self.paid else "pending",
            amount=request.amount,
            currency=request.currency,
            payment_ref=request.payment_id,
            card_brand="visa" if self.paid else None,
            card_last4="4242" if self.paid else None,
            fee=40 if self.paid else None,
        )

    async def refund(
        self,
        provider_payment_id: str,
        amount: int,
        idempotency_key: str,
        *,
        regie_refund_id: str | None = None,
    ) -> ProviderRefund:
        self.calls.append(("refund", provider_payment_id))
        return ProviderRefund(
            f"re_other_{idempotency_key}", provider_payment_id, amount, "EUR", "succeeded",
            regie_refund_id=regie_refund_id,
        )  # fmt: skip

    async def list_refunds(self, provider_payment_id: str) -> list[ProviderRefund]:
        self.calls.append(("list_refunds", provider_payment_id))
        return []

    async def retrieve_refund(self, refund_id: str) -> ProviderRefund:
        self.calls.append(("retrieve_refund", refund_id))
        return ProviderRefund(refund_id, "pi_other_x", 100, "EUR", "succeeded")

    async def cancel_checkout(self, checkout_id: str) -> bool:
        self.calls.append(("cancel_checkout", checkout_id))
        return not self.paid

    def parse_event(self, raw_body: bytes, headers: Mapping[str, str]) -> ProviderEvent:
        doc = json.loads(raw_body)
        return ProviderEvent(
            id=doc["id"],
            provider=OTHER,
            type=doc["type"],
            raw_type=doc["type"],
            created=utcnow(),
            checkout_id=doc.get("checkout_id"),
            payment_ref=doc.get("payment_ref"),
        )

    async def list_events(self, since: dt.datetime) -> AsyncIterator[ProviderEvent]:
        self.calls.append(("list_events", ""))
        for event in self.events:
            yield event

    async def list_settlement_lines(
        self, since: dt.datetime, until: dt.datetime
    ) -> AsyncIterator[SettlementLine]:
        for line in ():
            yield line

    async def list_payout_lines(self, payout_id: str) -> AsyncIterator[SettlementLine]:
        for line in ():
            yield line

    async def retrieve_dispute(self, dispute_id: str) -> ProviderDispute:
        raise ProviderError("not_found", dispute_id)


def test_the_fake_implements_the_port() -> None:
    assert isinstance(OtherPSP(), PaymentProvider)


# ------------------------------------------------------------- the adapters
def _settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": "sqlite+aiosqlite:///:memory:",
        "base_url": "http://testserver",
        "psp": "simulator",
        "env": "development",
        "stripe_api_key": "",
        "stripe_webhook_secrets": ",".join(SECRETS),
        "stripe_api_base": RESPX_BASE,
    }
    values.update(overrides)
    return Settings(**values)


async def test_every_adapter_builds_the_provider_named_after_it() -> None:
    settings = _settings(stripe_api_key=RESPX_KEY)
    db = Database(settings.database_url)
    ctx = BuildContext(settings, db)
    try:
        assert set(ADAPTERS) == {"simulator", "stripe"}
        for name, build in ADAPTERS.items():
            provider = build(ctx)
            assert provider.name == name
            assert isinstance(provider, PaymentProvider)
        assert len(ctx.clients) == 2  # the simulator's delivery client, Stripe's SDK client
    finally:
        for client in ctx.clients:
            await client.aclose()
        await db.dispose()


@pytest.mark.parametrize(
    ("psp", "key", "names"),
    [
        ("simulator", "", ["simulator"]),
        ("simulator", RESPX_KEY, ["simulator", "stripe"]),  # Stripe's payments stay refundable
        ("stripe", RESPX_KEY, ["stripe"]),
    ],
)
async def test_the_default_psp_plus_stripe_whenever_its_key_is_set(
    psp: str, key: str, names: list[str]
) -> None:
    settings = _settings(psp=psp, stripe_api_key=key)
    assert enabled_providers(settings) == names
    db = Database(settings.database_url)
    registry, clients = build_providers(settings, db, None)
    try:
        assert registry.names() == names and registry.default.name == psp
        assert [p.name for p in registry] == names
    finally:
        for client in clients:
            await client.aclose()
        await db.dispose()


def test_a_registry_refuses_unknown_names_and_duplicates() -> None:
    other = OtherPSP()
    registry = ProviderRegistry([other], default=OTHER)
    assert registry.get(OTHER) is other and registry.find("nope") is None
    with pytest.raises(UnknownProvider):
        registry.get("nope")
    with pytest.raises(UnknownProvider):
        ProviderRegistry([other], default="simulator")
    with pytest.raises(ValueError, match="two payment providers"):
        ProviderRegistry([other, OtherPSP()], default=OTHER)


# ------------------------------------------------------------------ the intake
@pytest.fixture
def settings(settings_factory):
    # the simulator by default, and Stripe's key set: both are registered
    return settings_factory(
        stripe_api_key=RESPX_KEY,
        stripe_webhook_secrets=",".join(SECRETS),
        stripe_api_base=RESPX_BASE,
    )


async def test_the_intake_takes_every_registered_provider_and_no_other(client, app) -> None:
    registered = app.state.payments.providers.names()
    assert sorted(registered) == sorted(ADAPTERS)  # every adapter is enabled here
    for name in registered:  # found: its adapter checks the (missing) signature
        r = await client.post(f"/webhooks/{name}", content=b"{}")
        assert r.status_code == 400, name
        assert r.json()["error"]["code"] == "invalid_signature"
    for name in (OTHER, "paypal"):
        r = await client.post(f"/webhooks/{name}", content=b"{}")
        assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_provider"

    # registering a provider is all it takes for its events to be taken
    app.state.payments.providers.register(OtherPSP())
    body = json.dumps({"id": "evt_other_1", "type": "payout.paid"}).encode()
    r = await client.post(f"/webhooks/{OTHER}", content=body)
    assert r.status_code == 200 and r.json()["duplicate"] is False


# ------------------------------------------- the provider recorded on a payment
class Setup:
    def __init__(self, app: Any, other: OtherPSP, sim_calls: list[str]) -> None:
        self.app = app
        self.other = other
        self.sim_calls = sim_calls

    def default_is(self, name: str) -> None:
        providers: ProviderRegistry = self.app.state.payments.providers
        providers.set_default(name)


@pytest.fixture
async def setup(app, monkeypatch) -> Setup:
    """The simulator (its port calls recorded) and OtherPSP, registered together."""
    sim = app.state.payments.providers.get("simulator")
    sim_calls: list[str] = []
    for method in ("retrieve_payment", "refund", "retrieve_refund", "cancel_checkout"):

        async def spy(*args: Any, _real: Any = getattr(sim, method), _name: str = method) -> Any:
            sim_calls.append(_name)
            return await _real(*args)

        monkeypatch.setattr(sim, method, spy)
    other = OtherPSP()
    app.state.payments.providers.register(other)
    return Setup(app, other, sim_calls)


async def checkout_with_other(client: httpx.AsyncClient, setup: Setup, keys: Keys) -> tuple:
    """Press Pay while OtherPSP is the default, then make the simulator the default."""
    setup.default_is(OTHER)
    inv = await create_invoice(client, keys.urbanisme)
    r = await client.post(f"/pay/{token_of(inv)}/checkout")
    assert r.status_code == 303 and r.headers["location"].startswith("https://psp.example/")
    (checkout_id,) = setup.other.checkouts
    setup.default_is("simulator")
    return inv, checkout_id


async def invoice_status(client, keys: Keys, invoice_id: str) -> str:
    r = await client.get(f"/v1/invoices/{invoice_id}", headers=Keys.h(keys.urbanisme))
    return str(r.json()["status"])


async def test_recheck_asks_the_psp_recorded_on_the_payment(
    client, app, keys: Keys, setup: Setup
) -> None:
    inv, checkout_id = await checkout_with_other(client, setup, keys)
    setup.other.paid = True
    async with app.state.db.session() as s:  # due for a re-check now
        await s.execute(update(Payment).values(next_check_at=utcnow() - dt.timedelta(minutes=1)))
        await s.commit()
    assert await app.state.payments.recheck_pending() == 1
    assert ("retrieve_payment", checkout_id) in setup.other.calls
    assert setup.sim_calls == []
    assert await invoice_status(client, keys, inv["id"]) == "paid"


async def test_the_truth_comes_from_the_psp_recorded_on_the_event(
    client, app, keys: Keys, setup: Setup
) -> None:
    inv, checkout_id = await checkout_with_other(client, setup, keys)
    setup.other.paid = True
    body = json.dumps(
        {"id": "evt_other_paid", "type": EVENT_PAYMENT_SUCCEEDED, "checkout_id": checkout_id}
    ).encode()
    r = await client.post(f"/webhooks/{OTHER}", content=body)
    assert r.status_code == 200, r.text
    await app.state.applier.process_batch()
    assert ("retrieve_payment", checkout_id) in setup.other.calls
    assert await invoice_status(client, keys, inv["id"]) == "paid"

    refund_event = ProviderEvent(
        id="evt_other_refund",
        provider=OTHER,
        type=EVENT_REFUND_UPDATED,
        raw_type="refund.updated",
        created=utcnow(),
        data={"refund_id": "re_other_1"},
    )
    truth = await app.state.payments.fetch_truth(refund_event)
    assert isinstance(truth, ProviderRefund) and truth.id == "re_other_1"
    assert setup.other.calls[-1] == ("retrieve_refund", "re_other_1")
    assert setup.sim_calls == []


async def test_a_refund_goes_to_the_psp_that_took_the_payment(
    client, app, keys: Keys, setup: Setup
) -> None:
    inv, checkout_id = await checkout_with_other(client, setup, keys)
    setup.other.paid = True
    async with app.state.db.session() as s:
        await s.execute(update(Payment).values(next_check_at=utcnow() - dt.timedelta(minutes=1)))
        await s.commit()
    assert await app.state.payments.recheck_pending() == 1  # paid, through OtherPSP
    r = await client.post(
        f"/v1/invoices/{inv['id']}/refunds", json={"amount": 1000}, headers=Keys.h(keys.urbanisme)
    )
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "succeeded"
    assert setup.other.calls[-1] == (
        "refund",
        f"pi_other_{setup.other.checkouts[checkout_id].payment_id}",
    )
    assert setup.sim_calls == []


async def test_cancel_and_catch_up_reach_every_psp_concerned(
    client, app, keys: Keys, setup: Setup
) -> None:
    inv, checkout_id = await checkout_with_other(client, setup, keys)
    r = await client.post(f"/v1/invoices/{inv['id']}/cancel", headers=Keys.h(keys.urbanisme))
    assert r.status_code == 200, r.text
    assert ("cancel_checkout", checkout_id) in setup.other.calls
    assert setup.sim_calls == []
    await app.state.intake.catch_up()
    assert ("list_events", "") in setup.other.calls


async def test_an_unknown_provider_on_a_payment_is_an_error_not_the_default(
    client, app, keys: Keys, setup: Setup, monkeypatch
) -> None:
    inv, checkout_id = await checkout_with_other(client, setup, keys)
    monkeypatch.delitem(app.state.payments.providers._by_name, OTHER)  # no longer registered
    with pytest.raises(UnknownProvider):
        await app.state.payments.fetch_truth(
            ProviderEvent(
                id="evt_x",
                provider=OTHER,
                type=EVENT_PAYMENT_SUCCEEDED,
                raw_type=EVENT_PAYMENT_SUCCEEDED,
                created=utcnow(),
                checkout_id=checkout_id,
            )
        )
    assert setup.sim_calls == []
