"""A bank entry's text (``normalise.entry_text``): what the finance officer reads beside an
unexpected credit or debit, and where a payout id named in remittance is looked for. The
entry's own additional information (``AddtlNtryInf``) is part of it: a bank's fee has
often nothing else."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from reconciliation.matching import reconcile
from reconciliation.normalise import entry_text, from_entry
from reconciliation.sources.camt053 import parse_camt053
from reconciliation.statement_keys import entry_keys
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.reconciliation.world import START, build, without_remittance

from .camt_builder import E, S, camt

BATCH = Path(__file__).parent / "samples" / "regie.v8.batch.xml"
IBAN = "FR7630001007941234567890185"
NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"


def _entries(data: bytes) -> list[Any]:
    return [e for st in parse_camt053(data, "x.xml").statements for e in st.entries]


def test_an_entry_with_only_its_additional_information_keeps_it() -> None:
    fee = _entries(BATCH.read_bytes())[1]
    assert (fee.direction, fee.details) == ("debit", ())
    assert entry_text(fee) == "Frais de tenue de compte"
    line = from_entry(fee, "STMT-2026-10-02")
    assert line is not None and line.text == "Frais de tenue de compte"


def _with_details(entry_info: str, tx_info: str | None = None) -> bytes:
    tx = "" if tx_info is None else f"<AddtlTxInf>{tx_info}</AddtlTxInf>"
    return (
        f'<Document xmlns="{NS}"><BkToCstmrStmt>'
        "<GrpHdr><MsgId>M</MsgId><CreDtTm>2026-10-02T06:00:00Z</CreDtTm></GrpHdr>"
        f"<Stmt><Id>S</Id><Acct><Id><IBAN>{IBAN}</IBAN></Id><Ccy>EUR</Ccy></Acct>"
        '<Ntry><Amt Ccy="EUR">12.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>'
        "<BookgDt><Dt>2026-10-01</Dt></BookgDt><AcctSvcrRef>B1</AcctSvcrRef>"
        "<NtryDtls><TxDtls><Refs><EndToEndId>E2E-1</EndToEndId></Refs>"
        f"<RmtInf><Ustrd>FACTURE 42</Ustrd></RmtInf>{tx}</TxDtls></NtryDtls>"
        f"<AddtlNtryInf>{entry_info}</AddtlNtryInf></Ntry></Stmt></BkToCstmrStmt></Document>"
    ).encode()


def test_the_transaction_details_come_first_then_the_entry_s_information_once() -> None:
    (e,) = _entries(_with_details("VIR SEPA RECU /MOTIF FACTURE 42", "LIBELLE BANQUE"))
    assert entry_text(e) == "FACTURE 42 | E2E-1 | LIBELLE BANQUE | VIR SEPA RECU /MOTIF FACTURE 42"
    (same,) = _entries(_with_details("FACTURE 42"))  # what the details say already: once
    assert entry_text(same) == "FACTURE 42 | E2E-1"


def test_a_payout_id_in_the_entry_s_information_names_that_payout() -> None:
    """Two payouts of the same amount, two credits: the one whose AddtlNtryInf names the
    second payout is matched to it; the other credit, naming none, is the one left for the
    first payout, matched to it as when the first credit names the first payout (never to
    the payout another credit names)."""
    w = without_remittance(build([[(1000, 20)], [(1000, 20)]]))
    first, second = w.payouts
    assert first.amount == second.amount
    named = w.bank[1]
    data = camt(
        S(entries=[E(f"{named.amount / 100:.2f}", day=named.booking_date.isoformat(),
                     servicer_ref=named.reference, text=f"VIR SEPA RECU /MOTIF STRIPE {second.id}")],
          closing=(f"{named.amount / 100:.2f}", "CRDT"))
    )  # fmt: skip
    (entry,) = _entries(data)
    line = from_entry(entry, "S1")
    assert line is not None and second.id in line.text
    w.bank[1] = line
    r = reconcile(w.inputs())
    assert sorted((m[0], m[1]) for m in r.payout_matches) == [
        ((first.id,), (w.bank[0].reference,)),
        ((second.id,), (named.reference,)),
    ]
    assert r.suggestions == ()
    # the same credit naming the first payout instead is the first's, whatever its rival
    w.bank[1] = dataclasses.replace(line, text=f"STRIPE {first.id}")
    r = reconcile(w.inputs())
    assert ((first.id,), (named.reference,)) in [(m[0], m[1]) for m in r.payout_matches]


def test_the_entry_s_key_does_not_follow_its_text() -> None:
    """An entry without the bank's reference is keyed by its content: the key is what it was
    before the text kept AddtlNtryInf, so an entry stored then is recognised."""
    data = camt(
        S(entries=[E("12.50", direction="DBIT", text="FRAIS TENUE DE COMPTE")],
          closing=("12.50", "DBIT"))
    )  # fmt: skip
    assert entry_keys(parse_camt053(data, "x.xml").statements) == [
        "2026-10-01/DBIT/12.50EUR/6fc03bad62/1"
    ]


# -- through the API, on SQLite and PostgreSQL -------------------------------------------


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(bank_iban=IBAN)  # type: ignore[no-any-return]


async def test_an_unexpected_debit_says_what_the_bank_wrote(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    fin = Keys.h(keys.finance)
    day = START
    data = camt(
        S(entries=[E("12.50", direction="DBIT", text="FRAIS TENUE DE COMPTE")],
          closing=("12.50", "DBIT"), day=day.isoformat())
    )  # fmt: skip
    period = {"period_from": day.isoformat(), "period_to": day.isoformat()}
    r = await client.post(
        "/v1/reconciliations", data=period, headers=fin,
        files={"camt053": ("releve.xml", data, "application/xml")},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    (debit,) = r.json()["discrepancies"]
    assert (debit["category"], debit["amount"]) == ("unexpected_bank_debit", 1250)
    assert debit["detail"] == "FRAIS TENUE DE COMPTE"
    csv_ = await client.get(f"/v1/reconciliations/{r.json()['id']}.csv", headers=fin)
    assert "FRAIS TENUE DE COMPTE" in csv_.text
    # an overlapping file sent again adds nothing, even over an entry stored before its
    # text kept AddtlNtryInf (its text was empty then: the key never read the text)
    async with app.state.db.engine.begin() as conn:
        await conn.execute(text("UPDATE bank_entries SET text = ''"))
    again = camt(
        S(id="S2", seq=2, entries=[E("12.50", direction="DBIT", text="FRAIS TENUE DE COMPTE")],
          closing=("12.50", "DBIT"), day=day.isoformat()),
        msg_id="M2",
    )  # fmt: skip
    r = await client.post(
        "/v1/bank-statements",
        files={"file": ("again.xml", again, "application/xml")},
        headers=fin,
    )
    assert r.status_code == 201, r.text
    assert (r.json()["entries"], r.json()["duplicates"]) == (0, 1)
