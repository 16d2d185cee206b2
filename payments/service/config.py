"""The settings ``payments`` is built with (the composition root fills them in)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class PaymentsConfig:
    base_url: str
    max_amount: int
    default_ttl: dt.timedelta
    auto_refund_overpayments: bool = True
    bank_account: str = "main"
