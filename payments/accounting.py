"""The ledger entries of ``payments`` (the posting table of docs/architecture.md), written in
the transaction of the state change that causes them, each under a unique source key."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Executable, text
from sqlalchemy.ext.asyncio import AsyncSession

from ledger import posting as acc
from ledger import repository as ledger_repo
from ledger.service import NewEntry, PspRef, new_entry_writes, post, post_many, post_reversal
from payments.accounting_payouts import payout as payout  # (re-exported)
from payments.models import Invoice, Payment, Refund
from regie.kit.bulk import no_gc


def _issued_key(invoice_id: str) -> str:
    return f"invoice:{invoice_id}:issued"


def _issued(inv: Mapping[str, Any], receivable: str, income: str) -> NewEntry:
    return NewEntry(
        source_key=_issued_key(inv["id"]),
        kind="invoice_issued",
        postings=acc.transfer(receivable, income, inv["amount_total"], inv["currency"]),
        effective_at=inv["created_at"],
        service_id=inv["service_id"],
        invoice_id=inv["id"],
        description=f"{inv['number']} {inv['reference']}",
    )


def invoice_issued_writes(inv: Mapping[str, Any], slug: str) -> list[Executable]:
    """The entry of an invoice created in this very transaction (its row as stored, with
    its final number), as statements for the caller to send with the invoice's own."""
    return new_entry_writes(_issued(inv, acc.receivable(slug), acc.income(slug)))


async def invoices_issued(
    s: AsyncSession, invoices: Sequence[Mapping[str, Any]], slug: str
) -> None:
    """``invoice_issued_writes`` for a batch of invoice rows created in this transaction,
    in bulk."""
    receivable, income = acc.receivable(slug), acc.income(slug)
    with no_gc():
        entries = [_issued(inv, receivable, income) for inv in invoices]
    await post_many(s, entries)


async def invoice_closed(s: AsyncSession, inv: Invoice, how: str, at: dt.datetime) -> None:
    """An open invoice was canceled or expired: reverse what its issue posted."""
    await post_reversal(
        s,
        original_source_key=_issued_key(inv.id),
        source_key=f"invoice:{inv.id}:{how}",
        kind=f"invoice_{how}",
        effective_at=at,
    )


async def invoice_reopened(s: AsyncSession, inv: Invoice, at: dt.datetime) -> None:
    """An expired invoice is paid after all (a payment that was on its way): what the
    citizen owes is owed again, by reversing the expiry, before the payment settles it."""
    await post_reversal(
        s,
        original_source_key=f"invoice:{inv.id}:expired",
        source_key=f"invoice:{inv.id}:paid_after_expiry",
        kind="invoice_paid_after_expiry",
        effective_at=at,
    )


async def payment_succeeded(
    s: AsyncSession, inv: Invoice, p: Payment, slug: str, at: dt.datetime
) -> None:
    # what reconciliation compares with the PSP's report: the payment's id there and its fee
    # (``ledger_psp_postings``), kept with the entry
    ref = (
        None
        if p.provider_payment_id is None
        else PspRef(acc.psp(p.provider), p.provider_payment_id, p.fee or 0,
                    p.fee_currency or p.currency)
    )  # fmt: skip
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
            psp=ref,
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
            psp=ref,
        )
    if p.fee:
        # in the currency the PSP took it in (its settlement currency), which may not be
        # the invoice's: an XPF payment settled in EUR has its fee booked in EUR
        fee_currency = p.fee_currency or p.currency
        await post(
            s,
            source_key=f"payment:{p.id}:fee",
            kind="psp_fee",
            postings=acc.transfer(acc.PSP_FEES, acc.psp(p.provider), p.fee, fee_currency),
            effective_at=at,
            service_id=inv.service_id,
            invoice_id=inv.id,
            description=f"PSP fee on {p.id}",
        )


async def overpayment_owed(s: AsyncSession, inv: Invoice) -> int:
    """What ``liabilities:overpayments`` still holds for the payers of this invoice."""
    return max(-await ledger_repo.invoice_balance(s, inv.id, acc.OVERPAYMENTS, inv.currency), 0)


def _split(owed: int, amount: int, currency: str, psp: str, *, out: bool) -> list[acc.Posting]:
    """``amount`` leaving (``out``) or coming back to the PSP balance: ``owed`` of it against
    what is owed to an overpaying payer, the rest against ``expenses:disputes``."""
    parts = [(acc.OVERPAYMENTS, min(owed, amount)), (acc.DISPUTES, amount - min(owed, amount))]
    lines = [
        acc.Posting(a, currency, debit=n) if out else acc.Posting(a, currency, credit=n)
        for a, n in parts
        if n
    ]
    side = (
        acc.Posting(psp, currency, credit=amount)
        if out
        else acc.Posting(psp, currency, debit=amount)
    )
    return [*lines, side] if out else [side, *lines]  # the debit first, as ``acc.transfer``


async def dispute(
    s: AsyncSession,
    inv: Invoice,
    p: Payment,
    dispute_id: str,
    amount: int,
    *,
    opened: bool,
    owed: int = 0,
) -> int | None:
    """Funds withdrawn by a dispute; returned when it is won (reinstated). None if it was
    already posted; else the part posted against ``liabilities:overpayments``.

    A withdrawal is a loss (``expenses:disputes``), except on an overpayment still owed
    back (``owed``): the payer's bank gave it back, so it settles that debt instead. A
    reinstatement undoes the withdrawal's own split (the debt first: owed again)."""
    key = f"dispute:{dispute_id}:opened"
    if opened:
        to_liability = min(owed, amount)
        postings = _split(to_liability, amount, p.currency, acc.psp(p.provider), out=True)
    else:
        withdrawal = await ledger_repo.entry_by_source(s, key)
        lines = (
            (await ledger_repo.lines_of(s, [withdrawal.id]))[withdrawal.id] if withdrawal else []
        )
        taken = sum(x.debit for x in lines if x.account == acc.OVERPAYMENTS)
        to_liability = min(taken, amount)
        postings = _split(to_liability, amount, p.currency, acc.psp(p.provider), out=False)
    posted = await post(
        s,
        source_key=key if opened else f"dispute:{dispute_id}:won",
        kind="dispute_opened" if opened else "dispute_won",
        postings=postings,
        service_id=inv.service_id,
        invoice_id=inv.id,
        description=_dispute_of(dispute_id, p.id),
    )
    return None if posted is None else to_liability


def _dispute_of(dispute_id: str, payment_id: str) -> str:
    return f"dispute {dispute_id} on {payment_id}"


async def dispute_kept(s: AsyncSession, inv: Invoice, p: Payment) -> int:
    """What the disputes of payment ``p`` withdrew and did not reinstate, as booked to
    ``expenses:disputes`` (the withdrawals less the reinstatements of ``dispute``)."""
    entries = await ledger_repo.invoice_entries(s, inv.id, ("dispute_opened", "dispute_won"))
    mine = [e.id for e in entries if e.description == _dispute_of(e.source_key.split(":")[1], p.id)]
    return sum(
        x.debit - x.credit
        for lines in (await ledger_repo.lines_of(s, mine)).values()
        for x in lines
        if x.account == acc.DISPUTES and x.currency == p.currency
    )


async def refund_succeeded(
    s: AsyncSession, inv: Invoice, refund: Refund, slug: str, at: dt.datetime
) -> None:
    """Money given back by the PSP: out of the service's income, or, for an overpayment,
    out of what regie held for the payer (what a chargeback gave back already is held no
    more: paid out again, it is a loss, booked to ``expenses:disputes``)."""
    if refund.origin == "overpayment":
        # what a chargeback already gave back is no longer owed: paid out again, it is lost
        owed = await overpayment_owed(s, inv)
        postings = _split(owed, refund.amount, refund.currency, acc.psp(refund.provider), out=True)
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


# the PSP postings of the payment entries booked without them: by a regie older than
# migration 0021 still running after the upgrade (its processes drain while the new ones
# start). The migration's own join, for the entries that have none; run again, it finds
# nothing to write. A fee this regie booked after the success (the PSP reported it late:
# ``accounting_fees.payment_fee_late``) has a posting of its own, which reconciliation adds
# to the payment's: the payment's then counts none (one look-up by the fee's source key).
_MISSING_PSP_POSTINGS = text(
    """
    INSERT INTO ledger_psp_postings
        (entry_id, kind, account, reference, effective_at, amount, currency, fee)
    SELECT e.id, e.kind, l.account, p.provider_payment_id, e.effective_at, l.debit - l.credit,
           l.currency,
           CASE WHEN COALESCE(p.fee_currency, p.currency) = l.currency
                 AND NOT EXISTS (
                     SELECT 1 FROM ledger_entries fe
                     JOIN ledger_psp_postings fx ON fx.entry_id = fe.id
                     WHERE fe.source_key = 'payment\\:' || p.id || '\\:fee')
                THEN COALESCE(p.fee, 0)
                ELSE 0 END
    FROM ledger_entries e
    JOIN ledger_lines l ON l.entry_id = e.id AND l.account LIKE 'assets\\:psp\\:%'
    JOIN payments p ON p.invoice_id = e.invoice_id
     AND e.source_key IN ('payment\\:' || p.id || '\\:succeeded',
                          'payment\\:' || p.id || '\\:overpayment')
    WHERE e.kind IN ('payment_succeeded', 'overpayment')
      AND p.provider_payment_id IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM ledger_psp_postings x WHERE x.entry_id = e.id)
    ORDER BY e.seq, l.id
    """
)


# one catch-up at a time (PostgreSQL; SQLite has one writer anyway): two at once would each
# find the same entries without postings, and both write them
_PSP_POSTINGS_LOCK = 0x7265_6769_6501  # "regie" + 1 (the chain sealer's is ...00)


async def keep_missing_psp_postings(s: AsyncSession) -> int:
    """Writes the PSP postings (``ledger_psp_postings``) of the payments booked without
    them, in the caller's transaction; how many rows it wrote (``regie maintenance
    psp-postings``). On PostgreSQL it holds a transaction lock first: a second catch-up
    waits for the first to commit, then finds nothing left to write."""
    if (await s.connection()).dialect.name == "postgresql":
        await s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PSP_POSTINGS_LOCK})
    result = await s.execute(_MISSING_PSP_POSTINGS)
    return int(getattr(result, "rowcount", 0) or 0)
