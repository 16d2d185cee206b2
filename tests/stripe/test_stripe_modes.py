"""Keys and modes on Stripe: a production start refuses test-mode keys, an event or an
object of the other mode than the key's is refused, and every request asks for the one
API version the adapter's mapping was written for."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx

from payments.providers.base import ProviderError, SignatureError
from payments.providers.stripe.client import STRIPE_API_VERSION, StripeProvider
from regie.kit.settings import Settings, UnsafeSettingsError
from tests.conftest import Keys
from tests.stripe.conftest import RESPX_BASE, RESPX_KEY, SECRETS, event_body, sign
from tests.stripe.stripe_payloads import PI_ID, expanded_intent, session
from webhooks.inbound.models import InboxEvent

pytestmark = pytest.mark.filterwarnings(
    "ignore:Use 'content=<...>' to upload raw bytes/text content:DeprecationWarning"
)

LIVE_KEY = "sk_live_51RegieLiveKeyForModeTestsOnly"


def _safe_production(**overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        env="production",
        psp="stripe",
        secret_key="x" * 40,
        database_url="postgresql+asyncpg://regie@db/regie",
        base_url="https://regie.example.org",
        stripe_api_key=LIVE_KEY,
        stripe_webhook_secrets="whsec_live_secret",
    )
    values.update(overrides)
    return Settings(**values)


def test_production_accepts_a_live_stripe_key() -> None:
    _safe_production().check_production()  # nothing else is wrong with these settings


@pytest.mark.parametrize("key", ["sk_test_51Abc", "rk_test_51Abc"])
def test_production_refuses_a_test_mode_stripe_key(key: str) -> None:
    with pytest.raises(UnsafeSettingsError, match="test-mode"):
        _safe_production(stripe_api_key=key).check_production()


def test_development_accepts_a_test_mode_stripe_key() -> None:
    Settings(psp="stripe", stripe_api_key="sk_test_51Abc").check_production()


# ------------------------------------------------------------------ webhooks
def _event(livemode: bool, object_livemode: bool | None = None) -> bytes:
    obj = session(status="complete", payment_status="paid", payment_intent=PI_ID)
    obj["livemode"] = livemode if object_livemode is None else object_livemode
    doc = json.loads(event_body("checkout.session.completed", obj))
    doc["livemode"] = livemode
    return json.dumps(doc).encode()


@pytest.fixture
async def test_mode() -> AsyncIterator[StripeProvider]:
    p = StripeProvider(RESPX_KEY, list(SECRETS), api_base=RESPX_BASE, max_network_retries=0)
    yield p
    await p.aclose()


@pytest.fixture
async def live_mode() -> AsyncIterator[StripeProvider]:
    p = StripeProvider(LIVE_KEY, list(SECRETS), api_base=RESPX_BASE, max_network_retries=0)
    yield p
    await p.aclose()


def test_an_event_of_the_keys_mode_is_accepted(
    test_mode: StripeProvider, live_mode: StripeProvider
) -> None:
    body = _event(livemode=False)
    assert test_mode.parse_event(body, sign(body, SECRETS[0])).checkout_id is not None
    body = _event(livemode=True)
    assert live_mode.parse_event(body, sign(body, SECRETS[0])).checkout_id is not None


def test_a_live_event_is_refused_by_a_test_key(test_mode: StripeProvider) -> None:
    body = _event(livemode=True)
    with pytest.raises(SignatureError, match="other mode"):
        test_mode.parse_event(body, sign(body, SECRETS[0]))


def test_a_test_event_is_refused_by_a_live_key(live_mode: StripeProvider) -> None:
    body = _event(livemode=False)
    with pytest.raises(SignatureError, match="other mode"):
        live_mode.parse_event(body, sign(body, SECRETS[0]))


def test_an_event_carrying_an_object_of_the_other_mode_is_refused(
    live_mode: StripeProvider,
) -> None:
    body = _event(livemode=True, object_livemode=False)
    with pytest.raises(SignatureError):
        live_mode.parse_event(body, sign(body, SECRETS[0]))


# ------------------------------------------------------------ retrieved objects
async def test_a_retrieved_payment_of_the_other_mode_is_refused(
    respx_mock: respx.MockRouter, live_mode: StripeProvider, test_mode: StripeProvider
) -> None:
    respx_mock.get(f"{RESPX_BASE}/v1/payment_intents/{PI_ID}").mock(
        return_value=httpx.Response(200, json=expanded_intent(livemode=False))
    )
    with pytest.raises(ProviderError) as err:
        await live_mode.retrieve_payment(PI_ID)
    assert err.value.code == "livemode_mismatch"
    assert (await test_mode.retrieve_payment(PI_ID)).status == "succeeded"


async def test_a_retrieved_refund_of_the_other_mode_is_refused(
    respx_mock: respx.MockRouter, test_mode: StripeProvider
) -> None:
    from tests.stripe.conftest import stripe_object

    refund = stripe_object("refund", id="re_1Mode", payment_intent=PI_ID, livemode=True)
    respx_mock.get(f"{RESPX_BASE}/v1/refunds/re_1Mode").mock(
        return_value=httpx.Response(200, json=refund)
    )
    with pytest.raises(ProviderError) as err:
        await test_mode.retrieve_refund("re_1Mode")
    assert err.value.code == "livemode_mismatch"


async def test_a_retrieved_dispute_of_the_other_mode_is_refused(
    respx_mock: respx.MockRouter, test_mode: StripeProvider
) -> None:
    """A dispute is re-read for every dispute event and moves money (a withdrawal, its
    fee): one of the other mode than the key's is refused like a payment or a refund."""
    from tests.stripe.conftest import stripe_object

    txn = stripe_object("balance_transaction", id="txn_1Mode", amount=-4500, fee=1500)
    dispute = stripe_object(
        "dispute", id="dp_1Mode", amount=4500, payment_intent=PI_ID, status="needs_response",
        is_charge_refundable=False, balance_transactions=[txn], livemode=True,
    )  # fmt: skip
    route = respx_mock.get(f"{RESPX_BASE}/v1/disputes/dp_1Mode").mock(
        return_value=httpx.Response(200, json=dispute)
    )
    with pytest.raises(ProviderError) as err:
        await test_mode.retrieve_dispute("dp_1Mode")
    assert err.value.code == "livemode_mismatch"
    route.mock(return_value=httpx.Response(200, json={**dispute, "livemode": False}))
    assert (await test_mode.retrieve_dispute("dp_1Mode")).withdrawn == 4500


async def test_catch_up_drops_events_of_the_other_mode(
    respx_mock: respx.MockRouter, test_mode: StripeProvider
) -> None:
    import datetime as dt

    def evt(n: int, livemode: bool) -> dict[str, Any]:
        doc = json.loads(
            event_body(
                "payment_intent.succeeded", expanded_intent(id=f"pi_{n}"), event_id=f"evt_{n}"
            )
        )
        doc["livemode"] = livemode
        return doc

    listed = {"object": "list", "url": "/v1/events", "has_more": False,
              "data": [evt(2, livemode=True), evt(1, livemode=False)]}  # fmt: skip
    respx_mock.get(f"{RESPX_BASE}/v1/events").mock(return_value=httpx.Response(200, json=listed))

    events = [e async for e in test_mode.list_events(dt.datetime.fromtimestamp(0, dt.UTC))]

    assert [e.id for e in events] == ["evt_1"]


# ------------------------------------------------------------------ API version
async def test_every_request_asks_for_the_pinned_api_version(
    respx_mock: respx.MockRouter, test_mode: StripeProvider
) -> None:
    route = respx_mock.get(f"{RESPX_BASE}/v1/payment_intents/{PI_ID}").mock(
        return_value=httpx.Response(200, json=expanded_intent())
    )
    await test_mode.retrieve_payment(PI_ID)
    assert STRIPE_API_VERSION == "2025-01-27.acacia"  # the version the mapping reads
    assert route.calls.last.request.headers["Stripe-Version"] == "2025-01-27.acacia"


# ------------------------------------------------------------------ in the app
@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    settings: Settings = settings_factory(
        psp="stripe",
        stripe_api_key=RESPX_KEY,
        stripe_webhook_secrets=",".join(SECRETS),
        stripe_api_base=RESPX_BASE,
    )
    return settings


async def test_the_intake_answers_400_to_an_event_of_the_other_mode_and_stores_nothing(
    client: httpx.AsyncClient, app: Any
) -> None:
    from sqlalchemy import func, select

    body = _event(livemode=True)
    r = await client.post("/webhooks/stripe", content=body, headers=sign(body, SECRETS[0]))
    assert r.status_code == 400
    async with app.state.db.session() as s:
        count = (await s.execute(select(func.count()).select_from(InboxEvent))).scalar_one()
    assert count == 0


async def test_a_test_key_does_not_authenticate_in_production(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    assert keys.urbanisme.startswith("rk_test_")
    headers = {"Authorization": f"Bearer {keys.urbanisme}"}
    assert (await client.get("/v1/invoices", headers=headers)).status_code == 200
    app.state.settings.env = "production"  # the same keys, read by a production regie
    r = await client.get("/v1/invoices", headers=headers)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "invalid_api_key"


async def test_production_never_creates_a_test_key(app: Any, keys: Keys) -> None:
    from regie.kit.tenancy import Role, TenancyError, create_key, get_service_by_slug

    async with app.state.db.session() as s:
        svc = await get_service_by_slug(s, "urbanisme")
        assert svc is not None
        with pytest.raises(TenancyError, match="live keys only"):
            await create_key(s, svc, Role.service, live=False, production=True)
        with pytest.raises(TenancyError):
            await create_key(
                s, svc, Role.service, live=True, raw="rk_test_ser_forced", production=True
            )
        _, raw = await create_key(s, svc, Role.service, live=True, production=True)
        assert raw.startswith("rk_live_ser_")
