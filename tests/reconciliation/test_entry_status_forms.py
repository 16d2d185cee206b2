"""An entry's status, however the bank writes it, means one thing to every reader of it.

camt.053.001.02 writes it as the text of ``<Sts>`` (``<Sts>BOOK</Sts>``), 001.08 as a code
(``<Sts><Cd>BOOK</Cd></Sts>``), and some banks their own word (``<Sts><Prtry>BOOKED</Prtry>``,
``<Sts>booked</Sts>``). The parser kept the status as written and its readers disagreed:
``normalise.from_entry`` took "BOOK" or "BOOKED" in any case as booked, while the balance
check, the import's keys and the runs' query of the bank's entries took only "BOOK". An
entry written "BOOKED" made its statement "not add up" and, once imported, never reached a
run. The status is now made one of ISO's codes when it names one, once, at parse time."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from reconciliation.normalise import from_entry
from reconciliation.sources.camt053 import parse_camt053
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.reconciliation.camt_builder import NS, E, S, camt
from tests.reconciliation.test_statement_bookings import IBAN, booked, stored, upload

DAY = dt.date(2026, 10, 1)


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(bank_iban=IBAN)  # type: ignore[no-any-return]


def _with_status(status_xml: str, version: int = 8) -> bytes:
    """One statement of one booked credit of 50.00 (0.00 to 50.00), its status as given."""
    doc = camt(
        S(closing=("50.00", "CRDT"), entries=[E("50.00", servicer_ref="ASR-1")]), version=version
    ).decode()
    ns = NS.format(v=f"{version:02d}")
    assert ns in doc
    written = "<Sts>BOOK</Sts>" if version < 7 else "<Sts><Cd>BOOK</Cd></Sts>"
    assert doc.count(written) == 1
    return doc.replace(written, status_xml).encode()


FORMS = [
    (2, "<Sts>BOOK</Sts>"),  # 001.02's text
    (2, "<Sts><Cd>BOOK</Cd></Sts>"),  # the later code, in an older file
    (8, "<Sts><Cd>BOOK</Cd></Sts>"),  # 001.08's code
    (8, "<Sts>BOOK</Sts>"),  # the older text, in a later file
    (8, "<Sts>\n  <Cd>BOOK</Cd>\n</Sts>"),  # the code, indented
    (8, "<Sts><Prtry>BOOKED</Prtry></Sts>"),  # a bank's own word
    (2, "<Sts>booked</Sts>"),
    (2, "<Sts> Book </Sts>"),
]


@pytest.mark.parametrize(("version", "status"), FORMS)
def test_every_form_of_booked_is_booked_for_every_reader(version: int, status: str) -> None:
    f = parse_camt053(_with_status(status, version), "s.xml")
    ((entry,),) = [st.entries for st in f.statements]
    assert entry.status == "BOOK"
    assert entry.booked
    assert from_entry(entry, "S1") is not None  # a bank line, as before
    assert f.problems == ()  # and the statement adds up: its one entry counted


@pytest.mark.parametrize(
    ("status", "code"),
    [("<Sts><Prtry>PENDING</Prtry></Sts>", "PDNG"), ("<Sts>pdng</Sts>", "PDNG"),
     ("<Sts><Cd>INFO</Cd></Sts>", "INFO"), ("<Sts><Prtry>EN COURS</Prtry></Sts>", "EN COURS")],
)  # fmt: skip
def test_other_statuses_are_iso_codes_when_they_name_one(status: str, code: str) -> None:
    f = parse_camt053(_with_status(status), "s.xml")
    (entry,) = f.statements[0].entries
    assert entry.status == code
    assert not entry.booked
    assert from_entry(entry, "S1") is None


async def test_an_entry_written_booked_is_imported_as_booked_and_counted_in_runs(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    doc = await upload(client, keys, _with_status("<Sts><Prtry>BOOKED</Prtry></Sts>"), "s.xml")
    assert doc["entries"] == 1
    assert doc["problems"] == []  # it was "does not add up": the entry not counted
    # stored under its bare reference and as booked: what a run reads of the bank
    assert await stored(app) == [("ASR-1", "BOOK")]
    assert await booked(app, DAY) == [("ASR-1", 5000)]
