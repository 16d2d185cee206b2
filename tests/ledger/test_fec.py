"""A FEC a French accountant opens without questions (issue 11): labels in French with the
invoice, receipt and credit-note numbers, PieceRef = that number, never regie's internal
ids, and the file named ``<SIREN>FEC<YYYYMMDD>.txt``."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger.export import CSV_COLUMNS, FEC_COLUMNS, fec_rows, write_csv, write_fec
from ledger.fec_labels import Pieces, common_siren, fec_filename, piece_and_label
from ledger.service import ExportLine
from regie.fec import fec_pieces, fec_siren
from regie.kit.tenancy import Service
from tests.conftest import Keys, create_invoice, pay, pay_twice
from tests.regie.test_cli import REGIE, run

INTERNAL_ID = re.compile(r"\b(inv|pay|ref|je|dsp|evt|svc)_[0-9A-Za-z]{6,}")
T = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
PIECES = Pieces("URBANISME-2026-000002", "PC-2026-0042", "2026-000001", {"ref_1": "AV-2026-000001"})


def line(kind: str, source_key: str = "", invoice: str | None = "inv_01") -> ExportLine:
    return ExportLine(
        1, "je_1", kind, T, "payment pay_X of URB", invoice, "income:u", "EUR", 0, 1, source_key
    )


@pytest.mark.parametrize(
    ("kind", "source_key", "piece", "label"),
    [
        (
            "invoice_issued",
            "invoice:inv_01:issued",
            "URBANISME-2026-000002",
            "Facture URBANISME-2026-000002 (PC-2026-0042)",
        ),
        (
            "invoice_canceled",
            "invoice:inv_01:canceled",
            "URBANISME-2026-000002",
            "Annulation de la facture URBANISME-2026-000002",
        ),
        (
            "invoice_expired",
            "invoice:inv_01:expired",
            "URBANISME-2026-000002",
            "Annulation de la facture URBANISME-2026-000002, expirée sans paiement",
        ),
        (
            "payment_succeeded",
            "payment:pay_1:succeeded",
            "2026-000001",
            "Encaissement par carte, facture URBANISME-2026-000002, quittance 2026-000001",
        ),
        (
            "psp_fee",
            "payment:pay_1:fee",
            "2026-000001",
            "Commission du prestataire de paiement, facture URBANISME-2026-000002, quittance 2026-000001",
        ),
        (
            "overpayment",
            "payment:pay_2:overpayment",
            "URBANISME-2026-000002",
            "Trop-perçu (paiement en double), facture URBANISME-2026-000002",
        ),
        (
            "refund_succeeded",
            "refund:ref_1:succeeded",
            "AV-2026-000001",
            "Remboursement, facture URBANISME-2026-000002, avoir AV-2026-000001",
        ),
        (
            "refund_reversed",
            "refund:ref_1:reversed",
            "AV-2026-000001",
            "Remboursement rejeté par la banque, facture URBANISME-2026-000002, avoir AV-2026-000001 annulé",
        ),
        (
            "dispute_opened",
            "dispute:dp_1:opened",
            "URBANISME-2026-000002",
            "Contestation du paiement (litige), facture URBANISME-2026-000002",
        ),
        (
            "invoice_paid_after_expiry",
            "invoice:inv_01:paid_after_expiry",
            "URBANISME-2026-000002",
            "Rétablissement de la facture URBANISME-2026-000002, payée après expiration",
        ),
        (
            "overpayment_refunded",
            "refund:ref_9:succeeded",
            "URBANISME-2026-000002",
            "Remboursement du trop-perçu, facture URBANISME-2026-000002",
        ),
        (
            "refund_reversed",
            "refund:ref_9:reversed",  # a refund without a credit note
            "URBANISME-2026-000002",
            "Remboursement rejeté par la banque, facture URBANISME-2026-000002",
        ),
        (
            "dispute_won",
            "dispute:dp_1:won",
            "URBANISME-2026-000002",
            "Litige gagné, fonds restitués, facture URBANISME-2026-000002",
        ),
        (
            "dispute_fee",
            "dispute:dp_1:fee",
            "URBANISME-2026-000002",
            "Frais de litige, facture URBANISME-2026-000002",
        ),
        (
            "refund_fee",
            "refund:ref_1:fee",
            "AV-2026-000001",
            "Commission du prestataire sur remboursement, facture URBANISME-2026-000002, "
            "avoir AV-2026-000001",
        ),
        (
            "refund_fee_reversed",
            "refund:ref_1:fee_reversed",
            "AV-2026-000001",
            "Commission sur remboursement annulée (remboursement rejeté), "
            "facture URBANISME-2026-000002",
        ),
        (
            "dispute_fee",
            "dispute:dp_1:fee:3000",  # a fee added later, keyed by the new total
            "URBANISME-2026-000002",
            "Frais de litige, facture URBANISME-2026-000002",
        ),
        (
            "dispute_fee_returned",
            "dispute:dp_1:fee_returned",
            "URBANISME-2026-000002",
            "Frais de litige restitués, facture URBANISME-2026-000002",
        ),
    ],
)
def test_each_kind_has_its_piece_and_a_french_label(
    kind: str, source_key: str, piece: str, label: str
) -> None:
    assert piece_and_label(line(kind, source_key), PIECES) == (piece, label)


def test_a_payout_is_its_psp_reference() -> None:
    x = line("payout_paid", "payout:po_sim_123:paid", invoice=None)
    assert piece_and_label(x, Pieces()) == (
        "po_sim_123",
        "Virement du prestataire de paiement po_sim_123",
    )


@pytest.mark.parametrize(
    ("kind", "label"),
    [
        ("payout_paid", "Virement du prestataire de paiement po_sim_123"),
        ("payout_failed", "Virement po_sim_123 rejeté par la banque (contre-passation)"),
        ("payout_reconciled", "Virement po_sim_123 : complément constaté au rapprochement"),
        ("payout_other", "Virement po_sim_123"),
    ],
)
def test_each_payout_kind_has_its_label(kind: str, label: str) -> None:
    x = line(kind, "payout:po_sim_123:x", invoice=None)
    assert piece_and_label(x, Pieces()) == ("po_sim_123", label)


def _payout_line(kind: str, account: str, debit: int, credit: int) -> ExportLine:
    return ExportLine(
        1, "je_1", kind, T, "payout po_neg", None, account, "EUR", debit, credit,
        f"payout:po_neg:{kind.removeprefix('payout_')}",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "bank", "psp", "label"),
    [
        # a payout: the bank debited (money in), the PSP's account credited
        ("payout_paid", (700, 0), (0, 700), "Virement du prestataire de paiement po_neg"),
        # a negative payout: the PSP takes the money from the bank
        ("payout_paid", (0, 700), (700, 0), "Prélèvement du prestataire de paiement po_neg"),
        ("payout_failed", (0, 700), (700, 0), "Virement po_neg rejeté par la banque (contre-passation)"),
        ("payout_failed", (700, 0), (0, 700), "Prélèvement po_neg rejeté par la banque (contre-passation)"),
    ],
)  # fmt: skip
def test_a_negative_payout_is_labelled_a_debit_of_the_bank_on_both_its_lines(
    kind: str, bank: tuple[int, int], psp: tuple[int, int], label: str
) -> None:
    """A negative payout (refunds beyond the day's charges) is the PSP debiting the bank:
    an accountant reading "Virement du prestataire" would look for money that arrived."""
    for x in (
        _payout_line(kind, "assets:bank:main", *bank),
        _payout_line(kind, "assets:psp:stripe", *psp),
    ):
        assert piece_and_label(x, Pieces()) == ("po_neg", label)


def test_without_an_invoice_number_the_label_says_facture_and_the_piece_is_the_description() -> (
    None
):
    assert piece_and_label(line("invoice_canceled", "invoice:inv_01:canceled"), Pieces()) == (
        "payment pay_X of URB",
        "Annulation de la facture",
    )
    # a source key without an id after its prefix names no refund
    assert piece_and_label(line("refund_succeeded", "refund:"), PIECES)[1] == (
        "Remboursement, facture URBANISME-2026-000002"
    )


def test_fec_rows_take_the_pieces_by_invoice() -> None:
    lines = [
        line("invoice_issued", "invoice:inv_01:issued"),
        line("payment_succeeded", "payment:pay_1:succeeded"),
    ]
    rows = list(fec_rows(lines, pieces={"inv_01": PIECES}))
    col = {name: i for i, name in enumerate(FEC_COLUMNS)}
    assert [r[col["PieceRef"]] for r in rows[1:]] == ["URBANISME-2026-000002", "2026-000001"]
    assert rows[2][col["EcritureLib"]].startswith("Encaissement par carte")


def test_the_siren_is_the_one_the_services_share_and_names_the_file() -> None:
    assert common_siren(["21310555400017", "213 105 554 00025", ""]) == "213105554"
    assert common_siren(["21310555400017", "21310555500014"]) is None  # two bodies
    assert common_siren(["", "abc"]) is None
    assert common_siren(["\u0662" * 9]) is None  # digits to str.isdigit, not to a SIREN
    assert fec_filename("213105554", dt.date(2026, 12, 31)) == "213105554FEC20261231.txt"


async def _paid_and_refunded(client: httpx.AsyncClient, app: Any, keys: Keys) -> dict[str, Any]:
    async with app.state.db.session() as s:
        for svc in (await s.execute(__import__("sqlalchemy").select(Service))).scalars():
            svc.identifier = "21310555400017"
        await s.commit()
    inv = await create_invoice(client, keys.urbanisme, reference="PC-2026-0042")
    await pay(client, inv, apply=app)
    r = await client.post(
        f"/v1/invoices/{inv['id']}/refunds", json={"amount": 1000}, headers=Keys.h(keys.urbanisme)
    )
    assert r.status_code == 201, r.text
    return inv


async def test_the_fec_of_a_paid_and_refunded_invoice_names_its_documents(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    inv = await _paid_and_refunded(client, app, keys)
    lo, hi = dt.datetime(2000, 1, 1, tzinfo=dt.UTC), dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
    lines = [x async for x in app.state.ledger.export_lines(lo, hi)]
    pieces = await fec_pieces(app.state.db, {x.invoice_id for x in lines if x.invoice_id})
    rows = list(fec_rows(lines, pieces=pieces))[1:]
    col = {name: i for i, name in enumerate(FEC_COLUMNS)}
    said = {(r[col["PieceRef"]], r[col["EcritureLib"]]) for r in rows}
    number = inv["number"]
    assert said == {
        (number, f"Facture {number} (PC-2026-0042)"),
        ("2026-000001", f"Encaissement par carte, facture {number}, quittance 2026-000001"),
        (
            "2026-000001",
            f"Commission du prestataire de paiement, facture {number}, quittance 2026-000001",
        ),
        ("AV-2026-000001", f"Remboursement, facture {number}, avoir AV-2026-000001"),
    }
    for r in rows:
        assert not INTERNAL_ID.search("|".join(r)), r
    assert await fec_siren(app.state.db) == "213105554"


async def test_the_http_fec_is_named_after_the_siren_and_the_closing_day(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    inv = await _paid_and_refunded(client, app, keys)
    params = {"from": "2000-01-01", "to": "2099-12-31"}
    r = await client.get("/v1/ledger/fec", params=params, headers=Keys.h(keys.urbanisme))
    assert r.status_code == 403
    r = await client.get("/v1/ledger/fec", params=params, headers=Keys.h(keys.finance))
    assert r.status_code == 200, r.text
    assert r.headers["content-disposition"] == 'attachment; filename="213105554FEC20991231.txt"'
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert text.startswith("JournalCode|JournalLib|") and inv["number"] in text
    assert not INTERNAL_ID.search(text)
    r = await client.get(
        "/v1/ledger/fec", params={**params, "siren": "552100554"}, headers=Keys.h(keys.finance)
    )
    assert r.headers["content-disposition"] == 'attachment; filename="552100554FEC20991231.txt"'


async def test_the_http_fec_without_a_siren_asks_for_one(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    r = await client.get(
        "/v1/ledger/fec",
        params={"from": "2026-01-01", "to": "2026-12-31"},
        headers=Keys.h(keys.finance),
    )
    assert r.status_code == 422 and r.json()["error"]["param"] == "siren", r.text


def test_the_cli_writes_the_fec_under_its_name_by_default(tmp_path: Path) -> None:
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("REGIE_")}
    env["REGIE_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'fec.db'}"
    assert run(["db", "upgrade"], env).returncode == 0
    args = ["ledger", "export", "--format", "fec", "--from", "2026-01-01", "--to", "2026-12-31"]
    no_siren = subprocess.run(
        [REGIE, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert no_siren.returncode == 2 and "--siren" in no_siren.stderr, no_siren.stderr
    odd = subprocess.run(  # str.isdigit takes Arabic-Indic digits: not a SIREN
        [REGIE, *args, "--siren", "\u0662" * 9], env=env, cwd=tmp_path, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert odd.returncode == 2 and "--siren is 9 digits" in odd.stderr, odd.stderr
    created = run(["services", "create", "cantine", "--identifier", "21310555400041"], env)
    assert created.returncode == 0, created.stderr
    done = subprocess.run(
        [REGIE, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    written = tmp_path / "213105554FEC20261231.txt"
    assert written.read_text(encoding="utf-8").startswith("JournalCode|"), done.stderr
    assert "213105554FEC20261231.txt" in done.stderr


def test_the_csv_export_has_one_row_per_line_and_counts_them() -> None:
    at = dt.datetime(2026, 1, 2, 9, 30, tzinfo=dt.UTC)
    lines = [
        ExportLine(7, "je_1", "invoice_issued", at, "Facture F-1", "inv_1", "receivable:u", "EUR", 2500, 0),
        ExportLine(7, "je_1", "invoice_issued", at, "Facture F-1", "inv_1", "income:u", "EUR", 0, 2500),
        ExportLine(8, "je_2", "payout_paid", at, "Virement", None, "assets:bank:x", "EUR", 900, 0),
    ]  # fmt: skip
    out = io.StringIO()
    assert write_csv(lines, out) == 3
    assert out.getvalue().startswith("\ufeff")  # the byte order mark Excel needs
    rows = list(csv.reader(io.StringIO(out.getvalue().removeprefix("\ufeff"))))
    assert rows[0] == list(CSV_COLUMNS)
    assert rows[1:] == [
        ["7", "je_1", "invoice_issued", "2026-01-02T09:30:00+00:00", "receivable:u", "EUR", "2500", "0", "inv_1", "Facture F-1"],
        ["7", "je_1", "invoice_issued", "2026-01-02T09:30:00+00:00", "income:u", "EUR", "0", "2500", "inv_1", "Facture F-1"],
        ["8", "je_2", "payout_paid", "2026-01-02T09:30:00+00:00", "assets:bank:x", "EUR", "900", "0", "", "Virement"],
    ]  # fmt: skip


def test_the_csv_export_writes_no_cell_a_spreadsheet_would_run() -> None:
    # a description carries an invoice's reference and a PSP's ids: text regie did not choose
    at = dt.datetime(2026, 1, 2, 9, 30, tzinfo=dt.UTC)
    lines = [
        ExportLine(7, "je_1", "invoice_issued", at, "=HYPERLINK(\"x\")", "inv_1", "receivable:u", "EUR", 2500, 0),
        ExportLine(8, "je_2", "payout_paid", at, "payout po_1,-2+3", None, "assets:bank:x", "EUR", 900, 0),
    ]  # fmt: skip
    out = io.StringIO()
    assert write_csv(lines, out) == 2
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert [r[-1] for r in rows[1:]] == ['\'=HYPERLINK("x")', "payout po_1,'-2+3"]
    assert [r[6:8] for r in rows[1:]] == [["2500", "0"], ["900", "0"]]  # numbers as numbers


def test_write_fec_returns_how_many_rows_it_wrote_after_its_header() -> None:
    lines = [
        line("invoice_issued", "invoice:inv_01:issued"),
        line("payment_succeeded", "payment:pay_1:succeeded"),
    ]
    out = io.StringIO()
    assert write_fec(lines, out, pieces={"inv_01": PIECES}) == 2
    assert out.getvalue().count("\r\n") == 3  # the header and two rows


async def test_the_fee_of_an_overpayment_rests_on_the_invoice_not_on_another_payments_receipt(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    """An invoice paid twice has one receipt, for the payment that settled it. The PSP's fee
    on the second payment (the overpayment, owed back) was labelled with that receipt and
    had it as its PieceRef: an auditor following the piece found a receipt for another
    payment. Its piece is the invoice, as the overpayment's own entry's is."""
    inv = await create_invoice(client, keys.urbanisme, reference="PC-2026-0043")
    await pay_twice(client, app, inv)
    lo, hi = dt.datetime(2000, 1, 1, tzinfo=dt.UTC), dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
    lines = [x async for x in app.state.ledger.export_lines(lo, hi)]
    pieces = await fec_pieces(app.state.db, {x.invoice_id for x in lines if x.invoice_id})
    (receipt,) = {p.receipt_number for p in pieces.values()}
    assert receipt is not None
    col = {name: i for i, name in enumerate(FEC_COLUMNS)}
    fees: dict[str, set[tuple[str, str]]] = {}
    for x in lines:
        if x.kind == "psp_fee":
            payment = x.source_key.split(":")[1]
            (row,) = list(fec_rows([x], pieces=pieces))[1:]
            fees.setdefault(payment, set()).add((row[col["PieceRef"]], row[col["EcritureLib"]]))
    overpaid = {x.source_key.split(":")[1] for x in lines if x.kind == "overpayment"}
    settled = {x.source_key.split(":")[1] for x in lines if x.kind == "payment_succeeded"}
    assert len(overpaid) == len(settled) == 1 and set(fees) == overpaid | settled
    number = inv["number"]
    assert fees[settled.pop()] == {
        (receipt, f"Commission du prestataire de paiement, facture {number}, quittance {receipt}")
    }
    assert fees[overpaid.pop()] == {
        (number, f"Commission du prestataire de paiement, facture {number}")
    }
