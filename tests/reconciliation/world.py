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


@dataclass(frozen=True)
class Refund:
    """A refund of a payment: ``fee`` the PSP's fee on the refund's balance transaction
    (negative when it gives part of the payment's fee back), booked with the refund;
    ``later``: how many payout days after its payment's it is made."""

    amount: int
    fee: int = 0
    later: int = 0


@dataclass(frozen=True)
class Dispute:
    """A dispute of a payment: ``amount`` withdrawn with a ``fee``; ``counter_fee`` a further
    fee on its own line when it is countered (``counter_later`` payout days after the
    payment's); ``reinstated`` the funds given back and ``fee_back`` the fee given back on
    the reinstatement's line (``won_later`` days after the payment's, not before the
    counter). The ledger books each fee change on its own entry, as ``ledger_reads`` reads
    them (``dispute_fee``, ``dispute_fee_returned``: no gross, the fee signed as the line's)."""

    amount: int
    fee: int
    counter_fee: int = 0
    counter_later: int = 0
    reinstated: int = 0
    fee_back: int = 0
    won_later: int = 0


def build(
    days: list[list[tuple[int, int]]],
    refunds: dict[int, int | Refund] | None = None,
    dispute: tuple[int, int, int] | None = None,
    currency: str = "EUR",
    disputes: dict[int, Dispute] | None = None,
) -> World:
    """``days``: for each payout day (consecutive business days from START), the payments
    it carries as (amount, fee). ``refunds``: payment index -> refunded amount (in the same
    payout as the payment), or a ``Refund``. ``dispute``: (payment index, amount withdrawn,
    dispute fee), booked as one entry; ``disputes``: payment index -> ``Dispute``. A day
    whose lines net to less than zero makes a negative payout: the PSP takes it from the
    bank (its line and the ledger's entry marked as the payout's own way, -1, as the PSP's
    reporting category and the ledger's entry kind say; a debit at the bank)."""
    w = World()
    refunds = refunds or {}
    disputes = disputes or {}
    dates = [START]
    for _ in days[1:]:
        dates.append(add_business_days(dates[-1], 1))
    nets = [0] * len(days)
    last = len(days) - 1

    def put(d: int, line: PspLine, *items: LedgerItem) -> None:
        w.psp.append(replace(line, payout_id=f"po_{d:03d}"))
        w.ledger.extend(items)
        nets[d] += line.net

    n = 0
    for d, payments in enumerate(days):
        day = dates[d]
        for amount, fee in payments:
            pi, ch = f"pi_{n:05d}", f"ch_{n:05d}"
            put(d, PspLine(f"txn_c{n}", CHARGE, (pi, ch), amount, fee, amount - fee, currency, None, at(day, 9)),  # fmt: skip
                LedgerItem("payment", pi, amount, fee, currency, (f"ent_p{n}",), at(day, 9)))  # fmt: skip
            if n in refunds:
                spec = refunds[n]
                rf = spec if isinstance(spec, Refund) else Refund(spec)
                rd = min(d + rf.later, last)
                r, f, t = rf.amount, rf.fee, at(dates[rd], 11)
                put(
                    rd,
                    PspLine(
                        f"txn_r{n}", REFUND, (f"re_{n}", pi), -r, f, -r - f, currency, None, t
                    ),  # fmt: skip
                    LedgerItem("refund", f"re_{n}", -r, f, currency, (f"ent_r{n}",), t),
                )
            if dispute and dispute[0] == n:
                _, amt, dfee = dispute
                put(d, PspLine(f"txn_d{n}", DISPUTE, (f"du_{n}", pi), -amt, dfee, -amt - dfee, currency, None, at(day, 12)),  # fmt: skip
                    LedgerItem("dispute", f"du_{n}", -amt, dfee, currency, (f"ent_d{n}",), at(day, 12)))  # fmt: skip
            if n in disputes:
                _dispute(put, disputes[n], n, pi, d, dates, currency)
            n += 1
    for d, net in enumerate(nets):
        day, po = dates[d], f"po_{d:03d}"
        if not net:
            continue
        way = -1 if net < 0 else 0  # (a positive payout's sign tells its way)
        w.psp.append(PspLine(f"txn_po{d}", PAYOUT, (po,), -net, 0, -net, currency, po, at(day, 20), way=way))  # fmt: skip
        w.payouts.append(Payout(po, net, currency, day))
        w.ledger.append(LedgerItem("payout", po, -net, 0, currency, (f"ent_po{d}",), at(day, 20), way=way))  # fmt: skip
        bank_day = add_business_days(day, 1)
        way_in = "credit" if net > 0 else "debit"
        w.bank.append(BankLine(f"BANK{d:04d}", abs(net), way_in, currency, bank_day, f"STRIPE {po}"))  # fmt: skip
    return w


def _dispute(put, dp: Dispute, n: int, pi: str, d: int, dates: list[dt.date], cur: str) -> None:  # type: ignore[no-untyped-def]
    last = len(dates) - 1
    du = f"du_{n}"
    t = at(dates[d], 12)
    put(
        d,
        PspLine(
            f"txn_d{n}", DISPUTE, (du, pi), -dp.amount, dp.fee, -dp.amount - dp.fee, cur, None, t
        ),  # fmt: skip
        LedgerItem("dispute", du, -dp.amount, 0, cur, (f"ent_d{n}",), t),
        LedgerItem("dispute", du, 0, dp.fee, cur, (f"ent_df{n}",), t),
    )
    cd = min(d + dp.counter_later, last)
    if dp.counter_fee:
        t = at(dates[cd], 13)
        put(
            cd,
            PspLine(
                f"txn_dc{n}", DISPUTE, (du, pi), 0, dp.counter_fee, -dp.counter_fee, cur, None, t
            ),  # fmt: skip
            LedgerItem("dispute", du, 0, dp.counter_fee, cur, (f"ent_dc{n}",), t),
        )
    if dp.reinstated or dp.fee_back:
        wd = min(max(d + dp.won_later, cd), last)
        t = at(dates[wd], 14)
        items = [LedgerItem("dispute", du, dp.reinstated, 0, cur, (f"ent_dw{n}",), t)] if dp.reinstated else []  # fmt: skip
        if dp.fee_back:
            items.append(LedgerItem("dispute", du, 0, -dp.fee_back, cur, (f"ent_dfr{n}",), t))
        put(
            wd,
            PspLine(
                f"txn_dw{n}",
                DISPUTE,
                (du, pi),
                dp.reinstated,
                -dp.fee_back,
                dp.reinstated + dp.fee_back,
                cur,
                None,
                t,
            ),  # fmt: skip
            *items,
        )


def without_remittance(w: World) -> World:
    w.bank = [replace(b, text="VIREMENT PSP") for b in w.bank]
    return w
