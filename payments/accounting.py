"""The ledger entries of ``payments`` (the posting table of docs/architecture.md), written in
the transaction of the state change that causes them, each under a unique source key."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from ledger import posting as acc
from ledger.service import post, post_reversal
from payments.models import Invoice, Payment, Refund


def _issued_key(invoice_id: str) -> str:
    return f"invoice:{invoice_id}:issued"


async def invoice_issued(s: AsyncSession, inv: Invoice, slug: str) -> None:
    await post(
        s,
        source_key=_issued_key(inv.id),
        kind="invoice_issued",
        postings=acc.transfer(
            acc.receivable(slug), acc.income(slug), inv.amount_total, inv.currency
        ),
        effective_at=inv.created_at,
        service_id=inv.service_id,
        invoice_id=inv.id,
        description=f"{inv.number} {inv.reference}",
        new_source=True,  # the invoice is being created in this very transaction
    )


async def invoice_closed(s: AsyncSession, inv: Invoice, how: str, at: dt.datetime) -> None:
    """An open invoice was canceled or expired: reverse what its issue posted."""
    await post_reversal(
        s,
        original_source_key=_issued_key(inv.id),
        source_key=f"invoice:{inv.id}:{how}",
        kind=f"invoice_{how}",
        effective_at=at,
    )


async def payment_succeeded(
    s: AsyncSession, inv: Invoice, p: Payment, slug: str, at: dt.datetime
) -> None:
    if p.is_overpayment:
        await post(
            s,
            source_key=f"payment:{p.id}:overpayment",
            kind="overpayment",
            postings=acc.transfer(acc.psp(p.provider), acc.OVERPAYMENTS, p.amount, p.currency),
            effective_at=at,
            service_id=inv.service_id,
            invoice_id=inv.id,
            description=f"overpayment {p.id} on {inv.number}",
        )
    else:
        await post(
            s,
            source_key=f"payment:{p.id}:succeeded",
            kind="payment_succeeded",
            postings=acc.transfer(acc.psp(p.provider), acc.receivable(slug), p.amount, p.currency),
            effective_at=at,
            service_id=inv.service_id,
            invoice_id=inv.id,
            description=f"payment {p.id} of {inv.number}",
        )
    if p.fee:
        await post(
            s,
            source_key=f"payment:{p.id}:fee",
            kind="psp_fee",
            postings=acc.transfer(acc.PSP_FEES, acc.psp(p.provider), p.fee, p.currency),
            effective_at=at,
            service_id=inv.service_id,
            invoice_id=inv.id,
            description=f"PSP fee on {p.id}",
        )


async def dispute(
    s: AsyncSession, inv: Invoice, p: Payment, dispute_id: str, amount: int, *, opened: bool
) -> None:
    """Funds withdrawn when a dispute opens; returned when it is won."""
    if opened:
        postings = acc.transfer(acc.DISPUTES, acc.psp(p.provider), amount, p.currency)
    else:
        postings = acc.transfer(acc.psp(p.provider), acc.DISPUTES, amount, p.currency)
    await post(
        s,
        source_key=f"dispute:{dispute_id}:{'opened' if opened else 'won'}",
        kind="dispute_opened" if opened else "dispute_won",
        postings=postings,
        service_id=inv.service_id,
        invoice_id=inv.id,
        description=f"dispute {dispute_id} on {p.id}",
    )


async def refund_succeeded(
    s: AsyncSession, inv: Invoice, refund: Refund, slug: str, at: dt.datetime
) -> None:
    """Money given back by the PSP: out of the service's income, or, for an overpayment,
    out of what regie held for the payer."""
    if refund.origin == "overpayment":
        postings = acc.transfer(
            acc.OVERPAYMENTS, acc.psp(refund.provider), refund.amount, refund.currency
        )
        kind = "overpayment_refunded"
    else:
        postings = acc.transfer(
            acc.income(slug), acc.psp(refund.provider), refund.amount, refund.currency
        )
        kind = "refund_succeeded"
    await post(
        s,
        source_key=f"refund:{refund.id}:succeeded",
        kind=kind,
        postings=postings,
        effective_at=at,
        service_id=inv.service_id,
        invoice_id=inv.id,
        description=f"refund {refund.id}",
    )


async def refund_reversed(s: AsyncSession, refund: Refund, at: dt.datetime) -> str | None:
    """A refund failed after it succeeded: the entry its success posted is reversed (the
    money is back at the PSP, owed again to income or to the overpaid payer)."""
    return await post_reversal(
        s,
        original_source_key=f"refund:{refund.id}:succeeded",
        source_key=f"refund:{refund.id}:reversed",
        kind="refund_reversed",
        effective_at=at,
    )


async def payout(
    s: AsyncSession, provider: str, event_type: str, data: dict[str, object], bank_account: str
) -> str:
    """The PSP paid its balance out to the bank (or the bank returned it)."""
    payout_id = str(data.get("payout_id") or "")
    amount = data.get("amount")
    currency = str(data.get("currency") or "").upper()
    if (
        not payout_id
        or not isinstance(amount, int)
        or isinstance(amount, bool)
        or amount <= 0
        or not currency
    ):
        return "ignored: payout without id or amount"
    paid = event_type == "payout.paid"
    postings = (
        acc.transfer(acc.bank(bank_account), acc.psp(provider), amount, currency)
        if paid
        else acc.transfer(acc.psp(provider), acc.bank(bank_account), amount, currency)
    )
    posted = await post(
        s,
        source_key=f"payout:{payout_id}:{'paid' if paid else 'failed'}",
        kind="payout_paid" if paid else "payout_failed",
        postings=postings,
        description=f"payout {payout_id}",
    )
    return (
        f"payout {'paid' if paid else 'failed'}" if posted else "unchanged: payout already posted"
    )
