"""The FEC's pieces, looked up where they live (part of the shell: it reads ``payments``'
invoices and ``receipts``' receipts and credit notes, which the ledger may not import),
and the SIREN the file is named after."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlmodel import col

from ledger.fec_labels import Pieces, common_siren
from payments.models import Invoice
from receipts.models import Receipt
from regie.kit.database import Database
from regie.kit.tenancy import Service

_BATCH = 500


async def fec_pieces(db: Database, invoice_ids: Collection[str]) -> dict[str, Pieces]:
    """Per invoice id: its number and reference, its receipt's number and the payment it
    is for, its credit notes' numbers by refund id (a credit note's source key is
    ``refund:<id>``)."""
    ids = sorted(set(invoice_ids))
    found: dict[str, Pieces] = {}
    async with db.session() as s:
        for i in range(0, len(ids), _BATCH):
            chunk = ids[i : i + _BATCH]
            invoices = await s.execute(
                select(col(Invoice.id), col(Invoice.number), col(Invoice.reference)).where(
                    col(Invoice.id).in_(chunk)
                )
            )
            receipts = await s.execute(
                select(
                    col(Receipt.invoice_id),
                    col(Receipt.kind),
                    col(Receipt.number),
                    col(Receipt.source_key),
                    col(Receipt.payment_id),
                ).where(col(Receipt.invoice_id).in_(chunk))
            )
            numbers: dict[str, tuple[str, str | None]] = {}
            notes: dict[str, dict[str, str]] = {}
            for invoice_id, kind, number, source_key, payment_id in receipts:
                if kind == "receipt":
                    numbers[invoice_id] = (number, payment_id)
                elif source_key.startswith("refund:"):
                    notes.setdefault(invoice_id, {})[source_key.split(":")[1]] = number
            for invoice_id, number, reference in invoices:
                receipt, paid_by = numbers.get(invoice_id, (None, None))
                found[invoice_id] = Pieces(
                    number, reference, receipt, notes.get(invoice_id, {}), paid_by
                )
    return found


async def fec_siren(db: Database) -> str | None:
    """The SIREN every service's SIRET shares; None when there is none, or several."""
    async with db.session() as s:
        identifiers = (await s.execute(select(col(Service.identifier)))).scalars().all()
    return common_siren(identifiers)
