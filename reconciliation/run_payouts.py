"""The lines of a run's payouts that its PSP's side does not hold (I/O: the PSP's port).

Without an uploaded report, a run reads the PSP's lines created in the period; a payout on
the first bank day of a month carries lines of the last days of the month before (the daily
payout pays what the balance held). Such a payout's lines in hand do not add up to it; the
run asks the PSP for all of them (``list_payout_lines``), so that the payout is checked
whole: a payout whose lines are all known and add up is fine, only a real mismatch is
flagged. Only those payouts are asked about: one whose lines in hand add up, or of which the
run holds no line (Stripe's lines name their payout only when listed by payout), is not.
"""

from __future__ import annotations

from collections.abc import Sequence

from payments.providers.base import PaymentProvider
from reconciliation.normalise import from_port, payouts_short
from reconciliation.records import Payout, PspLine


async def lines_beyond(
    provider: PaymentProvider, lines: Sequence[PspLine], payouts: Sequence[Payout]
) -> list[PspLine]:
    """The lines of the payouts whose lines in ``lines`` do not add up to them, as the PSP
    lists them, less those ``lines`` holds."""
    held = {x.id for x in lines}
    out: dict[str, PspLine] = {}
    for pid in payouts_short(lines, payouts):
        async for x in provider.list_payout_lines(pid):
            if x.id not in held and x.payout_id == pid:
                out.setdefault(x.id, from_port(x))
    return sorted(out.values(), key=lambda x: x.id)
