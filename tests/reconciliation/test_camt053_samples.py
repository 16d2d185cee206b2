"""camt.053 parsing on public samples (genkgo/camt, MIT) and regie's own batch file."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest

from reconciliation.sources.camt053 import BankStatementFile, parse_camt053
from reconciliation.sources.errors import SourceError

SAMPLES = Path(__file__).parent / "samples"


def read(name: str) -> BankStatementFile:
    return parse_camt053((SAMPLES / name).read_bytes(), name)


def test_the_licence_of_the_public_samples_is_kept_beside_them() -> None:
    assert "MIT License" in (SAMPLES / "LICENSE-genkgo-camt").read_text()


def test_v2_multi_statement_keeps_file_order_and_adds_up() -> None:
    f = read("camt053.v2.multi.statement.xml")
    assert f.version == "001.02"
    assert f.message_id == "CAMT053RIB000000000001"
    assert f.created_at == dt.datetime(2015, 3, 10, 18, 43, 50, tzinfo=dt.UTC)
    assert f.sha256 == hashlib.sha256((SAMPLES / f.filename).read_bytes()).hexdigest()
    assert [s.id for s in f.statements] == ["253EURNL26VAYB8060476890", "254EURNL26VAYB8060476890"]
    first, second = f.statements
    assert (first.electronic_sequence, first.legal_sequence) == (12312, 12312)
    assert second.electronic_sequence is None
    assert first.iban == "NL26VAYB8060476890" and first.currency == "EUR"
    assert [(b.type, b.amount, b.currency, b.date) for b in first.balances] == [
        ("OPBD", 1815, "EUR", dt.date(2014, 12, 30)),
        ("CLBD", 2700, "EUR", dt.date(2014, 12, 31)),
    ]
    (credit,) = first.entries
    assert (credit.amount, credit.direction, credit.status) == (885, "credit", "BOOK")
    assert credit.reversal is False
    assert credit.booking_date == dt.date(2014, 12, 31) and credit.booking_datetime is None
    assert credit.value_date == dt.date(2015, 1, 2)
    assert credit.bank_transaction_code == "544"  # Prtry/Cd
    assert credit.bank_reference is None  # neither NtryRef nor AcctSvcrRef in this sample
    (tx,) = credit.details
    assert tx.end_to_end_id == "000000001"
    assert tx.creditor_name == "Company Name 1"
    assert tx.remittance == ("Transaction Description 1",)
    (debit,) = second.entries
    assert (debit.amount, debit.direction) == (700, "debit")
    assert f.problems == ()  # 18.15 + 8.85 = 27.00; 27.00 - 7.00 = 20.00


def test_the_wrong_sample_has_no_statement_and_is_refused_at_its_line() -> None:
    # Its BkToCstmrStmt holds only a group header; the schema requires at least one Stmt.
    with pytest.raises(SourceError) as exc:
        read("camt053.v2.wrong.xml")
    assert exc.value.filename == "camt053.v2.wrong.xml"
    assert exc.value.line == 3
    assert "no statement" in str(exc.value)


def test_five_decimals_fit_the_cent_and_the_sample_does_not_add_up() -> None:
    # 18.150 + 8.850 EUR: trailing zeros are exact cents. The sample's closing balance is
    # 27.050 where 27.000 is due: reported, not raised.
    f = read("camt053.v2.five.decimals.xml")
    (s,) = f.statements
    assert [b.amount for b in s.balances] == [1815, 2705]
    assert s.entries[0].amount == 885
    (problem,) = f.problems
    assert "253EURNL26VAYB8060476890" in problem
    assert "18.15 EUR + booked entries 8.85 EUR = 27.00 EUR" in problem
    assert "closing balance is 27.05 EUR" in problem


def test_a_balance_dated_with_dttm_and_five_decimals_in_ron() -> None:
    f = read("camt53.only-Dt-with-DtTm.xml")
    (s,) = f.statements
    (opening,) = s.balances
    assert (opening.type, opening.amount, opening.currency) == ("OPBD", 544209, "RON")
    assert opening.date == dt.date(2025, 7, 23)
    assert s.currency == "RON"  # no Acct/Ccy: the booked balances' currency
    assert s.created_at == dt.datetime(2025, 7, 24, 6, 10, 29)  # nine-digit fraction, no zone
    assert s.closing is None
    assert any("no closing (CLBD) balance" in p for p in f.problems)


def test_all_balance_types_keep_their_iso_codes_in_order() -> None:
    f = read("camt053.v2.all-balance-types.xml")
    types = [b.type for b in f.statements[0].balances]
    assert types[:6] == ["OPBD", "PRCD", "OPAV", "CLBD", "CLAV", "FWAV"]
    assert "ITBD" in types and "XPCD" in types
    assert f.statements[0].opening is f.statements[0].balances[0]  # OPBD before PRCD


@pytest.mark.parametrize(
    ("name", "version", "code", "reference"),
    [
        ("camt053.v3.xml", "001.03", "PMNT/RCDT/DMCT", "XXXXXXXXXXXXXXXXXXXXXXEUR"),
        ("camt053.v4.xml", "001.04", "PAYM/0001/0005", "AAAASESS-FP-CN_98765/01"),
        ("camt053.v8.xml", "001.08", "PMNT/RCDT/BOOK", "AAAASESS-FP-CN_98765/01"),
    ],
)
def test_versions_3_4_and_8(name: str, version: str, code: str, reference: str) -> None:
    f = read(name)
    assert f.version == version
    (s,) = f.statements
    assert s.other_account_id == "NL26VAYB8060476890" and s.iban is None
    # a debit closing balance is negative, whatever its currency
    assert [(b.type, b.amount, b.currency) for b in s.balances] == [
        ("OPBD", 1815, "EUR"),
        ("CLBD", -2700, "SEK"),
        ("OPAV", 3500, "CHF"),
        ("CLAV", -2700, "JPY"),
    ]
    (e,) = s.entries
    assert (e.amount, e.direction, e.status) == (885, "credit", "BOOK")
    assert e.bank_transaction_code == code
    assert e.bank_reference == reference
    (tx,) = e.details
    assert tx.creditor_reference == "4654654654654654"  # RmtInf/Strd/CdtrRefInf/Ref
    assert tx.debtor_name == "NAME NAME"  # Dbtr/Nm up to 001.07, Dbtr/Pty/Nm in 001.08
    assert tx.creditor_name == "Company Name"
    assert tx.direction == "credit"
    # the closing balance is in SEK: the sum cannot be checked, and that is said
    assert any("cannot be added up" in p for p in f.problems)


def test_v3_detail_amount_with_a_trailing_zero_and_foreign_balances() -> None:
    f = read("camt053.v3.xml")
    (tx,) = f.statements[0].entries[0].details
    assert (tx.amount, tx.currency) == (10575, "EUR")  # 105.750
    assert any("CLBD balance (line 74) is in SEK, the account in EUR" in p for p in f.problems)


def test_v8_booking_date_given_as_dttm() -> None:
    (e,) = read("camt053.v8.xml").statements[0].entries
    tz = dt.timezone(dt.timedelta(hours=1))
    assert e.booking_datetime == dt.datetime(2014, 12, 31, 13, 15, tzinfo=tz)
    assert e.booking_date == dt.date(2014, 12, 31)
    assert e.value_datetime is None and e.value_date == dt.date(2015, 1, 2)


def test_regie_v8_batch_file() -> None:
    f = read("regie.v8.batch.xml")
    assert f.problems == ()  # balances add up, sequence 42 then 43
    first, second = f.statements
    assert (first.id, first.electronic_sequence, first.legal_sequence) == ("STMT-2026-10-02", 42, 7)
    assert first.opening is not None and first.opening.amount == -15000  # DBIT balance
    assert first.closing is not None and first.closing.amount == 118136
    batch, fee, reversal, pending, payout = first.entries
    assert (batch.amount, batch.reference, batch.bank_reference) == (
        123456,
        "NTRY-0001",
        "BANK-REF-0001",
    )
    assert [(d.amount, d.end_to_end_id) for d in batch.details] == [
        (13456, "E2E-PC-2026-0042"),
        (110000, "NOTPROVIDED"),
    ]
    assert batch.details[0].remittance == ("PC-2026-0042 permis de construire", "dossier 31555")
    assert (batch.details[0].debtor_name, batch.details[0].creditor_name) == (
        "Camille Martin",
        "Mairie de Test",
    )
    assert batch.details[1].creditor_reference == "RF18539007547034"
    assert (fee.direction, fee.amount, fee.bank_transaction_code) == (
        "debit",
        2500,
        "ACMT/MDOP/CHRG",
    )
    assert fee.additional_info == "Frais de tenue de compte" and fee.details == ()
    assert reversal.reversal and reversal.direction == "credit"
    assert reversal.bank_transaction_code == "REV-CHRG"
    assert pending.status == "PDNG" and pending.booking_date is None  # not in the balance sum
    assert payout.bank_reference == "NTRY-0005"  # no AcctSvcrRef: the entry's own reference
    assert payout.booking_datetime is not None and payout.booking_datetime.hour == 14
    assert payout.details[0].amount == 9680  # AmtDtls/TxAmt/Amt
    assert payout.details[0].remittance == ("STRIPE PAYOUT po_1TestPayout",)
    assert second.opening is not None and second.opening.type == "PRCD"
    assert second.entries[0].details[0].direction == "debit"


def test_a_proprietary_balance_type_is_kept_as_the_bank_wrote_it() -> None:
    data = (SAMPLES / "regie.v8.batch.xml").read_bytes()
    data = data.replace(b"<Cd>CLAV</Cd>", b"<Prtry>CLAV-BANK</Prtry>", 1)
    balances = parse_camt053(data, "p.xml").statements[0].balances
    assert [(b.type, b.amount) for b in balances] == [
        ("OPBD", -15000),
        ("CLBD", 118136),
        ("CLAV-BANK", 168136),
    ]


def test_a_proprietary_entry_status_is_kept_as_the_bank_wrote_it() -> None:
    data = (SAMPLES / "regie.v8.batch.xml").read_bytes()
    data = data.replace(b"<Sts><Cd>PDNG</Cd></Sts>", b"<Sts><Prtry>HOLD</Prtry></Sts>", 1)
    entries = parse_camt053(data, "p.xml").statements[0].entries
    assert [e.status for e in entries] == ["BOOK", "BOOK", "BOOK", "HOLD", "BOOK"]
