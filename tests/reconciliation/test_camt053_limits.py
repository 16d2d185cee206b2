"""What the camt.053 reader refuses because regie could not store it whole (lengths, amounts
beyond a 64-bit integer of minor units), entries without a date, and the wording of
libxml2's errors: each a SourceError naming the file and line, for ``show`` as for import."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciliation.sources.camt053 import parse_camt053
from reconciliation.sources.errors import SourceError
from regie.kit.settings import Settings
from tests.conftest import Keys

from .camt_builder import E, S, camt

REGIE = str(Path(sys.executable).parent / "regie")
IBAN = "FR7630001007941234567890185"


def refused(data: bytes, name: str = "statement.xml") -> SourceError:
    with pytest.raises(SourceError) as exc:
        parse_camt053(data, name)
    assert type(exc.value) is SourceError and exc.value.filename == name
    return exc.value


def line_of(data: bytes, marker: bytes) -> int:
    return data[: data.index(marker)].count(b"\n") + 1


def test_an_entry_without_a_booking_or_value_date_is_refused_by_the_reader() -> None:
    data = camt(S(entries=[E("1.00", day=None)]))
    err = refused(data, "nodate.xml")
    assert str(err) == "nodate.xml, line 9: entry without a booking or value date"
    assert err.line == line_of(data, b"<Ntry>")


@pytest.mark.parametrize("where", ["NtryRef", "AcctSvcrRef"])
def test_a_reference_longer_than_regie_stores_is_refused(where: str) -> None:
    long = "R" * 141
    data = camt(S(entries=[E("1.00", ref="X")])).replace(
        b"<NtryRef>X</NtryRef>", f"<{where}>{long}</{where}>".encode()
    )
    err = refused(data)
    assert err.line == line_of(data, f"<{where}>".encode())
    assert err.message == f"{where} is 141 characters long; regie keeps at most 140"
    ok = data.replace(long.encode(), b"R" * 140)
    assert parse_camt053(ok, "x").statements[0].entries[0].bank_reference == "R" * 140


def test_a_statement_id_or_account_longer_than_regie_stores_is_refused() -> None:
    data = camt(S(id="I" * 141))
    err = refused(data)
    assert (err.line, err.message) == (
        line_of(data, b"<Id>I"),
        "Id is 141 characters long; regie keeps at most 140",
    )
    data = camt(S()).replace(
        b"<IBAN>FR7630001007941234567890185</IBAN>", b"<Othr><Id>" + b"9" * 65 + b"</Id></Othr>"
    )
    err = refused(data)
    assert err.message == "Acct/Id/Othr/Id is 65 characters long; regie keeps at most 64"


@pytest.mark.parametrize(
    ("amount", "where"), [("999999999999999999.99", "entry"), ("92233720368547758.08", "entry"),
                          ("999999999999999999.99", "balance")],
)  # fmt: skip
def test_an_amount_beyond_64_bit_minor_units_is_refused(amount: str, where: str) -> None:
    s = S(entries=[E(amount)]) if where == "entry" else S(closing=(amount, "DBIT"))
    data = camt(s)
    err = refused(data)
    assert err.line == line_of(data, f">{amount}<".encode())
    assert err.message == f"amount {amount} is too large"
    biggest = "92233720368547758.07"  # 2**63 - 1 cents
    assert parse_camt053(camt(S(entries=[E(biggest)])), "x").statements[0].entries[0].amount == (
        2**63 - 1
    )


def test_too_many_decimals_say_so() -> None:
    err = refused(camt(S(entries=[E("25.0000000000000000000")])))
    assert err.message == "amount 25.0000000000000000000 has more decimals than EUR allows"
    err = refused(camt(S(entries=[E("1234567890123456789.00")])))
    assert err.message == "amount 1234567890123456789.00 is too large"


def test_libxml2_messages_are_one_plain_line() -> None:
    deep = camt(S()).replace(b"<GrpHdr>", b"<X>" * 300 + b"</X>" * 300 + b"<GrpHdr>")
    err = refused(deep)
    assert err.message == "not XML: Excessive depth in document: 256"
    nul = camt(S()).replace(b"<MsgId>", b"<MsgId>\x00")
    err = refused(nul)
    assert err.message == "not XML: Invalid character: Char 0x0 out of allowed range"
    assert err.line == 3
    for e in (err, refused(deep)):
        assert "\n" not in str(e) and "XML_PARSE" not in str(e)


def test_a_doctype_in_utf16_names_its_line() -> None:
    utf16 = (
        '<?xml version="1.0" encoding="UTF-16"?>\n'
        '<!DOCTYPE Document SYSTEM "http://127.0.0.1:9/camt.dtd">\n'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"/>'
    ).encode("utf-16")
    err = refused(utf16, "xxe16.xml")
    assert str(err) == "xxe16.xml, line 2: refused: the file declares a DOCTYPE"


# -- the command, as a finance officer runs it -------------------------------------------


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGIE_")}
    return subprocess.run(
        [REGIE, "bank-statement", "show", *args], env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip


def test_show_refuses_what_import_refuses(tmp_path: Path) -> None:
    nodate = tmp_path / "nodate.xml"
    nodate.write_bytes(camt(S(entries=[E("1.00", day=None)])))
    done = run(str(nodate))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == f"error: {nodate}, line 9: entry without a booking or value date\n"
    usd = tmp_path / "usd.xml"
    usd.write_bytes(camt(S(balance_currency="USD", closing=("5.00", "CRDT"))))
    done = run(str(usd))
    assert done.returncode == 2 and "USD" in done.stderr and "line 7" in done.stderr


def test_show_says_the_real_size_of_a_large_file(tmp_path: Path) -> None:
    big = tmp_path / "big.xml"
    with open(big, "wb") as fh:
        fh.truncate(60 * 1024 * 1024)
    done = run(str(big))
    assert done.returncode == 2
    assert done.stderr == (
        f"error: {big}: the file is 62914560 bytes, more than the 52428800 allowed\n"
    )


# -- through the API, on SQLite and PostgreSQL -------------------------------------------


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(bank_iban=IBAN)  # type: ignore[no-any-return]


async def test_the_api_refuses_what_the_database_could_not_hold(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    bad = {
        "ref.xml": camt(S(entries=[E("1.00", ref="R" * 141)])),
        "id.xml": camt(S(id="I" * 141)),
        "amount.xml": camt(S(entries=[E("999999999999999999.99")])),
        "balance.xml": camt(S(closing=("999999999999999999.99", "CRDT"))),
        "nodate.xml": camt(S(entries=[E("1.00", day=None)])),
    }
    for name, data in bad.items():
        r = await client.post(
            "/v1/bank-statements", files={"file": (name, data, "application/xml")},
            headers=Keys.h(keys.finance),
        )  # fmt: skip
        assert r.status_code == 422, (name, r.text)
        assert r.json()["error"]["code"] == "file_invalid"
        assert r.json()["error"]["message"].startswith(f"{name}, line ")
    listed = await client.get("/v1/bank-statements", headers=Keys.h(keys.finance))
    assert listed.json()["data"] == []
    # two references sharing their first 140 characters were one row cut to 140: now whole
    same = "R" * 140
    r = await client.post(
        "/v1/bank-statements",
        files={"file": ("ok.xml", camt(S(entries=[E("1.00", ref=same), E("2.00", ref="B")])),
                        "application/xml")},
        headers=Keys.h(keys.finance),
    )  # fmt: skip
    assert r.status_code == 201 and r.json()["entries"] == 2


def test_a_sequence_number_of_19_digits_is_refused_18_are_read() -> None:
    """An electronic sequence number is stored in a 64-bit integer: 18 digits always fit,
    19 may not (a mutant that took 19 survived the suite)."""
    data = camt(S(seq=10**17))  # 18 digits
    assert parse_camt053(data, "x").statements[0].electronic_sequence == 10**17
    err = refused(camt(S(seq=10**18)))  # 19 digits
    assert err.message.startswith("ElctrncSeqNb") and "1000000000000000000" in err.message


def test_an_empty_account_currency_is_read_as_none_given_and_the_balances_say_it() -> None:
    """``<Ccy/>`` in the account names no currency: the statement's is its booked balances'
    (as when the element is missing), and nothing is checked against an empty code."""
    data = camt(S(opening=("1.00", "CRDT"), closing=("1.00", "CRDT"))).replace(
        b"<Ccy>EUR</Ccy>", b"<Ccy/>"
    )
    assert parse_camt053(data, "x").statements[0].currency == "EUR"


def _with_status(status: str) -> bytes:
    return camt(S(entries=[E("1.00", ref="X")])).replace(
        b"<Sts><Cd>BOOK</Cd></Sts>", f"<Sts><Prtry>{status}</Prtry></Sts>".encode()
    )


def test_a_proprietary_status_longer_than_iso_allows_is_refused_at_its_line() -> None:
    """``Sts/Prtry`` is ISO's Max35Text: 35 characters are read whole, 36 refused where they
    are (the import cut any status to 8 characters, silently)."""
    ok = _with_status("P" * 35)
    assert parse_camt053(ok, "x").statements[0].entries[0].status == "P" * 35
    data = _with_status("P" * 36)
    err = refused(data)
    assert err.line == line_of(data, b"<Prtry>")
    assert err.message == "Sts/Prtry is 36 characters long; regie keeps at most 35"


async def test_a_proprietary_status_is_stored_whole(
    client: httpx.AsyncClient, keys: Keys, app: Any
) -> None:
    from sqlalchemy import select

    from reconciliation.models import BankEntryRow

    status = "PROPRIETARY-BOOKED-35-CHARACTERS-XX"
    assert len(status) == 35
    r = await client.post(
        "/v1/bank-statements",
        files={"file": ("p.xml", _with_status(status), "application/xml")},
        headers=Keys.h(keys.finance),
    )  # fmt: skip
    assert r.status_code == 201, r.text
    async with app.state.db.session() as s:
        stored = (await s.execute(select(BankEntryRow.status))).scalars().all()
    assert stored == [status]
