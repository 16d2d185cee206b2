"""The ledger against a real database: postings of the payment flow, invariants, the chain."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from ledger.models import JournalEntry, JournalLine
from ledger.posting import Posting
from ledger.service import post
from tests.conftest import (
    Keys,
    _truncate,
    create_invoice,
    pay,
    pay_twice,
    two_checkouts_at_once,
)

REGIE = str(Path(sys.executable).parent / "regie")


async def balances(app) -> dict[tuple[str, str], int]:
    return {(b.account, b.currency): b.balance for b in await app.state.ledger.balances()}


async def entry_kinds(app, invoice_id: str) -> list[str]:
    async with app.state.db.session() as s:
        rows = await s.execute(
            select(JournalEntry.kind)
            .where(JournalEntry.invoice_id == invoice_id)
            .order_by(JournalEntry.seq)
        )
        return list(rows.scalars())


def assert_zero_sum(bal: dict[tuple[str, str], int]) -> None:
    per_currency: dict[str, int] = defaultdict(int)
    for (_, currency), amount in bal.items():
        per_currency[currency] += amount
    assert all(v == 0 for v in per_currency.values()), per_currency


async def test_the_payment_flow_posts_balanced_entries_exactly_once(
    client, app, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    bal = await balances(app)
    assert bal[("receivable:urbanisme", "EUR")] == 2500
    assert bal[("income:urbanisme", "EUR")] == -2500
    await pay(client, inv, apply=app)
    # a redelivery of the same event and a second worker pass post nothing more
    async with app.state.db.session() as s:
        from payments.providers.simulator.models import SimEvent

        for ev in (await s.execute(select(SimEvent))).scalars():
            ev.delivered_at = None
        await s.commit()
    assert await app.state.payments.provider.redeliver_pending() == 1
    await app.state.applier.process_batch()
    bal = await balances(app)
    assert bal[("receivable:urbanisme", "EUR")] == 0  # a paid invoice's receivable is settled
    assert bal[("assets:psp:simulator", "EUR")] == 2500 - 63
    assert bal[("expenses:psp_fees", "EUR")] == 63
    assert_zero_sum(bal)
    assert await entry_kinds(app, inv["id"]) == ["invoice_issued", "payment_succeeded", "psp_fee"]


async def test_cancel_posts_a_reversal_that_points_at_the_original(client, app, keys: Keys) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    r = await client.post(f"/v1/invoices/{inv['id']}/cancel", headers=Keys.h(keys.urbanisme))
    assert r.status_code == 200
    async with app.state.db.session() as s:
        entries = (
            (
                await s.execute(
                    select(JournalEntry)
                    .where(JournalEntry.invoice_id == inv["id"])
                    .order_by(JournalEntry.seq)
                )
            )
            .scalars()
            .all()
        )
    assert [e.kind for e in entries] == ["invoice_issued", "invoice_canceled"]
    assert entries[1].reverses_id == entries[0].id
    bal = await balances(app)
    assert bal[("receivable:urbanisme", "EUR")] == 0
    assert bal[("income:urbanisme", "EUR")] == 0


async def test_an_overpayment_goes_to_its_liability_account(client, app, keys: Keys) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    await pay_twice(client, app, inv)
    bal = await balances(app)
    assert bal[("liabilities:overpayments", "EUR")] == -2500
    assert bal[("receivable:urbanisme", "EUR")] == 0
    assert_zero_sum(bal)


async def test_a_source_key_posts_once(app) -> None:
    async with app.state.db.session() as s:
        first = await post(
            s,
            source_key="k1",
            kind="test",
            postings=[Posting("a", "EUR", debit=5), Posting("b", "EUR", credit=5)],
        )
        again = await post(
            s,
            source_key="k1",
            kind="test",
            postings=[Posting("a", "EUR", debit=5), Posting("b", "EUR", credit=5)],
        )
        await s.commit()
    assert first is not None and again is None
    assert (await balances(app))[("a", "EUR")] == 5


@pytest.mark.postgres
@pytest.mark.parametrize("first_commits", [True, False])
async def test_a_source_key_posted_by_two_transactions_at_once_posts_once(
    app, first_commits: bool
) -> None:
    """The second transaction waits on the unique index for the first: if that one commits,
    the second posts nothing (no entry, no line); if it rolls back, the second posts."""
    lines = [Posting("a", "EUR", debit=7), Posting("b", "EUR", credit=7)]
    db = app.state.db
    async with db.session() as one, db.session() as two:
        first = await post(one, source_key="race", kind="test", postings=lines)
        second_task = asyncio.create_task(post(two, source_key="race", kind="test", postings=lines))
        await asyncio.sleep(0.3)
        assert not second_task.done()  # waiting for the first transaction's outcome
        await (one.commit() if first_commits else one.rollback())
        second = await asyncio.wait_for(second_task, 10)
        await two.commit()
    assert first is not None
    assert (second is None) == first_commits
    async with db.session() as s:
        entries = (
            (await s.execute(select(JournalEntry).where(JournalEntry.source_key == "race")))
            .scalars()
            .all()
        )
        assert [e.id for e in entries] == [first if first_commits else second]
        count = (
            (await s.execute(select(JournalLine).where(JournalLine.entry_id == entries[0].id)))
            .scalars()
            .all()
        )
        assert len(count) == 2
    assert (await balances(app))[("a", "EUR")] == 7


async def test_seal_then_verify_and_tamper_detection(client, app, keys: Keys, settings) -> None:
    for i in range(3):
        inv = await create_invoice(client, keys.urbanisme, reference=f"T-{i}")
    await pay(client, inv, apply=app)
    ledger = app.state.ledger
    assert (await ledger.verify()).unsealed == 5
    assert await ledger.seal() == 5
    assert await ledger.seal() == 0
    ok = await ledger.verify()
    assert (ok.ok, ok.sealed, ok.unsealed) == (True, 5, 0)
    # the CLI says the same
    env = {**os.environ, "REGIE_DATABASE_URL": settings.database_url}
    result = await asyncio.to_thread(
        subprocess.run,
        [REGIE, "ledger", "verify"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "5 sealed entries verified" in result.stdout
    # an attacker with database rights changes one line's amount
    async with app.state.db.session() as s:
        target = (
            await s.execute(select(JournalLine).where(JournalLine.account == "expenses:psp_fees"))
        ).scalar_one()
        if app.state.db.is_postgres:
            await s.execute(
                text("ALTER TABLE ledger_lines DISABLE TRIGGER ledger_lines_append_only")
            )
        await s.execute(text("UPDATE ledger_lines SET debit = 1 WHERE id = :id"), {"id": target.id})
        if app.state.db.is_postgres:
            await s.execute(
                text("ALTER TABLE ledger_lines ENABLE TRIGGER ledger_lines_append_only")
            )
        await s.commit()
    bad = await ledger.verify()
    assert not bad.ok
    assert bad.first_bad_entry == target.entry_id
    result = await asyncio.to_thread(
        subprocess.run,
        [REGIE, "ledger", "verify"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert target.entry_id in result.stderr


@pytest.mark.postgres
async def test_postgres_refuses_updates_deletes_and_unbalanced_entries(
    client, app, keys: Keys
) -> None:
    await create_invoice(client, keys.urbanisme)
    for statement in (
        "UPDATE ledger_lines SET debit = debit + 1 WHERE debit > 0",
        "DELETE FROM ledger_entries",
        "DELETE FROM ledger_lines",
        # TRUNCATE fires no row trigger: the seals emptied, the worker would seal every
        # entry again, rewritten ones included
        "TRUNCATE ledger_seals",
        "TRUNCATE ledger_lines",
        "TRUNCATE ledger_entries CASCADE",
        # the payments' PSP postings the reconciliation reads (append-only like the rest),
        # and the entries awaiting their seal (the sealer's only source: emptied, they would
        # never be sealed)
        "TRUNCATE ledger_psp_postings",
        "TRUNCATE ledger_unsealed",
    ):
        async with app.state.db.session() as s:
            with pytest.raises(DBAPIError, match="append-only"):
                await s.execute(text(statement))
            await s.rollback()
    # an unbalanced entry written behind the code's back fails at commit
    async with app.state.db.session() as s:
        s.add(
            JournalEntry(
                id="je_bad",
                source_key="bad",
                kind="test",
                effective_at=__import__("regie.kit.database", fromlist=["utcnow"]).utcnow(),
                created_at=__import__("regie.kit.database", fromlist=["utcnow"]).utcnow(),
            )
        )
        await s.flush()
        s.add_all(
            [
                JournalLine(entry_id="je_bad", position=0, account="a", currency="EUR", debit=10),
                JournalLine(entry_id="je_bad", position=1, account="b", currency="EUR", credit=9),
            ]
        )
        await s.flush()
        with pytest.raises((IntegrityError, DBAPIError), match="does not balance"):
            await s.commit()


@pytest.mark.timeout(600)
@hsettings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    ops=st.lists(
        st.tuples(
            st.sampled_from(["pay", "decline", "cancel", "twice", "redeliver", "expire", "refund"]),
            st.integers(1, 5000),
            st.sampled_from(["EUR", "XPF"]),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_random_event_sequences_keep_every_invariant(settings_factory, ops) -> None:
    """Random invoice/payment/cancel/expiry/duplicate sequences: every entry balances, every
    currency sums to zero, every paid invoice's receivable is back to zero."""
    asyncio.run(_scenario(settings_factory(), ops))


async def _scenario(settings, ops) -> None:
    import datetime as dt
    import uuid

    import httpx
    from sqlalchemy import update

    from payments.models import Invoice
    from regie.app import create_app
    from regie.kit.tenancy import Role, create_key, create_service

    await _truncate(settings.database_url)  # every example starts from an empty ledger
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with app.state.db.session() as s:
            slug = f"p{uuid.uuid4().hex[:12]}"
            svc = await create_service(s, slug)
            _, key = await create_key(s, svc, Role.service, live=False)
            await s.commit()
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client:
            paid: list[str] = []
            for i, (op, amount, currency) in enumerate(ops):
                inv = await create_invoice(
                    client, key, amount=amount, currency=currency, reference=f"H-{i}"
                )
                if op == "pay":
                    await pay(client, inv, apply=app)
                    paid.append(inv["id"])
                elif op == "decline":
                    await pay(client, inv, "4000 0000 0000 0002", apply=app)
                elif op == "cancel":
                    await client.post(f"/v1/invoices/{inv['id']}/cancel", headers=Keys.h(key))
                elif op == "twice":  # two tabs press Pay at once, both pay
                    p1, p2 = await two_checkouts_at_once(client, app, inv)
                    for path in (p1, p2):
                        await client.post(
                            path,
                            data={
                                "card_number": "4242424242424242",
                                "expiry": "12/39",
                                "cvc": "123",
                            },
                        )
                    await app.state.applier.process_batch()
                    paid.append(inv["id"])
                elif op == "redeliver":
                    await pay(client, inv, apply=app)
                    await app.state.payments.provider.redeliver_pending()
                    async with app.state.db.session() as s:
                        from payments.providers.simulator.models import SimEvent

                        for ev in (await s.execute(select(SimEvent))).scalars():
                            ev.delivered_at = None
                        await s.commit()
                    await app.state.payments.provider.redeliver_pending()
                    await app.state.applier.process_batch()
                    paid.append(inv["id"])
                elif op == "refund":  # pay, then refund a part, then the rest (or try too much)
                    await pay(client, inv, apply=app)
                    part = max(amount // 3, 1)
                    for ask in (part, amount):  # the second asks too much: 409, nothing posted
                        await client.post(
                            f"/v1/invoices/{inv['id']}/refunds",
                            json={"amount": ask},
                            headers=Keys.h(key),
                        )
                    await client.post(
                        f"/v1/invoices/{inv['id']}/refunds", json={}, headers=Keys.h(key)
                    )
                elif op == "expire":
                    async with app.state.db.session() as s:
                        await s.execute(
                            update(Invoice)
                            .where(Invoice.id == inv["id"])
                            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
                        )
                        await s.commit()
                    await app.state.payments.expire_due()
            async with app.state.db.session() as s:
                lines = (await s.execute(select(JournalLine))).scalars().all()
                by_entry: dict[str, list[JournalLine]] = defaultdict(list)
                for line in lines:
                    by_entry[line.entry_id].append(line)
                for entry_lines in by_entry.values():
                    totals: dict[str, int] = defaultdict(int)
                    for line in entry_lines:
                        totals[line.currency] += line.debit - line.credit
                    assert all(v == 0 for v in totals.values())
            bal = {(b.account, b.currency): b.balance for b in await app.state.ledger.balances()}
            assert_zero_sum(bal)
            receivable = {c: v for (a, c), v in bal.items() if a == f"receivable:{slug}"}
            async with app.state.db.session() as s:
                open_totals: dict[str, int] = defaultdict(int)
                for inv_row in (
                    await s.execute(select(Invoice).where(Invoice.service_id == svc.id))
                ).scalars():
                    if inv_row.status == "open":
                        open_totals[inv_row.currency] += inv_row.amount_total
                    if inv_row.id in paid:
                        assert inv_row.status == "paid"
                    if inv_row.status == "refunded":
                        assert inv_row.amount_refunded == inv_row.amount_paid
            income = {c: v for (a, c), v in bal.items() if a == f"income:{slug}"}
            async with app.state.db.session() as s:
                kept: dict[str, int] = defaultdict(int)  # open + paid-and-not-refunded
                for inv_row in (
                    await s.execute(select(Invoice).where(Invoice.service_id == svc.id))
                ).scalars():
                    if inv_row.status in ("open", "paid", "partially_refunded"):
                        kept[inv_row.currency] += inv_row.amount_total - inv_row.amount_refunded
            # income is what was billed, minus what was canceled, expired or refunded
            assert {c: -v for c, v in income.items() if v} == {c: v for c, v in kept.items() if v}
            # what is still receivable is exactly the open invoices: paid, canceled and expired are at zero
            assert {c: v for c, v in receivable.items() if v} == {
                c: v for c, v in open_totals.items() if v
            }


@pytest.mark.postgres
@pytest.mark.parametrize(
    "lines, error",
    [
        ([("a", "EUR", 10, 0)], "has 1 line"),
        ([("a", "EUR", 10, 0), ("b", "EUR", 0, 10), ("c", "XPF", 5, 0), ("d", "XPF", 0, 4)],
         "does not balance in XPF"),
        ([("a", "EUR", 10, 0), ("b", "EUR", 0, 10), ("c", "XPF", 5, 0), ("d", "XPF", 0, 5)], None),
    ],
)  # fmt: skip
async def test_the_commit_time_check_counts_lines_and_balances_each_currency(
    app, lines: list[tuple[str, str, int, int]], error: str | None
) -> None:
    """The deferred check (one query per firing since migration 0019) still refuses an
    entry of one line and one unbalanced in any of its currencies, and lets a balanced
    entry in two currencies through."""
    from regie.kit.database import utcnow

    async with app.state.db.session() as s:
        s.add(JournalEntry(id="je_x", source_key="x", kind="test", effective_at=utcnow(),
                           created_at=utcnow()))  # fmt: skip
        await s.flush()
        s.add_all(
            JournalLine(entry_id="je_x", position=i, account=a, currency=c, debit=d, credit=k)
            for i, (a, c, d, k) in enumerate(lines)
        )
        await s.flush()
        if error is None:
            await s.commit()
        else:
            with pytest.raises((IntegrityError, DBAPIError), match=error):
                await s.commit()
