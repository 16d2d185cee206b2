"""Invoices: issue, cancel, expire. Each public method owns its transaction."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy.exc import IntegrityError

from payments import accounting
from payments import repository as repo
from payments.events import InvoiceCanceled, InvoiceExpired, InvoiceIssued
from payments.models import Invoice, InvoiceLine
from payments.providers.base import AmountRefusal, ProviderError
from payments.providers.registry import ProviderRegistry
from payments.schemas import InvoiceCreate
from payments.service.access import scope
from payments.service.config import PaymentsConfig
from payments.service.views import Views, payer_out
from payments.states import InvoiceStatus, PaymentStatus, can_invoice
from payments.transitions import record_new_invoice_write, transition
from regie.kit.auth import Principal
from regie.kit.bulk import write_together
from regie.kit.database import Database, is_unique_violation, row_of, utcnow
from regie.kit.errors import ApiError, Conflict, NotFound
from regie.kit.events import EventBus
from regie.kit.idempotency import Claim
from regie.kit.ids import new_id, new_token
from regie.kit.sequences import next_value
from regie.kit.tenancy import Role
from regie.kit.uow import UnitOfWork, unit_of_work

# what an invoice's stored idempotent answer leaves out: its payer (personal data), which a
# replay takes from the invoice again (``InvoiceService.with_payer``)
PAYER_WITHHELD = {"payer": None}

log = logging.getLogger("regie.payments")

MIN_INVOICE_TTL = dt.timedelta(minutes=30)
MAX_INVOICE_TTL = dt.timedelta(days=366)


class InvoiceService:
    def __init__(
        self,
        db: Database,
        bus: EventBus,
        providers: ProviderRegistry,
        config: PaymentsConfig,
        views: Views,
    ) -> None:
        self.db = db
        self.bus = bus
        self.providers = providers
        self.config = config
        self.views = views

    def _check_chargeable(self, amount: int, currency: str) -> None:
        """Ask the default PSP (the one new checkouts go to) whether it can charge this
        amount; a refusal is a 422 now, not a failure when the citizen presses Pay."""
        check = getattr(self.providers.default, "check_amount", None)
        refusal: AmountRefusal | None = check(amount, currency) if check is not None else None
        if refusal is not None:
            raise ApiError(422, refusal.code, refusal.message, param=refusal.param)

    def _lines(self, data: InvoiceCreate) -> tuple[list[tuple[str, int, int]], int]:
        """The lines asked for and their total, checked against ``max_amount``."""
        if data.lines is not None:
            lines = [(ln.description, ln.quantity, ln.unit_amount) for ln in data.lines]
        else:
            assert data.amount is not None
            lines = [(data.description, 1, data.amount)]
        total = 0
        for i, (_, qty, unit) in enumerate(lines):
            if unit > self.config.max_amount or qty * unit > self.config.max_amount:
                raise ApiError(
                    422,
                    "amount_too_large",
                    f"An amount may be at most {self.config.max_amount}.",
                    param=f"lines.{i}.unit_amount" if data.lines is not None else "amount",
                )
            total += qty * unit
        if total > self.config.max_amount:
            raise ApiError(
                422,
                "amount_too_large",
                f"The total may be at most {self.config.max_amount}.",
                param="amount",
            )
        return lines, total

    def check_new(
        self, data: InvoiceCreate, now: dt.datetime
    ) -> tuple[dt.datetime, list[tuple[str, int, int]], int]:
        """What a new invoice must pass beyond its shape: its expiry, its amounts, the
        PSP's rules. Returns (expires_at, lines, total); an ApiError names what fails."""
        expires_at = data.expires_at or now + self.config.default_ttl
        if expires_at < now + MIN_INVOICE_TTL:
            raise ApiError(
                422,
                "parameter_invalid",
                "expires_at must be at least 30 minutes in the future.",
                param="expires_at",
            )
        if expires_at > now + MAX_INVOICE_TTL:
            raise ApiError(
                422, "parameter_invalid", "expires_at must be within one year.", param="expires_at"
            )
        lines, total = self._lines(data)
        self._check_chargeable(total, data.currency)
        return expires_at, lines, total

    async def create_invoice(
        self, principal: Principal, data: InvoiceCreate, claim: Claim | None
    ) -> tuple[int, Any]:
        if principal.role != Role.service:
            raise ApiError(403, "insufficient_role", "Invoices are created with a service key.")
        now = utcnow()
        expires_at, lines, total = self.check_new(data, now)

        slug = principal.service_slug
        inv_id = new_id("inv")
        inv = Invoice(
            id=inv_id,
            service_id=principal.service_id,
            number="",  # the gap-free number, allocated in the transaction below
            reference=data.reference,
            description=data.description,
            currency=data.currency,
            amount_total=total,
            status=InvoiceStatus.open,
            payer_name=data.payer.name,
            payer_email=data.payer.email,
            payer_company_id=data.payer.company_id,
            payer_vat_number=data.payer.vat_number,
            payer_address=data.payer.address,
            metadata_=dict(data.metadata),
            locale=data.locale,
            return_url=data.return_url,
            pay_token=new_token(24),
            expires_at=expires_at,
            created_at=now,
            updated_at=now,
        )
        line_rows = [
            InvoiceLine(
                id=new_id("li"),
                invoice_id=inv_id,
                service_id=inv.service_id,
                position=pos,
                description=desc,
                quantity=qty,
                unit_amount=unit,
                amount=qty * unit,
            )
            for pos, (desc, qty, unit) in enumerate(lines)
        ]
        # Two statements and the commit (Core, no unit of work): the gap-free number first
        # (its counter row stays locked until the commit), then every row of the invoice
        # in one round trip on PostgreSQL (write_together). A reference already used
        # fails that statement on the unique index, with no SELECT and no race.
        async with unit_of_work(self.db, self.bus) as uow:
            s = uow.session
            seq = await next_value(s, f"invoice:{principal.service_id}", str(now.year))
            inv.number = f"{slug.upper()}-{now.year}-{seq:06d}"
            row = row_of(inv)
            body = self.views.invoice_out(inv, line_rows, [], slug).model_dump(mode="json")
            writes = [
                *repo.invoice_writes(row, [row_of(x) for x in line_rows]),
                record_new_invoice_write(
                    uow,
                    row,
                    cause="api:create",
                    event=InvoiceIssued(inv.id, inv.service_id, total, inv.currency, "api:create"),
                ),
                *accounting.invoice_issued_writes(row, slug),
            ]
            try:
                answered = await write_together(
                    s,
                    writes,
                    counted=claim.completion(201, body, withhold=PAYER_WITHHELD) if claim else None,
                )
            except IntegrityError as exc:
                # the only unique index a new invoice's rows can hit (its ids, pay token
                # and number are new): PostgreSQL names the constraint, SQLite the columns
                if is_unique_violation(exc) and "reference" in str(exc.orig):
                    raise _reference_used() from None
                raise
            if claim:
                claim.confirm(answered)  # the key is still this request's, or nothing commits
            await uow.commit()
        return 201, body

    async def cancel_invoice(
        self, principal: Principal, invoice_id: str, claim: Claim | None, reason: str | None = None
    ) -> tuple[int, Any]:
        """Cancel an open invoice; ``reason`` (the caller's) is kept on the state change."""
        if principal.role not in (Role.service, Role.admin):
            raise ApiError(403, "insufficient_role", "Invoices are canceled with a service key.")
        async with unit_of_work(self.db, self.bus) as uow:
            inv = await repo.get_invoice(
                uow.session, invoice_id, service_id=scope(principal), lock=True
            )
            if inv is None:
                raise NotFound("invoice", "id")
            if not can_invoice(InvoiceStatus(inv.status), InvoiceStatus.canceled):
                raise Conflict(
                    "invoice_not_cancelable", f"A {inv.status} invoice cannot be canceled."
                )
            checkouts = await self._close(
                uow, inv, InvoiceStatus.canceled, "api:cancel", note=reason or None
            )
            await uow.session.flush()
            body = (await self.views.render(uow, [inv]))[0].model_dump(mode="json")
            if claim:
                await claim.complete(uow.session, 200, body, withhold=PAYER_WITHHELD)
            await uow.commit()
        await self._cancel_checkouts(checkouts)
        return 200, body

    async def with_payer(self, body: Any) -> Any:
        """An invoice's stored answer (create, cancel) with its payer as the invoice holds
        it: the idempotency store keeps no personal data (``PAYER_WITHHELD``)."""
        if not isinstance(body, dict) or body.get("object") != "invoice" or "payer" not in body:
            return body
        async with self.db.session() as s:
            inv = await repo.get_invoice(s, str(body["id"]))
        if inv is None:
            return body
        return {**body, "payer": payer_out(inv).model_dump(mode="json")}

    async def expire_due(self, limit: int = 100) -> int:
        """Expire open invoices past ``expires_at`` (the sweeper calls this)."""
        now = utcnow()
        async with self.db.session() as s:
            due = await repo.due_for_expiry(s, now, limit)
        count = 0
        for invoice_id in due:
            checkouts: list[tuple[str, str]] = []
            async with unit_of_work(self.db, self.bus) as uow:
                inv = await repo.get_invoice(uow.session, invoice_id, lock=True)
                if inv is None or inv.status != InvoiceStatus.open or inv.expires_at > now:
                    continue
                checkouts = await self._close(uow, inv, InvoiceStatus.expired, "sweeper:expiry")
                await uow.commit()
                count += 1
            await self._cancel_checkouts(checkouts)
        return count

    async def _close(
        self,
        uow: UnitOfWork,
        inv: Invoice,
        target: InvoiceStatus,
        cause: str,
        note: str | None = None,
    ) -> list[tuple[str, str]]:
        """An open invoice is canceled or expired: its pending payments follow, the ledger
        reverses the issue, the event is published. Returns the checkouts to cancel at the
        PSP once committed. A payment whose money is on its way (a delayed method whose
        checkout the payer completed) cannot be stopped: it stays pending, and its PSP's
        word settles it later (see ``PspEvents.apply_truth``)."""
        now = utcnow()
        canceled = target == InvoiceStatus.canceled
        payment_target = PaymentStatus.canceled if canceled else PaymentStatus.expired
        event = (InvoiceCanceled if canceled else InvoiceExpired)(
            inv.id, inv.service_id, inv.amount_total, inv.currency, cause
        )
        transition(uow, inv, target, cause=cause, event=event, at=now, note=note)
        await accounting.invoice_closed(uow.session, inv, target.value, now)
        checkouts: list[tuple[str, str]] = []
        for seen in await repo.pending_payments_of(uow.session, inv.id):
            # re-read under its lock (the caller holds the invoice's, taken first): a Pay
            # press may be recording the checkout's id on it right now, and that checkout
            # must be closed too, or the citizen pays a closed invoice
            p = await repo.get_payment(uow.session, seen.id, lock=True)
            if p is None or p.status != PaymentStatus.pending or p.processing_since is not None:
                continue
            transition(uow, p, payment_target, invoice=inv, cause=cause, at=now)
            if p.checkout_id:
                checkouts.append((p.provider, p.checkout_id))
        return checkouts

    async def _cancel_checkouts(self, checkouts: list[tuple[str, str]]) -> None:
        # After commit: if the PSP is down the checkout still expires on its own by the
        # invoice's expiry (it never outlives it); a payment that slips through pays an
        # expired invoice, and is an overpayment (given back) on a canceled one.
        for provider, cid in checkouts:
            try:
                await self.providers.get(provider).cancel_checkout(cid)
            except ProviderError as exc:
                log.warning("could not cancel checkout", extra={"checkout": cid, "kind": exc.kind})


def _reference_used() -> Conflict:
    return Conflict(
        "reference_already_used", "An invoice with this reference already exists.", "reference"
    )
