"""The hash chain against an attacker with database rights: every field of a sealed entry
and of its lines, changed one at a time behind regie's back, makes ``ledger verify`` name
that entry.

The changes keep the entry balanced wherever they can (both lines' currency, both sides'
amount), so that only the hash can notice them. They are made with UPDATEs on SQLite; on
PostgreSQL the append-only triggers refuse them (tested in test_ledger_db.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text, update
from sqlmodel import col

from ledger.models import ChainSeal, JournalEntry, JournalLine
from ledger.service import VerifyResult
from tests.conftest import Keys, create_invoice

REGIE = str(Path(sys.executable).parent / "regie")
ALTERED = "entry was altered after sealing"
MICROSECOND = dt.timedelta(microseconds=1)


@dataclass
class Sealed:
    canceled: JournalEntry  # "invoice_canceled", reverses the issue below
    issued: JournalEntry  # the canceled invoice's "invoice_issued"
    other: JournalEntry  # another invoice's "invoice_issued" (reverses nothing)
    lines: list[JournalLine]  # the lines of ``canceled``, in position order


@pytest.fixture
async def sealed(backend: str, client: httpx.AsyncClient, app: Any, keys: Keys) -> Sealed:
    if backend != "sqlite":
        pytest.skip("UPDATEs behind regie's back: PostgreSQL's triggers refuse them")
    inv = await create_invoice(client, keys.urbanisme, reference="T-1")
    r = await client.post(f"/v1/invoices/{inv['id']}/cancel", headers=Keys.h(keys.urbanisme))
    assert r.status_code == 200, r.text
    await create_invoice(client, keys.urbanisme, reference="T-2")
    assert await app.state.ledger.seal() == 3
    assert (await app.state.ledger.verify()).ok
    async with app.state.db.session() as s:
        issued, canceled, other = (
            (await s.execute(select(JournalEntry).order_by(JournalEntry.seq))).scalars().all()
        )
        lines = list(
            (
                await s.execute(
                    select(JournalLine)
                    .where(JournalLine.entry_id == canceled.id)
                    .order_by(JournalLine.position)
                )
            ).scalars()
        )
    assert (canceled.kind, canceled.reverses_id, other.reverses_id) == (
        "invoice_canceled",
        issued.id,
        None,
    )
    assert len(lines) == 2 and len({x.currency for x in lines}) == 1
    return Sealed(canceled, issued, other, lines)


async def write(app: Any, *statements: Any, defer_fks: bool = False) -> None:
    async with app.state.db.session() as s:
        if defer_fks:
            await s.execute(text("PRAGMA defer_foreign_keys = ON"))
        for statement in statements:
            await s.execute(statement)
        await s.commit()


def entry(entry_id: str, **values: Any) -> Any:
    return update(JournalEntry).where(JournalEntry.id == entry_id).values(**values)


def line(line_id: int | None, **values: Any) -> Any:
    return update(JournalLine).where(JournalLine.id == line_id).values(**values)


def tamperings(w: Sealed) -> dict[str, tuple[list[Any], list[Any]]]:
    """What to change -> (the UPDATEs, the UPDATEs that put it back)."""
    e, (a, b) = w.canceled, w.lines
    return {
        "kind": ([entry(e.id, kind="invoice_issued")], [entry(e.id, kind=e.kind)]),
        "source_key": (
            [entry(e.id, source_key=e.source_key + "x")],
            [entry(e.id, source_key=e.source_key)],
        ),
        "effective_at": (
            [entry(e.id, effective_at=e.effective_at + MICROSECOND)],
            [entry(e.id, effective_at=e.effective_at)],
        ),
        "reverses_id: another entry": (
            [entry(e.id, reverses_id=w.other.id)],
            [entry(e.id, reverses_id=e.reverses_id)],
        ),
        "reverses_id: removed": (
            [entry(e.id, reverses_id=None)],
            [entry(e.id, reverses_id=e.reverses_id)],
        ),
        "line currency (both lines, still balanced)": (
            [line(a.id, currency="XPF"), line(b.id, currency="XPF")],
            [line(a.id, currency=a.currency), line(b.id, currency=b.currency)],
        ),
        "line amount (both sides, still balanced)": (
            [
                line(a.id, debit=a.debit and a.debit + 1, credit=a.credit and a.credit + 1),
                line(b.id, debit=b.debit and b.debit + 1, credit=b.credit and b.credit + 1),
            ],
            [
                line(a.id, debit=a.debit, credit=a.credit),
                line(b.id, debit=b.debit, credit=b.credit),
            ],
        ),
        "line debit and credit swapped (both lines)": (
            [
                line(a.id, debit=a.credit, credit=a.debit),
                line(b.id, debit=b.credit, credit=b.debit),
            ],
            [
                line(a.id, debit=a.debit, credit=a.credit),
                line(b.id, debit=b.debit, credit=b.credit),
            ],
        ),
        "line account": (
            [line(a.id, account=a.account + "-x")],
            [line(a.id, account=a.account)],
        ),
        "line order": (
            [line(a.id, position=b.position), line(b.id, position=a.position)],
            [line(a.id, position=a.position), line(b.id, position=b.position)],
        ),
    }


async def test_changing_any_hashed_field_names_the_entry(app: Any, sealed: Sealed) -> None:
    ledger = app.state.ledger
    for what, (change, undo) in tamperings(sealed).items():
        await write(app, *change)
        result = await ledger.verify()
        assert not result.ok, what
        assert result.first_bad_entry == sealed.canceled.id, what
        assert result.reason == ALTERED, (what, result.reason)
        assert result.sealed == 1, what  # the issue before it still verifies
        await write(app, *undo)
        assert (await ledger.verify()).ok, f"{what}: not put back"


async def test_a_renamed_entry_is_named_by_its_sealed_id(app: Any, sealed: Sealed) -> None:
    e = sealed.canceled
    await write(
        app,
        entry(e.id, id="je_renamed"),
        update(JournalLine).where(JournalLine.entry_id == e.id).values(entry_id="je_renamed"),
        defer_fks=True,
    )
    result = await app.state.ledger.verify()
    assert result == VerifyResult(False, 1, 0, e.id, "entry is missing")


async def test_each_break_is_named_with_how_many_entries_verified_before_it(
    app: Any, sealed: Sealed
) -> None:
    """What ``ledger verify`` reports, field by field, for each kind of break: the seals
    before it verified, no count of unsealed entries (the walk stopped), the entry, why."""
    ledger, e, other = app.state.ledger, sealed.canceled, sealed.other
    async with app.state.db.session() as s:
        kept = (
            await s.execute(select(ChainSeal).where(ChainSeal.entry_id == other.id))
        ).scalar_one()
    seal = update(ChainSeal).where(ChainSeal.entry_id == other.id)
    broken = VerifyResult(False, 2, 0, other.id, "chain is broken before this entry")
    for change, undo in [
        (seal.values(prev_hash="0" * 64), seal.values(prev_hash=kept.prev_hash)),
        (seal.values(position=9), seal.values(position=kept.position)),
    ]:
        await write(app, change)
        assert await ledger.verify() == broken
        await write(app, undo)
    assert (await ledger.verify()).ok
    a = sealed.lines[0]
    await write(app, line(a.id, debit=a.debit and a.debit + 1, credit=a.credit and a.credit + 1))
    bad = await ledger.verify()
    assert (bad.ok, bad.sealed, bad.unsealed, bad.first_bad_entry) == (False, 1, 0, e.id)
    assert bad.reason is not None and bad.reason.startswith("entry is invalid: ")


async def test_the_cli_names_an_entry_whose_kind_changed(
    app: Any, sealed: Sealed, settings: Any
) -> None:
    await write(app, entry(sealed.canceled.id, kind="invoice_issued"))
    env = {**os.environ, "REGIE_DATABASE_URL": settings.database_url}
    result = await asyncio.to_thread(
        subprocess.run,
        [REGIE, "ledger", "verify"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stdout
    assert sealed.canceled.id in result.stderr and ALTERED in result.stderr


async def test_changing_the_exported_labels_names_the_entry(app: Any, sealed: Sealed) -> None:
    e = sealed.canceled
    for what, change, undo in [
        ("description", entry(e.id, description="x"), entry(e.id, description=e.description)),
        ("invoice_id", entry(e.id, invoice_id="inv_x"), entry(e.id, invoice_id=e.invoice_id)),
        ("service_id", entry(e.id, service_id="svc_x"), entry(e.id, service_id=e.service_id)),
    ]:
        await write(app, change)
        result = await app.state.ledger.verify()
        await write(app, undo)
        assert (result.ok, result.first_bad_entry) == (False, e.id), what


async def test_seals_of_earlier_forms_still_verify_and_new_ones_cover_the_labels(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    """A ledger sealed before form 2 existed (its seals say form 1, hashed without the
    labels), then before form 3 (form 2, without the entry's number), verifies after the
    upgrade; entries sealed afterwards use form 3, so changing their labels is caught,
    while a form-1 entry's labels were never covered, nor a form-2 entry's number."""
    from ledger import repository as ledger_repo
    from ledger.models import ChainSeal
    from ledger.posting import GENESIS, chain_hash
    from regie.kit.database import utcnow

    old = await create_invoice(client, keys.urbanisme, reference="OLD-1")
    async with app.state.db.session() as s:  # what the old code wrote: form 1 hashes
        (e,) = (await s.execute(select(JournalEntry))).scalars().all()
        lines = (await ledger_repo.lines_of(s, [e.id]))[e.id]
        h = chain_hash(GENESIS, ledger_repo.canonical(e, lines), 1)
        s.add(ChainSeal(position=1, entry_id=e.id, prev_hash=GENESIS, hash=h, form=1,
                        sealed_at=utcnow()))  # fmt: skip
        await s.commit()
    assert old["id"] == e.invoice_id
    await create_invoice(client, keys.urbanisme, reference="MID-1")
    async with app.state.db.session() as s:  # what the code of form 2 wrote
        mid = (await s.execute(select(JournalEntry).where(JournalEntry.id != e.id))).scalar_one()
        lines = (await ledger_repo.lines_of(s, [mid.id]))[mid.id]
        h2 = chain_hash(h, ledger_repo.canonical(mid, lines), 2)
        s.add(ChainSeal(position=2, entry_id=mid.id, prev_hash=h, hash=h2, form=2,
                        sealed_at=utcnow()))  # fmt: skip
        await s.commit()
    await create_invoice(client, keys.urbanisme, reference="NEW-1")
    assert await app.state.ledger.seal() == 1
    result = await app.state.ledger.verify()
    assert (result.ok, result.sealed, result.unsealed) == (True, 3, 0)
    async with app.state.db.session() as s:
        forms = [x.form for x in (await s.execute(select(ChainSeal))).scalars()]
        new = (
            await s.execute(select(JournalEntry).where(col(JournalEntry.id).not_in([e.id, mid.id])))
        ).scalar_one()
    assert sorted(forms) == [1, 2, 3]
    if app.state.db.is_postgres:
        return  # the triggers refuse the UPDATEs below (tested in test_ledger_db.py)
    await write(app, entry(new.id, description="altered"))
    bad = await app.state.ledger.verify()
    assert (bad.ok, bad.first_bad_entry) == (False, new.id)
    await write(app, entry(new.id, description=new.description))
    await write(app, entry(e.id, description="altered"))  # form 1: not covered
    assert (await app.state.ledger.verify()).ok
    await write(app, entry(mid.id, seq=10_000))  # form 2: its number not covered
    assert (await app.state.ledger.verify()).ok
    await write(app, entry(new.id, seq=10_001))
    bad = await app.state.ledger.verify()
    assert (bad.ok, bad.first_bad_entry) == (False, new.id)


async def test_entries_put_in_another_order_name_the_first_of_them(
    app: Any, sealed: Sealed
) -> None:
    """An entry's number (``seq``) is the ledger's order: the entries' list and the CSV
    print it, and the FEC numbers each day's entries in it (EcritureNum, the order of
    their validation). Two sealed entries whose numbers were swapped verified: the hash
    left the number out."""
    e, other = sealed.canceled, sealed.other
    assert e.seq is not None and other.seq is not None
    swap = [entry(e.id, seq=10_000), entry(other.id, seq=e.seq), entry(e.id, seq=other.seq)]
    back = [entry(e.id, seq=10_000), entry(other.id, seq=other.seq), entry(e.id, seq=e.seq)]
    await write(app, *swap)
    result = await app.state.ledger.verify()
    await write(app, *back)
    assert (result.ok, result.first_bad_entry, result.reason) == (False, e.id, ALTERED)
    assert result.sealed == 1  # the issue before them still verifies
    assert (await app.state.ledger.verify()).ok
