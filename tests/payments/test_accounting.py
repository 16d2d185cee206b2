"""The posting table of docs/architecture.md, entry by entry (``payments.accounting``).

Each function of ``payments.accounting`` is run against the real ledger service on a bare
in-memory SQLite holding only the ledger's two tables (no app, no migrations): the test
reads back the entry under its source key and checks its kind, its lines (account,
currency, debit, credit), its date, its service, invoice and description (what the
exports print and the seal covers), and that a second posting of the same fact is refused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlmodel import SQLModel, col

from ledger import repository as ledger_repo
from ledger.models import JournalEntry, JournalLine
from payments import accounting, accounting_fees
from payments.models import Invoice, Payment, Refund
from payments.providers.base import EVENT_PAYOUT_FAILED, EVENT_PAYOUT_PAID, EVENT_PAYOUT_RECONCILED
from regie.kit.bulk import write_together
from regie.kit.database import row_of

CREATED = dt.datetime(2026, 2, 1, 9, 0, tzinfo=dt.UTC)
AT = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
LATER = AT + dt.timedelta(days=3)
SLUG = "urbanisme"
PSP = "assets:psp:stripe"
BANK = "assets:bank:main"

Line = tuple[str, str, int, int]


@pytest.fixture
async def s() -> AsyncIterator[AsyncSession]:
    engine = create_async_engine("sqlite+aiosqlite://")
    async with engine.begin() as conn:
        tables = [SQLModel.metadata.tables[m.__tablename__] for m in (JournalEntry, JournalLine)]
        await conn.run_sync(SQLModel.metadata.create_all, tables=tables)
    async with AsyncSession(engine, expire_on_commit=False) as session:
        yield session
    await engine.dispose()


def invoice() -> Invoice:
    return Invoice(
        id="inv_1",
        service_id="svc_1",
        number="F-2026-000042",
        reference="PC-7",
        description="permis",
        currency="EUR",
        amount_total=12_500,
        status="open",
        payer_name="Zoé",
        pay_token="tok",
        expires_at=LATER,
        created_at=CREATED,
        updated_at=CREATED,
    )


def payment(**changes: Any) -> Payment:
    values: dict[str, Any] = dict(
        id="pay_1",
        invoice_id="inv_1",
        service_id="svc_1",
        provider="stripe",
        status="succeeded",
        amount=12_500,
        currency="EUR",
        created_at=AT,
        updated_at=AT,
    )
    return Payment(**(values | changes))


def refund(**changes: Any) -> Refund:
    values: dict[str, Any] = dict(
        id="ref_1",
        invoice_id="inv_1",
        payment_id="pay_1",
        service_id="svc_1",
        provider="stripe",
        amount=2_500,
        currency="EUR",
        status="succeeded",
        origin="api",
        created_at=AT,
        updated_at=AT,
    )
    return Refund(**(values | changes))


async def entry(s: AsyncSession, source_key: str) -> tuple[JournalEntry, list[Line]]:
    found = await ledger_repo.entry_by_source(s, source_key)
    assert found is not None, f"nothing posted under {source_key}"
    lines = (await ledger_repo.lines_of(s, [found.id]))[found.id]
    return found, [(x.account, x.currency, x.debit, x.credit) for x in lines]


async def keys(s: AsyncSession) -> set[str]:
    return set((await s.execute(select(col(JournalEntry.source_key)))).scalars())


def labels(e: JournalEntry) -> tuple[str, str | None, str | None, str]:
    return e.kind, e.service_id, e.invoice_id, e.description


# ------------------------------------------------------------------ invoices
@pytest.mark.parametrize("how", ["canceled", "expired"])
async def test_an_issued_invoice_is_owed_to_the_service_until_it_is_closed(
    s: AsyncSession, how: str
) -> None:
    await write_together(s, accounting.invoice_issued_writes(row_of(invoice()), SLUG))
    issued, lines = await entry(s, "invoice:inv_1:issued")
    assert labels(issued) == ("invoice_issued", "svc_1", "inv_1", "F-2026-000042 PC-7")
    assert lines == [
        ("receivable:urbanisme", "EUR", 12_500, 0),
        ("income:urbanisme", "EUR", 0, 12_500),
    ]
    assert issued.effective_at == CREATED
    assert issued.reverses_id is None

    await accounting.invoice_closed(s, invoice(), how, AT)
    closed, lines = await entry(s, f"invoice:inv_1:{how}")
    assert closed.kind == f"invoice_{how}"
    assert closed.reverses_id == issued.id
    assert (closed.service_id, closed.invoice_id) == ("svc_1", "inv_1")
    assert lines == [
        ("receivable:urbanisme", "EUR", 0, 12_500),
        ("income:urbanisme", "EUR", 12_500, 0),
    ]
    assert closed.effective_at == AT


# ------------------------------------------------------------------ payments
async def test_a_payment_settles_what_the_citizen_owes_and_its_fee_is_an_expense(
    s: AsyncSession,
) -> None:
    await accounting.payment_succeeded(s, invoice(), payment(fee=190), SLUG, AT)
    paid, lines = await entry(s, "payment:pay_1:succeeded")
    assert labels(paid) == ("payment_succeeded", "svc_1", "inv_1", "payment pay_1 of F-2026-000042")
    assert lines == [(PSP, "EUR", 12_500, 0), ("receivable:urbanisme", "EUR", 0, 12_500)]
    assert paid.effective_at == AT
    fee, lines = await entry(s, "payment:pay_1:fee")
    assert labels(fee) == ("psp_fee", "svc_1", "inv_1", "PSP fee on pay_1")
    assert lines == [("expenses:psp_fees", "EUR", 190, 0), (PSP, "EUR", 0, 190)]
    assert fee.effective_at == AT
    assert await keys(s) == {"payment:pay_1:succeeded", "payment:pay_1:fee"}


async def test_a_fee_is_booked_in_the_currency_the_psp_took_it_in(s: AsyncSession) -> None:
    p = payment(amount=15_000, currency="XPF", fee=190, fee_currency="EUR")
    await accounting.payment_succeeded(s, invoice(), p, SLUG, AT)
    _, lines = await entry(s, "payment:pay_1:succeeded")
    assert lines == [(PSP, "XPF", 15_000, 0), ("receivable:urbanisme", "XPF", 0, 15_000)]
    _, lines = await entry(s, "payment:pay_1:fee")
    assert lines == [("expenses:psp_fees", "EUR", 190, 0), (PSP, "EUR", 0, 190)]


@pytest.mark.parametrize("fee", [None, 0])
async def test_no_fee_no_fee_entry(s: AsyncSession, fee: int | None) -> None:
    await accounting.payment_succeeded(s, invoice(), payment(fee=fee), SLUG, AT)
    assert await keys(s) == {"payment:pay_1:succeeded"}


async def test_an_overpayment_is_owed_back_to_the_payer_not_to_the_service(
    s: AsyncSession,
) -> None:
    p = payment(id="pay_2", is_overpayment=True, fee=190)
    await accounting.payment_succeeded(s, invoice(), p, SLUG, AT)
    over, lines = await entry(s, "payment:pay_2:overpayment")
    assert labels(over) == ("overpayment", "svc_1", "inv_1", "overpayment pay_2 on F-2026-000042")
    assert lines == [(PSP, "EUR", 12_500, 0), ("liabilities:overpayments", "EUR", 0, 12_500)]
    assert over.effective_at == AT
    assert await keys(s) == {"payment:pay_2:overpayment", "payment:pay_2:fee"}


# ------------------------------------------------------------------ disputes
async def test_dispute_funds_go_out_and_come_back_once_each(s: AsyncSession) -> None:
    inv, p = invoice(), payment()
    assert await accounting.dispute(s, inv, p, "dp_1", 12_500, opened=True) == 0
    assert await accounting.dispute(s, inv, p, "dp_1", 12_500, opened=True) is None
    opened, lines = await entry(s, "dispute:dp_1:opened")
    assert labels(opened) == ("dispute_opened", "svc_1", "inv_1", "dispute dp_1 on pay_1")
    assert lines == [("expenses:disputes", "EUR", 12_500, 0), (PSP, "EUR", 0, 12_500)]

    assert await accounting.dispute(s, inv, p, "dp_1", 12_500, opened=False) == 0
    assert await accounting.dispute(s, inv, p, "dp_1", 12_500, opened=False) is None
    won, lines = await entry(s, "dispute:dp_1:won")
    assert labels(won) == ("dispute_won", "svc_1", "inv_1", "dispute dp_1 on pay_1")
    assert lines == [(PSP, "EUR", 12_500, 0), ("expenses:disputes", "EUR", 0, 12_500)]


async def test_a_dispute_fee_is_in_the_balances_currency_and_follows_the_psps_totals(
    s: AsyncSession,
) -> None:
    inv, p = invoice(), payment(currency="XPF", amount=15_000)
    assert await accounting_fees.dispute_fees(s, inv, p, "dp_1", 1_500, 0, "EUR") == [
        "dispute fee +1500"
    ]
    fee, lines = await entry(s, "dispute:dp_1:fee")
    assert labels(fee) == ("dispute_fee", "svc_1", "inv_1", "dispute fee dp_1 on pay_1")
    assert lines == [("expenses:dispute_fees", "EUR", 1_500, 0), (PSP, "EUR", 0, 1_500)]
    # a further fee (countering the dispute): the difference, keyed by the new total
    assert await accounting_fees.dispute_fees(s, inv, p, "dp_1", 3_000, 0, "EUR") == [
        "dispute fee +1500"
    ]
    more, lines = await entry(s, "dispute:dp_1:fee:3000")
    assert labels(more) == ("dispute_fee", "svc_1", "inv_1", "dispute fee dp_1 on pay_1")
    assert lines == [("expenses:dispute_fees", "EUR", 1_500, 0), (PSP, "EUR", 0, 1_500)]
    # the same truth again, or an older one, posts nothing
    assert await accounting_fees.dispute_fees(s, inv, p, "dp_1", 3_000, 0, "EUR") == []
    assert await accounting_fees.dispute_fees(s, inv, p, "dp_1", 1_500, 0, "EUR") == []
    # given back, in two steps; another dispute of the same invoice is its own
    assert await accounting_fees.dispute_fees(s, inv, p, "dp_1", 3_000, 1_000, "EUR") == [
        "dispute fee returned +1000"
    ]
    back, lines = await entry(s, "dispute:dp_1:fee_returned")
    assert labels(back) == ("dispute_fee_returned", "svc_1", "inv_1", "dispute fee dp_1 on pay_1")
    assert lines == [(PSP, "EUR", 1_000, 0), ("expenses:dispute_fees", "EUR", 0, 1_000)]
    assert await accounting_fees.dispute_fees(s, inv, p, "dp_1", 3_000, 1_500, "EUR") == [
        "dispute fee returned +500"
    ]
    _, lines = await entry(s, "dispute:dp_1:fee_returned:1500")
    assert lines == [(PSP, "EUR", 500, 0), ("expenses:dispute_fees", "EUR", 0, 500)]
    assert await accounting_fees.dispute_fees(s, inv, p, "dp_2", 1_500, 0, "EUR") == [
        "dispute fee +1500"
    ]
    await entry(s, "dispute:dp_2:fee")


# ------------------------------------------------------------------ refunds
@pytest.mark.parametrize(
    ("origin", "kind", "from_account"),
    [
        ("api", "refund_succeeded", "income:urbanisme"),
        ("psp", "refund_succeeded", "income:urbanisme"),
        ("overpayment", "overpayment_refunded", "liabilities:overpayments"),
    ],
)
async def test_a_refund_comes_out_of_income_or_of_what_was_overpaid_and_can_be_reversed(
    s: AsyncSession, origin: str, kind: str, from_account: str
) -> None:
    r = refund(origin=origin)
    if origin == "overpayment":  # what it gives back is owed to the payer
        await accounting.payment_succeeded(s, invoice(), payment(is_overpayment=True), SLUG, AT)
    await accounting.refund_succeeded(s, invoice(), r, SLUG, AT)
    done, lines = await entry(s, "refund:ref_1:succeeded")
    assert labels(done) == (kind, "svc_1", "inv_1", "refund ref_1")
    assert lines == [(from_account, "EUR", 2_500, 0), (PSP, "EUR", 0, 2_500)]
    assert done.effective_at == AT

    reversal_id = await accounting.refund_reversed(s, r, LATER)
    reversed_, lines = await entry(s, "refund:ref_1:reversed")
    assert reversal_id == reversed_.id
    assert (reversed_.kind, reversed_.reverses_id) == ("refund_reversed", done.id)
    assert (reversed_.service_id, reversed_.invoice_id) == ("svc_1", "inv_1")
    assert lines == [(from_account, "EUR", 0, 2_500), (PSP, "EUR", 2_500, 0)]
    assert reversed_.effective_at == LATER
    assert await accounting.refund_reversed(s, r, LATER) is None


async def test_a_withdrawal_on_an_overpayment_settles_what_is_owed_and_loses_the_rest(
    s: AsyncSession,
) -> None:
    """A chargeback of 12,500 on an overpayment of which 10,000 is still owed: the debt is
    settled, 2,500 (refunded already) is lost. Won, it is undone the debt first; a refund
    the PSP pays after the chargeback is a loss, never below what is owed."""
    inv, p = invoice(), payment(is_overpayment=True)
    await accounting.payment_succeeded(s, inv, p, SLUG, AT)
    assert await accounting.overpayment_owed(s, inv) == 12_500
    assert await accounting.dispute(s, inv, p, "dp_o", 12_500, opened=True, owed=10_000) == 10_000
    _, lines = await entry(s, "dispute:dp_o:opened")
    assert lines == [
        ("liabilities:overpayments", "EUR", 10_000, 0),
        ("expenses:disputes", "EUR", 2_500, 0),
        (PSP, "EUR", 0, 12_500),
    ]
    assert await accounting.overpayment_owed(s, inv) == 2_500
    await accounting.refund_succeeded(s, inv, refund(origin="overpayment", amount=4_000), SLUG, AT)
    _, lines = await entry(s, "refund:ref_1:succeeded")
    assert lines == [
        ("liabilities:overpayments", "EUR", 2_500, 0),
        ("expenses:disputes", "EUR", 1_500, 0),
        (PSP, "EUR", 0, 4_000),
    ]
    assert await accounting.overpayment_owed(s, inv) == 0
    assert await accounting.dispute(s, inv, p, "dp_o", 11_000, opened=False) == 10_000
    _, lines = await entry(s, "dispute:dp_o:won")
    assert lines == [
        (PSP, "EUR", 11_000, 0),
        ("liabilities:overpayments", "EUR", 0, 10_000),
        ("expenses:disputes", "EUR", 0, 1_000),
    ]


async def test_a_refund_that_never_succeeded_has_nothing_to_reverse(s: AsyncSession) -> None:
    assert await accounting.refund_reversed(s, refund(), LATER) is None
    assert await keys(s) == set()


# ------------------------------------------------------------------ payouts
def po(amount: object = 10_000, **changes: object) -> dict[str, object]:
    return {"payout_id": "po_1", "amount": amount, "currency": "eur"} | changes


async def payout(
    s: AsyncSession, event: str, data: dict[str, object], regie: int | None = None
) -> str:
    return await accounting.payout(s, "stripe", event, data, "main", regie)


async def test_a_payout_moves_the_psps_balance_to_the_bank_once(s: AsyncSession) -> None:
    assert await payout(s, EVENT_PAYOUT_PAID, po()) == "payout paid"
    assert await payout(s, EVENT_PAYOUT_PAID, po()) == "unchanged: payout already posted"
    paid, lines = await entry(s, "payout:po_1:paid")
    assert labels(paid) == ("payout_paid", None, None, "payout po_1")
    assert lines == [(BANK, "EUR", 10_000, 0), (PSP, "EUR", 0, 10_000)]

    assert await payout(s, EVENT_PAYOUT_FAILED, po()) == "payout failed: reversed"
    assert await payout(s, EVENT_PAYOUT_FAILED, po()) == "unchanged: payout failure already posted"
    failed, lines = await entry(s, "payout:po_1:failed")
    assert (failed.kind, failed.reverses_id) == ("payout_failed", paid.id)
    assert lines == [(BANK, "EUR", 0, 10_000), (PSP, "EUR", 10_000, 0)]


async def test_a_failure_seen_before_its_payout_posts_both_so_the_late_paid_changes_nothing(
    s: AsyncSession,
) -> None:
    assert await payout(s, EVENT_PAYOUT_FAILED, po()) == "payout failed before paid: net zero"
    assert await keys(s) == {"payout:po_1:paid", "payout:po_1:failed"}
    assert await payout(s, EVENT_PAYOUT_PAID, po()) == "unchanged: payout already posted"
    assert await keys(s) == {"payout:po_1:paid", "payout:po_1:failed"}


async def test_a_payout_of_one_minor_unit_is_posted(s: AsyncSession) -> None:
    assert await payout(s, EVENT_PAYOUT_PAID, po(amount=1)) == "payout paid"
    _, lines = await entry(s, "payout:po_1:paid")
    assert lines == [(BANK, "EUR", 1, 0), (PSP, "EUR", 0, 1)]


async def test_on_a_shared_account_only_regies_share_of_a_payout_is_posted(
    s: AsyncSession,
) -> None:
    assert await payout(s, EVENT_PAYOUT_PAID, po(), regie=6_000) == "payout paid"
    _, lines = await entry(s, "payout:po_1:paid")
    assert lines == [(BANK, "EUR", 6_000, 0), (PSP, "EUR", 0, 6_000)]


@pytest.mark.parametrize(
    ("regie", "outcome", "lines"),
    [
        (7_000, "payout reconciled: +1000", [(BANK, "EUR", 1_000, 0), (PSP, "EUR", 0, 1_000)]),
        (5_000, "payout reconciled: -1000", [(PSP, "EUR", 1_000, 0), (BANK, "EUR", 0, 1_000)]),
        (6_001, "payout reconciled: +1", [(BANK, "EUR", 1, 0), (PSP, "EUR", 0, 1)]),
        (5_999, "payout reconciled: -1", [(PSP, "EUR", 1, 0), (BANK, "EUR", 0, 1)]),
        (6_000, "unchanged: the payout was posted in full", None),
    ],
)
async def test_the_reconciliation_posts_what_paid_did_not_see(
    s: AsyncSession, regie: int, outcome: str, lines: list[Line] | None
) -> None:
    await payout(s, EVENT_PAYOUT_PAID, po(), regie=6_000)
    assert await payout(s, EVENT_PAYOUT_RECONCILED, po(), regie=regie) == outcome
    if lines is None:
        assert await keys(s) == {"payout:po_1:paid"}
        return
    rec, got = await entry(s, "payout:po_1:reconciled")
    assert labels(rec) == (
        "payout_reconciled",
        None,
        None,
        "payout po_1: transactions listed at reconciliation",
    )
    assert got == lines
    # once: the bank's lines of the paid entry are what is compared, not the sum of all
    assert await payout(s, EVENT_PAYOUT_RECONCILED, po(), regie=regie) == outcome
    assert await keys(s) == {"payout:po_1:paid", "payout:po_1:reconciled"}


async def test_the_reconciliation_of_a_payout_never_seen_paid_posts_it(s: AsyncSession) -> None:
    assert await payout(s, EVENT_PAYOUT_RECONCILED, po(), regie=6_000) == "payout paid"
    _, lines = await entry(s, "payout:po_1:paid")
    assert lines == [(BANK, "EUR", 6_000, 0), (PSP, "EUR", 0, 6_000)]


async def test_the_reconciliation_of_a_failed_or_a_whole_payout_is_ignored(
    s: AsyncSession,
) -> None:
    assert await payout(s, EVENT_PAYOUT_RECONCILED, po()) == (
        "ignored: the whole payout was posted when paid"
    )
    await payout(s, EVENT_PAYOUT_FAILED, po(), regie=6_000)
    assert await payout(s, EVENT_PAYOUT_RECONCILED, po(), regie=7_000) == (
        "ignored: the payout failed"
    )
    assert await keys(s) == {"payout:po_1:paid", "payout:po_1:failed"}


@pytest.mark.parametrize(
    ("data", "regie", "outcome"),
    [
        (po(payout_id=""), None, "ignored: payout without id or amount"),
        ({"amount": 10_000, "currency": "eur"}, None, "ignored: payout without id or amount"),
        (po(amount="10000"), None, "ignored: payout without id or amount"),
        (po(amount=10.0), None, "ignored: payout without id or amount"),
        (po(amount=True), None, "ignored: payout without id or amount"),
        (po(amount=None), None, "ignored: payout without id or amount"),
        (po(currency=""), None, "ignored: payout without id or amount"),
        (po(currency=None), None, "ignored: payout without id or amount"),
        (po(amount=0), None, "ignored: the payout carries nothing of regie's"),
        (po(), 0, "ignored: the payout carries nothing of regie's"),
        (po(amount="x"), 6_000, None),  # regie's share is what counts on a shared account
    ],
)
@pytest.mark.parametrize("event", [EVENT_PAYOUT_PAID, EVENT_PAYOUT_FAILED])
async def test_a_payout_without_regies_money_posts_nothing(
    s: AsyncSession, event: str, data: dict[str, object], regie: int | None, outcome: str | None
) -> None:
    got = await payout(s, event, data, regie)
    if outcome is None:
        assert not got.startswith("ignored"), got
        _, lines = await entry(s, "payout:po_1:paid")
        assert lines == [(BANK, "EUR", 6_000, 0), (PSP, "EUR", 0, 6_000)]
        return
    assert got == outcome
    assert await keys(s) == set()
