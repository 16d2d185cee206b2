"""The ledger entries of the PSP's payouts (the posting table of docs/architecture.md): a
payout moves the PSP's balance to the bank (or, negative, the bank's money to the PSP); its
failure gives it back to the PSP; on an account other integrations share, only regie's share
of it is posted, and what a later payout carries out again of a failed one is what that
failure gave back (``payouts_taken_back``)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ledger import posting as acc
from ledger import repository as ledger_repo
from ledger.service import post, post_reversal
from payments.providers.base import EVENT_PAYOUT_FAILED, EVENT_PAYOUT_RECONCILED

# the key space of the per-payout transaction locks of ``payout`` (two-int form)
_PAYOUT_LOCKS = 0x7265_6770  # "regp"


async def payout(
    s: AsyncSession,
    provider: str,
    event_type: str,
    data: dict[str, object],
    bank_account: str,
    regie_amount: int | None = None,
) -> str:
    """The PSP paid its balance out to the bank (or the bank returned it). A negative
    payout (the PSP's balance short: refunds and disputes beyond its charges) is the PSP
    taking that much from the bank, posted the other way; its failure reverses it alike.

    ``regie_amount``: on an account other integrations share, only the sum of regie's own
    balance transactions in the payout is regie's to post (None: the whole payout is).
    A failure reverses what ``paid`` (and ``reconciled``) posted; a failure seen before
    its ``paid`` posts the payout and its reversal at once, so the late ``paid`` changes
    nothing: either order ends with the same books. The reconciliation
    (``payout.reconciled``: the payout's transactions are all listed) posts the difference
    if ``paid`` saw only part of them; a failure that comes before it posts that
    difference first (its own listing of the payout), so that it gives back all of
    regie's share, whichever of the two comes first."""
    payout_id = str(data.get("payout_id") or "")
    amount = data.get("amount") if regie_amount is None else regie_amount
    currency = str(data.get("currency") or "").upper()
    if not payout_id or not isinstance(amount, int) or isinstance(amount, bool) or not currency:
        return "ignored: payout without id or amount"
    if (await s.connection()).dialect.name == "postgresql":
        # one payout's events at a time: a failure must see the reconciliation another
        # worker is committing (or it reverses ``paid`` only), and the other way round
        await s.execute(
            text("SELECT pg_advisory_xact_lock(:space, hashtext(:payout))"),
            {"space": _PAYOUT_LOCKS, "payout": f"{provider}:{payout_id}"},
        )
    paid_key, failed_key = f"payout:{payout_id}:paid", f"payout:{payout_id}:failed"
    failed_entry = await ledger_repo.entry_by_source(s, failed_key)
    paid_entry = await ledger_repo.entry_by_source(s, paid_key)
    if event_type == EVENT_PAYOUT_RECONCILED:
        if regie_amount is None:
            return "ignored: the whole payout was posted when paid"
        if failed_entry is not None:
            return "ignored: the payout failed"
        if paid_entry is not None:
            return await _reconcile(s, provider, payout_id, amount, currency, bank_account)
    elif (
        event_type == EVENT_PAYOUT_FAILED
        and regie_amount is not None
        and failed_entry is None
        and paid_entry is not None
    ):
        # listed at the failure, the payout may show more of regie's than ``paid`` saw (its
        # reconciliation late): that is posted first, and given back with the rest below
        await _reconcile(s, provider, payout_id, amount, currency, bank_account)
    if amount != 0:  # (negative: the PSP takes it from the bank, the other way)
        bank, psp = acc.bank(bank_account), acc.psp(provider)
        debit, credit = (bank, psp) if amount > 0 else (psp, bank)
        paid_posted = await post(
            s,
            source_key=paid_key,
            kind="payout_paid",
            postings=acc.transfer(debit, credit, abs(amount), currency),
            description=f"payout {payout_id}" if amount > 0 else f"negative payout {payout_id}",
        )
    elif event_type != EVENT_PAYOUT_FAILED or paid_entry is None:
        return "ignored: the payout carries nothing of regie's"
    else:
        # a failure whose lines no longer show regie's: what ``paid`` posted is reversed
        paid_posted = None
    if event_type != EVENT_PAYOUT_FAILED:
        return "payout paid" if paid_posted else "unchanged: payout already posted"
    reversed_ = await post_reversal(
        s, original_source_key=paid_key, source_key=failed_key, kind="payout_failed"
    )
    # what its reconciliation posted besides (a failure after it) went back to the PSP too
    reconciled_key = f"payout:{payout_id}:reconciled"
    reversed_reconciled = await post_reversal(
        s,
        original_source_key=reconciled_key,
        source_key=f"{reconciled_key}:failed",
        kind="payout_failed",
    )
    if not reversed_ and not reversed_reconciled:
        return "unchanged: payout failure already posted"
    return "payout failed: reversed" if not paid_posted else "payout failed before paid: net zero"


async def _reconcile(
    s: AsyncSession, provider: str, payout_id: str, amount: int, currency: str, bank_account: str
) -> str:
    """What of regie's share ``amount`` the payout's ``paid`` entry did not post (it saw
    only part of the payout's lines), posted once (``payout:po_…:reconciled``), either way:
    more to the bank, or back to the PSP."""
    paid_entry = await ledger_repo.entry_by_source(s, f"payout:{payout_id}:paid")
    assert paid_entry is not None
    lines = (await ledger_repo.lines_of(s, [paid_entry.id]))[paid_entry.id]
    bank = acc.bank(bank_account)
    amount -= sum(x.debit - x.credit for x in lines if x.account == bank)
    if amount == 0:
        return "unchanged: the payout was posted in full"
    debit, credit = (bank, acc.psp(provider)) if amount > 0 else (acc.psp(provider), bank)
    await post(
        s,
        source_key=f"payout:{payout_id}:reconciled",
        kind="payout_reconciled",
        postings=acc.transfer(debit, credit, abs(amount), currency),
        description=f"payout {payout_id}: transactions listed at reconciliation",
    )
    return f"payout reconciled: {amount:+d}"


async def payouts_taken_back(s: AsyncSession, provider: str, payout_ids: set[str | None]) -> int:
    """What the failures of ``payout_ids`` gave back to the PSP's account, as their reversals
    booked it (the paid entry's and the reconciliation's): regie's share of those payouts'
    money that a later payout carries out again (Stripe's ``payout_failure`` line in it)."""
    psp, total = acc.psp(provider), 0
    for payout_id in sorted(x for x in payout_ids if x):
        for key in (f"payout:{payout_id}:failed", f"payout:{payout_id}:reconciled:failed"):
            entry = await ledger_repo.entry_by_source(s, key)
            lines = (await ledger_repo.lines_of(s, [entry.id]))[entry.id] if entry else []
            total += sum(x.debit - x.credit for x in lines if x.account == psp)
    return total


async def payouts_failure_unbooked(s: AsyncSession, payout_ids: set[str | None]) -> list[str]:
    """Of ``payout_ids`` (failed payouts whose money a later payout carries out again), those
    whose ``paid`` entry is booked and whose failure is not yet: that later payout must
    wait for it, or it would carry none of their money and the failure would then take it
    back from the bank for good."""
    return [
        x for x in sorted(x for x in payout_ids if x)
        if await ledger_repo.entry_by_source(s, f"payout:{x}:paid") is not None
        and await ledger_repo.entry_by_source(s, f"payout:{x}:failed") is None
    ]  # fmt: skip
