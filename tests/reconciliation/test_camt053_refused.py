"""What the camt.053 reader refuses: each a SourceError naming the file (and the line when
there is one), never an lxml, decimal or key error."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from reconciliation.sources.camt053 import parse_camt053
from reconciliation.sources.errors import SourceError

from .camt_builder import E, S, camt

SAMPLES = Path(__file__).parent / "samples"
GOOD = (SAMPLES / "regie.v8.batch.xml").read_bytes()


def refused(data: bytes, name: str = "statement.xml", **kw: int) -> SourceError:
    with pytest.raises(SourceError) as exc:
        parse_camt053(data, name, **kw)
    assert type(exc.value) is SourceError
    assert exc.value.filename == name
    return exc.value


def test_the_message_names_file_and_line() -> None:
    err = SourceError("statement.xml", 42, "amount 18.155 has more decimals than EUR allows")
    assert str(err) == "statement.xml, line 42: amount 18.155 has more decimals than EUR allows"
    assert str(SourceError("a.csv", None, "the file is empty")) == "a.csv: the file is empty"
    assert isinstance(err, ValueError)
    again = pickle.loads(pickle.dumps(err))
    assert (again.filename, again.line, again.message) == ("statement.xml", 42, err.message)


def test_an_amount_with_more_decimals_than_the_currency_names_its_line() -> None:
    data = GOOD.replace(b'<Amt Ccy="EUR">25.00</Amt>', b'<Amt Ccy="EUR">18.155</Amt>', 1)
    err = refused(data)
    assert err.line == 85
    assert err.message == "amount 18.155 has more decimals than EUR allows"


def test_zero_decimal_currency_refuses_cents() -> None:
    err = refused(
        camt(S(currency="JPY", opening=("100", "CRDT"), entries=[E("1.5", currency="JPY")]))
    )
    assert "more decimals than JPY allows" in err.message
    assert (
        parse_camt053(
            camt(S(currency="JPY", opening=("100.000", "CRDT"), closing=("100", "CRDT"))), "x"
        )
        .statements[0]
        .opening.amount
        == 100
    )  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "bad",
    ["1,50", "-1.00", "1e3", "NaN", "", " ", "1.2.3", "0x10", "+1",
     "\u0661\u0662.\u0665\u0660", "\uff11\uff12.\uff15\uff10", "12.5\u0660"],
)  # fmt: skip
def test_an_amount_that_is_not_a_plain_decimal(bad: str) -> None:
    err = refused(camt(S(entries=[E(bad)])))
    assert "is not a decimal number" in err.message
    assert err.line is not None


def test_an_unknown_currency_and_a_missing_one() -> None:
    err = refused(camt(S(entries=[E("1.00", currency="XYZ")])))
    assert err.message == "unknown currency 'XYZ' (not an ISO 4217 code)"
    assert err.line is not None
    err = refused(camt(S(entries=[E("1.00", currency="eur")])))  # ISO codes are upper case
    assert "unknown currency 'eur'" in err.message
    data = camt(S(entries=[E("1.00")])).replace(b'<Amt Ccy="EUR">1.00', b"<Amt>1.00")
    assert refused(data).message == "amount has no currency"


def test_a_file_that_is_not_xml() -> None:
    err = refused(b"Date;Amount\n2026-10-01;12.50\n", "export.csv")
    assert err.message.startswith("not XML:")
    assert err.line == 1
    err = refused(GOOD[: len(GOOD) // 2])  # truncated
    assert err.message.startswith("not XML:") and err.line is not None and err.line > 1


def test_an_empty_file() -> None:
    assert refused(b"").message == "the file is empty"
    assert refused(b"  \n").message == "the file is empty"


@pytest.mark.parametrize(
    ("namespace", "says"),
    [
        ("urn:iso:std:iso:20022:tech:xsd:camt.054.001.08", "this is a camt.054.001.08 message"),
        ("urn:iso:std:iso:20022:tech:xsd:pain.001.001.09", "this is a pain.001.001.09 message"),
        ("urn:iso:std:iso:20022:tech:xsd:camt.053.001.01", "version 001.01 is not supported"),
        ("urn:iso:std:iso:20022:tech:xsd:camt.053.001.10", "version 001.10 is not supported"),
        ("urn:example:other", "not a camt.053 statement: the document is <Document> in"),
    ],
)
def test_other_iso_messages_and_versions(namespace: str, says: str) -> None:
    data = GOOD.replace(b"urn:iso:std:iso:20022:tech:xsd:camt.053.001.08", namespace.encode())
    err = refused(data)
    assert says in err.message
    assert err.line == 3


def test_a_document_without_namespace_or_another_root() -> None:
    assert "not a camt.053 statement" in refused(b"<Document><BkToCstmrStmt/></Document>").message
    assert "the document is <html>" in refused(b"<html><body>hi</body></html>").message


def test_missing_required_parts() -> None:
    no_msg_id = GOOD.replace(b"<MsgId>REGIE-TEST-20261005</MsgId>", b"")
    assert refused(no_msg_id).message == "the group header has no <MsgId>"
    no_stmt_id = GOOD.replace(b"<Id>STMT-2026-10-03</Id>", b"")
    assert refused(no_stmt_id).message == "the statement has no <Id>"
    no_status = GOOD.replace(b"<Sts><Cd>PDNG</Cd></Sts>", b"")
    err = refused(no_status)
    assert (err.line, err.message) == (106, "the entry has no status (<Sts>)")
    bad_sign = GOOD.replace(b"<CdtDbtInd>DBIT</CdtDbtInd>", b"<CdtDbtInd>DEBIT</CdtDbtInd>", 1)
    assert "CdtDbtInd 'DEBIT' is neither CRDT nor DBIT" in refused(bad_sign).message
    start, end = GOOD.index(b"<GrpHdr>"), GOOD.index(b"</GrpHdr>") + len(b"</GrpHdr>")
    no_header = GOOD[:start] + GOOD[end:]
    assert refused(no_header).message == "the statement message has no <GrpHdr>"
    entry_sign = GOOD.index(b"<CdtDbtInd>", GOOD.index(b"<Ntry>"))
    no_entry_sign = GOOD[:entry_sign] + GOOD[entry_sign:].replace(
        b"<CdtDbtInd>CRDT</CdtDbtInd>", b"", 1
    )
    err = refused(no_entry_sign)
    assert (err.line, err.message) == (36, "the entry has no <CdtDbtInd>")
    no_sign = GOOD.replace(b"<CdtDbtInd>DBIT</CdtDbtInd>", b"", 1)  # the opening balance's
    err = refused(no_sign)
    assert (err.line, err.message) == (18, "the OPBD balance has no <CdtDbtInd>")


def test_bad_dates_and_numbers() -> None:
    bad_day = GOOD.replace(b"<Dt>2026-10-01</Dt>", b"<Dt>2026-02-30</Dt>", 1)
    err = refused(bad_day)
    assert (err.line, err.message) == (
        22,
        "the balance date '2026-02-30' is not a date (YYYY-MM-DD)",
    )
    bad_time = GOOD.replace(b"2026-10-02T14:30:00+02:00", b"yesterday afternoon")
    err = refused(bad_time)
    assert (err.line, err.message) == (
        118,
        "the booking date 'yesterday afternoon' is not a date-time (YYYY-MM-DDThh:mm:ss)",
    )
    bad_created = GOOD.replace(b"2026-10-05T06:00:00+02:00", b"2026-10-05 at six")
    err = refused(bad_created)
    assert (err.line, err.message) == (
        7,
        "CreDtTm '2026-10-05 at six' is not a date-time (YYYY-MM-DDThh:mm:ss)",
    )
    bad_booking_day = GOOD.replace(
        b"<BookgDt><Dt>2026-10-02</Dt>", b"<BookgDt><Dt>2/10/2026</Dt>", 1
    )
    err = refused(bad_booking_day)
    assert (err.line, err.message) == (
        41,
        "the booking date '2/10/2026' is not a date (YYYY-MM-DD)",
    )
    bad_seq = GOOD.replace(b"<ElctrncSeqNb>42<", b"<ElctrncSeqNb>forty-two<")
    assert "ElctrncSeqNb 'forty-two' is not a whole number" in refused(bad_seq).message
    # str.isdigit takes both: int() refused the first (a trace), and read the second as 42
    for odd in ("\u00b2", "\u0664\u0662"):
        bad_seq = GOOD.replace(b"<ElctrncSeqNb>42<", f"<ElctrncSeqNb>{odd}<".encode())
        err = refused(bad_seq)
        assert (err.line, err.message) == (11, f"ElctrncSeqNb {odd!r} is not a whole number")
    bad_reversal = GOOD.replace(b"<RvslInd>true<", b"<RvslInd>maybe<")
    assert "RvslInd 'maybe'" in refused(bad_reversal).message


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt>
<GrpHdr><MsgId>&lol9;</MsgId></GrpHdr></BkToCstmrStmt></Document>
"""


def test_billion_laughs_is_refused_before_parsing() -> None:
    err = refused(BILLION_LAUGHS)
    assert err.line == 2
    assert err.message.startswith("refused: the file declares DOCTYPE")


def test_xxe_is_refused() -> None:
    xxe = GOOD.replace(
        b"<Document",
        b'<!DOCTYPE Document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n<Document',
        1,
    ).replace(b"REGIE-TEST-20261005", b"&xxe;")
    err = refused(xxe)
    assert "refused" in err.message and "DOCTYPE" in err.message
    assert "root:" not in str(err)


def test_an_entity_declared_in_an_encoding_the_byte_check_cannot_read_is_refused() -> None:
    utf16 = (
        '<?xml version="1.0" encoding="UTF-16"?>'
        '<!DOCTYPE Document [<!ENTITY e "x">]>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"/>'
    ).encode("utf-16")
    assert b"<!DOCTYPE" not in utf16
    err = refused(utf16)
    assert (err.line, err.message) == (1, "refused: the file declares a DOCTYPE")


def test_an_undeclared_entity_is_not_expanded() -> None:
    err = refused(GOOD.replace(b"REGIE-TEST-20261005", b"&secret;"))
    assert err.message.startswith("not XML:") and "secret" in err.message


def test_a_file_over_the_size_limit_is_refused_before_parsing() -> None:
    err = refused(GOOD, max_bytes=len(GOOD) - 1)
    assert err.line is None
    assert err.message == f"the file is {len(GOOD)} bytes, more than the {len(GOOD) - 1} allowed"
    assert parse_camt053(GOOD, "x", max_bytes=len(GOOD)).message_id == "REGIE-TEST-20261005"
    # the default is 50 MiB: a 51 MiB file of spaces is refused without being read as XML
    err = refused(b" " * (51 * 1024 * 1024))
    assert "more than the 52428800 allowed" in err.message


def test_an_external_doctype_in_utf16_is_refused_without_fetching_it() -> None:
    utf16 = (
        '<?xml version="1.0" encoding="UTF-16"?>'
        '<!DOCTYPE Document SYSTEM "http://127.0.0.1:9/camt.dtd">'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"/>'
    ).encode("utf-16")
    err = refused(utf16)
    assert (err.line, err.message) == (1, "refused: the file declares a DOCTYPE")


def test_line_numbers_past_65535_are_exact() -> None:
    # libxml2 keeps 16-bit line numbers unless told otherwise; an error deep in a long
    # statement must still name the right line.
    data = camt(S(closing=None, entries=[E("1.00"), E("1.001")]))
    data = data.replace(b"<Stmt>", b"\n" * 70_000 + b"<Stmt>")
    expected = data[: data.index(b">1.001<")].count(b"\n") + 1
    assert expected > 70_000
    err = refused(data)
    assert (err.line, err.message) == (expected, "amount 1.001 has more decimals than EUR allows")
