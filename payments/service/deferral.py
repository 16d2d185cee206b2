"""An event that cannot be applied yet, and must not be dropped (pure; no I/O).

The PSP's events come in no promised order: a refund made at the PSP's dashboard can be
delivered before the success of the payment it refunds (that event lost, redelivered
hours later). Such an event is regie's (the PSP's metadata of the refunded payment names
one of regie's payments) but has nowhere to go yet. Applying it raises ``NotYetApplicable``:
the caller's transaction rolls back and the inbox keeps the event pending, to try again
(``webhooks.inbound``), until the payment it waits for is recorded.
"""

from __future__ import annotations


class NotYetApplicable(Exception):
    """The event is regie's but waits for another (its payment's success) to be applied.

    ``provider_payment_id``: the PSP's id of the payment it waits for, when known."""

    def __init__(self, reason: str, *, provider_payment_id: str | None = None) -> None:
        super().__init__(reason)
        self.provider_payment_id = provider_payment_id


class NeverApplicable(Exception):
    """The event can never be applied as it is (trying again would only repeat the same
    failure): it goes to the dead letters at once, with this reason, for an operator."""
