"""The notifications as the OpenAPI document describes them (its ``webhooks`` section).

regie calls the client service, not the other way round: OpenAPI 3.1 lists such calls under
``webhooks``, one operation a notification type, each with the body and headers a receiver
gets and what it must answer. The body's model is strict (``extra="forbid"``), so that
``tests/webhooks/test_notification_spec.py`` fails when a notification carries a field this
page does not describe. Nothing here is called at run time: the functions only document.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Response
from pydantic import BaseModel, ConfigDict, Field

from payments.schemas import InvoiceOut
from webhooks.outbound.rules import EVENT_TYPES, INVOICE_CREATED

#: every type a notification may have, once each (two domain events are told as
#: ``invoice.refund_failed``), in the order the README lists them
TYPES: tuple[str, ...] = tuple(dict.fromkeys((INVOICE_CREATED, *EVENT_TYPES.values())))

_WHAT: dict[str, str] = {
    "invoice.created": "An invoice of a batch (`POST /v1/invoice-batches`, `regie invoices "
    "import`) was created; an invoice created alone is answered to its caller instead.",
    "invoice.paid": "The invoice is paid.",
    "invoice.payment_failed": "A payment attempt failed; the invoice is still open.",
    "invoice.canceled": "The invoice was canceled.",
    "invoice.expired": "The invoice expired unpaid.",
    "invoice.refunded": "A refund succeeded; `data.object.credit_notes` lists its credit note.",
    "invoice.refund_failed": "A refund failed, when asked or after it had succeeded (the "
    "bank sent the money back): the citizen was not refunded.",
    "invoice.disputed": "A chargeback withdrew the funds; `data.dispute` says which.",
    "invoice.dispute_closed": "The chargeback is closed: `data.dispute.outcome` is `won` "
    "(the funds came back) or `lost` (they stay with the payer).",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NotificationDispute(_Strict):
    id: str = Field(description="The PSP's dispute id")
    amount: int = Field(description="In minor units")
    currency: str
    outcome: Literal["won", "lost"] | None = Field(
        default=None, description="Only in `invoice.dispute_closed`"
    )


class NotificationData(_Strict):
    object: InvoiceOut = Field(description="The invoice as the change left it")
    dispute: NotificationDispute | None = Field(
        default=None, description="Only in `invoice.disputed` and `invoice.dispute_closed`"
    )


class Notification(_Strict):
    id: str = Field(description="The event id, also in `Regie-Event-Id`: de-duplicate on it")
    object: Literal["event"]
    type: str = Field(
        description="The notification's type", json_schema_extra={"enum": list(TYPES)}
    )
    created: int = Field(description="Unix seconds, when regie wrote the notification")
    data: NotificationData


_HEADERS = "\n\n" + " ".join(
    """Headers: `Regie-Event-Id` (the event id), `Regie-Signature: t=<unix>,v1=<hex>`
    (HMAC-SHA256 of `<t>.<body>` with the endpoint's secret; two `v1=` during a rotation),
    and the Standard Webhooks `webhook-id`, `webhook-timestamp` and `webhook-signature`.
    Answer 2xx within 10 s; anything else is retried after 1 min, 5 min, 30 min, 2 h, 6 h,
    24 h and 48 h with the same event id and body, then given up.""".split()
)


def _document(router: APIRouter, event_type: str) -> None:
    def receive(
        body: Notification,
        regie_event_id: Annotated[str, Header(description="The event id")],
        regie_signature: Annotated[str, Header(description="t=<unix>,v1=<hex>")],
    ) -> Response:  # pragma: no cover (documents; never called)
        raise NotImplementedError

    router.add_api_route(
        event_type,
        receive,
        methods=["POST"],
        summary=event_type,
        description=_WHAT[event_type] + _HEADERS,
        operation_id=f"notification_{event_type.replace('.', '_')}",
        tags=["notifications"],
        responses={
            200: {"description": "Received (any 2xx): not sent again"},
            # stands for every other answer (and keeps FastAPI's 422, which is regie's)
            "default": {"description": "Any other answer, or none in 10 s: sent again later"},
        },
        response_class=Response,
    )


def document(webhooks: APIRouter) -> None:
    """Adds one operation a notification type to the app's ``webhooks`` router."""
    for event_type in TYPES:
        _document(webhooks, event_type)
