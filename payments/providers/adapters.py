"""Which adapter serves which provider name, and which providers a regie runs.

One line per PSP. Each adapter is a subpackage of ``payments.providers`` exposing
``build(ctx: BuildContext) -> PaymentProvider`` (see ``payments.providers.registry`` for
how to add one).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from payments.providers.base import PaymentProvider
from payments.providers.context import BuildContext
from regie.kit.settings import Settings

AdapterBuilder = Callable[[BuildContext], PaymentProvider]


def _adapter(module: str) -> AdapterBuilder:
    """The ``build`` of the adapter package ``module``, imported when first built: a
    command that runs the simulator does not load Stripe's SDK (a quarter of a second)."""

    def build(ctx: BuildContext) -> PaymentProvider:
        return importlib.import_module(module).build(ctx)  # type: ignore[no-any-return]

    build.__qualname__ = f"{module}.build"
    return build


ADAPTERS: dict[str, AdapterBuilder] = {
    "simulator": _adapter("payments.providers.simulator"),
    "stripe": _adapter("payments.providers.stripe"),
}


def enabled_providers(settings: Settings) -> list[str]:
    """The default PSP (``REGIE_PSP``), plus Stripe whenever ``STRIPE_API_KEY`` is set, so
    that the payments it took stay refundable after the default changes."""
    names: list[str] = [settings.psp]
    if settings.stripe_api_key and "stripe" not in names:
        names.append("stripe")
    return names
