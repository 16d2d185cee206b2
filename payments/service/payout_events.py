"""The PSP's payout events: the payout read (on a shared account, its lines) and booked.

A payout moves the PSP's balance to the bank (or the bank returns it). On an account other
integrations share, only regie's part of it is regie's to post (``_regie_share``).
"""

from __future__ import annotations

from payments import accounting_payouts
from payments import repository as repo
from payments.providers.base import (
    PaymentProvider,
    ProviderEvent,
    ProviderPayoutLines,
    ProviderTruth,
    SettlementLine,
)
from payments.service.deferral import NeverApplicable, NotYetApplicable
from regie.kit.uow import UnitOfWork


async def read_payout(
    provider: PaymentProvider, event: ProviderEvent
) -> ProviderPayoutLines | None:
    """The payout's lines, re-read from the PSP (outside any transaction) on an account other
    integrations share; None elsewhere (all of the payout is regie's)."""
    if not provider.shared_account or not event.data.get("payout_id"):
        return None
    payout_id = str(event.data["payout_id"])
    if event.data.get("automatic") is False:
        # the PSP lists the transactions of its automatic payouts only (Stripe refuses the
        # list of a manual one): which part of it is regie's cannot be told, now or later
        raise NeverApplicable(
            f"a manual payout ({payout_id}, paid out by hand): the PSP lists no transactions "
            "of it, so regie's share of it cannot be told; regie books automatic payouts. "
            "Its bank credit is left to reconciliation"
        )
    lines = [line async for line in provider.list_payout_lines(payout_id)]
    return ProviderPayoutLines(payout_id, tuple(lines))


async def apply_payout(
    uow: UnitOfWork, event: ProviderEvent, truth: ProviderTruth | None, bank_account: str
) -> str:
    """Book one payout event inside the caller's unit of work; returns what happened."""
    regie_amount = None
    if isinstance(truth, ProviderPayoutLines):
        regie_amount = await _regie_share(uow, event.provider, truth.lines)
    return await accounting_payouts.payout(
        uow.session, event.provider, event.type, dict(event.data), bank_account, regie_amount
    )


async def _regie_share(uow: UnitOfWork, provider: str, lines: tuple[SettlementLine, ...]) -> int:
    """What of a payout is regie's: the net of its lines about regie's own payments (their
    charges, refunds, disputes and fees), and of a failed payout's money it carries out again
    (a payout line whose source is that payout) what its failure gave back to regie; other
    integrations' lines and the payout's own line are not regie's to post."""
    ids = {line.provider_payment_id for line in lines if line.provider_payment_id}
    mine = await repo.known_provider_payment_ids(uow.session, provider, ids)
    # (the payout's own line names itself: not carried)
    back = {x.source_id for x in lines if x.type == "payout" and x.source_id != x.payout_id}
    waiting = await accounting_payouts.payouts_failure_unbooked(uow.session, back)
    if waiting:
        # what it carries back of them is what their failure gives back once booked:
        # applied first, this payout would post none of it, and the failure would then
        # take their money back from the bank for good
        raise NotYetApplicable(
            f"the payout pays out again the money of {', '.join(waiting)}, whose failure "
            "regie has not booked yet"
        )
    return sum(
        line.net for line in lines if line.type != "payout" and line.provider_payment_id in mine
    ) + await accounting_payouts.payouts_taken_back(uow.session, provider, back)
