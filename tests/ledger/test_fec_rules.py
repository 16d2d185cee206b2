"""The FEC against the rules of article A47 A-1 of the LPF and BOI-CF-IOR-60-40-20 (the
administration's commentary), beyond its labels (``test_fec.py``): the characters it is
written in, and the balances it opens with."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import subprocess
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from ledger.export import FEC_COLUMNS, fec_rows, write_fec
from ledger.service import Balance, ExportLine
from tests.conftest import Keys, create_invoice
from tests.regie.test_cli import REGIE

T = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
# A47 A-1, III 1°: the characters belong to ASCII, ISO 8859-15 or EBCDIC (not UTF-8)
FEC_ENCODING = "iso8859_15"


def test_a_character_outside_iso_8859_15_is_written_as_its_nearest_one() -> None:
    # an invoice reference takes any letter (\w): ą, 東京 cannot be written in Latin-9;
    # a letter loses its accent, anything else is a ?
    lines = [
        ExportLine(1, "je_1", "x", T, "Dąbrowa 東京 é€œ", None, "assets:bank:x", "EUR", 100, 0),
        ExportLine(1, "je_1", "x", T, "Dąbrowa 東京 é€œ", None, "income:u", "EUR", 0, 100),
    ]
    out = io.StringIO()
    write_fec(lines, out)
    text = out.getvalue()
    text.encode(FEC_ENCODING)  # raises if a character is not Latin-9
    assert "Dabrowa ?? é€œ" in text


def test_french_typography_outside_iso_8859_15_keeps_its_plain_form() -> None:
    # a description typed in a word processor: its apostrophe, quotes, dash and ellipsis
    # are no letters, and were each written ? ("Cantine de l?école ? mai")
    text = "Cantine de l\u2019école \u2013 \u201cmai\u201d \u2018A\u2019 \u2014 x\u2026"
    lines = [
        ExportLine(1, "je_1", "x", T, text, None, "assets:bank:x", "EUR", 100, 0),
        ExportLine(1, "je_1", "x", T, text, None, "income:u", "EUR", 0, 100),
    ]
    out = io.StringIO()
    write_fec(lines, out)
    written = out.getvalue()
    written.encode(FEC_ENCODING)
    assert "Cantine de l'école - \"mai\" 'A' - x..." in written


async def test_the_cli_writes_the_fec_in_iso_8859_15(
    client: httpx.AsyncClient, keys: Keys, settings: Any, tmp_path: Path
) -> None:
    await create_invoice(client, keys.urbanisme)  # "Usagers - créances", "Facture …"
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("REGIE_")}
    env["REGIE_DATABASE_URL"] = settings.database_url
    args = ["ledger", "export", "--format", "fec", "--from", "2000-01-01", "--to", "2099-12-31"]
    for output in ("fec.txt", "-"):  # a file, and stdout (piped to a file)
        done = await asyncio.to_thread(
            subprocess.run,
            [REGIE, *args, "--siren", "213105554", "--output", output],
            env=env, cwd=tmp_path, capture_output=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    written = (tmp_path / "fec.txt").read_bytes()
    assert written == done.stdout
    assert "Usagers - créances".encode(FEC_ENCODING) in written
    assert "créances".encode() not in written  # not UTF-8


async def test_the_http_fec_is_iso_8859_15(client: httpx.AsyncClient, app: Any, keys: Keys) -> None:
    await create_invoice(client, keys.urbanisme)  # "Usagers - créances", "Facture …"
    params = {"from": "2000-01-01", "to": "2099-12-31", "siren": "213105554"}
    r = await client.get("/v1/ledger/fec", params=params, headers=Keys.h(keys.finance))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/plain; charset=iso-8859-15"
    assert "Usagers - créances".encode(FEC_ENCODING) in r.content
    assert "créances".encode() not in r.content  # not UTF-8


# BOI-CF-IOR-60-40-20 (II, nature of the file) and A47 A-1: the file of an exercise holds
# the entries carrying the previous one's balances (the "à-nouveaux") first
COL = {name: i for i, name in enumerate(FEC_COLUMNS)}


def test_the_fec_opens_with_the_balances_carried_from_before_its_first_day() -> None:
    opening = [
        Balance("receivable:urbanisme", "EUR", 2500, 1000),  # 15,00 still owed
        Balance("assets:psp:simulator", "EUR", 1000, 63),
        Balance("expenses:psp_fees", "EUR", 63, 0),
        Balance("income:urbanisme", "EUR", 0, 2500),
        Balance("income:urbanisme", "XPF", 0, 1500),  # another currency's books
        Balance("assets:bank:main", "EUR", 500, 500),  # nothing left: no line
    ]
    later = dt.datetime(2027, 1, 3, 9, tzinfo=dt.UTC)
    lines = [
        ExportLine(9, "je_9", "payout_paid", later, "", None, "assets:bank:main", "EUR", 900, 0),
        ExportLine(9, "je_9", "payout_paid", later, "", None, "assets:psp:simulator", "EUR", 0, 900),
    ]  # fmt: skip
    rows = list(fec_rows(lines, opening=opening, opening_day=dt.date(2027, 1, 1)))[1:]
    an = [r for r in rows if r[COL["JournalCode"]] == "AN"]
    assert rows[: len(an)] == an  # first
    assert {r[COL["EcritureNum"]] for r in an} == {"AN000001"}
    assert {(r[COL["EcritureDate"]], r[COL["PieceDate"]], r[COL["ValidDate"]]) for r in an} == {
        ("20270101", "20270101", "20270101")
    }
    got = [
        (r[COL["CompteNum"]], r[COL["CompAuxNum"]], r[COL["Debit"]], r[COL["Credit"]]) for r in an
    ]
    # balance-sheet accounts carried as they stand; the income and expenses of earlier
    # periods as one result (an excess of 24,37 here: 25,00 income less 0,63 fees)
    assert sorted(got) == [
        ("120000", "", "0,00", "24,37"),
        ("411000", "urbanisme", "15,00", "0,00"),
        ("467100", "", "9,37", "0,00"),
    ]
    assert all(r[COL["PieceRef"]] and r[COL["EcritureLib"]] for r in an)
    assert [r[COL["EcritureNum"]] for r in rows[len(an) :]] == ["BQ000001", "BQ000001"]


def test_a_deficit_carried_is_a_debit_on_129_and_nothing_carried_is_no_entry() -> None:
    opening = [Balance("expenses:psp_fees", "EUR", 63, 0), Balance("assets:psp:x", "EUR", 0, 63)]
    rows = list(fec_rows([], opening=opening, opening_day=dt.date(2027, 1, 1)))[1:]
    assert sorted((r[COL["CompteNum"]], r[COL["Debit"]], r[COL["Credit"]]) for r in rows) == [
        ("129000", "0,63", "0,00"),
        ("467100", "0,00", "0,63"),
    ]
    assert list(fec_rows([], opening=[], opening_day=dt.date(2027, 1, 1)))[1:] == []


async def test_the_http_fec_of_a_later_period_opens_with_what_was_owed(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    await create_invoice(client, keys.urbanisme, amount=2500)  # effective today
    first = dt.datetime.now(ZoneInfo("Europe/Paris")).date() + dt.timedelta(days=1)
    params = {"from": first.isoformat(), "to": f"{first.year + 1}-12-31", "siren": "213105554"}
    r = await client.get("/v1/ledger/fec", params=params, headers=Keys.h(keys.finance))
    assert r.status_code == 200, r.text
    rows = [x.split("|") for x in r.content.decode(FEC_ENCODING).split("\r\n")[1:] if x]
    assert sorted((x[COL["JournalCode"]], x[COL["CompteNum"]], x[COL["Debit"]], x[COL["Credit"]])
                  for x in rows) == [
        ("AN", "120000", "0,00", "25,00"),
        ("AN", "411000", "25,00", "0,00"),
    ]  # fmt: skip
    assert {x[COL["EcritureDate"]] for x in rows} == {f"{first:%Y%m%d}"}


def test_entries_are_numbered_in_the_order_of_their_dates_within_a_journal() -> None:
    """A payment the PSP made at 23:59:30 on 31 December and regie booked at 00:00:30 is
    dated 31 December but follows, in the ledger's order, an entry of 1 January: the FEC
    numbered the January entry first, so its numbers no longer followed its dates (the
    entries are in the chronological order of their validation, A47 A-1). They are now
    numbered day by day, each day's in the ledger's order."""
    jan_1 = dt.datetime(2027, 1, 1, 9, tzinfo=dt.UTC)
    dec_31 = dt.datetime(2026, 12, 31, 22, 59, 30, tzinfo=dt.UTC)  # 23:59:30 in Paris
    lines = [
        ExportLine(1, "je_1", "payment_succeeded", jan_1, "", None, "assets:psp:x", "EUR", 500, 0),
        ExportLine(1, "je_1", "payment_succeeded", jan_1, "", None, "income:u", "EUR", 0, 500),
        ExportLine(2, "je_2", "payment_succeeded", dec_31, "", None, "assets:psp:x", "EUR", 700, 0),
        ExportLine(2, "je_2", "payment_succeeded", dec_31, "", None, "income:u", "EUR", 0, 700),
    ]  # fmt: skip
    rows = list(fec_rows(lines))[1:]
    got = [(r[COL["EcritureNum"]], r[COL["EcritureDate"]], r[COL["Debit"]]) for r in rows]
    assert [g[:2] for g in got] == [
        ("PSP000001", "20261231"), ("PSP000001", "20261231"),
        ("PSP000002", "20270101"), ("PSP000002", "20270101"),
    ]  # fmt: skip
    assert got[0][2] == "7,00"


def test_a_dispute_fee_is_an_expense_not_the_suspense_account() -> None:
    """The PSP's dispute fee (``expenses:dispute_fees``) had no PCG account: the FEC put it
    on 471000 (compte d'attente) with the regie account path as an auxiliary account, and
    carried it forward as a balance-sheet item instead of in the earlier result. It is a
    bank service charge (627000), with no auxiliary account (only 411 has one)."""
    fee = [
        ExportLine(5, "je_5", "dispute_fee", T, "", None, "expenses:dispute_fees", "EUR", 1500, 0),
        ExportLine(5, "je_5", "dispute_fee", T, "", None, "assets:psp:stripe", "EUR", 0, 1500),
    ]  # fmt: skip
    rows = list(fec_rows(fee))[1:]
    assert [(r[COL["CompteNum"]], r[COL["CompAuxNum"]], r[COL["Debit"]]) for r in rows] == [
        ("627000", "", "15,00"),
        ("467100", "", "0,00"),
    ]
    opening = [
        Balance("expenses:dispute_fees", "EUR", 1500, 0),
        Balance("assets:psp:stripe", "EUR", 0, 1500),
    ]
    rows = list(fec_rows([], opening=opening, opening_day=dt.date(2027, 1, 1)))[1:]
    assert sorted((r[COL["CompteNum"]], r[COL["Debit"]], r[COL["Credit"]]) for r in rows) == [
        ("129000", "15,00", "0,00"),  # an expense of an earlier period: in its result
        ("467100", "0,00", "15,00"),
    ]


def test_a_payouts_reconciliation_is_in_the_bank_journal_like_its_payout() -> None:
    """``payout_reconciled`` (what a shared account's reconciliation adds to a payout at
    the bank) had no journal and fell to the card collections' (PSP), while the payout it
    completes and its failure's reversal of it are in the bank's (BQ)."""
    lines = [
        ExportLine(7, "je_7", "payout_reconciled", T, "", None, "assets:bank:main", "EUR", 500, 0),
        ExportLine(7, "je_7", "payout_reconciled", T, "", None, "assets:psp:x", "EUR", 0, 500),
    ]  # fmt: skip
    rows = list(fec_rows(lines))[1:]
    assert {(r[COL["JournalCode"]], r[COL["EcritureNum"]]) for r in rows} == {("BQ", "BQ000001")}


async def test_the_cli_says_which_lines_the_fec_leaves_out_for_their_currency(
    client: httpx.AsyncClient, keys: Keys, settings: Any, tmp_path: Path
) -> None:
    """A FEC is in one currency: an invoice in USD is in the ledger but not in a EUR file.
    The command says so, with the lines' count and currency, instead of leaving them out
    silently."""
    await create_invoice(client, keys.urbanisme)
    await create_invoice(client, keys.urbanisme, currency="USD", reference="US-1")
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("REGIE_")}
    env["REGIE_DATABASE_URL"] = settings.database_url
    args = ["ledger", "export", "--format", "fec", "--from", "2000-01-01", "--to", "2099-12-31",
            "--siren", "213105554", "--output", "fec.txt"]  # fmt: skip
    done = await asyncio.to_thread(
        subprocess.run, [REGIE, *args], env=env, cwd=tmp_path, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "left out 2 lines in USD" in done.stderr, done.stderr
    assert "USD" not in (tmp_path / "fec.txt").read_text(encoding=FEC_ENCODING)


async def test_the_http_fec_says_which_lines_it_leaves_out_for_their_currency(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    params = {"from": "2000-01-01", "to": "2099-12-31", "siren": "213105554"}
    await create_invoice(client, keys.urbanisme)
    r = await client.get("/v1/ledger/fec", params=params, headers=Keys.h(keys.finance))
    assert r.status_code == 200 and "regie-left-out" not in r.headers
    await create_invoice(client, keys.urbanisme, currency="USD", reference="US-1")
    r = await client.get("/v1/ledger/fec", params=params, headers=Keys.h(keys.finance))
    assert r.status_code == 200 and r.headers["regie-left-out"] == "USD=2"
    r = await client.get(
        "/v1/ledger/fec", params={**params, "currency": "USD"}, headers=Keys.h(keys.finance)
    )
    assert r.headers["regie-left-out"] == "EUR=2" and "US-1" in r.content.decode("latin-1")


def test_no_cell_can_add_a_column_or_a_record() -> None:
    """A cell is written in Latin-9 after ``|`` was replaced: a fullwidth bar (U+FF5C),
    which Latin-9 lacks, became a plain ``|`` there and split its cell in two (19
    columns); a carriage return, a tab or a C1 control (NEL) went through as they were,
    and a reader of the file takes a CR or a NEL for the end of a record."""
    text = "a\uff5cb|c\rd\te\x85f\x0bg\nh"
    lines = [
        ExportLine(1, "je_1", "x", T, text, None, "assets:bank:x", "EUR", 100, 0),
        ExportLine(1, "je_1", "x", T, text, None, "income:u", "EUR", 0, 100),
    ]
    out = io.StringIO(newline="")
    assert write_fec(lines, out) == 2
    written = out.getvalue()
    records = written.split("\r\n")
    assert records[-1] == "" and len(records) == 4  # the header, two rows, nothing after
    for record in records[:-1]:
        assert record.count("|") == len(FEC_COLUMNS) - 1
        assert not any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in record)
    assert records[1].split("|")[COL["EcritureLib"]] == "a/b/c d e f g h"
