"""Small camt.053 documents for tests (the parser's own samples are in samples/)."""

from __future__ import annotations

from dataclasses import dataclass, field

NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.{v}"


@dataclass
class E:
    amount: str
    direction: str = "CRDT"
    status: str = "BOOK"
    currency: str = "EUR"
    ref: str | None = None
    day: str | None = "2026-10-01"  # the booking date (None: no BookgDt)
    text: str | None = None  # AddtlNtryInf
    servicer_ref: str | None = None  # AcctSvcrRef
    details: list[str] = field(default_factory=list)  # NtryDtls/TxDtls, each from ``tx``


def tx(
    amount: str | None,
    currency: str = "EUR",
    direction: str | None = None,
    instructed: tuple[str, str] | None = None,
) -> str:
    """One transaction of an entry's batch (a TxDtls): its amount (TxDtls/Amt, none when
    None), its CdtDbtInd, and an instructed amount in AmtDtls (amount, currency)."""
    parts = ["<TxDtls>"]
    if amount is not None:
        parts.append(f'<Amt Ccy="{currency}">{amount}</Amt>')
    if direction is not None:
        parts.append(f"<CdtDbtInd>{direction}</CdtDbtInd>")
    if instructed is not None:
        parts.append(
            f'<AmtDtls><InstdAmt><Amt Ccy="{instructed[1]}">{instructed[0]}</Amt></InstdAmt>'
            "</AmtDtls>"
        )
    return "".join(parts) + "</TxDtls>"


@dataclass
class S:
    id: str = "S1"
    seq: int | None = 1
    iban: str = "FR7630001007941234567890185"
    currency: str = "EUR"
    opening: tuple[str, str] | None = ("0.00", "CRDT")
    closing: tuple[str, str] | None = ("0.00", "CRDT")
    entries: list[E] = field(default_factory=list)
    day: str = "2026-10-01"  # the balances' date
    page: int | None = None  # StmtPgntn/PgNb
    balance_currency: str | None = None  # the balances' own, when not the account's


def _bal(kind: str, amount: str, sign: str, ccy: str, day: str = "2026-10-01") -> str:
    return (
        f"<Bal><Tp><CdOrPrtry><Cd>{kind}</Cd></CdOrPrtry></Tp>"
        f'<Amt Ccy="{ccy}">{amount}</Amt><CdtDbtInd>{sign}</CdtDbtInd>'
        f"<Dt><Dt>{day}</Dt></Dt></Bal>"
    )


def _status(status: str, version: int) -> str:
    return f"<Sts>{status}</Sts>" if version < 7 else f"<Sts><Cd>{status}</Cd></Sts>"


def camt(*statements: S, version: int = 8, msg_id: str = "MSG-1") -> bytes:
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<Document xmlns="{NS.format(v=f"{version:02d}")}"><BkToCstmrStmt>',
        f"<GrpHdr><MsgId>{msg_id}</MsgId><CreDtTm>2026-10-02T06:00:00Z</CreDtTm></GrpHdr>",
    ]
    for s in statements:
        parts.append(f"<Stmt><Id>{s.id}</Id>")
        if s.page is not None:
            parts.append(
                f"<StmtPgntn><PgNb>{s.page}</PgNb><LastPgInd>false</LastPgInd></StmtPgntn>"
            )
        if s.seq is not None:
            parts.append(f"<ElctrncSeqNb>{s.seq}</ElctrncSeqNb>")
        parts.append(f"<Acct><Id><IBAN>{s.iban}</IBAN></Id><Ccy>{s.currency}</Ccy></Acct>")
        bal_ccy = s.balance_currency or s.currency
        if s.opening:
            parts.append(_bal("OPBD", *s.opening, bal_ccy, s.day))
        if s.closing:
            parts.append(_bal("CLBD", *s.closing, bal_ccy, s.day))
        for e in s.entries:
            parts.append("<Ntry>")
            if e.ref:
                parts.append(f"<NtryRef>{e.ref}</NtryRef>")
            booked = "" if e.day is None else f"<BookgDt><Dt>{e.day}</Dt></BookgDt>"
            info = "" if e.text is None else f"<AddtlNtryInf>{e.text}</AddtlNtryInf>"
            servicer = (
                "" if e.servicer_ref is None else f"<AcctSvcrRef>{e.servicer_ref}</AcctSvcrRef>"
            )
            details = f"<NtryDtls>{''.join(e.details)}</NtryDtls>" if e.details else ""
            parts.append(
                f'<Amt Ccy="{e.currency}">{e.amount}</Amt><CdtDbtInd>{e.direction}</CdtDbtInd>'
                f"{_status(e.status, version)}{booked}{servicer}{details}{info}</Ntry>"
            )
        parts.append("</Stmt>")
    parts.append("</BkToCstmrStmt></Document>")
    return "\n".join(parts).encode()
