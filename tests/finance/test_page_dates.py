"""A day the workspace's filters read (``regie.finance.forms.parse_day``) is stripped
first, but the edge guard's range check (``check_datetime_text``) reads the raw value,
which with a space around it is no date-time to pydantic, so it lets it through. A day at
the end of the calendar then overflows where the page takes its Paris-day bounds
(``end_of``/``start_of``): a 500 page, where ``?at=9999-12-31`` (no space) is a 422 page
and ``?at=2026-02-30`` the page's own "not a date" (400)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import BASE_URL, Keys
from tests.finance.test_runs import signed_in


@pytest.mark.parametrize(
    "path",
    [
        "/finance/ledger?at=+9999-12-31",  # "+" is a space in a query string
        "/finance/ledger?at=9999-12-31%20",
        "/finance/invoices?to=+9999-12-31",
        "/finance/invoices?from=+0001-01-01",
        "/finance/invoices.csv?from=+0001-01-01",
    ],
)
async def test_a_day_at_the_calendar_s_end_with_a_space_is_refused_not_a_500(
    app: Any, keys: Keys, path: str
) -> None:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # a 500 is a 500
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        await signed_in(client, keys)
        r = await client.get(path)
    assert 400 <= r.status_code < 500, (r.status_code, r.text[-400:])
    assert r.headers["content-type"].startswith("text/html")
