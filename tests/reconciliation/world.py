"""A consistent little world for matching tests: payments, fees, refunds, disputes,
payouts and the bank credits that carry them, as the three sides would each record them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

from reconciliation.matching import add_business_days
from reconciliation.records import (
    CHARGE,
    DISPUTE,
    PAYOUT,
    REFUND,
    BankLine,
    Inputs,
    LedgerItem,
    Payout,
    PspLine,
)

START = dt.date(2026, 10, 1)
END = dt.date(2026, 10, 31)


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC)


@dataclass
class World:
    psp: list[PspLine] = field(default_factory=list)
    ledger: list[LedgerItem] = field(default_factory=list)
    payouts: list[Payout] = field(default_factory=list)
    bank: list[BankLine] = field(default_factory=list)
    as_of: dt.date = dt.date(2026, 11, 20)

    def inputs(self, **kw: object) -> Inputs:
        return Inputs(
            period_from=START,
            period_to=END,
            psp_lines=tuple(self.psp),
            ledger_items=tuple(self.ledger),
            payouts=tuple(self.payouts),
            bank_lines=tuple(self.bank),
            as_of=self.as_of,
            **kw,  # type: ignore[arg-type]
        )


def build(
    days: list[list[tuple[int, int]]],
    refunds: dict[int, int] | None = None,
    dispute: tuple[int, int, int] | None = None,
    currency: str = "EUR",
) -> World:
    """``days``: for each payout day (consecutive business days from START), the payments
    it carries as (amount, fee). ``refunds``: payment index -> refunded amount (in the same
    payout as the payment). ``dispute``: (payment index, amount withdrawn, dispute fee)."""
    w = World()
    refunds = refunds or {}
    n = 0
    day = START
    for d, payments in enumerate(days):
        day = add_business_days(day, 1) if d else day
        po = f"po_{d:03d}"
        net = 0
        for amount, fee in payments:
            pi, ch = f"pi_{n:05d}", f"ch_{n:05d}"
            w.psp.append(PspLine(f"txn_c{n}", CHARGE, (pi, ch), amount, fee, amount - fee, currency, po, at(day, 9)))  # fmt: skip
            w.ledger.append(LedgerItem("payment", pi, amount, fee, currency, (f"ent_p{n}",), at(day, 9)))  # fmt: skip
            net += amount - fee
            if n in refunds:
                r = refunds[n]
                w.psp.append(PspLine(f"txn_r{n}", REFUND, (f"re_{n}", pi), -r, 0, -r, currency, po, at(day, 11)))  # fmt: skip
                w.ledger.append(LedgerItem("refund", f"re_{n}", -r, 0, currency, (f"ent_r{n}",), at(day, 11)))  # fmt: skip
                net -= r
            if dispute and dispute[0] == n:
                _, amt, dfee = dispute
                w.psp.append(PspLine(f"txn_d{n}", DISPUTE, (f"du_{n}", pi), -amt, dfee, -amt - dfee, currency, po, at(day, 12)))  # fmt: skip
                w.ledger.append(LedgerItem("dispute", f"du_{n}", -amt, dfee, currency, (f"ent_d{n}",), at(day, 12)))  # fmt: skip
                net -= amt + dfee
            n += 1
        if net > 0:
            w.psp.append(PspLine(f"txn_po{d}", PAYOUT, (po,), -net, 0, -net, currency, po, at(day, 20)))  # fmt: skip
            w.payouts.append(Payout(po, net, currency, day))
            w.ledger.append(LedgerItem("payout", po, -net, 0, currency, (f"ent_po{d}",), at(day, 20)))  # fmt: skip
            bank_day = add_business_days(day, 1)
            w.bank.append(BankLine(f"BANK{d:04d}", net, "credit", currency, bank_day, f"STRIPE {po}"))  # fmt: skip
    return w


def without_remittance(w: World) -> World:
    w.bank = [replace(b, text="VIREMENT PSP") for b in w.bank]
    return w
