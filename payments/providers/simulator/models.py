"""The simulator's own tables: what a PSP would hold (checkouts, payments, refunds, its
balance transactions and payouts, and the events it sends). regie's domain never reads
them; only this subpackage does."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, Text
from sqlmodel import Column, Field, SQLModel

from regie.kit.database import UTCDateTime


class SimCheckout(SQLModel, table=True):
    __tablename__ = "sim_checkouts"

    id: str = Field(primary_key=True, max_length=40)
    payment_ref: str = Field(max_length=40)
    invoice_ref: str = Field(max_length=40)
    issuer: str = Field(max_length=200)
    description: str = Field(max_length=500)
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(max_length=3)
    locale: str = Field(max_length=5)
    success_url: str = Field(sa_column=Column(Text, nullable=False))
    cancel_url: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(max_length=20)  # open | requires_action | complete | failed | canceled
    pending_brand: str | None = Field(default=None, max_length=20)
    pending_last4: str | None = Field(default=None, max_length=4)
    sim_payment_id: str | None = Field(default=None, max_length=40)
    expires_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    created_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class SimPayment(SQLModel, table=True):
    __tablename__ = "sim_payments"

    id: str = Field(primary_key=True, max_length=40)
    checkout_id: str = Field(index=True, max_length=40)
    status: str = Field(max_length=20)  # succeeded | failed
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    amount_refunded: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(max_length=3)
    brand: str = Field(max_length=20)
    last4: str = Field(max_length=4)
    fee: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    failure_code: str | None = Field(default=None, max_length=64)
    failure_message: str | None = Field(default=None, max_length=200)
    created_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))


class SimRefund(SQLModel, table=True):
    __tablename__ = "sim_refunds"

    id: str = Field(primary_key=True, max_length=40)
    sim_payment_id: str = Field(index=True, max_length=40)
    idempotency_key: str = Field(max_length=255, unique=True)
    regie_refund_id: str | None = Field(default=None, max_length=40)  # the metadata regie sent
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(max_length=3)
    created_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class SimEvent(SQLModel, table=True):
    __tablename__ = "sim_events"

    id: str = Field(primary_key=True, max_length=40)
    type: str = Field(max_length=40)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    delivered_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    attempts: int = 0


class SimBalanceTransaction(SQLModel, table=True):
    """One movement of the simulator's balance, as Stripe's balance history lists them: a
    charge (its fee taken at once), a refund (negative, no fee), or a payout (negative: the
    balance leaving for the bank; positive for a negative payout, the bank's money in). ``payout_id`` is set once a payout carried the line (for
    a payout's own line, from the start)."""

    __tablename__ = "sim_balance_transactions"

    id: str = Field(primary_key=True, max_length=40)  # txn_sim_…
    type: str = Field(max_length=20)  # charge | refund | payout
    reporting_category: str = Field(max_length=40)  # Stripe's words: charge, refund, payout
    source_id: str = Field(max_length=40)  # pi_sim_… | re_sim_… | po_sim_…
    payment_id: str | None = Field(default=None, max_length=40)  # the charge's pi_sim_…
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    fee: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    net: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(max_length=3)
    description: str = Field(default="", max_length=500)
    created_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    available_on: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    payout_id: str | None = Field(default=None, max_length=40, index=True)


class SimPayout(SQLModel, table=True):
    """A payout of the balance of one currency to the public body's bank account (a negative
    ``amount``: a negative payout, the PSP debiting that account for a negative balance)."""

    __tablename__ = "sim_payouts"

    id: str = Field(primary_key=True, max_length=40)  # po_sim_…
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(max_length=3)
    status: str = Field(max_length=20)  # paid
    created_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    arrival_date: dt.date = Field(sa_column=Column(Date, nullable=False, index=True))
    statement_descriptor: str = Field(max_length=22)  # what the bank shows, as Stripe's
    bank_reference: str = Field(max_length=35, unique=True)  # the bank's entry reference
