"""The Stripe adapter: Checkout Sessions for the hosted flow, PaymentIntents and refunds
underneath, balance transactions for settlement.

This subpackage is the only part of regie that imports the ``stripe`` SDK (import-linter
enforces it); everything it returns is one of the port's frozen dataclasses
(``payments.providers.base``) or a small plain dict.

- ``client``: ``StripeProvider``, the SDK calls (one ``stripe.StripeClient``, the SDK's
  own retries as the only retry layer, idempotency keys);
- ``mapping``: the port's requests to Stripe's parameters, Stripe's objects to the port's
  dataclasses (pure);
- ``events``: webhook signatures, normalised events, the events list (catch-up);
- ``settlement``: balance transactions to ``SettlementLine``;
- ``currencies``, ``descriptors``: Stripe's rules for amounts and statement descriptors;
- ``errors``: Stripe's errors to ``ProviderError``, scrubbed.
"""

from __future__ import annotations

from payments.providers.context import BuildContext
from payments.providers.stripe.client import DEFAULT_TIMEOUT, StripeProvider


def build(ctx: BuildContext) -> StripeProvider:
    """Stripe, from ``STRIPE_API_KEY``, ``STRIPE_WEBHOOK_SECRETS``, ``STRIPE_API_BASE`` and
    ``STRIPE_STATEMENT_DESCRIPTOR_PREFIX``."""
    settings = ctx.settings
    return StripeProvider(
        settings.stripe_api_key,
        settings.stripe_secrets,
        api_base=settings.stripe_api_base or None,
        # one httpx client for the SDK (its own max_network_retries is the only retry layer)
        http_client=ctx.http_client(timeout=DEFAULT_TIMEOUT),
        statement_descriptor_prefix=settings.stripe_statement_descriptor_prefix or None,
    )
