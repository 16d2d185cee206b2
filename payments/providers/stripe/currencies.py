"""Currencies as Stripe counts them (pure: no I/O, no SDK).

regie's amounts are integers in ISO 4217 minor units (``regie.kit.money``); Stripe's API
counts some currencies differently, and refuses some amounts it would take in ISO terms.
``check_amount`` says, when an invoice is created, whether Stripe can charge it, so that
the refusal comes then (a 422 naming the rule) and not when the citizen presses Pay;
``check_refund_amount``, when a refund is asked for, whether Stripe can refund it.

From Stripe's "Supported currencies" page (docs.stripe.com/currencies):

- **Zero-decimal at Stripe**: BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF
  XPF (the amount is in whole units). All are zero-decimal in ISO 4217 too, except MGA
  (ISO: 2 decimals).
- **Three-decimal at Stripe**: BHD JOD KWD OMR TND, and the last digit must be 0 (for
  charges and refunds alike).
- **Special cases**: ISK is zero-decimal in ISO 4217 but stays two-decimal in Stripe's API
  (``100`` is 1 króna, and only whole krónur are accepted); HUF and TWD are two-decimal for
  charges (only their payouts are in whole units, which does not concern an invoice).
- Every other currency is two-decimal at Stripe.

regie sends its ISO minor units to Stripe as they are; a currency whose Stripe exponent
differs from its ISO exponent (MGA, ISK, and the ISO currencies with 3 or 4 decimals that
Stripe does not count so: IQD, LYD, CLF, UYW; UYI) would be charged 100 times too much or
too little, so it is refused as not chargeable.

**Minimum charge** (Stripe's table, in major units): an amount below it is refused. For the
CFA and CFP francs, pegged to the euro, the minimum is Stripe's euro minimum at the fixed
parity (rounded up): Stripe's rule for currencies outside its table is the equivalent of the
settlement currency's minimum, and a French public body settles in euros. Other currencies
are not checked here (Stripe converts at the day's rate).
"""

from __future__ import annotations

from decimal import Decimal

from payments.providers.base import AmountRefusal as Refusal
from regie.kit.money import CURRENCIES, from_decimal

ZERO_DECIMAL = frozenset("BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split())
THREE_DECIMAL = frozenset("BHD JOD KWD OMR TND".split())
MAX_AMOUNT = 99_999_999  # Stripe's amounts have at most eight digits (in Stripe's units)

# Stripe's minimum charge amounts, in major units of the charge currency.
MINIMUM_CHARGE: dict[str, Decimal] = {
    code: Decimal(value)
    for code, value in {
        "USD": "0.50",
        "AED": "2.00",
        "AUD": "0.50",
        "BGN": "1.00",
        "BRL": "0.50",
        "CAD": "0.50",
        "CHF": "0.50",
        "CZK": "15.00",
        "DKK": "2.50",
        "EUR": "0.50",
        "GBP": "0.30",
        "HKD": "4.00",
        "HUF": "175.00",
        "INR": "0.50",
        "JPY": "50",
        "MXN": "10",
        "MYR": "2",
        "NOK": "3.00",
        "NZD": "0.50",
        "PLN": "2.00",
        "RON": "2.00",
        "SEK": "3.00",
        "SGD": "0.50",
        "THB": "10",
        # pegged to the euro: 0.50 EUR at the fixed parity, rounded up to a whole franc
        "XPF": "60",  # 1 EUR = 119.331742 XPF
        "XOF": "328",  # 1 EUR = 655.957 XOF
        "XAF": "328",  # 1 EUR = 655.957 XAF
    }.items()
}


def stripe_exponent(currency: str) -> int:
    """How many decimals Stripe's API counts for ``currency``."""
    if currency in ZERO_DECIMAL:
        return 0
    if currency in THREE_DECIMAL:
        return 3
    return 2


def minimum(currency: str) -> int | None:
    """Stripe's minimum charge in regie's (ISO) minor units; None when not known here."""
    value = MINIMUM_CHARGE.get(currency)
    return from_decimal(value, currency) if value is not None else None


def check_amount(amount: int, currency: str) -> Refusal | None:
    """None when Stripe can charge ``amount`` (ISO minor units) of ``currency``."""
    iso = CURRENCIES.get(currency)
    if iso is None:
        return Refusal("currency", "currency_not_chargeable", f"{currency} is not a currency.")
    at_stripe = stripe_exponent(currency)
    if at_stripe != iso:
        return Refusal(
            "currency",
            "currency_not_chargeable",
            f"Stripe counts {currency} with {at_stripe} decimal(s) where ISO 4217 counts "
            f"{iso}: regie cannot charge {currency} on Stripe.",
        )
    if at_stripe == 3 and amount % 10:
        return _not_tens(currency, "charges")
    least = minimum(currency)
    if least is not None and amount < least:
        return Refusal(
            "amount",
            "amount_below_provider_minimum",
            f"Stripe's minimum charge in {currency} is {MINIMUM_CHARGE[currency]} "
            f"({least} in minor units).",
        )
    if amount > MAX_AMOUNT:
        return Refusal(
            "amount",
            "amount_above_provider_maximum",
            f"Stripe charges at most {MAX_AMOUNT} minor units in one payment.",
        )
    return None


def check_refund_amount(amount: int, currency: str) -> Refusal | None:
    """None when Stripe can refund ``amount`` (ISO minor units) of ``currency``: a refund
    has no minimum, but a three-decimal currency's last digit must be 0, as for a charge."""
    if stripe_exponent(currency) == 3 and amount % 10:
        return _not_tens(currency, "refunds")
    return None


def _not_tens(currency: str, what: str) -> Refusal:
    return Refusal(
        "amount",
        "amount_not_chargeable",
        f"Stripe {what} {currency} only in multiples of 10 of its minor unit "
        "(the last of its three decimals must be 0).",
    )
