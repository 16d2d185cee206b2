"""What the workspace's forms and query strings say, read and checked. Pure.

Dates are the officer's calendar days in the public body's time zone (Europe/Paris, as
the ledger's FEC export): "to 31 October" includes the whole of that day. An error is a
key of ``regie.finance.words``, shown next to its field.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from starlette.datastructures import UploadFile

from payments.service.search import InvoiceQuery
from payments.states import InvoiceStatus
from reconciliation.sources.errors import file_name
from regie.kit.instants import iso_day

TIMEZONE = "Europe/Paris"
MAX_TEXT = 100
PAGE_SIZE = 50
MAX_PAGE = 10_000
STATUSES = tuple(s.value for s in InvoiceStatus)
_WRITTEN_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_day(text: str) -> dt.date | None:
    """``2026-10-31`` -> a date; None when it is not one (or not in the 4-digit years)."""
    try:
        return iso_day(text.strip())
    except ValueError:
        return None


def date_error(text: str) -> str:
    """Why ``text`` is not a day: ``err_no_such_day`` when written as asked (``2026-02-30``,
    a day the calendar lacks), else ``err_date`` (the format)."""
    written = text.strip()
    return "err_no_such_day" if _WRITTEN_DAY.fullmatch(written) else "err_date"


def start_of(day: dt.date, tz: str = TIMEZONE) -> dt.datetime:
    """The instant the day begins in ``tz``, in UTC."""
    return dt.datetime.combine(day, dt.time(), ZoneInfo(tz)).astimezone(dt.UTC)


def end_of(day: dt.date, tz: str = TIMEZONE) -> dt.datetime:
    """The instant the next day begins in ``tz`` (the day's end, excluded), in UTC."""
    return start_of(day + dt.timedelta(days=1), tz)


def today(now: dt.datetime, tz: str = TIMEZONE) -> dt.date:
    return now.astimezone(ZoneInfo(tz)).date()


@dataclass(frozen=True)
class LedgerDate:
    text: str
    day: dt.date
    error: str | None = None


def ledger_date(raw: str | None, now: dt.datetime) -> LedgerDate:
    """``?at=`` of the ledger page: today when absent; an error (and today) when not a date."""
    if not raw:
        day = today(now)
        return LedgerDate(day.isoformat(), day)
    given = parse_day(raw)
    if given is None:
        return LedgerDate(raw[:20], today(now), date_error(raw))
    return LedgerDate(given.isoformat(), given)


def day_state(day: dt.date, now_day: dt.date) -> str | None:
    """``future`` for a day still to come, ``today`` for today (not over: its balances are
    those of this instant), None for a day that is over."""
    if day > now_day:
        return "future"
    return "today" if day == now_day else None


@dataclass(frozen=True)
class InvoiceFilters:
    q: str = ""
    status: str = ""
    service: str = ""
    date_from: str = ""
    date_to: str = ""
    page: int = 1
    errors: dict[str, str] = field(default_factory=dict)

    def query(self) -> InvoiceQuery:
        start = parse_day(self.date_from) if self.date_from else None
        end = parse_day(self.date_to) if self.date_to else None
        return InvoiceQuery(
            text=self.q or None,
            status=self.status or None,
            service=self.service or None,
            created_gte=start_of(start) if start else None,
            created_lt=end_of(end) if end else None,
        )

    def params(self, page: int | None = None) -> dict[str, str]:
        """The query string of these filters (only those given), e.g. for the CSV link."""
        values = {
            "q": self.q,
            "status": self.status,
            "service": self.service,
            "from": self.date_from,
            "to": self.date_to,
        }
        if page is not None and page > 1:
            values["page"] = str(page)
        return {k: v for k, v in values.items() if v}


def invoice_filters(params: Mapping[str, str], services: list[str]) -> InvoiceFilters:
    """The search's filters from a query string; a wrong one is dropped and named."""
    errors: dict[str, str] = {}
    q = params.get("q", "").strip()[:MAX_TEXT]
    status = params.get("status", "").strip()
    if status and status not in STATUSES:
        errors["status"], status = "err_status", ""
    service = params.get("service", "").strip()
    if service and service not in services:
        errors["service"], service = "err_service", ""
    dates: dict[str, str] = {}
    for name in ("from", "to"):
        raw = params.get(name, "").strip()[:20]
        if raw and parse_day(raw) is None:
            errors[name] = date_error(raw)
        dates[name] = raw
    start, end = parse_day(dates["from"]), parse_day(dates["to"])
    if start and end and end < start:
        errors["to"] = "err_date_order"
    page_text = params.get("page", "1").strip()
    page = int(page_text) if page_text.isascii() and page_text.isdigit() else 1  # not "²"
    return InvoiceFilters(
        q=q,
        status=status,
        service=service,
        date_from=dates["from"],
        date_to=dates["to"],
        page=min(max(page, 1), MAX_PAGE),
        errors=errors,
    )


async def uploaded_file(form: Any, name: str) -> tuple[str, bytes] | None:
    """The uploaded file of field ``name``; None when none was chosen (a browser sends an
    empty part without a file name)."""
    upload = form.get(name)
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    data = await upload.read()
    return file_name(upload.filename, name), data
