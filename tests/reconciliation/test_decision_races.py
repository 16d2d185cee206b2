"""Decisions on one item at the same moment (a double click, two officers): exactly one
decision is in force per key afterwards, each later one superseding the one before it, and
none lost. A review found two left in force on PostgreSQL (both deciders found none in force,
or the same one): the run counted the discrepancy's amount twice as resolved, and every later
decision on it was a 500. The deciders of a key now wait for each other (an advisory lock),
and a partial unique index holds one in force whatever else goes wrong."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from reconciliation import repository
from regie.kit.database import utcnow
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.reconciliation.decision_runs import IBAN, run_with_credit, run_with_suggestion


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(bank_iban=IBAN)  # type: ignore[no-any-return]


def slow_first_lookup(monkeypatch: pytest.MonkeyPatch, pause: float = 0.4) -> None:
    """The first decider pauses after reading the decision in force (a slow request), so
    the second arrives meanwhile."""
    real = repository.decision_in_force
    calls: list[int] = []

    async def lookup(s: Any, key: str) -> Any:
        found = await real(s, key)
        calls.append(1)
        if len(calls) == 1:
            await asyncio.sleep(pause)
        return found

    monkeypatch.setattr(repository, "decision_in_force", lookup)


async def decisions(app: Any) -> list[tuple[str, str, str | None]]:
    """(note, id, superseded_by) of every decision, oldest first."""
    async with app.state.db.session() as s:
        rows = await s.execute(
            text("SELECT note, id, superseded_by FROM recon_decisions ORDER BY created_at, id")
        )
        return [(r[0], r[1], r[2]) for r in rows]


def one_chain(rows: list[tuple[str, str, str | None]]) -> list[str]:
    """The notes from the first decision to the one in force, following ``superseded_by``;
    asserts that they make one chain through every decision."""
    by_id = {i: (note, nxt) for note, i, nxt in rows}
    pointed = {nxt for _, _, nxt in rows if nxt}
    (first,) = [i for _, i, _ in rows if i not in pointed]
    chain, at = [], first
    while at is not None:
        note, at = by_id[at]
        chain.append(note)
    assert len(chain) == len(rows), rows
    assert sum(1 for *_, nxt in rows if nxt is None) == 1, rows
    return chain


@pytest.mark.postgres
async def test_two_first_decisions_at_once_leave_one_in_force_superseding_the_other(
    app: Any, client: httpx.AsyncClient, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    run, did = await run_with_credit(client, keys)
    url = f"/v1/reconciliations/{run['id']}/discrepancies/{did}/resolve"
    fin = Keys.h(keys.finance)
    slow_first_lookup(monkeypatch)
    first = asyncio.create_task(client.post(url, json={"note": "Subvention A"}, headers=fin))
    await asyncio.sleep(0.1)
    second = await client.post(url, json={"note": "Subvention B"}, headers=fin)
    assert (await first).status_code == second.status_code == 200
    monkeypatch.undo()
    assert one_chain(await decisions(app)) == ["Subvention A", "Subvention B"]
    # the resolved amount is the discrepancy's, once; a later decision supersedes the last
    got = await app.state.reconciliation.resolved_amounts([run["id"]])
    assert got == {run["id"]: {"EUR": 12345}}
    r = await client.post(url, json={"note": "C, a correction"}, headers=fin)
    assert r.status_code == 200, r.text
    assert one_chain(await decisions(app))[-1] == "C, a correction"


@pytest.mark.postgres
async def test_two_decisions_on_a_decided_item_at_once_supersede_in_turn(
    app: Any, client: httpx.AsyncClient, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    run, did = await run_with_credit(client, keys)
    url = f"/v1/reconciliations/{run['id']}/discrepancies/{did}/resolve"
    fin = Keys.h(keys.finance)
    assert (await client.post(url, json={"note": "first"}, headers=fin)).status_code == 200
    slow_first_lookup(monkeypatch)
    a = asyncio.create_task(client.post(url, json={"note": "second A"}, headers=fin))
    await asyncio.sleep(0.1)
    b = await client.post(url, json={"note": "second B"}, headers=fin)
    assert (await a).status_code == b.status_code == 200
    assert one_chain(await decisions(app)) == ["first", "second A", "second B"]


@pytest.mark.postgres
async def test_a_confirm_and_a_reject_at_once_leave_the_later_in_force(
    app: Any, client: httpx.AsyncClient, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    run, sid = await run_with_suggestion(app, client, keys)
    base = f"/v1/reconciliations/{run['id']}/suggestions/{sid}"
    fin = Keys.h(keys.finance)
    slow_first_lookup(monkeypatch)
    a = asyncio.create_task(client.post(f"{base}/confirm", json={"note": "ok"}, headers=fin))
    await asyncio.sleep(0.1)
    b = await client.post(f"{base}/reject", json={"note": "no"}, headers=fin)
    assert (await a).status_code == b.status_code == 200
    monkeypatch.undo()
    assert one_chain(await decisions(app)) == ["ok", "no"]
    got = (await client.get(f"/v1/reconciliations/{run['id']}", headers=fin)).json()
    assert [x["status"] for x in got["suggestions"]] == ["rejected"]


async def test_decisions_sent_together_leave_one_in_force(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    """No help from the test: four requests at once, five times over (both databases)."""
    run, did = await run_with_credit(client, keys)
    url = f"/v1/reconciliations/{run['id']}/discrepancies/{did}/resolve"
    fin = Keys.h(keys.finance)
    for round_ in range(5):
        got = await asyncio.gather(
            *(client.post(url, json={"note": f"{round_}.{i}"}, headers=fin) for i in range(4))
        )
        assert [r.status_code for r in got] == [200] * 4
        assert len(one_chain(await decisions(app))) == 4 * (round_ + 1)


async def test_the_database_refuses_a_second_decision_in_force(app: Any) -> None:
    insert = text(
        "INSERT INTO recon_decisions (id, key, action, note, actor, run_id, created_at) "
        "VALUES (:id, 'k', 'resolve', 'n', 'key_x', 'run_x', :at)"
    )
    async with app.state.db.session() as s:
        await s.execute(insert, {"id": "dec_1", "at": utcnow()})
        await s.commit()
    async with app.state.db.session() as s:
        with pytest.raises(IntegrityError):
            await s.execute(insert, {"id": "dec_2", "at": utcnow()})
        await s.rollback()


def test_migration_0025_chains_the_decisions_left_in_force_together(tmp_path: Path) -> None:
    """On SQLite, upgraded from 0024 with two decisions in force on one key and one on
    another: the earlier of the two is superseded by the later, none is deleted."""
    from regie.migrate import upgrade

    path = tmp_path / "old.db"
    upgrade(f"sqlite+aiosqlite:///{path}", "0024")
    db = sqlite3.connect(path)
    db.executemany(
        "INSERT INTO recon_decisions (id, key, action, note, actor, run_id, created_at) "
        "VALUES (?, ?, 'resolve', ?, 'key_x', 'run_x', ?)",
        [
            ("dec_b", "k1", "later", "2026-10-02 10:00:00.000000"),
            ("dec_a", "k1", "earlier", "2026-10-01 10:00:00.000000"),
            ("dec_c", "k2", "alone", "2026-10-01 10:00:00.000000"),
        ],
    )
    db.commit()
    db.close()
    upgrade(f"sqlite+aiosqlite:///{path}")
    db = sqlite3.connect(path)
    kept = sorted(db.execute("SELECT id, superseded_by FROM recon_decisions"))
    db.close()
    assert kept == [("dec_a", "dec_b"), ("dec_b", None), ("dec_c", None)]


@pytest.mark.postgres
async def test_a_decision_is_timed_when_its_turn_comes_not_before(
    app: Any, client: httpx.AsyncClient, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The decider that comes first but reaches the lock last supersedes the other: its time
    must be that of its turn, or the decision in force shows an earlier time than the one it
    superseded (an audit trail going back in time)."""
    run, did = await run_with_credit(client, keys)
    url = f"/v1/reconciliations/{run['id']}/discrepancies/{did}/resolve"
    fin = Keys.h(keys.finance)
    real = repository.lock_decisions_of
    calls: list[int] = []

    async def late_to_the_lock(s: Any, key: str) -> None:
        calls.append(1)
        if len(calls) == 1:
            await asyncio.sleep(0.4)  # the first decider is slow before its turn
        await real(s, key)

    monkeypatch.setattr(repository, "lock_decisions_of", late_to_the_lock)
    first = asyncio.create_task(client.post(url, json={"note": "came first"}, headers=fin))
    await asyncio.sleep(0.1)
    second = await client.post(url, json={"note": "took its turn first"}, headers=fin)
    assert (await first).status_code == second.status_code == 200
    monkeypatch.undo()
    assert one_chain(await decisions(app)) == ["took its turn first", "came first"]
    async with app.state.db.session() as s:
        rows = await s.execute(text("SELECT note, created_at FROM recon_decisions"))
        times = {note: at for note, at in rows}
    assert times["took its turn first"] <= times["came first"]
