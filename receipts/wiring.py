"""What ``receipts`` registers with the shell: a receipt number for every paid invoice and
a credit note for every refund (cancelled if the refund fails after all), in the
publisher's transaction, and the drain that renders their PDFs after it (see
``regie.kit.wiring``)."""

from __future__ import annotations

from payments.events import InvoicePaid, RefundReversed, RefundSucceeded
from receipts.service import ReceiptsService
from regie.kit.wiring import Subscription, Wiring


def wire(receipts: ReceiptsService) -> Wiring:
    return Wiring(
        drains=[receipts.files.render_due],  # PDFs of the receipts just issued
        subscriptions=[
            Subscription(InvoicePaid, receipts.on_invoice_paid),
            Subscription(RefundSucceeded, receipts.on_refund_succeeded),
            Subscription(RefundReversed, receipts.on_refund_reversed),
        ],
    )
