"""The simulator PSP: Stripe-test-mode-like, offline, for development and demos.

It keeps its own tables (``models``: what a PSP would hold), serves its card page under
``/_simulator/`` (``router``, ``hosted``, ``cards``: only documented test cards are
accepted), and sends signed events (``events``) to regie's ``/webhooks/simulator``
endpoint through the same intake as Stripe's. ``provider`` is regie's side of it, the
port; ``settlement`` its balance transactions (charges, refunds, payouts), ``payouts``
pays its balance out to the bank. It plays the bank too: ``report`` writes Stripe's
itemised payout reconciliation CSV and ``camt053`` the bank statement of the payouts
(both pure, from ``records``). It refuses to run with ``REGIE_ENV=production``: in
production regie never receives a card number.
"""

from __future__ import annotations

from payments.providers.context import BuildContext
from payments.providers.simulator.provider import SimulatorProvider


def build(ctx: BuildContext) -> SimulatorProvider:
    """The simulator, delivering its events to this regie (in process when it can)."""
    settings = ctx.settings
    return SimulatorProvider(
        ctx.db,
        base_url=settings.base_url,
        secret=settings.simulator_webhook_secret,
        delivery_client=ctx.regie_client(),
        env=settings.env,
        daily_payouts=settings.simulator_payouts == "daily",
    )
