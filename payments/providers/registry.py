"""The PSPs this regie talks to, by name.

New checkouts go to the ``default`` provider (``REGIE_PSP``); everything about an existing
payment, refund or event (re-checks, truth fetches, refunds, checkout cancellation, the
webhook intake) goes to the provider *recorded on it*, so a payment taken by one PSP is
refunded by that PSP even after the default changes.

Which names exist: ``ADAPTERS`` in ``payments.providers.adapters`` maps each provider
name to the ``build`` of its adapter; ``regie.composition.build_providers`` builds the enabled
ones into this registry.

**Adding a PSP means one new subpackage and one registry line**: a subpackage
``payments/providers/<name>/`` whose adapter implements ``PaymentProvider``
(``payments.providers.base``) with ``name = "<name>"`` and which exposes
``build(ctx: BuildContext) -> PaymentProvider``, and the line
``"<name>": _adapter("payments.providers.<name>")`` in ``ADAPTERS`` (the package is
imported when the provider is first built). Its webhooks then arrive at
``/webhooks/<name>``, and payments it took are refunded, re-checked and reconciled
through it. Its settings (credentials, and the choice in ``REGIE_PSP``) go to
``regie.kit.settings``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from payments.providers.base import AmountRefusal, PaymentProvider


class UnknownProvider(LookupError):
    """No adapter is registered under this name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no payment provider registered as {name!r}")
        self.name = name


class ProviderRegistry:
    """One object shared by every service of ``payments`` and the webhook intake: a
    provider registered (or a default changed) here is seen by all of them at once."""

    def __init__(self, providers: Iterable[PaymentProvider], default: str) -> None:
        self._by_name: dict[str, PaymentProvider] = {}
        for provider in providers:
            self.register(provider)
        self.default: PaymentProvider = self.get(default)

    def register(self, provider: PaymentProvider) -> None:
        if provider.name in self._by_name:
            raise ValueError(f"two payment providers named {provider.name!r}")
        self._by_name[provider.name] = provider

    def set_default(self, name: str) -> None:
        """Where new checkouts go from now on; payments already taken keep their PSP."""
        self.default = self.get(name)

    def get(self, name: str) -> PaymentProvider:
        """The provider registered as ``name``; ``UnknownProvider`` when there is none."""
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownProvider(name) from None

    def refund_refusal(self, name: str, amount: int, currency: str) -> AmountRefusal | None:
        """Why provider ``name`` cannot refund this amount (its optional
        ``check_refund_amount``), asked before a refund is reserved; None: it can."""
        check = getattr(self.get(name), "check_refund_amount", None)
        refusal: AmountRefusal | None = check(amount, currency) if check is not None else None
        return refusal

    def find(self, name: str) -> PaymentProvider | None:
        return self._by_name.get(name)

    def names(self) -> list[str]:
        return list(self._by_name)

    def __iter__(self) -> Iterator[PaymentProvider]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)
