"""API shapes of ``ledger``."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel


class AccountBalance(BaseModel):
    account: str
    currency: str
    debit: int
    credit: int
    balance: int  # debit - credit, in minor units


class AccountList(BaseModel):
    object: Literal["list"] = "list"
    as_of: dt.datetime | None
    data: list[AccountBalance]


class EntryLine(BaseModel):
    account: str
    currency: str
    debit: int
    credit: int


class Entry(BaseModel):
    id: str
    object: Literal["ledger_entry"] = "ledger_entry"
    seq: int
    kind: str
    source_key: str
    invoice: str | None
    description: str
    reverses: str | None
    effective_at: dt.datetime
    lines: list[EntryLine]


class EntryList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Entry]
    has_more: bool
    next_starting_after: int | None
