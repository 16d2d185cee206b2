"""What a FEC says of each entry, for a French accountant (pure): the piece it rests on
(``PieceRef``: the invoice, receipt or credit-note number, the PSP's payout id) and its
label in French with those numbers (``EcritureLib``), never regie's internal ids. Also the
file's name, ``<SIREN>FEC<YYYYMMDD>.txt`` (article A47 A-1 of the LPF: the SIREN and the
closing date of the period).

The ledger knows invoices only by id: the shell looks the numbers up (``Pieces``, per
invoice) and hands them to the export.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field

from ledger.snapshot import ExportLine


@dataclass(frozen=True)
class Pieces:
    """The documents of one invoice: its number and reference, its receipt's number, its
    credit notes' numbers by refund id, and the payment its receipt is for (the one that
    settled it: an overpayment has none; None when not known, the receipt then stands
    for every payment of the invoice)."""

    invoice_number: str | None = None
    reference: str | None = None
    receipt_number: str | None = None
    credit_notes: Mapping[str, str] = field(default_factory=dict)
    receipt_payment: str | None = None


NO_PIECES = Pieces()


@dataclass(frozen=True)
class FecSources:
    """What the shell looks up for the export (``regie.fec``; ``app.state.fec``): the
    pieces of invoices by id, and the SIREN the services' SIRETs share."""

    pieces: Callable[[Collection[str]], Awaitable[Mapping[str, Pieces]]]
    siren: Callable[[], Awaitable[str | None]]


def _id_in(source_key: str, prefix: str) -> str | None:
    parts = source_key.split(":")
    return parts[1] if len(parts) >= 2 and parts[0] == prefix and parts[1] else None


def _bank_pays(x: ExportLine) -> bool | None:
    """Whether a payout entry's line says money left the bank for the PSP: the bank's line
    credited, or the PSP's debited (its other line, the same entry); None on another
    account."""
    if x.account.startswith("assets:bank:"):
        return x.credit > x.debit
    if x.account.startswith("assets:psp:"):
        return x.debit > x.credit
    return None


def piece_and_label(x: ExportLine, p: Pieces) -> tuple[str, str]:
    """(PieceRef, EcritureLib) of a line's entry."""
    if x.kind.startswith("payout_"):
        payout = _id_in(x.source_key, "payout") or ""
        # a negative payout (refunds beyond the day's charges) is the PSP debiting the
        # bank, and its failure gives the bank that money back
        pays = _bank_pays(x)
        negative = pays is not None and pays == (x.kind == "payout_paid")
        move = "Prélèvement" if negative else "Virement"
        label = {
            "payout_paid": f"{move} du prestataire de paiement {payout}",
            "payout_failed": f"{move} {payout} rejeté par la banque (contre-passation)",
            "payout_reconciled": f"Virement {payout} : complément constaté au rapprochement",
        }.get(x.kind, f"Virement {payout}")
        return payout or x.description, label
    invoice = f"facture {p.invoice_number}" if p.invoice_number else "facture"
    # the receipt is the settling payment's: not the piece of another payment's fee (an
    # overpayment's, owed back), which rests on the invoice as the overpayment does
    payment = _id_in(x.source_key, "payment")
    receipt_number = (
        p.receipt_number
        if p.receipt_payment is None or payment is None or payment == p.receipt_payment
        else None
    )
    receipt = f", quittance {receipt_number}" if receipt_number else ""
    refund = _id_in(x.source_key, "refund")
    note = p.credit_notes.get(refund) if refund else None
    credit_note = f", avoir {note}" if note else ""
    reference = f" ({p.reference})" if p.reference else ""
    labels = {
        "invoice_issued": f"Facture {p.invoice_number}{reference}"
        if p.invoice_number
        else x.description,
        "invoice_canceled": f"Annulation de la {invoice}",
        "invoice_expired": f"Annulation de la {invoice}, expirée sans paiement",
        "invoice_paid_after_expiry": f"Rétablissement de la {invoice}, payée après expiration",
        "payment_succeeded": f"Encaissement par carte, {invoice}{receipt}",
        "psp_fee": f"Commission du prestataire de paiement, {invoice}{receipt}",
        "overpayment": f"Trop-perçu (paiement en double), {invoice}",
        "overpayment_refunded": f"Remboursement du trop-perçu, {invoice}",
        "refund_succeeded": f"Remboursement, {invoice}{credit_note}",
        "refund_reversed": f"Remboursement rejeté par la banque, {invoice}{credit_note} annulé"
        if note
        else f"Remboursement rejeté par la banque, {invoice}",
        "refund_fee": f"Commission du prestataire sur remboursement, {invoice}{credit_note}",
        "refund_fee_reversed": f"Commission sur remboursement annulée (remboursement rejeté), {invoice}",
        "dispute_opened": f"Contestation du paiement (litige), {invoice}",
        "dispute_won": f"Litige gagné, fonds restitués, {invoice}",
        "dispute_fee": f"Frais de litige, {invoice}",
        "dispute_fee_returned": f"Frais de litige restitués, {invoice}",
    }
    label = labels.get(x.kind, x.description or x.kind)
    if x.kind in ("payment_succeeded", "psp_fee") and receipt_number:
        piece = receipt_number
    elif (
        x.kind in ("refund_succeeded", "refund_reversed", "refund_fee", "refund_fee_reversed")
        and note
    ):
        piece = note
    else:
        piece = p.invoice_number or x.description
    return piece, label


def common_siren(identifiers: Iterable[str]) -> str | None:
    """The SIREN (9 digits) the services' SIRETs (or SIRENs) share; None if none or several."""
    sirens = set()
    for identifier in identifiers:
        digits = identifier.replace(" ", "")
        if digits.isascii() and digits.isdigit() and len(digits) in (9, 14):  # not "٢٢٢…"
            sirens.add(digits[:9])
    return sirens.pop() if len(sirens) == 1 else None


def fec_filename(siren: str, closing: dt.date) -> str:
    """``<SIREN>FEC<YYYYMMDD>.txt``: the closing date is the period's last day."""
    return f"{siren}FEC{closing:%Y%m%d}.txt"
