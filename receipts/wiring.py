"""What ``receipts`` registers with the shell: a receipt number for every paid invoice and
a credit note for every refund, in the publisher's transaction (see ``regie.kit.wiring``)."""

from __future__ import annotations

from payments.events import InvoicePaid, RefundSucceeded
from receipts.service import ReceiptsService
from regie.kit.wiring import Subscription, Wiring


def wire(receipts: ReceiptsService) -> Wiring:
    return Wiring(
        subscriptions=[
            Subscription(InvoicePaid, receipts.on_invoice_paid),
            Subscription(RefundSucceeded, receipts.on_refund_succeeded),
        ]
    )
