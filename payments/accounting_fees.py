"""The ledger entries of the PSP's fees on its rarer money paths (the posting table of
docs/architecture.md): a payment's fee the PSP reports after its success was booked; a
dispute's fees, which change after they were first booked (a fee added later, a fee given
back), followed as the PSP reports them; the fee the PSP gives back (or charges) on a
refund, booked with it and reversed with it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from ledger import posting as acc
from ledger import repository as ledger_repo
from ledger.service import PspRef, post, post_reversal
from payments.models import Invoice, Payment, Refund


async def payment_fee_late(s: AsyncSession, inv: Invoice, p: Payment) -> str | None:
    """The fee of a payment whose success was booked before the PSP reported it (Stripe
    attaches a charge's balance transaction a moment after an asynchronous capture), now
    recorded on ``p``: booked once, under the key a fee known at the success has
    (``payment:pay_…:fee``), so it is booked once whichever way it came. Dated with the
    success's entry: the PSP took it on the charge's own balance transaction, dated so, and
    the month's reconciliation compares it with that line. Kept with the payment's PSP id
    as a PSP posting (``PspRef``, its fee counted, its line no money of the payment), which
    reconciliation adds to the payment's fee (``matching``), in the payment's currency only,
    as a fee known at the success is. None if there is none, or it was booked already.
    The caller holds the invoice's lock."""
    if not p.fee:
        return None
    fee_currency = p.fee_currency or p.currency
    succeeded = await ledger_repo.entry_by_source(s, f"payment:{p.id}:succeeded")
    if succeeded is None:
        succeeded = await ledger_repo.entry_by_source(s, f"payment:{p.id}:overpayment")
    ref = (
        PspRef(acc.psp(p.provider), p.provider_payment_id, p.fee, fee_currency)
        if p.provider_payment_id and fee_currency == p.currency
        else None
    )
    return await post(
        s,
        source_key=f"payment:{p.id}:fee",
        kind="psp_fee",
        postings=acc.transfer(acc.PSP_FEES, acc.psp(p.provider), p.fee, fee_currency),
        effective_at=succeeded.effective_at if succeeded else None,
        service_id=inv.service_id,
        invoice_id=inv.id,
        description=f"PSP fee on {p.id}",
        psp=ref,
    )


async def dispute_fees(
    s: AsyncSession,
    inv: Invoice,
    p: Payment,
    dispute_id: str,
    charged: int,
    returned: int,
    currency: str,
) -> list[str]:
    """The PSP's dispute fees as it reports them now (in the balance's currency): ``charged``
    in all (the dispute fee, a countering fee added later) and ``returned`` in all (given
    back when won). Each total only grows at the PSP (balance transactions are never taken
    back), so what the ledger holds of it is brought up to it by posting the difference,
    keyed by the new total (the first under ``dispute:dp_…:fee`` / ``:fee_returned``): the
    same truth twice posts once, and an older truth read before a newer one was applied
    posts nothing. The caller holds the invoice's lock. What was posted, for the outcome."""
    fees, psp = acc.DISPUTE_FEES, acc.psp(p.provider)
    booked = await _dispute_fees_booked(s, inv, dispute_id, currency)
    done = []
    for returned_, total in ((False, charged), (True, returned)):
        name = "fee_returned" if returned_ else "fee"
        diff = total - booked[returned_]
        if diff <= 0:
            continue
        key = f"dispute:{dispute_id}:{name}" + (f":{total}" if booked[returned_] else "")
        posted = await post(
            s,
            source_key=key,
            kind=f"dispute_{name}",
            postings=acc.transfer(psp, fees, diff, currency)
            if returned_
            else acc.transfer(fees, psp, diff, currency),
            service_id=inv.service_id,
            invoice_id=inv.id,
            description=f"dispute fee {dispute_id} on {p.id}",
        )
        if posted is not None:
            done.append(f"dispute {name.replace('_', ' ')} {diff:+d}")
    return done


async def _dispute_fees_booked(
    s: AsyncSession, inv: Invoice, dispute_id: str, currency: str
) -> dict[bool, int]:
    """What the ledger holds of one dispute's fees: charged (False) and returned (True)."""
    entries = await ledger_repo.invoice_entries(s, inv.id, ("dispute_fee", "dispute_fee_returned"))
    mine = {e.id: e.kind for e in entries if e.source_key.split(":")[1] == dispute_id}
    booked = {False: 0, True: 0}
    for entry_id, lines in (await ledger_repo.lines_of(s, list(mine))).items():
        returned = mine[entry_id] == "dispute_fee_returned"
        for x in lines:
            if x.account == acc.DISPUTE_FEES and x.currency == currency:
                booked[returned] += x.credit - x.debit if returned else x.debit - x.credit
    return booked


async def refund_fee(
    s: AsyncSession, inv: Invoice, refund: Refund, fee: int, currency: str, at: dt.datetime
) -> str | None:
    """The fee on a refund's balance transaction (negative: the PSP gave part of its fee
    back, ``assets:psp`` ← ``expenses:psp_fees``; positive: it charged one), in the PSP's
    currency, dated with the refund's own entry (``at``): posted once
    (``refund:ref_…:fee``); None if it was already, or there is none."""
    if not fee:
        return None
    psp = acc.psp(refund.provider)
    return await post(
        s,
        source_key=f"refund:{refund.id}:fee",
        kind="refund_fee",
        postings=acc.transfer(psp, acc.PSP_FEES, -fee, currency)
        if fee < 0
        else acc.transfer(acc.PSP_FEES, psp, fee, currency),
        effective_at=at,
        service_id=inv.service_id,
        invoice_id=inv.id,
        description=f"PSP fee on refund {refund.id}",
    )


async def refund_fee_reversed(s: AsyncSession, refund: Refund, at: dt.datetime) -> str | None:
    """A refund failed after it succeeded: the fee booked with it is reversed too (None if
    it had none, or it was reversed already)."""
    return await post_reversal(
        s,
        original_source_key=f"refund:{refund.id}:fee",
        source_key=f"refund:{refund.id}:fee_reversed",
        kind="refund_fee_reversed",
        effective_at=at,
    )
