"""API shapes of ``ledger``."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field


class AccountBalance(BaseModel):
    account: str
    type: Literal["asset", "liability", "income", "expense", "other"] = Field(
        description="The account's type, from its path (receivable: and assets: are assets)"
    )
    normal_side: Literal["debit", "credit"] = Field(
        description="credit for income and liability accounts, debit for the others"
    )
    currency: str
    debit: int = Field(description="Sum of the debits, in minor units")
    credit: int = Field(description="Sum of the credits, in minor units")
    balance: int = Field(
        description=(
            "In minor units, with the account's natural sign: debit − credit for assets and"
            " expenses, credit − debit for income and liabilities (an income account's credit"
            " balance is positive)"
        )
    )


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
