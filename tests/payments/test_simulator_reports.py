"""The simulator's reports, pure: Stripe's itemised payout reconciliation CSV and the
bank's camt.053.001.08 (element order, balances, sequence numbers, determinism)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from lxml import etree

from payments.providers.simulator.camt053 import (
    NAMESPACE,
    BankAccount,
    bank_statement,
    sequence_number,
)
from payments.providers.simulator.records import PayoutRecord, TxnRecord
from payments.providers.simulator.report import COLUMNS, itemised_payout_csv, major

IBAN = "FR7630001007941234567890185"
ACCOUNT = BankAccount(IBAN, "EUR")
T0 = dt.datetime(2026, 10, 14, 9, 30, 5, tzinfo=dt.UTC)


def txn(n: int, category: str, gross: int, fee: int, currency: str = "EUR") -> TxnRecord:
    source = f"pi_sim_{n:026d}" if category == "charge" else f"re_sim_{n:026d}"
    return TxnRecord(
        id=f"txn_sim_{n:026d}",
        reporting_category=category,
        source_id=source,
        payment_id=f"pi_sim_{n:026d}",
        gross=gross,
        fee=fee,
        net=gross - fee,
        currency=currency,
        created=T0 + dt.timedelta(minutes=n),
        available_on=T0 + dt.timedelta(minutes=n),
        description="Permis de construire",
    )


def payout(
    n: int, arrival: dt.date, amount: int, currency: str = "EUR", lines: tuple[TxnRecord, ...] = ()
) -> PayoutRecord:
    return PayoutRecord(
        id=f"po_sim_{n:026d}",
        amount=amount,
        currency=currency,
        created=dt.datetime.combine(arrival, dt.time(8), dt.UTC) + dt.timedelta(minutes=n),
        arrival_date=arrival,
        statement_descriptor="SIMULATOR",
        bank_reference=f"SIMBANK{n:026d}",
        lines=lines,
    )


# ----------------------------------------------------------------------- the CSV


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (1234, "EUR", "12.34"),
        (500, "JPY", "500"),
        (-1000, "EUR", "-10.00"),
        (0, "EUR", "0.00"),
        (5, "EUR", "0.05"),
        (1, "KWD", "0.001"),
        (123456789012, "EUR", "1234567890.12"),
    ],
)
def test_amounts_are_exact_major_unit_decimals(amount: int, currency: str, text: str) -> None:
    assert major(amount, currency) == text


def test_the_itemised_csv_has_stripes_columns_and_one_row_per_transaction() -> None:
    eur = payout(
        1,
        dt.date(2026, 10, 15),
        1234 - 44 + 2500 - 63 - 1000,
        lines=(txn(1, "charge", 1234, 44), txn(2, "charge", 2500, 63), txn(3, "refund", -1000, 0)),
    )
    jpy = payout(2, dt.date(2026, 10, 15), 492, "JPY", (txn(4, "charge", 500, 8, "JPY"),))
    text = itemised_payout_csv([eur, jpy])
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0]) == COLUMNS
    assert [r["balance_transaction_id"] for r in rows] == [
        f"txn_sim_{n:026d}" for n in (1, 2, 3, 4)
    ]
    first = rows[0]
    assert first == {
        "automatic_payout_id": eur.id,
        "automatic_payout_effective_at": "2026-10-15 00:00:00",
        "balance_transaction_id": f"txn_sim_{1:026d}",
        "created": "2026-10-14 09:31:05",
        "available_on": "2026-10-14 09:31:05",
        "currency": "eur",
        "gross": "12.34",
        "fee": "0.44",
        "net": "11.90",
        "reporting_category": "charge",
        "source_id": f"pi_sim_{1:026d}",
        "charge_id": f"pi_sim_{1:026d}",
        "payment_intent_id": f"pi_sim_{1:026d}",
        "description": "Permis de construire",
    }
    refund = rows[2]
    assert (refund["gross"], refund["fee"], refund["net"], refund["reporting_category"]) == (
        "-10.00",
        "0.00",
        "-10.00",
        "refund",
    )
    assert refund["source_id"].startswith("re_sim_") and refund["payment_intent_id"]
    assert (rows[3]["currency"], rows[3]["gross"], rows[3]["fee"], rows[3]["net"]) == (
        "jpy",
        "500",
        "8",
        "492",
    )
    # each payout's rows add up to it, exactly (gross - fee = net; nets = the payout)
    for p in (eur, jpy):
        mine = [r for r in rows if r["automatic_payout_id"] == p.id]
        assert all(Decimal(r["gross"]) - Decimal(r["fee"]) == Decimal(r["net"]) for r in mine)
        assert sum(Decimal(r["net"]) for r in mine) == Decimal(major(p.amount, p.currency))


def test_an_empty_period_is_a_header_alone() -> None:
    assert itemised_payout_csv([]).splitlines() == [",".join(COLUMNS)]


# ------------------------------------------------------------------- the camt.053

# The schema's sequences (camt.053.001.08) for the elements written: children must come
# in this order, and the required ones must be there.
ORDER = {
    "Document": ["BkToCstmrStmt"],
    "BkToCstmrStmt": ["GrpHdr", "Stmt", "SplmtryData"],
    "GrpHdr": ["MsgId", "CreDtTm", "MsgRcpt", "MsgPgntn", "OrgnlBizQry", "AddtlInf"],
    "Stmt": [
        "Id",
        "StmtPgntn",
        "ElctrncSeqNb",
        "RptgSeq",
        "LglSeqNb",
        "CreDtTm",
        "FrToDt",
        "CpyDplctInd",
        "RptgSrc",
        "Acct",
        "RltdAcct",
        "Intrst",
        "Bal",
        "TxsSummry",
        "Ntry",
        "AddtlStmtInf",
    ],  # fmt: skip
    "FrToDt": ["FrDtTm", "ToDtTm"],
    "Acct": ["Id", "Tp", "Ccy", "Nm", "Prxy", "Ownr", "Svcr"],
    "Bal": ["Tp", "CdtLine", "Amt", "CdtDbtInd", "Dt", "Avlbty"],
    "Ntry": [
        "NtryRef",
        "Amt",
        "CdtDbtInd",
        "RvslInd",
        "Sts",
        "BookgDt",
        "ValDt",
        "AcctSvcrRef",
        "Avlbty",
        "BkTxCd",
        "ComssnWvrInd",
        "AddtlInfInd",
        "AmtDtls",
        "Chrgs",
        "TechInptChanl",
        "Intrst",
        "CardTx",
        "NtryDtls",
        "AddtlNtryInf",
    ],  # fmt: skip
    "BkTxCd": ["Domn", "Prtry"],
    "Domn": ["Cd", "Fmly"],
    "Fmly": ["Cd", "SubFmlyCd"],
    "NtryDtls": ["Btch", "TxDtls"],
    "TxDtls": [
        "Refs",
        "Amt",
        "CdtDbtInd",
        "AmtDtls",
        "Avlbty",
        "BkTxCd",
        "Chrgs",
        "Intrst",
        "RltdPties",
        "RltdAgts",
        "LclInstrm",
        "Purp",
        "RltdRmtInf",
        "RmtInf",
    ],  # fmt: skip
    "Refs": ["MsgId", "AcctSvcrRef", "PmtInfId", "InstrId", "EndToEndId", "UETR", "TxId"],
    "RltdPties": ["InitgPty", "Dbtr", "DbtrAcct", "UltmtDbtr", "Cdtr", "CdtrAcct"],
    "RmtInf": ["Ustrd", "Strd"],
}
REQUIRED = {
    "GrpHdr": {"MsgId", "CreDtTm"},
    "Stmt": {"Id", "Acct", "Bal"},
    "FrToDt": {"FrDtTm", "ToDtTm"},
    "Bal": {"Tp", "Amt", "CdtDbtInd", "Dt"},
    "Ntry": {"Amt", "CdtDbtInd", "Sts", "BkTxCd"},
    "Fmly": {"Cd", "SubFmlyCd"},
}
NS = {"c": NAMESPACE}


def local(element: etree._Element) -> str:
    return etree.QName(element).localname


def check_order(root: etree._Element) -> None:
    for element in root.iter():
        tag = local(element)
        assert etree.QName(element).namespace == NAMESPACE
        children = [local(c) for c in element]
        if tag in ORDER:
            positions = [ORDER[tag].index(c) for c in children]  # ValueError: unknown child
            assert positions == sorted(positions), f"{tag}: {children}"
        missing = REQUIRED.get(tag, set()) - set(children)
        assert not missing, f"{tag} lacks {missing}"


def amount(element: etree._Element) -> int:
    value = Decimal(element.findtext("c:Amt", namespaces=NS))
    sign = -1 if element.findtext("c:CdtDbtInd", namespaces=NS) == "DBIT" else 1
    return sign * int(value * 100)


def balance(stmt: etree._Element, code: str) -> int:
    (bal,) = stmt.xpath(f"c:Bal[c:Tp/c:CdOrPrtry/c:Cd='{code}']", namespaces=NS)
    return amount(bal)


PAYOUTS = [
    payout(1, dt.date(2026, 10, 14), 2627),
    payout(2, dt.date(2026, 10, 16), 960),
    payout(3, dt.date(2026, 10, 16), 1234),
]


def test_the_statement_is_camt053_v08_in_the_schemas_order() -> None:
    doc = bank_statement(PAYOUTS, ACCOUNT, 5000, dt.date(2026, 10, 14), dt.date(2026, 10, 16))
    assert doc.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    root = etree.fromstring(doc)
    assert root.tag == f"{{{NAMESPACE}}}Document"
    check_order(root)
    header = root.find("c:BkToCstmrStmt/c:GrpHdr", NS)
    assert header.findtext("c:MsgId", namespaces=NS) == "SIMBANK-20261014-20261016"
    assert header.findtext("c:CreDtTm", namespaces=NS) == "2026-10-16T23:59:59+02:00"


def test_one_statement_a_day_with_consistent_balances_and_sequence_numbers() -> None:
    root = etree.fromstring(
        bank_statement(PAYOUTS, ACCOUNT, 5000, dt.date(2026, 10, 14), dt.date(2026, 10, 16))
    )
    stmts = root.findall("c:BkToCstmrStmt/c:Stmt", NS)
    assert [s.findtext("c:Id", namespaces=NS) for s in stmts] == [
        "SIMBANK-2026-10-14",
        "SIMBANK-2026-10-15",  # no payout that day: a statement all the same, no gap
        "SIMBANK-2026-10-16",
    ]
    numbers = [int(s.findtext("c:ElctrncSeqNb", namespaces=NS)) for s in stmts]
    assert numbers == [numbers[0], numbers[0] + 1, numbers[0] + 2]
    assert numbers[0] == sequence_number(dt.date(2026, 10, 14))
    assert [balance(s, "OPBD") for s in stmts] == [5000, 7627, 7627]
    assert [balance(s, "CLBD") for s in stmts] == [7627, 7627, 9821]
    for s in stmts:
        entries = s.findall("c:Ntry", NS)
        assert balance(s, "OPBD") + sum(amount(e) for e in entries) == balance(s, "CLBD")
        assert s.findtext("c:Acct/c:Id/c:IBAN", namespaces=NS) == IBAN
        assert s.findtext("c:Acct/c:Ccy", namespaces=NS) == "EUR"
    assert [len(s.findall("c:Ntry", NS)) for s in stmts] == [1, 0, 2]
    period = stmts[0].find("c:FrToDt", NS)
    assert [x.text for x in period] == ["2026-10-14T00:00:00+02:00", "2026-10-14T23:59:59+02:00"]


def test_each_payout_is_one_booked_sepa_credit_naming_the_payout() -> None:
    root = etree.fromstring(
        bank_statement(PAYOUTS, ACCOUNT, 0, dt.date(2026, 10, 14), dt.date(2026, 10, 16))
    )
    entries = root.findall(".//c:Ntry", NS)
    assert len(entries) == 3
    refs = [e.findtext("c:AcctSvcrRef", namespaces=NS) for e in entries]
    assert refs == [p.bank_reference for p in PAYOUTS] and len(set(refs)) == 3
    e, p = entries[1], PAYOUTS[1]

    def text(path: str) -> str | None:
        return e.findtext(path, namespaces=NS)

    assert e.find("c:Amt", NS).attrib == {"Ccy": "EUR"} and text("c:Amt") == "9.60"
    assert (text("c:CdtDbtInd"), text("c:Sts/c:Cd")) == ("CRDT", "BOOK")
    assert text("c:BookgDt/c:Dt") == text("c:ValDt/c:Dt") == "2026-10-16"
    assert [x.text for x in e.find("c:BkTxCd/c:Domn", NS).iter() if x.text.strip()] == [
        "PMNT",
        "RCDT",
        "ESCT",
    ]
    tx = "c:NtryDtls/c:TxDtls/"
    assert text(tx + "c:Refs/c:EndToEndId") == p.id
    assert text(tx + "c:Amt") == "9.60" and text(tx + "c:CdtDbtInd") == "CRDT"
    assert text(tx + "c:RltdPties/c:Dbtr/c:Pty/c:Nm") == "SIMULATOR PSP"
    assert text(tx + "c:RmtInf/c:Ustrd") == f"SIMULATOR {p.id}"


def test_the_same_payouts_give_the_same_bytes_and_overlapping_periods_agree() -> None:
    first, last = dt.date(2026, 10, 14), dt.date(2026, 10, 16)
    once = bank_statement(PAYOUTS, ACCOUNT, 0, first, last)
    assert bank_statement(list(reversed(PAYOUTS)), ACCOUNT, 0, first, last) == once
    later = etree.fromstring(
        bank_statement(PAYOUTS[1:], ACCOUNT, 2627, dt.date(2026, 10, 15), last)
    )
    whole = etree.fromstring(once)
    for stmt in later.findall(".//c:Stmt", NS):
        same_day = whole.xpath(
            "//c:Stmt[c:Id=$id]", namespaces=NS, id=stmt.findtext("c:Id", namespaces=NS)
        )[0]
        assert etree.tostring(stmt) == etree.tostring(same_day)


def test_bank_days_are_paris_days_in_winter_too() -> None:
    winter = payout(9, dt.date(2026, 1, 15), 100)
    root = etree.fromstring(
        bank_statement([winter], ACCOUNT, 0, dt.date(2026, 1, 15), dt.date(2026, 1, 15))
    )
    assert root.findtext(".//c:Stmt/c:CreDtTm", namespaces=NS) == "2026-01-15T23:59:59+01:00"


def test_payouts_of_another_currency_or_outside_the_period_are_refused() -> None:
    day = dt.date(2026, 10, 14)
    with pytest.raises(ValueError, match="JPY"):
        bank_statement([payout(1, day, 500, "JPY")], ACCOUNT, 0, day, day)
    with pytest.raises(ValueError, match="outside"):
        bank_statement(
            [payout(1, day, 500)],
            ACCOUNT,
            0,
            day + dt.timedelta(days=1),
            day + dt.timedelta(days=2),
        )
    with pytest.raises(ValueError, match="ends before"):
        bank_statement([], ACCOUNT, 0, day, day - dt.timedelta(days=1))


# ------------------------------------------------------- bank days, up to today
def ids_and_numbers(doc: bytes) -> list[tuple[str, int]]:
    return [
        (s.findtext("c:Id", namespaces=NS), int(s.findtext("c:ElctrncSeqNb", namespaces=NS)))
        for s in etree.fromstring(doc).findall(".//c:Stmt", NS)
    ]


def test_a_month_asked_on_its_first_day_gives_that_day_alone_dated_now() -> None:
    now = dt.datetime(2026, 12, 1, 15, 12, 8, tzinfo=dt.UTC)  # a Tuesday
    doc = bank_statement([], ACCOUNT, 0, dt.date(2026, 12, 1), dt.date(2026, 12, 31), now=now)
    root = etree.fromstring(doc)
    assert [i for i, _ in ids_and_numbers(doc)] == ["SIMBANK-2026-12-01"]
    created = root.findtext("c:BkToCstmrStmt/c:GrpHdr/c:CreDtTm", namespaces=NS)
    assert created == "2026-12-01T16:12:08+01:00"  # never 2026-12-31T23:59:59
    stmt = root.find(".//c:Stmt", NS)
    assert stmt.findtext("c:CreDtTm", namespaces=NS) == created
    assert stmt.findtext("c:FrToDt/c:ToDtTm", namespaces=NS) == created
    header = root.find("c:BkToCstmrStmt/c:GrpHdr", NS)
    assert header.findtext("c:MsgId", namespaces=NS) == "SIMBANK-20261201-20261201"


def test_only_bank_days_get_a_statement_and_their_numbers_follow_over_weekends() -> None:
    now = dt.datetime(2027, 1, 10, tzinfo=dt.UTC)
    doc = bank_statement([], ACCOUNT, 0, dt.date(2026, 12, 1), dt.date(2026, 12, 31), now=now)
    found = ids_and_numbers(doc)
    days = [dt.date.fromisoformat(i.removeprefix("SIMBANK-")) for i, _ in found]
    # December 2026's weekdays but Christmas (a Friday, a TARGET2 closing day)
    assert len(days) == 22 and all(d.weekday() < 5 for d in days)
    assert dt.date(2026, 12, 25) not in days
    numbers = [n for _, n in found]
    assert numbers == list(range(numbers[0], numbers[0] + 22))
    assert numbers[0] == sequence_number(dt.date(2026, 12, 1))
    # a saturday and a sunday share the friday's number: the monday follows the friday
    friday, monday = dt.date(2026, 12, 4), dt.date(2026, 12, 7)
    assert sequence_number(monday) == sequence_number(friday) + 1
    # two files of consecutive periods continue each other over a weekend
    a = bank_statement([], ACCOUNT, 0, dt.date(2026, 12, 1), dt.date(2026, 12, 5), now=now)
    b = bank_statement([], ACCOUNT, 0, dt.date(2026, 12, 6), dt.date(2026, 12, 8), now=now)
    assert ids_and_numbers(b)[0][1] == ids_and_numbers(a)[-1][1] + 1


def test_a_weekend_payout_is_booked_on_monday_and_a_future_one_is_left_for_later() -> None:
    saturday, monday = dt.date(2026, 12, 5), dt.date(2026, 12, 7)
    now = dt.datetime(2026, 12, 7, 10, tzinfo=dt.UTC)
    weekend = payout(1, saturday, 500)
    doc = bank_statement([weekend], ACCOUNT, 0, dt.date(2026, 12, 4), monday, now=now)
    stmts = etree.fromstring(doc).findall(".//c:Stmt", NS)
    assert [s.findtext("c:Id", namespaces=NS) for s in stmts] == [
        "SIMBANK-2026-12-04",
        "SIMBANK-2026-12-07",
    ]
    assert [len(s.findall("c:Ntry", NS)) for s in stmts] == [0, 1]
    assert stmts[1].findtext("c:Ntry/c:BookgDt/c:Dt", namespaces=NS) == "2026-12-07"
    # asked on the saturday itself: the friday alone, the payout waits for monday's statement
    early = dt.datetime(2026, 12, 5, 12, tzinfo=dt.UTC)
    doc = bank_statement([weekend], ACCOUNT, 0, dt.date(2026, 12, 4), monday, now=early)
    (friday,) = etree.fromstring(doc).findall(".//c:Stmt", NS)
    assert friday.findall("c:Ntry", NS) == []
    assert friday.findtext("c:CreDtTm", namespaces=NS) == "2026-12-04T23:59:59+01:00"


def test_a_period_without_a_bank_day_up_to_today_is_refused() -> None:
    now = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)
    with pytest.raises(ValueError, match="no bank day"):
        bank_statement([], ACCOUNT, 0, dt.date(2026, 12, 5), dt.date(2026, 12, 6), now=now)
    with pytest.raises(ValueError, match="no bank day"):
        bank_statement([], ACCOUNT, 0, dt.date(2026, 12, 2), dt.date(2026, 12, 31), now=now)
