"""Small things the workspace says right (SQLite and PostgreSQL): the runs' chart in the
table's order (newest first), a ledger day not over yet or still to come said so, the
sources of a run with French punctuation, and the demo's ready message pointing at the
workspace."""

from __future__ import annotations

import datetime as dt
import re

import httpx

from reconciliation.schemas import RunOut
from regie.demo import ready_lines
from regie.finance.runs import charts
from regie.kit.database import utcnow
from tests.conftest import Keys
from tests.finance.test_runs import page_text, signed_in
from tests.finance.test_runs import settings as settings  # noqa: F401
from tests.reconciliation.test_reconcile_api import _period, camt

NBSP = "\u00a0"


def run_made(hour: int) -> RunOut:
    return RunOut(
        id=f"run_{hour}", period_from=dt.date(2026, 12, 1), period_to=dt.date(2026, 12, 31),
        as_of=dt.date(2026, 12, 31), provider="simulator", sources=[], inputs_sha256="ab" * 32,
        actor="cli", created_at=dt.datetime(2026, 12, 3, hour, tzinfo=dt.UTC),
        summary={"matched_amount": {"EUR": 100 * hour}, "categories": []}, tie_outs=[],
    )  # fmt: skip


def test_the_chart_lists_the_runs_newest_first_like_the_table() -> None:
    runs = [run_made(9), run_made(8), run_made(7)]  # as listed: newest first
    (chart,) = charts(runs, "fr")
    assert [b.label[-9:-1] for b in chart["bars"]] == ["10:00:00", "09:00:00", "08:00:00"]
    svg_labels = re.findall(r"\(3 déc\. (\d\d):00:00\)", chart["svg"])
    assert svg_labels[:3] == ["10", "09", "08"]
    # the month in words: "03/12" read as 12 March in English
    (chart,) = charts(runs, "en")
    assert re.findall(r"\(3 Dec (\d\d):00:00\)", chart["svg"])[:3] == ["10", "09", "08"]


async def test_a_ledger_day_not_over_or_to_come_says_so(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    await signed_in(client, keys)
    ahead = (utcnow() + dt.timedelta(days=40)).date().isoformat()
    words = page_text(await client.get(f"/finance/ledger?at={ahead}"))
    assert "est dans le futur" in words and "les soldes de cet instant" in words
    words = page_text(await client.get(f"/finance/ledger?at={ahead}&lang=en"))
    assert "is in the future" in words
    words = page_text(await client.get("/finance/ledger?lang=fr"))
    assert "n'est pas terminée" in words and "dans le futur" not in words
    words = page_text(await client.get("/finance/ledger?at=2026-01-31&lang=fr"))
    assert "pas terminée" not in words and "dans le futur" not in words


async def test_the_sources_put_a_no_break_space_before_the_french_semicolon(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    r = await client.post(
        "/v1/reconciliations", data=_period(), headers=Keys.h(keys.finance),
        files={"camt053": ("releve.xml", camt([("BNK-7", "2.00", "Y")]), "application/xml")},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    await signed_in(client, keys)
    html = (await client.get(f"/finance/runs/{r.json()['id']}")).text
    assert f"simulator{NBSP}; fichier releve.xml" in html
    html = (await client.get(f"/finance/runs/{r.json()['id']}?lang=en")).text
    assert "simulator; file releve.xml" in html


def test_the_demo_says_where_the_finance_workspace_is() -> None:
    text = "\n".join(ready_lines("http://127.0.0.1:8003", "sqlite+aiosqlite:///x.db", []))
    assert "http://127.0.0.1:8003/finance/" in text
    assert re.search(r"finance workspace:\s+http://127.0.0.1:8003/finance/", text)


def test_the_demos_pay_links_start_in_one_column_whatever_their_numbers_length() -> None:
    invoices = [
        ("URBANISME-2026-000001", "http://x/pay/a"),
        ("ETAT-CIVIL-2026-000001", "http://x/pay/b"),
    ]
    lines = [
        x for x in ready_lines("http://x", "sqlite+aiosqlite:///x.db", invoices) if "/pay/" in x
    ]
    assert len(lines) == 2 and len({x.index("http") for x in lines}) == 1, lines
