"""API shapes of invoice batches (``POST /v1/invoice-batches``, ``regie invoices import``).

Each item of a batch has the shape of ``POST /v1/invoices``'s body (``InvoiceCreate``); the
items are validated one by one by the service, so that every invalid row is reported
(``RowError``) and nothing is written."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

MAX_BATCH = 10_000
MAX_ROW_ERRORS = 1_000  # reported; the message gives the total


class RowError(BaseModel):
    row: int = Field(description="0-based index of the item in `invoices` (the CSV: its line)")
    param: str | None = Field(description="The field, e.g. `payer.email`")
    code: str
    message: str


class BatchItemOut(BaseModel):
    id: str
    number: str
    reference: str
    payment_url: str


class InvoiceBatchOut(BaseModel):
    """A batch and its invoices, in the order they were given: all of them in the answer
    to the POST; a page (``limit``/``starting_after``, by invoice id) in a GET."""

    id: str
    object: Literal["invoice_batch"] = "invoice_batch"
    service: str
    source: Literal["api", "import"]
    count: int
    first_number: str
    last_number: str
    created_at: dt.datetime
    invoices: list[BatchItemOut]
    has_more: bool = False
    next_starting_after: str | None = None
