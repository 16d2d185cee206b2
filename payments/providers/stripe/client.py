"""``StripeProvider``: the port, on Stripe's API, through one ``stripe.StripeClient``.

Checkout Sessions for the hosted flow, PaymentIntents and refunds underneath; the
objects Stripe returns are turned into the port's dataclasses by ``mapping``, events by
``events``, balance transactions by ``settlement``, errors by ``errors``.

- **One retry layer.** Network errors, timeouts, 409 and 5xx are retried by the SDK
  (``max_network_retries``, exponential backoff with jitter, the same ``Idempotency-Key``
  on every attempt). This package never retries by itself; what is still failing after
  the SDK's attempts surfaces as ``ProviderError(retryable=True)`` and the caller's
  durable schedule (worker, sweeper) takes over. The SDK does not retry a plain 429
  (only when Stripe adds ``Stripe-Should-Retry: true``), nor does this package.
- **The Pay button's budget.** A citizen waits for ``create_checkout``: it goes through a
  second SDK client with a short timeout per attempt and one retry
  (``CHECKOUT_TIMEOUT``, ``CHECKOUT_RETRIES``), under a hard cap (``CHECKOUT_BUDGET``,
  about 10 s) after which the request is abandoned. Every other call keeps
  ``DEFAULT_TIMEOUT`` and ``max_network_retries``: nobody is waiting for them.
- **Idempotency.** Every POST carries a key derived from regie's own ids
  (``regie-checkout-{payment_id}``, ``regie-expire-{checkout_id}``, the caller's refund
  key), so a retried request can never create a second session or refund.
- **No module state.** No ``stripe.api_key``: each ``StripeProvider`` owns a
  ``stripe.StripeClient`` built with the SDK's httpx client (sharing the application's
  ``httpx.AsyncClient`` when one is given) and uses only the ``*_async`` methods.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator, Mapping

import httpx
import stripe
from stripe.params import RefundCreateParams
from stripe.params.checkout import SessionCreateParams, SessionCreateParamsPaymentIntentData

from payments.providers.base import (
    AmountRefusal,
    CheckoutRequest,
    CheckoutSession,
    CheckoutUrls,
    ProviderDispute,
    ProviderError,
    ProviderEvent,
    ProviderPayment,
    ProviderRefund,
    SettlementLine,
)
from payments.providers.stripe import currencies, descriptors, events, mapping, settlement
from payments.providers.stripe.errors import guard, pages, provider_error

log = logging.getLogger("regie.stripe")

DEFAULT_TIMEOUT = 30.0  # seconds, per attempt
# create_checkout, which the citizen's Pay button waits for: per attempt, retries, in all
CHECKOUT_TIMEOUT = 4.0
CHECKOUT_RETRIES = 1
CHECKOUT_BUDGET = 10.0
# The API version every request asks for (``Stripe-Version``), the one ``mapping`` and
# ``events`` were written against (and that the recorded fixtures carry). The dashboard's
# webhook endpoint must be created with this same version, or the events' bodies differ.
STRIPE_API_VERSION = "2025-01-27.acacia"
PAYMENT_EXPAND = "latest_charge.balance_transaction"
SESSION_EXPAND = "payment_intent.latest_charge.balance_transaction"


class _SharedHTTPXClient(stripe.HTTPXClient):
    """The SDK's httpx client, sending through an ``httpx.AsyncClient`` the application
    owns (its connection pool, limits and proxies). The application closes it."""

    def __init__(self, client: httpx.AsyncClient, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self._client_async = client

    async def close_async(self) -> None:
        return None


class StripeProvider:
    name = "stripe"
    shared_account = True  # an account may serve other integrations too
    min_checkout_life = mapping.MIN_SESSION

    def __init__(
        self,
        api_key: str,
        webhook_secrets: list[str],
        api_base: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        max_network_retries: int = 2,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        statement_descriptor_prefix: str | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("a Stripe API key is required (STRIPE_API_KEY)")
        secrets = [s.strip() for s in webhook_secrets if s and s.strip()]
        if not secrets:
            raise ValueError("at least one webhook secret is required (STRIPE_WEBHOOK_SECRETS)")
        if max_network_retries < 0:
            raise ValueError("max_network_retries cannot be negative")
        self._secrets = tuple(secrets)
        self._http = _http_client(http_client, timeout)
        self._client = _sdk_client(api_key, api_base, self._http, max_network_retries)
        # the Pay button's calls: same key and address, a short timeout, one retry
        self._checkout_http = _http_client(http_client, CHECKOUT_TIMEOUT)
        self._checkout_client = _sdk_client(
            api_key, api_base, self._checkout_http, CHECKOUT_RETRIES
        )
        self.max_network_retries = max_network_retries
        self.livemode = mapping.key_livemode(api_key)
        self.statement_descriptor_prefix = (statement_descriptor_prefix or "").strip() or None

    def __repr__(self) -> str:  # never shows the key
        return f"StripeProvider(secrets={len(self._secrets)}, retries={self.max_network_retries})"

    async def aclose(self) -> None:
        """Close the HTTP clients if this provider built them (a shared one is left open)."""
        await self._http.close_async()
        await self._checkout_http.close_async()

    # ------------------------------------------------------------------ port
    def check_amount(self, amount: int, currency: str) -> AmountRefusal | None:
        """Whether Stripe can charge this amount (see ``currencies``): asked when an
        invoice is created, not when the citizen presses Pay."""
        return currencies.check_amount(amount, currency)

    def check_refund_amount(self, amount: int, currency: str) -> AmountRefusal | None:
        """Whether Stripe can refund this amount (see ``currencies``): asked before a
        refund is reserved, so that one Stripe would refuse is a 422, never a failure."""
        return currencies.check_refund_amount(amount, currency)

    async def create_checkout(
        self, request: CheckoutRequest, urls: CheckoutUrls
    ) -> CheckoutSession:
        now = dt.datetime.now(dt.UTC)
        expires = mapping.session_expiry(request.expires_at, now)
        metadata = {
            "payment_id": request.payment_id,
            "invoice_id": request.invoice_id,
            "invoice_number": request.invoice_number,
        }
        intent_data: SessionCreateParamsPaymentIntentData = {
            "metadata": dict(metadata),
            # captured at once: since API version 2024-04-10 Stripe captures asynchronously
            # by default, and then the charge's balance transaction, with the fee regie
            # books beside the success, may still be missing when the payment succeeds
            "capture_method": "automatic",
        }
        suffix = self._descriptor_suffix(request.statement_descriptor_suffix)
        if suffix:
            intent_data["statement_descriptor_suffix"] = suffix
        params: SessionCreateParams = {
            "mode": "payment",
            "line_items": mapping.line_items(request),
            "client_reference_id": request.payment_id,
            "metadata": metadata,
            "payment_intent_data": intent_data,
            # Stripe puts the session's id in place of {CHECKOUT_SESSION_ID}
            "success_url": urls.success_url,
            "cancel_url": urls.cancel_url,
            "expires_at": int(expires.timestamp()),
            "locale": mapping.locale(request.locale),
            "submit_type": "pay",
            # public revenue is due in the invoice's currency, to the cent: no conversion
            # into the payer's currency (the truth's amount must match the payment's)
            "adaptive_pricing": {"enabled": False},
        }
        if request.payer_email:
            params["customer_email"] = request.payer_email
        try:
            async with asyncio.timeout(CHECKOUT_BUDGET):
                session = await guard(
                    self._checkout_client.v1.checkout.sessions.create_async(
                        params, {"idempotency_key": f"regie-checkout-{request.payment_id}"}
                    )
                )
        except TimeoutError:
            log.warning("stripe call abandoned", extra={"budget_seconds": CHECKOUT_BUDGET})
            raise ProviderError(
                "unavailable",
                f"Stripe did not answer within {CHECKOUT_BUDGET:g} s",
                retryable=True,
                code="timeout",
            ) from None
        if not session.url:
            raise ProviderError(
                "invalid_request", "Stripe returned a Checkout Session without a URL"
            )
        return CheckoutSession(
            id=session.id, url=session.url, expires_at=mapping.ts(session.expires_at)
        )

    def _descriptor_suffix(self, suffix: str | None) -> str | None:
        """The service's suffix if Stripe would take it after the account's prefix; one it
        would refuse is left out (and logged), so that it never stops a payment."""
        if not suffix:
            return None
        problem = descriptors.suffix_problem(suffix, self.statement_descriptor_prefix)
        if problem:
            log.warning("statement descriptor suffix left out", extra={"reason": problem})
            return None
        return suffix

    async def retrieve_payment(self, provider_ref: str) -> ProviderPayment:
        """The current truth, by Checkout Session id (``cs_…``) or PaymentIntent id (``pi_…``)."""
        if provider_ref.startswith("cs_"):
            session = await guard(
                self._client.v1.checkout.sessions.retrieve_async(
                    provider_ref, {"expand": [SESSION_EXPAND]}
                )
            )
            doc = mapping.check_livemode(session.to_dict(), self.livemode)
            return mapping.payment_from_session(doc)
        if provider_ref.startswith("pi_"):
            intent = await guard(
                self._client.v1.payment_intents.retrieve_async(
                    provider_ref, {"expand": [PAYMENT_EXPAND]}
                )
            )
            doc = mapping.check_livemode(intent.to_dict(), self.livemode)
            return mapping.payment_from_intent(doc)
        raise ProviderError(
            "invalid_request", "not a Stripe Checkout Session or PaymentIntent id", code="bad_id"
        )

    async def refund(
        self,
        provider_payment_id: str,
        amount: int,
        idempotency_key: str,
        *,
        regie_refund_id: str | None = None,
    ) -> ProviderRefund:
        """Create a refund; ``metadata[regie_refund_id]`` names regie's refund, so that its
        ``refund.*`` events (which may arrive before the answer, or instead of a lost one)
        and ``list_refunds`` find the reservation they settle."""
        if amount <= 0:
            raise ProviderError("invalid_request", "a refund amount must be positive")
        params: RefundCreateParams = {"payment_intent": provider_payment_id, "amount": amount}
        if regie_refund_id:
            params["metadata"] = {"regie_refund_id": regie_refund_id}
        refund = await guard(
            self._client.v1.refunds.create_async(params, {"idempotency_key": idempotency_key})
        )
        return mapping.refund(
            mapping.check_livemode(refund.to_dict(), self.livemode), provider_payment_id
        )

    async def retrieve_refund(self, refund_id: str) -> ProviderRefund:
        """The refund, its PaymentIntent expanded: the intent's metadata names regie's
        payment, so a refund made before regie recorded that payment (on an account other
        integrations share) is told from another integration's, in the same call; and its
        balance transaction, for the fee Stripe returned (or charged) on it."""
        refund = await guard(
            self._client.v1.refunds.retrieve_async(
                refund_id, {"expand": ["payment_intent", "balance_transaction"]}
            )
        )
        return mapping.refund(mapping.check_livemode(refund.to_dict(), self.livemode), None)

    async def retrieve_dispute(self, dispute_id: str) -> ProviderDispute:
        """The dispute as Stripe has it now, its charge and its PaymentIntent expanded: the
        intent's metadata names regie's payment, so a dispute of a payment regie has not
        recorded yet (on an account other integrations share) is told from another
        integration's, in the same call. One of the other mode than the key's is refused,
        like a payment or a refund."""
        if not dispute_id.startswith(("dp_", "du_")):
            raise ProviderError("invalid_request", "not a Stripe Dispute id", code="bad_id")
        doc = await guard(
            self._client.v1.disputes.retrieve_async(
                dispute_id, {"expand": ["charge", "payment_intent"]}
            )
        )
        return mapping.dispute(mapping.check_livemode(doc.to_dict(), self.livemode))

    async def list_refunds(self, provider_payment_id: str) -> list[ProviderRefund]:
        """Every refund of a PaymentIntent, newest first (all pages), each with its balance
        transaction (its fee)."""
        first = self._client.v1.refunds.list_async(
            {
                "payment_intent": provider_payment_id,
                "limit": 100,
                "expand": ["data.balance_transaction"],
            }
        )
        return [
            mapping.refund(mapping.check_livemode(doc, self.livemode), provider_payment_id)
            async for doc in pages(first)
        ]

    async def cancel_checkout(self, checkout_id: str) -> bool:
        """Expire an open Checkout Session: True. One already expired: True too; one the
        payer completed (paid, or a delayed method on its way): False."""
        try:
            await self._client.v1.checkout.sessions.expire_async(
                checkout_id, options={"idempotency_key": f"regie-expire-{checkout_id}"}
            )
            return True
        except stripe.InvalidRequestError as exc:
            if exc.http_status == 404:
                raise provider_error(exc) from None
            # Stripe refuses to expire a session that is not open: look at why.
            session = await guard(self._client.v1.checkout.sessions.retrieve_async(checkout_id))
            if session.status in ("complete", "expired"):
                return session.status == "expired"
            raise provider_error(exc) from None
        except stripe.StripeError as exc:
            raise provider_error(exc) from None

    def parse_event(self, raw_body: bytes, headers: Mapping[str, str]) -> ProviderEvent:
        """Verify ``Stripe-Signature`` (any configured secret, 300 s) and normalise."""
        return events.parse_event(raw_body, headers, self._secrets, self.livemode)

    async def list_events(self, since: dt.datetime) -> AsyncIterator[ProviderEvent]:
        """Stripe's events created at or after ``since``, oldest first (see ``events``)."""
        for event in await events.list_events(self._client, since, self.livemode):
            yield event

    async def list_settlement_lines(
        self, since: dt.datetime, until: dt.datetime
    ) -> AsyncIterator[SettlementLine]:
        """Balance transactions created in ``[since, until)`` (see ``settlement``)."""
        async for line in settlement.list_settlement_lines(self._client, since, until):
            yield line

    async def list_payout_lines(self, payout_id: str) -> AsyncIterator[SettlementLine]:
        """The balance transactions ``payout_id`` paid out (see ``settlement``)."""
        async for line in settlement.list_payout_lines(self._client, payout_id):
            yield line


def _http_client(shared: httpx.AsyncClient | None, timeout: float) -> stripe.HTTPXClient:
    """The SDK's httpx client with ``timeout`` per attempt, on the application's
    ``httpx.AsyncClient`` when one is given."""
    if shared is not None:
        return _SharedHTTPXClient(shared, timeout)
    return stripe.HTTPXClient(timeout=timeout)


def _sdk_client(
    api_key: str, api_base: str | None, http: stripe.HTTPXClient, retries: int
) -> stripe.StripeClient:
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base.rstrip("/")} if api_base else None,
        max_network_retries=retries,
        http_client=http,
        stripe_version=STRIPE_API_VERSION,
    )
