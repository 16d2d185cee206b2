"""A returned payment's reason (``TxDtls/RtrInf``: ``Rsn/Cd`` such as AC04, a bank's own
``Rsn/Prtry``, ``AddtlInf``) is read, kept and shown: in ``regie bank-statement show``
(JSON and table), in the bank entry's text an import stores, and so in the detail of a
return no payout explains (``unexpected_bank_debit``). The review found it dropped: a
finance officer saw a debit and had to open the file to learn that the account was closed.
The original transfer's end-to-end id is the transaction's own (``Refs/EndToEndId``)."""

from __future__ import annotations

import io
import json
from typing import Any

import httpx
import pytest
from rich.console import Console
from sqlalchemy import text

from reconciliation.matching import reconcile
from reconciliation.normalise import entry_text, from_entry
from reconciliation.sources.camt053 import parse_camt053
from reconciliation.sources.show import bank_statement_json, bank_statement_table
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.reconciliation.camt_builder import E, S, camt
from tests.reconciliation.test_statement_bookings import IBAN, upload
from tests.reconciliation.world import build


def _return(reason: str = "<Cd>AC04</Cd>", info: tuple[str, ...] = ("COMPTE CLOTURE",)) -> str:
    extra = "".join(f"<AddtlInf>{x}</AddtlInf>" for x in info)
    return (
        "<TxDtls><Refs><EndToEndId>po_000</EndToEndId></Refs>"
        '<Amt Ccy="EUR">9.70</Amt><CdtDbtInd>DBIT</CdtDbtInd>'
        f"<RtrInf><Rsn>{reason}</Rsn>{extra}</RtrInf></TxDtls>"
    )


def _file(version: int = 8, **kw: Any) -> bytes:
    back = E("9.70", "DBIT", servicer_ref="RET-1", day="2026-10-06", details=[_return(**kw)])
    return camt(S(closing=("9.70", "DBIT"), entries=[back], day="2026-10-06"), version=version)


@pytest.mark.parametrize("version", [2, 8])
def test_the_return_reason_is_read_in_every_version(version: int) -> None:
    ((entry,),) = [st.entries for st in parse_camt053(_file(version), "r.xml").statements]
    (d,) = entry.details
    assert (d.return_reason, d.return_info, d.end_to_end_id) == (
        "AC04", ("COMPTE CLOTURE",), "po_000",
    )  # fmt: skip


def test_a_banks_own_reason_and_no_return_at_all() -> None:
    f = parse_camt053(_file(reason="<Prtry>RETOUR-42</Prtry>", info=()), "r.xml")
    (d,) = f.statements[0].entries[0].details
    assert (d.return_reason, d.return_info) == ("RETOUR-42", ())
    plain = parse_camt053(camt(S(entries=[E("1.00")], closing=("1.00", "CRDT"))), "p.xml")
    assert plain.statements[0].entries[0].details == ()
    with_tx = parse_camt053(
        camt(S(entries=[E("1.00", details=['<TxDtls><Amt Ccy="EUR">1.00</Amt></TxDtls>'])],
               closing=("1.00", "CRDT"))), "t.xml",
    )  # fmt: skip
    (d,) = with_tx.statements[0].entries[0].details
    assert (d.return_reason, d.return_info) == (None, ())


def test_show_gives_the_reason_in_json_and_table() -> None:
    f = parse_camt053(_file(), "r.xml")
    doc = bank_statement_json(f)
    (detail,) = doc["statements"][0]["entries"][0]["details"]
    assert detail["return"] == {
        "reason": "AC04",
        "reason_name": "account closed",
        "additional_info": ["COMPTE CLOTURE"],
    }
    assert json.loads(json.dumps(doc)) == doc
    plain = bank_statement_json(
        parse_camt053(camt(S(entries=[E("1.00", details=['<TxDtls><Amt Ccy="EUR">1.00</Amt>'
                                                          "</TxDtls>"])],
                             closing=("1.00", "CRDT"))), "p.xml")
    )  # fmt: skip
    assert plain["statements"][0]["entries"][0]["details"][0]["return"] is None
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(bank_statement_table(f))
    assert "returned AC04 (account closed): COMPTE CLOTURE" in out.getvalue()


def test_an_unexplained_return_says_its_reason_in_its_discrepancy() -> None:
    (entry,) = parse_camt053(_file(), "r.xml").statements[0].entries
    assert entry_text(entry).startswith("returned AC04 (account closed): COMPTE CLOTURE")
    line = from_entry(entry, "S1")
    assert line is not None
    w = build([[(1000, 30)]])
    w.bank.append(line)
    r = reconcile(w.inputs())
    (d,) = [d for d in r.discrepancies if d.category == "unexpected_bank_debit"]
    assert d.detail.startswith("returned AC04 (account closed)"), d.detail


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(bank_iban=IBAN)  # type: ignore[no-any-return]


async def test_the_import_keeps_the_reason_in_the_entrys_text(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    await upload(client, keys, _file(), "r.xml")
    async with app.state.db.session() as s:
        (stored,) = (await s.execute(text("SELECT text FROM bank_entries"))).scalars()
    assert stored.startswith("returned AC04 (account closed): COMPTE CLOTURE")
