"""A statement whose entries do not add up to its closing balance (opening + booked entries
is not the closing balance): the parser reports it, and the bank tie-out that compares that
closing balance says so. The month-end review found such a closing balance used silently: the
bank tie-out said "agrees" on a figure resting on a statement that does not add up."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import httpx

from payments.providers.simulator.commands import bank_statement_file
from reconciliation.report import summary_lines, summary_words
from reconciliation.schemas import RunOut
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.finance.conftest import sign_in
from tests.payments.test_simulator_payouts import paid_invoice, sim
from tests.reconciliation.months import OCT_FIRST, OCT_LAST, UTC, run
from tests.test_year_boundaries import Clock

OCT_27 = dt.date(2026, 10, 27)
_OPENING = re.compile(rb"(<Cd>OPBD</Cd>.*?<Amt Ccy=\"EUR\">)([0-9.]+)(</Amt>)", re.DOTALL)


def _opening_off_by(content: bytes, cents: int) -> bytes:
    """The statement with its opening balance (OPBD) ``cents`` higher: its entries and
    closing balance as the bank wrote them, so they no longer add up."""

    def more(m: re.Match[bytes]) -> bytes:
        amount = round(float(m.group(2)) * 100) + cents
        return m.group(1) + f"{amount // 100}.{amount % 100:02d}".encode() + m.group(3)

    out, n = _OPENING.subn(more, content, count=1)
    assert n == 1
    return out


async def test_a_tie_out_on_an_unbalanced_statement_says_so(
    app: Any, client: httpx.AsyncClient, keys: Keys, settings: Settings, clock: Clock
) -> None:
    clock.set(dt.datetime(2026, 10, 26, 10, tzinfo=UTC))
    await paid_invoice(client, app, keys.urbanisme, reference="A", amount=2500)
    clock.set(dt.datetime(2026, 10, 27, 10, tzinfo=UTC))
    (payout,) = await sim(app).pay_out()
    await app.state.applier.process_batch()
    assert payout.payout.arrival_date == OCT_27
    clock.set(dt.datetime(2026, 11, 20, 12, tzinfo=UTC))
    statement = await bank_statement_file(
        settings, OCT_27, OCT_27, now=dt.datetime(2026, 10, 27, 22, tzinfo=UTC)
    )
    content = _opening_off_by(statement.content, 500)  # 5.00 more than the bank held
    doc = await run(
        client, keys, OCT_FIRST, OCT_LAST,
        {"camt053": ("octobre.xml", content, "application/xml")},
    )  # fmt: skip
    (bank,) = [t for t in doc["tie_outs"] if t["name"] == "bank"]
    # the closing balance the bank states is compared, and it is the ledger's
    assert (bank["ledger"], bank["source"], bank["difference"]) == (
        payout.payout.amount, payout.payout.amount, 0,
    )  # fmt: skip
    # but it rests on a statement whose entries make another closing balance: said
    stated = payout.payout.amount
    assert bank["unbalanced_statement"] == {
        "statement": "SIMBANK-2026-10-27",
        "closing": stated,
        "computed": stated + 500,
        "difference": -500,
    }
    psp = [t for t in doc["tie_outs"] if t["name"] == "psp_clearing"]
    assert all(t.get("unbalanced_statement") is None for t in psp)
    again = await client.get(f"/v1/reconciliations/{doc['id']}", headers=Keys.h(keys.finance))
    assert again.json()["tie_outs"] == doc["tie_outs"]
    told = RunOut.model_validate(again.json())
    text = "\n".join(summary_lines(told))
    (line,) = [x for x in text.splitlines() if "tie-out bank" in x]
    assert not line.endswith(": agrees"), line
    assert "does not add up" in line and "€5.00" in line, line
    fr = "\n".join(summary_words(told, "fr"))
    (line_fr,) = [x for x in fr.splitlines() if "banque" in x and "relevé" in x]
    assert "ne s'équilibre pas" in line_fr, line_fr
    # the workspace's run page says it too
    assert (await sign_in(client, keys.finance)).status_code == 303
    page = (await client.get(f"/finance/runs/{doc['id']}?lang=en")).text
    assert "does not add up" in page
