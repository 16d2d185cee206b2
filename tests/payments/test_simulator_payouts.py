"""The simulator's balance history and payouts: charges net of their fees, refunds, one
payout per currency that carries each line once, its events applied by the worker, and
the ledger's PSP clearing account emptied into the bank."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
import time
from typing import Any

import httpx
import pytest
from lxml import etree
from sqlalchemy import select

from payments.providers.simulator import payouts
from payments.providers.simulator.commands import bank_statement_file
from payments.providers.simulator.models import SimBalanceTransaction, SimEvent, SimPayout
from payments.providers.simulator.provider import SimulatorProvider
from regie.composition import build_worker
from regie.kit.database import utcnow
from regie.migrate import upgrade
from tests.conftest import Keys, create_invoice, pay
from tests.payments.test_simulator_reports import NS, balance
from webhooks.inbound.models import InboxEvent

PSP, BANK = ("assets:psp:simulator", "EUR"), ("assets:bank:main", "EUR")


def sim(app: Any) -> SimulatorProvider:
    provider = app.state.payments.providers.get("simulator")
    assert isinstance(provider, SimulatorProvider)
    return provider


async def balances(app: Any) -> dict[tuple[str, str], int]:
    return {(b.account, b.currency): b.balance for b in await app.state.ledger.balances()}


async def paid_invoice(client: httpx.AsyncClient, app: Any, key: str, **body: Any) -> str:
    inv = await create_invoice(client, key, **body)
    await pay(client, inv, apply=app)
    doc = (await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(key))).json()
    assert doc["status"] == "paid"
    return str(inv["id"])


async def refund(client: httpx.AsyncClient, key: str, invoice_id: str, amount: int) -> None:
    r = await client.post(
        f"/v1/invoices/{invoice_id}/refunds",
        json={"amount": amount, "reason": "dossier incomplet"},
        headers=Keys.h(key, **{"Idempotency-Key": f"refund-{invoice_id}-{amount}"}),
    )
    assert r.status_code == 201 and r.json()["status"] == "succeeded", r.text


async def test_a_payout_carries_charges_net_of_fees_minus_refunds_and_posts_the_bank(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    first = await paid_invoice(client, app, keys.urbanisme, reference="A", amount=2500)
    await paid_invoice(client, app, keys.etat_civil, reference="B", amount=1234)
    await refund(client, keys.urbanisme, first, 1000)
    assert (await balances(app))[PSP] == 2500 - 63 + 1234 - 44 - 1000

    made = await sim(app).pay_out()

    assert len(made) == 1 and made[0].delivered and made[0].line_count == 3
    payout = made[0].payout
    assert (payout.amount, payout.currency) == (2437 + 1190 - 1000, "EUR")
    assert payout.id.startswith("po_sim_") and payout.remittance == f"SIMULATOR {payout.id}"
    assert await app.state.applier.process_batch() == 2  # payout.paid, payout.reconciled
    bal = await balances(app)
    assert bal[PSP] == 0  # every line paid out is out of the clearing account
    assert bal[BANK] == 2627
    async with app.state.db.session() as s:
        rows = await s.execute(select(InboxEvent.raw_type, InboxEvent.outcome))
        outcomes = {raw_type: outcome for raw_type, outcome in rows.all()}
    assert outcomes["payout.paid"] == "payout paid"
    assert outcomes["payout.reconciled"].startswith("ignored: the whole payout")

    lines = [x async for x in sim(app).list_payout_lines(payout.id)]
    assert [(x.type, x.reporting_category, x.amount, x.fee, x.net) for x in lines] == [
        ("charge", "charge", 2500, 63, 2437),
        ("charge", "charge", 1234, 44, 1190),
        ("refund", "refund", -1000, 0, -1000),
        ("payout", "payout", -2627, 0, -2627),
    ]
    assert {x.payout_id for x in lines} == {payout.id}
    assert sum(x.net for x in lines) == 0  # as Stripe lists a payout: it empties the lines
    assert lines[0].fee_details == (("stripe_fee", 63, "EUR"),) and lines[2].fee_details == ()
    assert lines[0].provider_payment_id == lines[2].provider_payment_id  # the refunded charge
    assert len({x.id for x in lines}) == 4 and all(x.id.startswith("txn_sim_") for x in lines)

    now = dt.datetime.now(dt.UTC)
    listed = [x async for x in sim(app).list_settlement_lines(now - dt.timedelta(hours=1), now)]
    assert [x.id for x in listed] == [x.id for x in lines]  # charges, refunds and payouts


async def test_a_second_payout_pays_nothing_twice(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    await paid_invoice(client, app, keys.urbanisme, reference="A", amount=2500)
    first = await sim(app).pay_out()
    assert [m.payout.amount for m in first] == [2437]
    assert await sim(app).pay_out() == []  # nothing new: nothing paid, no event
    await paid_invoice(client, app, keys.urbanisme, reference="B", amount=1000)
    second = await sim(app).pay_out()
    assert [(m.payout.amount, m.line_count) for m in second] == [(1000 - 40, 1)]
    await app.state.applier.process_batch()
    bal = await balances(app)
    assert (bal[PSP], bal[BANK]) == (0, 2437 + 960)
    async with app.state.db.session() as s:
        carried = (await s.execute(select(SimBalanceTransaction))).scalars().all()
    assert {x.payout_id for x in carried if x.type == "charge"} == {
        first[0].payout.id,
        second[0].payout.id,
    }


async def test_one_payout_per_currency_and_a_negative_balance_is_a_negative_payout(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    """As Stripe does: a balance the refunds left negative is paid out all the same, a
    negative payout (the PSP takes the difference from the bank account)."""
    eur = await paid_invoice(client, app, keys.urbanisme, reference="E", amount=2500)
    await paid_invoice(client, app, keys.urbanisme, reference="J", amount=500, currency="JPY")
    await refund(client, keys.urbanisme, eur, 2500)  # the fee is not given back: -63 EUR
    made = await sim(app).pay_out()
    assert [(m.payout.currency, m.payout.amount, m.line_count) for m in made] == [
        ("EUR", -63, 2),
        ("JPY", 500 - 8, 1),
    ]
    await app.state.applier.process_batch()
    bal = await balances(app)
    assert (bal[PSP], bal[BANK]) == (0, -63)  # out of the bank, into the PSP's balance
    async with app.state.db.session() as s:
        own = (
            (
                await s.execute(
                    select(SimBalanceTransaction).where(SimBalanceTransaction.type == "payout")
                )
            )
            .scalars()
            .all()
        )
    assert sorted((x.currency, x.reporting_category, x.amount, x.net) for x in own) == [
        ("EUR", "payout", 63, 63),  # the bank's money coming into the balance
        ("JPY", "payout", -492, -492),
    ]
    assert await sim(app).pay_out() == []  # both balances are back to zero


async def test_the_daily_payout_pays_what_the_balance_held_at_the_start_of_the_bank_day(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    await paid_invoice(client, app, keys.urbanisme, reference="A", amount=2500)
    now = dt.datetime.now(dt.UTC)
    start = payouts.start_of_bank_day(now)
    assert start <= now < start + dt.timedelta(hours=25)
    assert await sim(app).pay_out_daily() == []  # today's payment waits for tomorrow
    tomorrow = start + dt.timedelta(days=1, hours=1)
    made = await sim(app).pay_out(tomorrow, created_before=payouts.start_of_bank_day(tomorrow))
    assert [m.payout.amount for m in made] == [2437]


def test_start_of_bank_day_is_midnight_in_paris() -> None:
    winter = dt.datetime(2026, 1, 15, 23, 30, tzinfo=dt.UTC)  # 00:30 on the 16th in Paris
    assert payouts.start_of_bank_day(winter) == dt.datetime(2026, 1, 15, 23, 0, tzinfo=dt.UTC)
    summer = dt.datetime(2026, 7, 15, 12, 0, tzinfo=dt.UTC)
    assert payouts.start_of_bank_day(summer) == dt.datetime(2026, 7, 14, 22, 0, tzinfo=dt.UTC)


async def test_the_worker_pays_out_daily_unless_payouts_are_manual(
    settings_factory: Any, app: Any
) -> None:
    jobs = {job.name: job for job in build_worker(app.state.settings, app.state.services).jobs}
    assert jobs["simulator-payout"].run == sim(app).pay_out_daily
    manual = SimulatorProvider(
        app.state.db, base_url="http://x", secret="s", delivery_client=None, daily_payouts=False
    )
    assert manual.jobs() == []
    assert settings_factory(simulator_payouts="manual").simulator_payouts == "manual"


async def test_payout_events_left_undelivered_are_sent_again(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    await paid_invoice(client, app, keys.urbanisme, reference="A", amount=2500)
    provider = sim(app)
    monkeypatch.setattr(provider, "delivery_client", None)  # regie is unreachable
    made = await provider.pay_out()
    assert not made[0].delivered
    assert (await balances(app)).get(BANK, 0) == 0
    monkeypatch.undo()
    assert await provider.redeliver_pending() == 2
    await app.state.applier.process_batch()
    assert (await balances(app))[BANK] == 2437
    async with app.state.db.session() as s:
        sent = (await s.execute(select(SimEvent.type, SimEvent.delivered_at))).all()
    assert all(at is not None for _, at in sent)


def test_the_migration_writes_the_history_of_payments_and_refunds_already_held(
    tmp_path: Any,
) -> None:
    """0010: a simulator database from before keeps its payments and refunds, now in the
    balance history, not paid out yet."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'before.db'}"
    upgrade(url, "0009")
    with sqlite3.connect(tmp_path / "before.db") as conn:
        conn.executescript(OLD_ROWS)
    upgrade(url)
    with sqlite3.connect(tmp_path / "before.db") as conn:
        rows = conn.execute(
            "SELECT id, type, source_id, payment_id, amount, fee, net, currency, description,"
            " created_at = available_on, payout_id FROM sim_balance_transactions ORDER BY id"
        ).fetchall()
    assert rows == [
        ("txn_sim_01J0000000000000000000000A", "charge", "pi_sim_01J0000000000000000000000A",
         "pi_sim_01J0000000000000000000000A", 2500, 63, 2437, "EUR", "Permis", 1, None),
        ("txn_sim_01J0000000000000000000000C", "refund", "re_sim_01J0000000000000000000000C",
         "pi_sim_01J0000000000000000000000A", -1000, 0, -1000, "EUR",
         "REFUND FOR CHARGE (Permis)", 1, None),
    ]  # fmt: skip


OLD_ROWS = """
INSERT INTO sim_checkouts VALUES ('cs_sim_1', 'pay_1', 'inv_1', 'Mairie', 'Permis', 2500,
  'EUR', 'fr', 'http://s', 'http://c', 'complete', NULL, NULL,
  'pi_sim_01J0000000000000000000000A', '2026-10-14 09:00:00', '2026-10-14 08:00:00');
INSERT INTO sim_payments (id, checkout_id, status, amount, amount_refunded, currency, brand,
  last4, fee, created_at) VALUES
  ('pi_sim_01J0000000000000000000000A', 'cs_sim_1', 'succeeded', 2500, 1000, 'EUR', 'visa',
   '4242', 63, '2026-10-14 08:05:00'),
  ('pi_sim_01J0000000000000000000000B', 'cs_sim_1', 'failed', 2500, 0, 'EUR', 'visa',
   '0002', 0, '2026-10-14 08:04:00');
INSERT INTO sim_refunds (id, sim_payment_id, idempotency_key, amount, currency, created_at)
  VALUES ('re_sim_01J0000000000000000000000C', 'pi_sim_01J0000000000000000000000A', 'k1',
  1000, 'EUR', '2026-10-14 10:00:00');
"""


@pytest.mark.postgres
async def test_two_payouts_at_once_carry_each_line_once(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    """The daily job of several workers and the CLI may pay out at the same moment: the
    lines are locked, so the balance leaves once."""
    await paid_invoice(client, app, keys.urbanisme, reference="A", amount=2500)
    await paid_invoice(client, app, keys.urbanisme, reference="B", amount=1000)
    made = await asyncio.gather(*(payouts.pay_out(app.state.db, utcnow()) for _ in range(4)))
    assert sorted(m.payout.amount for batch in made for m in batch) == [2437 + 960]


async def test_the_bank_statement_opens_with_every_payout_booked_before_it(
    app: Any, settings: Any
) -> None:
    """The opening balance of a statement: the payouts booked before its first day, both
    those long before and those of the last days (read with the period, for weekends)."""
    async with app.state.db.session() as s:
        for n, (day, amount) in enumerate(
            [
                (dt.date(2026, 11, 2), 1000),
                (dt.date(2026, 11, 17), 200),
                (dt.date(2026, 11, 18), 30),
            ]
        ):
            s.add(
                SimPayout(
                    id=f"po_sim_{n}", amount=amount, currency="EUR", status="paid",
                    created_at=utcnow(), arrival_date=day, statement_descriptor="REGIE",
                    bank_reference=f"BANKREF{n}",
                )
            )  # fmt: skip
        await s.commit()
    first = dt.date(2026, 11, 18)  # a Wednesday: the Tuesday's payout is the day before
    now = dt.datetime(2026, 11, 18, 20, tzinfo=dt.UTC)
    report = await bank_statement_file(settings, first, first, now=now)
    (stmt,) = etree.fromstring(report.content).findall(".//c:Stmt", NS)
    assert (balance(stmt, "OPBD"), balance(stmt, "CLBD")) == (1200, 1230)


async def test_the_bank_statement_counts_days_by_the_banks_clock_after_its_midnight(
    app: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Just after midnight in Paris (still the day before in UTC), the bank has begun the
    new day: the summary the operator reads (statements written, payouts credited, payouts
    left for later) says what the file holds, whatever the machine's zone."""
    async with app.state.db.session() as s:
        for n, day in enumerate([dt.date(2026, 11, 16), dt.date(2026, 11, 18)]):
            s.add(
                SimPayout(
                    id=f"po_sim_{n}", amount=100 * (n + 1), currency="EUR", status="paid",
                    created_at=utcnow(), arrival_date=day, statement_descriptor="REGIE",
                    bank_reference=f"BANKREF{n}",
                )
            )  # fmt: skip
        await s.commit()
    monday, friday = dt.date(2026, 11, 16), dt.date(2026, 11, 20)
    # Wednesday 18 at 00:30 in Paris; Tuesday 17 at 23:30 in UTC
    now = dt.datetime(2026, 11, 17, 23, 30, tzinfo=dt.UTC)
    monkeypatch.setenv("TZ", "UTC")  # a machine whose zone is not the bank's
    time.tzset()
    try:
        report = await bank_statement_file(settings, monday, friday, now=now)
    finally:
        monkeypatch.undo()
        time.tzset()
    root = etree.fromstring(report.content)
    statements = root.findall(".//c:Stmt", NS)
    assert [s.findtext("c:FrToDt/c:ToDtTm", namespaces=NS)[:10] for s in statements] == [
        "2026-11-16",
        "2026-11-17",
        "2026-11-18",
    ]
    assert report.statements == len(statements) == 3
    assert report.payouts == len(root.findall(".//c:Ntry", NS)) == 2  # Wednesday's too
    assert report.not_yet_booked == 0
