"""Currencies as Stripe counts them: the pure rules, and an invoice Stripe cannot charge
refused when it is created (422 naming the rule), only when Stripe is the default PSP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import func, select

from payments.models import Invoice
from payments.providers.stripe import currencies
from payments.providers.stripe.client import StripeProvider
from regie.kit.money import CURRENCIES
from regie.kit.settings import Settings
from tests.conftest import Keys, invoice_body
from tests.stripe.conftest import RESPX_BASE, RESPX_KEY, SECRETS
from tests.stripe.stripe_payloads import URLS, checkout_request, form, session

# stripe's HTTPXClient passes the form body as ``data=<str>``, which httpx deprecates
pytestmark = pytest.mark.filterwarnings(
    "ignore:Use 'content=<...>' to upload raw bytes/text content:DeprecationWarning"
)


# ------------------------------------------------------------------ pure rules
@pytest.mark.parametrize(
    ("amount", "currency"),
    [(50, "EUR"), (4500, "EUR"), (50, "USD"), (30, "GBP"), (50, "JPY"), (60, "XPF"),
     (17500, "HUF"), (1230, "KWD"), (1000, "BHD"), (500, "UGX"), (100, "KRW")],
)  # fmt: skip
def test_chargeable_amounts(amount: int, currency: str) -> None:
    assert currencies.check_amount(amount, currency) is None


@pytest.mark.parametrize(
    ("amount", "currency", "minimum"),
    [(49, "EUR", 50), (49, "USD", 50), (29, "GBP", 30), (49, "JPY", 50), (59, "XPF", 60),
     (327, "XOF", 328), (17499, "HUF", 17500), (1499, "CZK", 1500)],
)  # fmt: skip
def test_below_stripes_minimum(amount: int, currency: str, minimum: int) -> None:
    refusal = currencies.check_amount(amount, currency)
    assert refusal is not None
    assert (refusal.param, refusal.code) == ("amount", "amount_below_provider_minimum")
    assert currencies.check_amount(minimum, currency) is None  # the minimum itself is fine


@pytest.mark.parametrize("currency", sorted(currencies.THREE_DECIMAL))
def test_three_decimal_amounts_must_end_in_zero(currency: str) -> None:
    refusal = currencies.check_amount(5124, currency)
    assert refusal is not None
    assert (refusal.param, refusal.code) == ("amount", "amount_not_chargeable")
    assert currencies.check_amount(5120, currency) is None


@pytest.mark.parametrize("currency", ["MGA", "ISK", "IQD", "LYD", "CLF", "UYW", "UYI"])
def test_currencies_stripe_counts_otherwise_than_iso_are_not_chargeable(currency: str) -> None:
    refusal = currencies.check_amount(100_000, currency)
    assert refusal is not None
    assert (refusal.param, refusal.code) == ("currency", "currency_not_chargeable")


def test_every_other_iso_currency_has_the_same_exponent_at_stripe() -> None:
    odd = {c for c, exp in CURRENCIES.items() if currencies.stripe_exponent(c) != exp}
    assert odd == {"MGA", "ISK", "IQD", "LYD", "CLF", "UYW", "UYI"}
    assert currencies.stripe_exponent("HUF") == currencies.stripe_exponent("TWD") == 2
    assert currencies.stripe_exponent("XPF") == 0 and currencies.stripe_exponent("TND") == 3


def test_stripes_eight_digit_maximum() -> None:
    refusal = currencies.check_amount(100_000_000, "EUR")
    assert refusal is not None and refusal.code == "amount_above_provider_maximum"
    assert currencies.check_amount(99_999_999, "EUR") is None


def test_the_stripe_adapter_answers_check_amount() -> None:
    p = StripeProvider(RESPX_KEY, list(SECRETS), api_base=RESPX_BASE)
    assert p.check_amount(4500, "EUR") is None
    refusal = p.check_amount(10, "EUR")
    assert refusal is not None and refusal.code == "amount_below_provider_minimum"


# ------------------------------------------------------------------ the Checkout Session
def _sent_lines(sent: dict[str, str]) -> list[tuple[str, int, int]]:
    """The (name, quantity, unit_amount) of each line_items entry of a sent session."""
    lines = []
    i = 0
    while f"line_items[{i}][quantity]" in sent:
        lines.append(
            (
                sent[f"line_items[{i}][price_data][product_data][name]"],
                int(sent[f"line_items[{i}][quantity]"]),
                int(sent[f"line_items[{i}][price_data][unit_amount]"]),
            )
        )
        i += 1
    return lines


@pytest.mark.parametrize("currency", sorted(currencies.THREE_DECIMAL))
@pytest.mark.parametrize(
    "lines",
    [
        (("Timbre fiscal", 2, 1005),),  # 2 x 1.005 = 2.010: the total ends in 0, the unit not
        (("Timbre fiscal", 1, 2000), ("Copie", 2, 5)),  # 2 x 0.005: neither ends in 0
    ],
)
async def test_three_decimal_lines_not_ending_in_zero_become_one_line(
    respx_mock: respx.MockRouter,
    respx_provider: StripeProvider,
    currency: str,
    lines: tuple[tuple[str, int, int], ...],
) -> None:
    route = respx_mock.post(f"{RESPX_BASE}/v1/checkout/sessions").mock(
        return_value=httpx.Response(200, json=session())
    )
    await respx_provider.create_checkout(
        checkout_request(lines=lines, amount=2010, currency=currency), URLS
    )
    sent = form(route.calls.last.request)
    # Stripe refuses a three-decimal unit_amount whose last digit is not 0: one line for
    # the whole invoice, the total charged unchanged
    assert _sent_lines(sent) == [("Cantine scolaire - mars", 1, 2010)]
    assert sent["line_items[0][price_data][currency]"] == currency.lower()


@pytest.mark.parametrize(
    ("currency", "lines", "amount"),
    [
        # every three-decimal unit ends in 0: the lines stay itemised
        ("KWD", (("Timbre fiscal", 2, 1000), ("Copie", 3, 10)), 2030),
        # other currencies are itemised whatever their last digit
        ("EUR", (("Timbre fiscal", 2, 1005),), 2010),
        ("JPY", (("Timbre fiscal", 3, 333),), 999),
    ],
)
async def test_lines_stripe_can_take_stay_itemised(
    respx_mock: respx.MockRouter,
    respx_provider: StripeProvider,
    currency: str,
    lines: tuple[tuple[str, int, int], ...],
    amount: int,
) -> None:
    route = respx_mock.post(f"{RESPX_BASE}/v1/checkout/sessions").mock(
        return_value=httpx.Response(200, json=session())
    )
    await respx_provider.create_checkout(
        checkout_request(lines=lines, amount=amount, currency=currency), URLS
    )
    sent = _sent_lines(form(route.calls.last.request))
    assert sent == list(lines)
    assert sum(quantity * unit for _, quantity, unit in sent) == amount


# ------------------------------------------------------------------ the API
@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    settings: Settings = settings_factory(
        psp="stripe",
        stripe_api_key=RESPX_KEY,
        stripe_webhook_secrets=",".join(SECRETS),
        stripe_api_base=RESPX_BASE,
    )
    return settings


async def _invoices(app: Any) -> int:
    async with app.state.db.session() as s:
        return int((await s.execute(select(func.count()).select_from(Invoice))).scalar_one())


@pytest.mark.parametrize(
    ("overrides", "param", "code"),
    [
        ({"amount": 30, "currency": "EUR"}, "amount", "amount_below_provider_minimum"),
        ({"amount": 5124, "currency": "KWD"}, "amount", "amount_not_chargeable"),
        ({"amount": 250000, "currency": "MGA"}, "currency", "currency_not_chargeable"),
        (
            {"amount": None, "currency": "EUR",
             "lines": [{"description": "Photocopie", "quantity": 2, "unit_amount": 20}]},
            "amount",
            "amount_below_provider_minimum",
        ),
    ],
)  # fmt: skip
async def test_an_invoice_stripe_cannot_charge_is_refused_when_created(
    client: httpx.AsyncClient,
    app: Any,
    keys: Keys,
    overrides: dict[str, Any],
    param: str,
    code: str,
) -> None:
    r = await client.post(
        "/v1/invoices", json=invoice_body(**overrides), headers=Keys.h(keys.urbanisme)
    )
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert (error["param"], error["code"]) == (param, code)
    assert await _invoices(app) == 0  # nothing written


async def test_an_invoice_stripe_can_charge_is_created(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    r = await client.post(
        "/v1/invoices", json=invoice_body(amount=50), headers=Keys.h(keys.urbanisme)
    )
    assert r.status_code == 201, r.text
    assert await _invoices(app) == 1
