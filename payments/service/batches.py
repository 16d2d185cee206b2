"""Invoice batches: up to 10,000 invoices created together, all or none.

One function creates them, for the API (``POST /v1/invoice-batches``) and the CLI
(``regie invoices import``): every row is validated first (its shape, then what
``InvoiceService.check_new`` checks, then the references), and every invalid row is
reported; nothing is written unless all are valid. Then one transaction writes the batch
row, the invoices and their lines (COPY on PostgreSQL), their audit rows, allocates their
gap-free numbers as ONE block (one counter update, last, so the counter's row lock is
held only for what needs the numbers), numbers the invoices in one statement, posts their
ledger entries in bulk, and publishes one ``InvoicesIssued`` event for the batch (the
outbox queues an ``invoice.created`` notification per invoice and endpoint).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from payments import accounting
from payments import batch_repository as brepo
from payments import repository as repo
from payments.batch_schemas import MAX_BATCH, MAX_ROW_ERRORS, InvoiceBatchOut
from payments.events import InvoicesIssued
from payments.models import InvoiceBatch
from payments.schemas import InvoiceCreate
from payments.service.access import scope
from payments.service.invoices import InvoiceService
from payments.service.views import Views
from payments.states import InvoiceStatus
from payments.transitions import record_new_invoices
from regie.kit.auth import Principal
from regie.kit.bulk import no_gc
from regie.kit.database import Database, is_unique_violation, utcnow
from regie.kit.errors import ApiError, Conflict, NotFound, describe_validation_error
from regie.kit.events import EventBus
from regie.kit.idempotency import Claim
from regie.kit.ids import new_id, new_token
from regie.kit.sequences import next_block
from regie.kit.tenancy import Role
from regie.kit.uow import UnitOfWork, unit_of_work

#: called with (what is done, how many steps in all) as the batch goes
Progress = Callable[[str, int, int], None]


def _no_progress(what: str, done: int, total: int) -> None:
    return None


class BatchService:
    def __init__(self, db: Database, bus: EventBus, invoices: InvoiceService, views: Views) -> None:
        self.db = db
        self.bus = bus
        self.invoices = invoices
        self.views = views

    # ------------------------------------------------------------- validation
    async def validate(
        self, principal: Principal, items: Any, progress: Progress = _no_progress
    ) -> list[tuple[InvoiceCreate, Any]]:
        """Every row checked; the valid batch, or a 422 ``batch_invalid`` that lists each
        invalid row (its index, field, code and message)."""
        if principal.role != Role.service:
            raise ApiError(403, "insufficient_role", "Invoices are created with a service key.")
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
            raise ApiError(
                422,
                "parameter_invalid",
                f"invoices is a list of 1 to {MAX_BATCH} invoices.",
                param="invoices",
            )
        with no_gc():  # no await in here
            valid, errors, seen = self._check_rows(items, progress)
        if not errors:
            async with self.db.session() as s:
                taken = await brepo.references_taken(s, principal.service_id, list(seen))
            errors.extend(
                {
                    "row": row,
                    "param": "reference",
                    "code": "reference_already_used",
                    "message": "An invoice with this reference already exists.",
                }
                for ref, row in seen.items()
                if ref in taken
            )
        if errors:
            errors.sort(key=lambda e: e["row"])
            rows = len({e["row"] for e in errors})
            raise ApiError(
                422,
                "batch_invalid",
                _invalid(rows, len(items))
                + (
                    f" (the first {MAX_ROW_ERRORS} errors are listed)."
                    if len(errors) > MAX_ROW_ERRORS
                    else "."
                ),
                param="invoices",
                errors=errors[:MAX_ROW_ERRORS],
            )
        progress("validated", len(items), len(items))
        return valid

    def _check_rows(
        self, items: list[Any], progress: Progress
    ) -> tuple[list[tuple[InvoiceCreate, Any]], list[dict[str, Any]], dict[str, int]]:
        """Each row's shape and rules, and duplicates inside the batch (synchronous)."""
        now = utcnow()
        errors: list[dict[str, Any]] = []
        valid: list[tuple[InvoiceCreate, Any]] = []
        seen: dict[str, int] = {}
        for row, item in enumerate(items):
            try:
                data = InvoiceCreate.model_validate(item)
            except ValidationError as exc:
                for err in exc.errors(include_url=False):
                    code, param, message = describe_validation_error(err)
                    errors.append({"row": row, "param": param, "code": code, "message": message})
                continue
            try:
                checked = self.invoices.check_new(data, now)
            except ApiError as exc:
                errors.append(
                    {"row": row, "param": exc.param, "code": exc.code, "message": exc.message}
                )
                continue
            if data.reference in seen:
                errors.append(
                    {
                        "row": row,
                        "param": "reference",
                        "code": "reference_duplicated",
                        "message": f"Row {seen[data.reference]} has the same reference.",
                    }
                )
                continue
            seen[data.reference] = row
            valid.append((data, checked))
            if row % 1000 == 999:
                progress("validated", row + 1, len(items))
        return valid, errors, seen

    # --------------------------------------------------------------- creation
    async def create_batch(
        self,
        principal: Principal,
        items: Any,
        claim: Claim | None,
        *,
        source: str = "api",
        progress: Progress | None = None,
    ) -> tuple[int, Any]:
        """Validate then create the whole batch in one transaction; (201, the batch with
        every invoice's id, number, reference and payment URL)."""
        progress = progress or _no_progress
        valid = await self.validate(principal, items, progress)
        now = utcnow()
        slug = principal.service_slug
        batch = InvoiceBatch(
            id=new_id("bat"),
            service_id=principal.service_id,
            source=source,
            count=len(valid),
            first_number="",
            last_number="",
            created_at=now,
        )
        with no_gc():  # no await in here
            rows, line_rows = _rows(batch, valid, now)
        ids = [r["id"] for r in rows]
        cause = "api:batch" if source == "api" else "cli:import"
        async with unit_of_work(self.db, self.bus) as uow:
            s = uow.session
            await brepo.insert_batch(s, batch)
            await record_new_invoices(
                uow,
                rows,
                cause=cause,
                event=InvoicesIssued(batch.id, batch.service_id, tuple(ids), cause),
            )
            # The block of gap-free numbers, in ONE counter update, as late as the numbers
            # allow: the invoices, their ledger entries (and notifications) carry them, so
            # they follow. (Inserting the invoices first under provisional numbers and
            # renumbering them in one UPDATE held the counter's lock as long, for the
            # UPDATE, and cost about a fifth of the batch's time: see the README's benchmark.)
            first = await next_block(s, f"invoice:{batch.service_id}", str(now.year), len(rows))
            prefix = f"{slug.upper()}-{now.year}-"
            for k, row in enumerate(rows):
                row["number"] = f"{prefix}{first + k:06d}"
            batch.first_number, batch.last_number = rows[0]["number"], rows[-1]["number"]
            try:  # the references were checked; a racer's is caught by the unique index
                await brepo.insert_invoices(s, rows, line_rows)
            except IntegrityError as exc:
                if is_unique_violation(exc):
                    raise Conflict(
                        "reference_already_used",
                        "An invoice of this batch has a reference used meanwhile; "
                        "none was created.",
                        "invoices",
                    ) from None
                raise
            progress("written", len(rows), len(rows))
            await brepo.set_batch_numbers(s, batch)
            await accounting.invoices_issued(s, rows, slug)
            body = self._out(
                batch, slug, [(r["id"], r["number"], r["reference"], r["pay_token"]) for r in rows]
            )
            if claim:
                await claim.complete(s, 201, body)
            await uow.commit()
        progress("committed", len(rows), len(rows))
        return 201, body

    # ---------------------------------------------------------------- reading
    def _out(
        self,
        batch: InvoiceBatch,
        slug: str,
        items: Sequence[tuple[str, str, str, str]],
        *,
        has_more: bool = False,
    ) -> dict[str, Any]:
        base = self.views.base_url
        return {
            "id": batch.id,
            "object": "invoice_batch",
            "service": slug,
            "source": batch.source,
            "count": batch.count,
            "first_number": batch.first_number,
            "last_number": batch.last_number,
            "created_at": batch.created_at.isoformat().replace("+00:00", "Z"),
            "invoices": [
                {"id": i, "number": n, "reference": r, "payment_url": f"{base}/pay/{t}"}
                for i, n, r, t in items
            ],
            "has_more": has_more,
            "next_starting_after": items[-1][0] if has_more and items else None,
        }

    async def get_batch(
        self, principal: Principal, batch_id: str, *, limit: int, starting_after: str | None
    ) -> InvoiceBatchOut:
        """A batch and a page of its invoices; another service's batch is 404."""
        async with self.db.session() as s:
            batch = await brepo.get_batch(s, batch_id, scope(principal))
            if batch is None:
                raise NotFound("invoice batch", "id")
            items = await brepo.batch_items(
                s, batch_id, limit=limit + 1, starting_after=starting_after
            )
            slug = await repo.service_slug(s, batch.service_id)
        has_more = len(items) > limit
        return InvoiceBatchOut.model_validate(
            self._out(batch, slug, items[:limit], has_more=has_more)
        )

    async def views_of(self, uow: UnitOfWork, invoice_ids: Sequence[str]) -> list[dict[str, Any]]:
        """The API views (JSON) of invoices being created in the caller's transaction, for
        their notifications; read in bulk, in id order."""
        invoices = await brepo.invoices_by_ids(uow.session, invoice_ids)
        lines: dict[str, Any] = {}
        for i in range(0, len(invoice_ids), 1000):
            lines.update(await repo.lines_of(uow.session, list(invoice_ids[i : i + 1000])))
        slugs = await repo.service_slugs(uow.session, sorted({x.service_id for x in invoices}))
        return [
            self.views.invoice_out(
                inv, lines[inv.id], [], slugs.get(inv.service_id, "")
            ).model_dump(mode="json")
            for inv in invoices
        ]


def _rows(
    batch: InvoiceBatch, valid: list[tuple[InvoiceCreate, Any]], now: dt.datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The invoices' and lines' rows (Core, by column name); numbers come later."""
    rows: list[dict[str, Any]] = []
    line_rows: list[dict[str, Any]] = []
    for data, (expires_at, lines, total) in valid:
        inv_id = new_id("inv")
        rows.append(
            {
                "id": inv_id,
                "service_id": batch.service_id,
                "number": None,
                "reference": data.reference,
                "description": data.description,
                "currency": data.currency,
                "amount_total": total,
                "amount_paid": 0,
                "amount_refunded": 0,
                "status": InvoiceStatus.open.value,
                "payer_name": data.payer.name,
                "payer_email": data.payer.email,
                "payer_company_id": data.payer.company_id,
                "payer_vat_number": data.payer.vat_number,
                "payer_address": data.payer.address,
                "metadata": dict(data.metadata),
                "locale": data.locale,
                "return_url": data.return_url,
                "pay_token": new_token(24),
                "expires_at": expires_at,
                "created_at": now,
                "updated_at": now,
                "paid_at": None,
                "canceled_at": None,
                "expired_at": None,
                "batch_id": batch.id,
            }
        )
        line_rows.extend(
            {
                "id": new_id("li"),
                "invoice_id": inv_id,
                "service_id": batch.service_id,
                "position": pos,
                "description": desc,
                "quantity": qty,
                "unit_amount": unit,
                "amount": qty * unit,
            }
            for pos, (desc, qty, unit) in enumerate(lines)
        )
    return rows, line_rows


def _invalid(rows: int, items: int) -> str:
    """How many of a batch's invoices are invalid: '3 of the 6 invoices are invalid', 'the
    invoice is invalid' for a batch of one, '1 of the 6 invoices is invalid'."""
    if items == 1:
        return "the invoice is invalid; none was created"
    verb = "is" if rows == 1 else "are"
    return f"{rows} of the {items} invoices {verb} invalid; none was created"
