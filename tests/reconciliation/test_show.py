"""``regie bank-statement show``: the pure JSON and table, and the command as a subprocess."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from reconciliation.imports import StatementImporter
from reconciliation.sources.camt053 import parse_camt053
from reconciliation.sources.errors import SourceError
from reconciliation.sources.show import AccountCheck, bank_statement_json, bank_statement_table

from .camt_builder import E, S, camt

SAMPLES = Path(__file__).parent / "samples"
BATCH = SAMPLES / "regie.v8.batch.xml"
REGIE = str(Path(sys.executable).parent / "regie")


def test_json_amounts_signs_and_order() -> None:
    doc = bank_statement_json(parse_camt053(BATCH.read_bytes(), "batch.xml"))
    assert json.loads(json.dumps(doc)) == doc  # plain JSON types only
    assert (doc["format"], doc["version"], doc["message_id"]) == (
        "camt.053",
        "001.08",
        "REGIE-TEST-20261005",
    )
    assert doc["problems"] == []
    first, second = doc["statements"]
    assert (first["id"], first["electronic_sequence"], first["currency"]) == (
        "STMT-2026-10-02",
        42,
        "EUR",
    )
    assert first["account"] == {"iban": "FR7630001007941234567890185", "other_id": None}
    assert [(b["type"], b["amount"]) for b in first["balances"]] == [
        ("OPBD", -15000),  # a DBIT balance is negative
        ("CLBD", 118136),
        ("CLAV", 168136),
    ]
    assert [
        (e["amount"], e["direction"], e["status"], e["reversal"]) for e in first["entries"]
    ] == [
        (123456, "credit", "BOOK", False),
        (2500, "debit", "BOOK", False),  # positive, with its direction
        (2500, "credit", "BOOK", True),
        (50000, "credit", "PDNG", False),
        (9680, "credit", "BOOK", False),
    ]
    batch = first["entries"][0]
    assert (batch["booking_date"], batch["value_date"]) == ("2026-10-02", "2026-10-02")
    assert batch["bank_reference"] == "BANK-REF-0001"
    assert batch["bank_transaction_code"] == "PMNT/RCDT/ESCT"
    assert [d["amount"] for d in batch["details"]] == [13456, 110000]
    assert batch["details"][1]["creditor_reference"] == "RF18539007547034"
    assert first["entries"][4]["booking_datetime"] == "2026-10-02T14:30:00+02:00"
    assert second["balances"][0]["type"] == "PRCD"


def render(data: bytes) -> str:
    out = io.StringIO()
    Console(file=out, width=120, color_system=None).print(
        bank_statement_table(parse_camt053(data, "x.xml"))
    )
    return out.getvalue()


def test_the_table_shows_balances_entries_details_and_problems() -> None:
    text = render(BATCH.read_bytes())
    assert "camt.053.001.08, message REGIE-TEST-20261005" in text
    assert "Statement STMT-2026-10-02" in text and "electronic sequence 42" in text
    assert "-150.00 EUR" in text and "+1234.56 EUR" in text and "-25.00 EUR" in text
    assert "BOOK reversal" in text
    assert "creditor ref RF18539007547034" in text
    assert "line 53: +134.56 EUR · Camille Martin → Mairie de Test" in text  # a detail's sign
    assert "No problems" in text
    gap = render(BATCH.read_bytes().replace(b"<ElctrncSeqNb>43<", b"<ElctrncSeqNb>45<"))
    assert "Problems (1)" in gap and "43 to 44 missing" in gap


def test_text_from_the_file_is_not_read_as_markup() -> None:
    text = render(
        camt(S(entries=[E("1.00", ref="[bold red]x[/bold red]")], closing=("1.00", "CRDT")))
    )
    assert "[bold red]x[/bold red]" in text


def run(*args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGIE_")} | settings
    return subprocess.run(
        [REGIE, "bank-statement", "show", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_command_prints_json_and_exits_0_even_with_problems(tmp_path: Path) -> None:
    done = run(str(BATCH), "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["statements"][0]["balances"][0]["amount"] == -15000
    off = tmp_path / "off.xml"
    off.write_bytes(BATCH.read_bytes().replace(b"1000.00", b"1000.01"))
    done = run(str(off), "--format", "json")
    assert done.returncode == 0, done.stderr
    (problem,) = json.loads(done.stdout)["problems"]
    assert "STMT-2026-10-03" in problem and "difference of 0.01 EUR" in problem


def test_the_command_prints_a_table() -> None:
    sample = str(SAMPLES / "camt053.v2.multi.statement.xml")
    done = run(sample, REGIE_BANK_IBAN="NL26VAYB8060476890")
    assert done.returncode == 0, done.stderr
    assert "Statement 254EURNL26VAYB8060476890" in done.stdout
    assert "-7.00 EUR" in done.stdout
    assert "Account checked: the statements are for NL26VAYB8060476890" in done.stdout


OTHER_IBAN = "FR7630006000011234567890189"


def import_refusal(data: bytes, filename: str, iban: str, currency: str) -> str:
    importer = StatementImporter(None, iban, currency, 50 * 1024 * 1024)  # type: ignore[arg-type]
    try:
        importer.parse(data, filename)
    except SourceError as err:
        return f"error: {err}\n"
    raise AssertionError("the import takes it")


def test_show_refuses_another_account_or_currency_as_the_import_does(tmp_path: Path) -> None:
    iban = "FR7630001007941234567890185"  # the demo's, REGIE_BANK_IBAN's default
    other = tmp_path / "other.xml"
    other.write_bytes(camt(S(iban=OTHER_IBAN, entries=[E("1.00")], closing=("1.00", "CRDT"))))
    usd = tmp_path / "usd.xml"
    usd.write_bytes(camt(S(currency="USD", entries=[E("1.00", currency="USD")])))
    for path in (other, usd):
        for fmt in ("table", "json"):
            done = run(str(path), "--format", fmt)
            assert done.returncode == 2, done.stdout
            assert done.stdout == ""
            assert done.stderr == import_refusal(path.read_bytes(), str(path), iban, "EUR")
    assert "is for account FR7630006000011234567890189, not regie's bank account" in (
        run(str(other)).stderr
    )
    assert "is in USD; regie's bank account is in EUR" in run(str(usd)).stderr
    # configured for that account, or that currency, the same files are shown
    done = run(str(other), "--format", "json", REGIE_BANK_IBAN=OTHER_IBAN)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["account_check"]["iban"] == OTHER_IBAN
    done = run(str(usd), REGIE_BANK_CURRENCY="USD")
    assert done.returncode == 0, done.stderr
    assert "Currency checked: USD" in done.stdout


def test_show_says_what_it_did_not_check(tmp_path: Path) -> None:
    usd = tmp_path / "usd.xml"
    usd.write_bytes(camt(S(currency="USD", entries=[E("1.00", currency="USD")])))
    done = run(str(usd), "--format", "json", REGIE_BANK_CURRENCY="")
    assert done.returncode == 0, done.stderr
    check = json.loads(done.stdout)["account_check"]
    assert (check["iban"], check["currency"]) == ("FR7630001007941234567890185", None)
    assert check["notes"] == [
        "Account checked: the statements are for FR7630001007941234567890185, regie's bank "
        "account (REGIE_BANK_IBAN; not set, so the demo's).",
        "Currency not checked: REGIE_BANK_CURRENCY is not configured; the import takes a "
        "statement in any currency.",
    ]
    out = io.StringIO()
    table = bank_statement_table(
        parse_camt053(usd.read_bytes(), "usd.xml"), AccountCheck(None, None)
    )
    Console(file=out, width=200, color_system=None).print(table)
    assert "Account not checked: REGIE_BANK_IBAN is not configured" in out.getvalue()


def test_a_refused_file_exits_2_with_the_message_and_no_trace(tmp_path: Path) -> None:
    bad = tmp_path / "statement.xml"
    bad.write_bytes(BATCH.read_bytes().replace(b">25.00<", b">18.155<", 1))
    done = run(str(bad))
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        f"error: {bad}, line 85: amount 18.155 has more decimals than EUR allows\n"
    )
    missing = run(str(tmp_path / "nope.xml"))
    assert missing.returncode == 2 and "cannot read it" in missing.stderr
    assert "Traceback" not in missing.stderr
    wrong_format = run(str(BATCH), "--format", "csv")
    assert wrong_format.returncode == 2 and "table or json" in wrong_format.stderr


def test_the_json_of_details_and_of_the_account_check() -> None:
    """In process (the command's tests run it as another process, which mutation testing
    does not reach): a detail carries its line in the file and no direction when the bank
    gave it none; the account check's notes are in the JSON."""
    data = BATCH.read_bytes()
    doc = bank_statement_json(
        parse_camt053(data, "batch.xml"), AccountCheck("FR7630001007941234567890185", "EUR")
    )
    lines = data.decode().splitlines()
    starts = [n for n, text in enumerate(lines, 1) if text.strip() == "<TxDtls>"]
    details = [d for s in doc["statements"] for e in s["entries"] for d in e["details"]]
    assert [d["line"] for d in details] == starts
    assert [d["direction"] for d in details] == ["credit", "credit", None, "debit"]
    assert doc["account_check"] == {
        "iban": "FR7630001007941234567890185",
        "currency": "EUR",
        "notes": AccountCheck("FR7630001007941234567890185", "EUR").lines(),
    }
    assert doc["account_check"]["notes"][1].startswith("Currency checked: EUR")
