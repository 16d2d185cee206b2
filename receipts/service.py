"""Receipts: issued in the transaction that marks the invoice paid, numbered without gaps
per issuer and year (the number allocated last, just before the commit), rendered after
the commit (``receipts.files``), verifiable by anyone with the QR code."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from payments import repository as payments_repo
from payments.events import InvoicePaid, RefundReversed, RefundSucceeded
from payments.models import Invoice
from receipts import files
from receipts import repository as repo
from receipts.amount_words import amount_in_words
from receipts.codes import (
    code_is,
    code_matches,
    from_snapshot,
    printed_code,
    snapshot,
    verification_code,
    verification_status,
)
from receipts.document import Language, ReceiptDocument, ReceiptLine, verify_url
from receipts.files import ReceiptFiles, ReceiptIntegrityError
from receipts.issuers import issuer_key, sequence_scope
from receipts.models import CreditNoteCancellation, Receipt
from receipts.rendering import facturx_part
from regie.kit.database import Database, utcnow
from regie.kit.ids import new_id
from regie.kit.sequences import next_value
from regie.kit.uow import UnitOfWork

log = logging.getLogger("regie.receipts")

__all__ = ["ReceiptIntegrityError", "ReceiptsService", "Verification"]

#: Why a cancelled credit note no longer holds, as its verification says it to anyone who
#: holds the paper: not the PSP's reason (``expired_or_canceled_card``,
#: ``lost_or_stolen_card``: the payer's card), which the cancellation record keeps for the
#: issuing service (``X-Credit-Note-Canceled-Reason`` on its download)
PUBLIC_CANCELED_REASON = "refund failed after it succeeded"


@dataclass(frozen=True)
class Verification:
    status: str  # genuine | disputed | refunded | partially_refunded | canceled | unknown
    number: str
    kind: str | None = None
    amount: int | None = None
    currency: str | None = None
    issued_at: str | None = None  # ISO date in the issuer's zone
    issuer: str | None = None
    issuer_id: str | None = None  # the SIREN (or the service's slug): the URL's issuer
    canceled_reason: str | None = None  # a cancelled credit note: PUBLIC_CANCELED_REASON


def _lines(text: str, separator: str) -> tuple[str, ...]:
    """Address lines: the parts of ``text`` between separators, stripped, none empty."""
    return tuple(part.strip() for part in text.split(separator) if part.strip())


class ReceiptsService:
    def __init__(
        self,
        db: Database,
        *,
        secret: str,
        base_url: str,
        vat_article: str = "256 B",
        render_lease: dt.timedelta = files.LEASE,
    ) -> None:
        self.db = db
        self.secret = secret
        self.base_url = base_url
        self.vat_article = vat_article  # the CGI article of the VAT mention
        self.files = ReceiptFiles(db, lease=render_lease)

    # ------------------------------------------------------------- issuing
    async def on_invoice_paid(self, uow: UnitOfWork, event: InvoicePaid) -> None:
        """Subscriber of ``InvoicePaid``: runs inside the payment's transaction. It freezes
        the document; its number is allocated last, just before the commit (the issuer's
        counter is locked only from there to the commit), and the PDF is rendered after the
        commit (``receipts.files``)."""
        s = uow.session
        source_key = f"payment:{event.payment_id}"
        if await repo.issued_for(s, source_key):
            return
        inv = await payments_repo.get_invoice(s, event.invoice_id)
        payment = await payments_repo.get_payment(s, event.payment_id)
        svc = await payments_repo.get_service(s, event.service_id)
        assert inv is not None and payment is not None and svc is not None
        lines = (await payments_repo.lines_of(s, [inv.id]))[inv.id]
        paid_at = payment.succeeded_at or inv.paid_at or utcnow()
        year = paid_at.astimezone(ZoneInfo(svc.timezone)).year
        language: Language = "en" if inv.locale == "en" else "fr"
        fields: dict[str, Any] = dict(
            kind="receipt",
            language=language,
            issuer_name=svc.name,
            issuer_address=_lines(svc.address, ","),
            issuer_identifier=svc.identifier,
            issuer_timezone=svc.timezone,
            paid_at=paid_at,
            payer_name=inv.payer_name,
            payer_address=_lines(inv.payer_address or "", "\n"),
            issued_at=utcnow(),
            amount_in_words=amount_in_words(inv.amount_total, inv.currency, language),
            vat_article=self.vat_article,
            regie_name=svc.regie_name,
            issuer_email=svc.email,
            issuer_phone=svc.phone,
            issuer_hours=svc.opening_hours,
            lines=tuple(
                ReceiptLine(x.description, x.quantity, x.unit_amount, x.amount) for x in lines
            ),
            total=inv.amount_total,
            currency=inv.currency,
            card_brand=payment.card_brand,
            card_last4=payment.card_last4,
            psp_reference=payment.provider_payment_id or payment.id,
            invoice_number=inv.number,
            invoice_reference=inv.reference,
        )
        extra = facturx_part(
            inv.payer_name, inv.payer_company_id, inv.payer_vat_number, svc.identifier
        )
        row = dict(
            service_id=svc.id, issuer=issuer_key(svc.identifier, svc.slug), invoice_id=inv.id,
            payment_id=payment.id, source_key=source_key, kind="receipt",
            amount=inv.amount_total, currency=inv.currency, language=language,
        )  # fmt: skip
        scope = sequence_scope("receipt", svc.identifier, svc.id)
        uow.last(lambda: self._issue(s, scope, year, "", fields, extra, row))

    async def _issue(
        self,
        s: AsyncSession,
        scope: str,
        year: int,
        prefix: str,
        fields: dict[str, Any],
        extra: dict[str, Any],
        row: dict[str, Any],
    ) -> None:
        """The last step of the issuing transaction: the gap-free number, then the receipt
        row with its frozen document, queued for rendering (``receipts.files``)."""
        seq = await next_value(s, scope, str(year))
        receipt_id = new_id("rec")
        number = f"{prefix}{year}-{seq:06d}"
        url = verify_url(
            self.base_url, row["issuer"], number, verification_code(self.secret, receipt_id)
        )
        doc = ReceiptDocument(number=number, verify_url=url, **fields)
        issued_at = doc.issued_at or utcnow()
        s.add(
            Receipt(
                id=receipt_id, number=number, document=snapshot(doc) | extra,
                issued_at=issued_at, **row,
            )
        )  # fmt: skip
        files.queue(s, receipt_id, issued_at)
        log.info(
            f"{row['kind'].replace('_', ' ')} issued",
            extra={"receipt": receipt_id, "number": number, "invoice": row["invoice_id"]},
        )

    async def on_refund_succeeded(self, uow: UnitOfWork, event: RefundSucceeded) -> None:
        """Subscriber of ``RefundSucceeded``: a credit note, in its own gap-free series
        (``AV-2026-000001``), that names the receipt it corrects; numbered last and
        rendered after the commit, like a receipt."""
        if event.is_overpayment:
            return  # an overpayment had no receipt: its refund needs no credit note
        s = uow.session
        source_key = f"refund:{event.refund_id}"
        if await repo.issued_for(s, source_key):
            return
        original = await repo.receipt_of(s, event.invoice_id)
        if original is None:
            log.error("refund of an invoice without a receipt", extra={"invoice": event.invoice_id})
            return
        base = from_snapshot(original.document)
        svc = await payments_repo.get_service(s, event.service_id)
        assert svc is not None
        now = utcnow()
        year = now.astimezone(ZoneInfo(svc.timezone)).year
        label = "Remboursement" if base.language == "fr" else "Refund"
        refund = await payments_repo.get_refund(s, event.refund_id)
        inv = await payments_repo.get_invoice(s, event.invoice_id)
        assert refund is not None and inv is not None
        fields = {
            f.name: getattr(base, f.name)
            for f in dataclasses.fields(base)
            if f.name not in ("number", "verify_url")
        }
        fields.update(
            kind="credit_note",
            credit_note_for=original.number,
            paid_at=now,
            lines=(ReceiptLine(f"{label} – {base.invoice_number}", 1, event.amount, event.amount),),
            total=event.amount,
            issued_at=now,
            amount_in_words=amount_in_words(event.amount, event.currency, base.language),
            vat_article=self.vat_article,
            regie_name=svc.regie_name,
            issuer_email=svc.email,
            issuer_phone=svc.phone,
            issuer_hours=svc.opening_hours,
            # the PSP's reference of the refund, as the receipt gives the payment's
            psp_reference=refund.provider_refund_id or refund.id,
            refund_reason=refund.reason,
            # what the bill is still paid for once this refund is given back
            remaining_amount=max(inv.amount_paid - inv.amount_refunded, 0),
        )
        extra = facturx_part(
            inv.payer_name, inv.payer_company_id, inv.payer_vat_number, svc.identifier
        )
        row = dict(
            service_id=svc.id, issuer=issuer_key(svc.identifier, svc.slug),
            invoice_id=event.invoice_id, payment_id=event.payment_id, source_key=source_key,
            kind="credit_note", refers_to=original.id, amount=event.amount,
            currency=event.currency, language=base.language,
        )  # fmt: skip
        scope = sequence_scope("credit_note", svc.identifier, svc.id)
        uow.last(lambda: self._issue(s, scope, year, "AV-", fields, extra, row))

    async def on_refund_reversed(self, uow: UnitOfWork, event: RefundReversed) -> None:
        """Subscriber of ``RefundReversed``: the refund's credit note no longer holds (the
        bank returned the money). Issued credit notes are never changed: a cancellation
        record, next to it, says so and why; verification and downloads show it."""
        if event.is_overpayment:
            return
        s = uow.session
        note = await repo.by_source(s, f"refund:{event.refund_id}")
        if note is None:
            log.error("failed refund without a credit note", extra={"refund": event.refund_id})
            return
        if await repo.cancellation_of(s, note.id) is not None:
            return
        s.add(
            CreditNoteCancellation(
                id=new_id("rec"), service_id=note.service_id, invoice_id=note.invoice_id,
                credit_note_id=note.id, refund_id=event.refund_id,
                reason=f"refund failed after it succeeded: {event.failure_reason}"[:200],
                canceled_at=utcnow(),
            )
        )  # fmt: skip
        log.info("credit note cancelled", extra={"receipt": note.id, "number": note.number})

    async def cancellation(self, receipt: Receipt) -> CreditNoteCancellation | None:
        """The record that cancels this credit note, if its refund failed after all."""
        async with self.db.session() as s:
            return await repo.cancellation_of(s, receipt.id)

    async def credit_notes_for(self, invoice_id: str, service_id: str | None) -> list[Receipt]:
        async with self.db.session() as s:
            inv = await payments_repo.get_invoice(s, invoice_id, service_id=service_id)
            return [] if inv is None else await repo.credit_notes_of(s, inv.id)

    # ------------------------------------------------------------- reading
    async def for_invoice(self, invoice_id: str, service_id: str | None) -> Receipt | None:
        async with self.db.session() as s:
            inv = await payments_repo.get_invoice(s, invoice_id, service_id=service_id)
            return None if inv is None else await repo.receipt_of(s, inv.id)

    async def for_token(self, token: str) -> tuple[Receipt | None, Invoice] | None:
        """The receipt (None while the bill is not paid) and the bill of a pay link; None
        for a token that is no bill's."""
        async with self.db.session() as s:
            inv = await payments_repo.get_invoice_by_token(s, token)
            if inv is None:
                return None
            return await repo.receipt_of(s, inv.id), inv

    async def number_of(self, invoice_id: str) -> tuple[str, dt.datetime] | None:
        """The number and issue time of an invoice's receipt (the citizen's pages show
        them), without reading its PDF."""
        async with self.db.session() as s:
            return await repo.number_of(s, invoice_id)

    async def pdf(self, receipt: Receipt) -> tuple[bytes, str]:
        """The bytes issued and their SHA-256, checked against each other (rendered on
        the spot, and stored, if the worker has not done it yet)."""
        return await self.files.pdf_of(receipt)

    def document(self, receipt: Receipt) -> ReceiptDocument:
        return from_snapshot(receipt.document)

    async def verify(self, number: str, code: str, issuer: str | None = None) -> Verification:
        """What the QR code's URL says of a receipt: by its issuer, number and code (the
        issuer is None on the older URLs that named only the number)."""
        if not number or len(number) > 32 or not code or len(code) > 32:
            return Verification("unknown", number[:32])
        if issuer is not None and (not issuer or len(issuer) > 40):
            return Verification("unknown", number)
        async with self.db.session() as s:
            for r in await repo.by_number(s, number, issuer):
                # the code printed on it (issued under the key of the day), else the HMAC
                printed = printed_code(str(r.document.get("verify_url") or ""))
                if not (
                    code_is(printed, code) if printed else code_matches(self.secret, r.id, code)
                ):
                    continue
                inv = await payments_repo.get_invoice(s, r.invoice_id)
                svc = await payments_repo.get_service(s, r.service_id)
                cancel = await repo.cancellation_of(s, r.id) if r.kind == "credit_note" else None
                status = verification_status(
                    r.kind, inv.status if inv is not None else None, cancel is not None
                )
                # the public word only: the PSP's reason speaks of the payer's card
                reason = PUBLIC_CANCELED_REASON if cancel is not None else None
                doc = from_snapshot(r.document)
                return Verification(
                    status=status,
                    number=r.number,
                    kind=r.kind,
                    amount=r.amount,
                    currency=r.currency,
                    issued_at=doc.local_paid_at.date().isoformat(),
                    issuer=svc.name if svc else None,
                    issuer_id=r.issuer,
                    canceled_reason=reason,
                )
        return Verification("unknown", number)
