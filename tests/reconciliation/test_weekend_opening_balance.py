"""A weekend day reconciled with Monday's statement alone: the bank writes no statement for
Saturday or Sunday, and Monday's opening balance is what the account held at the end of
Sunday, so of Saturday and Sunday too when nothing was booked on the weekend. The run had no
bank tie-out (the README said to import Friday's statement as well). The bank tie-out now
compares that opening balance, as of the period's end, and says which balance it is; when
it cannot be established that nothing was booked between the period's end and that
statement (a weekday between them, or an entry booked then), there is still no bank
tie-out."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from reconciliation.report import summary_lines, summary_words
from reconciliation.report_pdf import to_pdf
from reconciliation.schemas import RunOut
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.finance.conftest import sign_in
from tests.reconciliation.camt_builder import E, S, camt
from tests.reconciliation.months import UTC, run
from tests.reconciliation.test_statement_bookings import IBAN, upload
from tests.test_year_boundaries import Clock

SAT, SUN, MON = dt.date(2026, 12, 5), dt.date(2026, 12, 6), dt.date(2026, 12, 7)


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(bank_iban=IBAN)  # type: ignore[no-any-return]


def monday(opening_day: str = "2026-12-07", sunday_entry: bool = False) -> bytes:
    """Monday's statement: opening 12.34 (dated as given), a 10.00 credit, closing 22.34;
    with ``sunday_entry``, a 1.00 credit booked on Sunday too (closing 23.34)."""
    entries = [E("10.00", day="2026-12-07", servicer_ref="MON-1")]
    closing = "22.34"
    if sunday_entry:
        entries.append(E("1.00", day="2026-12-06", servicer_ref="SUN-1"))
        closing = "23.34"
    doc = camt(S(id="S-MON", seq=7, day="2026-12-07", opening=("12.34", "CRDT"),
                 closing=(closing, "CRDT"), entries=entries), msg_id="MSG-MON")  # fmt: skip
    if opening_day != "2026-12-07":  # the opening dated another day (CLBD's stays Monday's)
        text = doc.decode()
        opbd = text.index("<Cd>OPBD</Cd>")
        at = text.index("<Dt><Dt>2026-12-07</Dt></Dt>", opbd)
        text = text[:at] + f"<Dt><Dt>{opening_day}</Dt></Dt>" + text[at + 28 :]
        doc = text.encode()
    return doc


def _bank(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in doc["tie_outs"] if t["name"] == "bank"]


@pytest.mark.parametrize("day", [SAT, SUN])
@pytest.mark.parametrize("opening_day", ["2026-12-07", "2026-12-06"])
async def test_a_weekend_day_is_tied_out_on_mondays_opening_balance(
    app: Any, client: httpx.AsyncClient, keys: Keys, clock: Clock, day: dt.date,
    opening_day: str,
) -> None:  # fmt: skip
    clock.set(dt.datetime(2026, 12, 8, 9, tzinfo=UTC))
    await upload(client, keys, monday(opening_day), "lundi.xml")
    doc = await run(client, keys, day, day)
    (bank,) = _bank(doc)
    # the opening balance (12.34), not the closing one (22.34), as of the period's end
    assert (bank["as_of"], bank["source"], bank["ledger"]) == (day.isoformat(), 1234, 0)
    assert bank["difference"] == 1234
    assert bank["opening_of"] == {"statement": "S-MON", "day": "2026-12-07"}
    again = await client.get(f"/v1/reconciliations/{doc['id']}", headers=Keys.h(keys.finance))
    assert again.json()["tie_outs"] == doc["tie_outs"]
    told = RunOut.model_validate(again.json())
    said = "opening balance of statement S-MON of 7 December 2026"
    assert said in "\n".join(summary_lines(told))  # the command's summary
    fr = "solde d'ouverture du relevé S-MON du 7 décembre 2026"
    assert fr in "\n".join(summary_words(told, "fr"))
    pdf = to_pdf(told, {})
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())
    assert said in text
    assert (await sign_in(client, keys.finance)).status_code == 303
    page = (await client.get(f"/finance/runs/{doc['id']}?lang=en")).text
    assert said in page
    page = (await client.get(f"/finance/runs/{doc['id']}?lang=fr")).text
    assert fr.replace("'", "&#39;") in page or fr in page


async def test_an_entry_booked_between_the_period_and_the_statement_makes_no_tie_out(
    app: Any, client: httpx.AsyncClient, keys: Keys, clock: Clock
) -> None:
    """Monday's statement books a credit on Sunday: its opening balance is not Saturday's
    for sure, and there is no bank tie-out, as before."""
    clock.set(dt.datetime(2026, 12, 8, 9, tzinfo=UTC))
    await upload(client, keys, monday(sunday_entry=True), "lundi.xml")
    assert _bank(await run(client, keys, SAT, SAT)) == []


async def test_a_weekday_between_the_period_and_the_statement_makes_no_tie_out(
    app: Any, client: httpx.AsyncClient, keys: Keys, clock: Clock
) -> None:
    """Thursday reconciled with Monday's statement alone: Friday's bookings, in no imported
    statement, may be in Monday's opening balance."""
    clock.set(dt.datetime(2026, 12, 8, 9, tzinfo=UTC))
    await upload(client, keys, monday(), "lundi.xml")
    thursday = dt.date(2026, 12, 3)
    assert _bank(await run(client, keys, thursday, thursday)) == []


async def test_an_opening_dated_before_the_period_end_makes_no_tie_out(
    app: Any, client: httpx.AsyncClient, keys: Keys, clock: Clock
) -> None:
    """An opening balance dated Friday (the day before's closing, as some banks date it)
    is Friday's: not dated at or after Saturday's end, it is not taken for it."""
    clock.set(dt.datetime(2026, 12, 8, 9, tzinfo=UTC))
    await upload(client, keys, monday("2026-12-04"), "lundi.xml")
    assert _bank(await run(client, keys, SAT, SAT)) == []


async def test_a_statement_closing_in_the_period_keeps_its_closing_balance(
    app: Any, client: httpx.AsyncClient, keys: Keys, clock: Clock
) -> None:
    """Friday's statement is in: its closing balance is Saturday's, as before (no
    ``opening_of``), whatever Monday's opening balance says."""
    clock.set(dt.datetime(2026, 12, 8, 9, tzinfo=UTC))
    friday = camt(S(id="S-FRI", seq=6, day="2026-12-04", opening=("0.00", "CRDT"),
                    closing=("12.34", "CRDT"),
                    entries=[E("12.34", day="2026-12-04", servicer_ref="FRI-1")]),
                  msg_id="MSG-FRI")  # fmt: skip
    await upload(client, keys, friday, "vendredi.xml")
    await upload(client, keys, monday(), "lundi.xml")
    (bank,) = _bank(await run(client, keys, SAT, SAT))
    assert (bank["as_of"], bank["source"], bank["opening_of"]) == ("2026-12-05", 1234, None)


async def test_the_demos_saturday_payout_ties_out_with_mondays_statement_alone(
    app: Any, client: httpx.AsyncClient, keys: Keys, settings: Settings, clock: Clock
) -> None:
    """The README's demo: paid and paid out on the afternoon of Saturday the 5th, the bank
    books it on Monday the 7th; the simulator's statements from the 5th to the 7th are
    Monday's alone. The run for the 5th ties out: the ledger's bank balance at Saturday's
    end holds the payout, in transit, and Monday's opening balance does not."""
    from payments.providers.simulator.commands import bank_statement_file
    from tests.payments.test_simulator_payouts import paid_invoice, sim

    clock.set(dt.datetime(2026, 12, 5, 14, tzinfo=UTC))
    await paid_invoice(client, app, keys.urbanisme, reference="W", amount=2500)
    (payout,) = await sim(app).pay_out()
    await app.state.applier.process_batch()
    clock.set(dt.datetime(2026, 12, 7, 21, tzinfo=UTC))
    statements = await bank_statement_file(
        settings, SAT, MON, now=dt.datetime(2026, 12, 7, 21, tzinfo=UTC)
    )
    await upload(client, keys, statements.content, "releve.xml")
    doc = await run(client, keys, SAT, SAT)
    (bank,) = _bank(doc)
    assert bank["as_of"] == "2026-12-05" and bank["opening_of"]["day"] == "2026-12-07"
    amount = payout.payout.amount
    assert (bank["ledger"], bank["source"], bank["in_transit"], bank["difference"]) == (
        amount, 0, amount, 0,
    )  # fmt: skip


@pytest.mark.postgres
async def test_the_bulk_path_ties_out_a_weekend_day_as_the_pure_path(
    app: Any, client: httpx.AsyncClient, keys: Keys, clock: Clock, bulk_calls: list[bool]
) -> None:
    """A Stripe report uploaded for the Saturday (matched in bulk on PostgreSQL, or by the
    pure rounds): the same bank tie-out, on Monday's opening balance."""
    from reconciliation.service import ReconciliationService, ReconConfig, RunRequest
    from tests.reconciliation.test_bulk import HEADER

    clock.set(dt.datetime(2026, 12, 8, 9, tzinfo=UTC))
    await upload(client, keys, monday(), "lundi.xml")
    ties = []
    for bulk in (False, True):
        svc = ReconciliationService(app.state.db, app.state.reconciliation.providers,
                                    ReconConfig(bank_iban=IBAN, bulk=bulk))  # fmt: skip
        run_id = await svc.start_run(
            RunRequest(SAT, SAT, "test", stripe_csv=("r.csv", HEADER.encode()), provider="stripe")
        )
        ties.append([t for t in (await svc.get_run(run_id)).run.tie_outs if t["name"] == "bank"])
    assert bulk_calls == [True]
    assert ties[0] == ties[1]
    (bank,) = ties[0]
    assert (bank["as_of"], bank["source"]) == ("2026-12-05", 1234)
    assert bank["opening_of"] == {"statement": "S-MON", "day": "2026-12-07"}
