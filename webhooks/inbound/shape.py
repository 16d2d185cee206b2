"""What a PSP event must look like to enter the inbox (pure; no I/O).

A correctly signed event can still be malformed: a ``data`` that is not an object, a
``created`` no clock can hold, an amount of 10^30, an id longer than its column. Such an
event would fail at every attempt to apply it (or to store it), so it is refused at intake
with 400, and skipped by the catch-up, instead of being stored to be retried forever.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

from payments.providers.base import ProviderEvent

MAX_SAFE_INTEGER = 2**53 - 1
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
# the inbox's columns (webhooks.inbound.models.InboxEvent)
ID_LENGTHS = {"id": 255, "payment_ref": 40, "checkout_id": 255, "provider_payment_id": 255}
_MAX_DEPTH = 32


def problem(event: ProviderEvent) -> str | None:
    """Why the event cannot enter the inbox, or None."""
    for name, limit in ID_LENGTHS.items():
        value = getattr(event, name)
        if value is None and name != "id":
            continue
        if not isinstance(value, str) or not value or len(value) > limit:
            return f"the event's {name} is not a text of 1 to {limit} characters"
    created = event.created
    if created.tzinfo is None or not EARLIEST <= created <= LATEST:
        return "the event's creation time is not between 2000 and 2100"
    if not isinstance(event.data, Mapping):
        return "the event's data is not an object"
    return _value_problem(event.data, "data", 0)


def _value_problem(value: Any, where: str, depth: int) -> str | None:
    if depth > _MAX_DEPTH:
        return f"{where} is nested too deeply"
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = _value_problem(item, f"{where}.{key}", depth + 1)
            if found:
                return found
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = _value_problem(item, f"{where}.{i}", depth + 1)
            if found:
                return found
    elif isinstance(value, bool) or value is None:
        return None
    elif isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            return f"{where} is out of range"
    elif isinstance(value, float):
        if not math.isfinite(value) or abs(value) > MAX_SAFE_INTEGER:
            return f"{where} is out of range"
    elif isinstance(value, str):
        if "\x00" in value:
            return f"{where} holds a NUL character"
    else:
        return f"{where} is not a JSON value"
    return None
