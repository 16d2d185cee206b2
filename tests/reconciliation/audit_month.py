"""A realistic October on the simulator, for the tests that hold regie's views of the same
money against each other: payments (each with the PSP's fee), a partial and a full refund,
a dispute lost and one won, daily payouts (one of them negative), and a payment at 23:30
UTC on 31 October, which is 1 November in Paris."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select
from sqlmodel import col

from payments.models import Payment
from payments.providers.base import EVENT_DISPUTE_CLOSED, EVENT_DISPUTE_OPENED, ProviderDispute
from tests.conftest import Keys
from tests.payments.test_simulator_payouts import paid_invoice, refund, sim
from tests.reconciliation.months import UTC, deliver, psp_line
from tests.test_year_boundaries import Clock

# 31 October 2026 is a Saturday in winter time: 23:30 UTC is 00:30 on 1 November in Paris
LATE = dt.datetime(2026, 10, 31, 23, 30, tzinfo=UTC)


@dataclass
class Month:
    invoices: dict[str, str]  # label -> inv_… id
    keys: dict[str, str]  # label -> the service key that made it


async def _psp_id(app: Any, invoice_id: str) -> str:
    async with app.state.db.session() as s:
        (p,) = (
            await s.execute(select(Payment).where(col(Payment.invoice_id) == invoice_id))
        ).scalars()
    return str(p.provider_payment_id)


async def _dispute(
    app: Any, dp: str, ppid: str, at: dt.datetime, amount: int, fee: int, **truth: Any
) -> None:
    """A chargeback of ``amount`` with a ``fee``: the PSP's line and the event."""
    await psp_line(
        app, type_="dispute", category="dispute", source_id=dp, payment_id=ppid,
        amount=-amount, fee=fee, at=at,
    )  # fmt: skip
    sim(app).set_dispute(ProviderDispute(
        dp, ppid, amount, "EUR", "needs_response", withdrawn=amount, fee=fee, **truth,
    ))  # fmt: skip
    await deliver(app, EVENT_DISPUTE_OPENED, at, dispute_id=dp, provider_payment_id=ppid,
                  amount=amount, currency="EUR")  # fmt: skip


async def _close(app: Any, dp: str, ppid: str, at: dt.datetime, amount: int, fee: int, won: bool) -> None:  # fmt: skip
    if won:
        await psp_line(
            app, type_="dispute", category="dispute_reversal", source_id=dp, payment_id=ppid,
            amount=amount, fee=-fee, at=at,
        )  # fmt: skip
    sim(app).set_dispute(ProviderDispute(
        dp, ppid, amount, "EUR", "won" if won else "lost", withdrawn=amount,
        reinstated=amount if won else 0, closed=True, won=won, fee=fee, fee_returned=fee if won else 0,
    ))  # fmt: skip
    await deliver(app, EVENT_DISPUTE_CLOSED, at, dispute_id=dp, provider_payment_id=ppid,
                  amount=amount, currency="EUR", status="won" if won else "lost")  # fmt: skip


async def pay_out(app: Any) -> list[int]:
    made = await sim(app).pay_out()
    await app.state.applier.process_batch()
    return [m.payout.amount for m in made]


async def october(app: Any, client: httpx.AsyncClient, keys: Keys, clock: Clock) -> Month:
    urb, ec = keys.urbanisme, keys.etat_civil
    inv: dict[str, str] = {}
    owner: dict[str, str] = {}

    async def paid(label: str, key: str, amount: int) -> str:
        inv[label] = await paid_invoice(client, app, key, reference=label, amount=amount)
        owner[label] = key
        return inv[label]

    clock.set(dt.datetime(2026, 10, 5, 9, tzinfo=UTC))  # Monday
    await paid("A", urb, 10000)  # refunded in part
    await paid("B", ec, 2500)  # refunded in full
    await paid("C", urb, 5000)  # disputed, lost
    await paid("D", urb, 4000)  # disputed, won
    await paid("F", ec, 1234)  # left alone
    assert await pay_out(app) == [10000 - 175 + 2500 - 63 + 5000 - 100 + 4000 - 85 + 1234 - 44]

    clock.set(dt.datetime(2026, 10, 6, 9, tzinfo=UTC))  # the refunds beyond the day's charges
    await refund(client, urb, inv["A"], 3000)
    await refund(client, ec, inv["B"], 2500)
    assert await pay_out(app) == [-5500]  # a negative payout: the PSP takes it from the bank

    at = dt.datetime(2026, 10, 7, 10, tzinfo=UTC)
    clock.set(at)
    await paid("G", ec, 20000)
    c, d = await _psp_id(app, inv["C"]), await _psp_id(app, inv["D"])
    await _dispute(app, "dp_audit_c", c, at, 5000, 1500)
    await _dispute(app, "dp_audit_d", d, at, 4000, 1500)
    clock.set(dt.datetime(2026, 10, 7, 12, tzinfo=UTC))
    assert await pay_out(app) == [20000 - 325 - 5000 - 1500 - 4000 - 1500]

    at = dt.datetime(2026, 10, 20, 10, tzinfo=UTC)
    clock.set(at)
    await _close(app, "dp_audit_c", c, at, 5000, 1500, won=False)
    await _close(app, "dp_audit_d", d, at, 4000, 1500, won=True)
    clock.set(dt.datetime(2026, 10, 20, 12, tzinfo=UTC))
    assert await pay_out(app) == [4000 + 1500]  # the won dispute's funds and fee back

    clock.set(LATE)  # paid at 00:30 in Paris on 1 November, not paid out in October
    await paid("L", urb, 3000)
    clock.set(LATE + dt.timedelta(minutes=10))  # paid out at once: at the bank on Monday
    assert await pay_out(app) == [3000 - 70]

    clock.set(dt.datetime(2026, 11, 20, 12, tzinfo=UTC))
    return Month(inv, owner)
