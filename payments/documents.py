"""The documents other packages issue for payments' refunds, as payments' views show them.

``receipts`` issues a credit note for each refund, but ``payments`` may not import it. So
``payments`` names what it needs — the credit notes of some invoices, read in the caller's
session — and the shell plugs in ``receipts``' reader (``Views.credit_notes``). Without
one, there are none.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class CreditNoteRef:
    """A credit note as the API names it: its number, the refund and invoice it is for."""

    number: str
    refund_id: str
    invoice_id: str
    amount: int
    currency: str
    canceled: bool  # its refund failed after it succeeded: it no longer holds


CreditNoteReader = Callable[[AsyncSession, Sequence[str]], Awaitable[list[CreditNoteRef]]]


async def no_credit_notes(session: AsyncSession, invoice_ids: Sequence[str]) -> list[CreditNoteRef]:
    return []


def credit_note_url(base_url: str, invoice_id: str, number: str) -> str:
    """Where a service downloads it with its key."""
    return f"{base_url}/v1/invoices/{invoice_id}/credit-notes/{number}.pdf"
