"""Bank statements fed to regie count each booked euro once, whatever the bank and the
officer do (a review found three ways they did not):

- an entry the bank lists as pending (``PDNG``) in one statement and booked (``BOOK``) in
  the next, under one ``AcctSvcrRef``: the booking was skipped as a "duplicate" of the
  pending entry, and its money never reached a run;
- a run given two files whose second is refused against the first (a reference reused with
  another amount) kept the first imported: a run refused for its inputs stores nothing;
- three overlapping files uploaded at once (PostgreSQL): two collided twice, a 500. The
  imports of an account now take turns.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from reconciliation import bank_repository as bank_repo
from regie.kit.database import utcnow
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.reconciliation.camt_builder import E, S, camt

IBAN = "FR7630001007941234567890185"
DAY = dt.date(2026, 10, 1)


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(bank_iban=IBAN)  # type: ignore[no-any-return]


async def upload(client: httpx.AsyncClient, keys: Keys, data: bytes, name: str) -> Any:
    r = await client.post("/v1/bank-statements", files={"file": (name, data, "application/xml")},
                          headers=Keys.h(keys.finance))  # fmt: skip
    assert r.status_code == 201, r.text
    return r.json()


async def booked(app: Any, day: dt.date = DAY) -> list[tuple[str, int]]:
    async with app.state.db.engine.connect() as conn:
        lines, _ = await bank_repo.bank_lines(conn, IBAN, day, day)
    return sorted((x.reference, x.amount) for x in lines)


async def stored(app: Any) -> list[tuple[str, str]]:
    async with app.state.db.session() as s:
        rows = await s.execute(text("SELECT bank_reference, status FROM bank_entries"))
        return sorted((r[0], r[1]) for r in rows)


def pending_file(msg: str = "MSG-1") -> bytes:
    return camt(S(closing=("0.00", "CRDT"), entries=[E("50.00", status="PDNG",
                servicer_ref="ASR-1")]), msg_id=msg)  # fmt: skip


BOOKED = camt(S(id="S2", seq=2, closing=("50.00", "CRDT"),
                entries=[E("50.00", status="BOOK", servicer_ref="ASR-1")]), msg_id="MSG-2")  # fmt: skip


async def test_an_entry_pending_then_booked_is_counted_once_when_booked(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    first = await upload(client, keys, pending_file(), "pending.xml")
    assert (first["entries"], await booked(app)) == (1, [])  # pending: kept, not counted
    second = await upload(client, keys, BOOKED, "booked.xml")
    assert (second["entries"], second["duplicates"]) == (1, 0)
    assert await booked(app) == [("ASR-1", 5000)]
    assert await stored(app) == [("ASR-1", "BOOK"), ("ASR-1#PDNG", "PDNG")]
    # either statement sent again (in another file) is a duplicate, counted nowhere twice
    again = await upload(client, keys, pending_file("MSG-3"), "pending-again.xml")
    assert (again["entries"], again["duplicates"]) == (0, 1)
    assert await booked(app) == [("ASR-1", 5000)]


async def test_a_pending_entry_stored_under_its_bare_reference_makes_way_for_its_booking(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    """Imports before this change stored a pending entry under its bare reference: its
    booking moves it to its pending key, then is stored as the booked entry."""
    await upload(client, keys, pending_file(), "pending.xml")
    async with app.state.db.session() as s:  # as an older regie stored it
        await s.execute(text("UPDATE bank_entries SET bank_reference = 'ASR-1'"))
        await s.commit()
    result = await upload(client, keys, BOOKED, "booked.xml")
    assert (result["entries"], result["duplicates"]) == (1, 0)
    assert await stored(app) == [("ASR-1", "BOOK"), ("ASR-1#PDNG", "PDNG")]
    assert await booked(app) == [("ASR-1", 5000)]


async def test_a_run_refused_for_its_second_statement_stores_neither(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    today = utcnow().date().isoformat()
    a = camt(S(id="A", seq=1, day=today, closing=("10.00", "CRDT"),
               entries=[E("10.00", day=today, servicer_ref="ASR-1")]), msg_id="M-A")  # fmt: skip
    b = camt(S(id="B", seq=2, day=today, opening=("10.00", "CRDT"), closing=("30.00", "CRDT"),
               entries=[E("20.00", day=today, servicer_ref="ASR-1")]), msg_id="M-B")  # fmt: skip
    fin = Keys.h(keys.finance)
    r = await client.post(
        "/v1/reconciliations",
        data={"period_from": today, "period_to": today},
        files=[("camt053", ("a.xml", a, "application/xml")),
               ("camt053", ("b.xml", b, "application/xml"))],
        headers=fin,
    )  # fmt: skip
    assert r.status_code == 422 and "b.xml" in r.json()["error"]["message"], r.text
    assert (await client.get("/v1/bank-statements", headers=fin)).json()["data"] == []
    assert (await client.get("/v1/reconciliations", headers=fin)).json()["data"] == []
    # the good file alone is taken
    assert (await upload(client, keys, a, "a.xml"))["entries"] == 1


@pytest.mark.postgres
async def test_overlapping_files_uploaded_at_once_are_each_counted_once(
    app: Any, keys: Keys
) -> None:
    """A = common + AB + AC, B = common + AB + BC, C = common + AC + BC, at once, four
    times: every upload succeeds and every entry is counted once."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # a 500 is a 500
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for round_ in range(4):
            common = [E(f"{n}.00", servicer_ref=f"C{round_}-{n}") for n in range(1, 20)]
            pair = {p: E(f"{200 + i}.00", servicer_ref=f"{p}{round_}")
                    for i, p in enumerate(("AB", "AC", "BC"))}  # fmt: skip
            members = {"A": ("AB", "AC"), "B": ("AB", "BC"), "C": ("AC", "BC")}
            files = [camt(S(id=f"S{round_}{k}", seq=None, entries=common + [pair[p] for p in ps]),
                          msg_id=f"M{round_}{k}") for k, ps in members.items()]  # fmt: skip
            done = await asyncio.gather(*(
                client.post("/v1/bank-statements", headers=Keys.h(keys.finance),
                            files={"file": (f"f{round_}{i}.xml", f, "application/xml")})
                for i, f in enumerate(files)))  # fmt: skip
            assert [r.status_code for r in done] == [201] * 3, [r.text[:200] for r in done]
            assert sum(r.json()["entries"] for r in done) == 19 + 3
    assert len(await booked(app)) == 4 * (19 + 3)
