"""Tables owned by ``payments``: invoices, their lines, payments and the state audit trail."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, String, Text, UniqueConstraint
from sqlmodel import Column, Field, SQLModel

from regie.kit.database import UTCDateTime


def _ts(nullable: bool = False, index: bool = False) -> Any:
    return Field(
        default=None if nullable else ...,
        sa_column=Column(UTCDateTime(), nullable=nullable, index=index),
    )


class Invoice(SQLModel, table=True):
    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("service_id", "reference", name="uq_invoice_service_reference"),
        UniqueConstraint("service_id", "number", name="uq_invoice_service_number"),
        Index("ix_invoices_service_id_id", "service_id", "id"),
        Index("ix_invoices_status_expires", "status", "expires_at"),
        Index("ix_invoices_batch_id_id", "batch_id", "id"),
        Index("ix_invoices_created_at_id", "created_at", "id"),  # period reads
    )

    id: str = Field(primary_key=True, max_length=40)
    service_id: str = Field(foreign_key="services.id", max_length=40)
    number: str = Field(max_length=64)
    reference: str = Field(max_length=100)
    description: str = Field(max_length=500)
    currency: str = Field(max_length=3)
    amount_total: int = Field(sa_column=Column(BigInteger, nullable=False))
    amount_paid: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    amount_refunded: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    status: str = Field(max_length=24)
    payer_name: str = Field(max_length=200)
    payer_email: str | None = Field(default=None, max_length=254)
    payer_company_id: str | None = Field(default=None, max_length=14)
    payer_vat_number: str | None = Field(default=None, max_length=15)
    payer_address: str | None = Field(default=None, max_length=500)  # printed on the receipt
    metadata_: dict[str, str] = Field(
        default_factory=dict, sa_column=Column("metadata", JSON, nullable=False)
    )
    locale: str = Field(default="fr", max_length=5)
    return_url: str | None = Field(default=None, sa_column=Column(Text))
    pay_token: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    expires_at: dt.datetime = _ts()
    created_at: dt.datetime = _ts()
    updated_at: dt.datetime = _ts()
    paid_at: dt.datetime | None = _ts(nullable=True)
    canceled_at: dt.datetime | None = _ts(nullable=True)
    expired_at: dt.datetime | None = _ts(nullable=True)
    # the batch it was created in (POST /v1/invoice-batches, regie invoices import)
    batch_id: str | None = Field(default=None, max_length=40)


class InvoiceBatch(SQLModel, table=True):
    """Invoices created together: all of them or none (one transaction), numbered as one
    block of consecutive numbers (``first_number`` .. ``last_number``)."""

    __tablename__ = "invoice_batches"
    __table_args__ = (Index("ix_invoice_batches_service_id_id", "service_id", "id"),)

    id: str = Field(primary_key=True, max_length=40)
    service_id: str = Field(foreign_key="services.id", max_length=40)
    source: str = Field(max_length=16)  # api | import
    count: int
    first_number: str = Field(max_length=64)
    last_number: str = Field(max_length=64)
    created_at: dt.datetime = _ts()


class InvoiceLine(SQLModel, table=True):
    __tablename__ = "invoice_lines"

    id: str = Field(primary_key=True, max_length=40)
    invoice_id: str = Field(foreign_key="invoices.id", index=True, max_length=40)
    service_id: str = Field(max_length=40)
    position: int
    description: str = Field(max_length=500)
    quantity: int
    unit_amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))


class Payment(SQLModel, table=True):
    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("provider", "checkout_id", name="uq_payment_provider_checkout"),
        Index("ix_payments_status_next_check", "status", "next_check_at"),
        Index("ix_payments_close_checkout_at", "close_checkout_at"),
    )

    id: str = Field(primary_key=True, max_length=40)
    invoice_id: str = Field(foreign_key="invoices.id", index=True, max_length=40)
    service_id: str = Field(max_length=40)
    provider: str = Field(max_length=20)
    status: str = Field(max_length=16)
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(max_length=3)
    checkout_id: str | None = Field(default=None, max_length=255)
    checkout_url: str | None = Field(default=None, sa_column=Column(Text))
    provider_payment_id: str | None = Field(default=None, max_length=255, index=True)
    card_brand: str | None = Field(default=None, max_length=20)
    card_last4: str | None = Field(default=None, max_length=4)
    fee: int | None = Field(default=None, sa_column=Column(BigInteger))
    # the fee's currency (the PSP's settlement currency) and the rate the PSP applied from
    # the payment's currency, as exact decimal text; None: the payment's currency, no rate
    fee_currency: str | None = Field(default=None, max_length=3)
    fee_exchange_rate: str | None = Field(default=None, max_length=40)
    failure_code: str | None = Field(default=None, max_length=64)
    failure_message: str | None = Field(default=None, max_length=500)
    is_overpayment: bool = False
    # pending, and the payer completed the checkout with a delayed method (a SEPA debit):
    # the money is on its way, so the payment does not expire with its invoice
    processing_since: dt.datetime | None = _ts(nullable=True)
    next_check_at: dt.datetime | None = _ts(nullable=True)
    check_count: int = 0
    # the invoice was paid by another payment: this checkout is to be closed at its PSP
    # (when the worker should next ask; None: nothing to close), and how often it asked
    close_checkout_at: dt.datetime | None = _ts(nullable=True)
    close_attempts: int = 0
    created_at: dt.datetime = _ts()
    updated_at: dt.datetime = _ts()
    succeeded_at: dt.datetime | None = _ts(nullable=True)


class StateChange(SQLModel, table=True):
    """Every state change of an invoice or payment, with what caused it."""

    __tablename__ = "state_changes"

    id: int | None = Field(default=None, primary_key=True)
    service_id: str = Field(max_length=40)
    invoice_id: str = Field(index=True, max_length=40)
    payment_id: str | None = Field(default=None, max_length=40)
    object: str = Field(max_length=16)  # invoice | payment
    from_status: str | None = Field(default=None, max_length=24)
    to_status: str = Field(max_length=24)
    cause: str = Field(max_length=120)  # api:cancel, psp:<event id>, sweeper:expiry, ...
    note: str | None = Field(default=None, max_length=500)
    created_at: dt.datetime = _ts()


class Refund(SQLModel, table=True):
    """Money given back from a succeeded payment. A pending refund already counts against
    what is refundable, so concurrent requests can never refund more than was paid."""

    __tablename__ = "refunds"
    __table_args__ = (
        UniqueConstraint("provider", "provider_refund_id", name="uq_refund_provider_id"),
        Index("ix_refunds_status_next_attempt", "status", "next_attempt_at"),
    )

    id: str = Field(primary_key=True, max_length=40)
    invoice_id: str = Field(foreign_key="invoices.id", index=True, max_length=40)
    payment_id: str = Field(foreign_key="payments.id", index=True, max_length=40)
    service_id: str = Field(max_length=40)
    provider: str = Field(max_length=20)
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(max_length=3)
    status: str = Field(max_length=16)  # pending | succeeded | failed
    reason: str | None = Field(default=None, max_length=500)
    origin: str = Field(max_length=16)  # api | overpayment | psp (made at the PSP directly)
    provider_refund_id: str | None = Field(default=None, max_length=255)
    failure_reason: str | None = Field(default=None, max_length=200)
    attempts: int = 0
    next_attempt_at: dt.datetime | None = _ts(nullable=True)
    created_at: dt.datetime = _ts()
    updated_at: dt.datetime = _ts()
    succeeded_at: dt.datetime | None = _ts(nullable=True)
