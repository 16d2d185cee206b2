"""A day written as asked (``AAAA-MM-JJ``) that the calendar does not have (30 February,
month 13) is named as such: "this is not a date as YYYY-MM-DD" told an officer who had
written exactly that to change the format, not the day. On the ledger, the invoices
search and a run's period, in French and English."""

from __future__ import annotations

import datetime as dt

import pytest

from regie.finance.forms import date_error, invoice_filters, ledger_date
from regie.finance.words import word
from tests.conftest import Keys
from tests.finance.test_runs import page_text, signed_in

NOW = dt.datetime(2026, 12, 5, 12, tzinfo=dt.UTC)


def test_a_day_the_calendar_lacks_is_not_a_format_error() -> None:
    assert date_error("2026-02-30") == "err_no_such_day"
    assert date_error("2026-13-01") == "err_no_such_day"
    assert date_error("31/12/2026") == "err_date"
    assert date_error("2026-1-1") == "err_date"
    assert ledger_date("2026-02-30", NOW).error == "err_no_such_day"
    assert invoice_filters({"from": "2026-02-30"}, []).errors == {"from": "err_no_such_day"}
    assert "n'existe pas" in word("err_no_such_day", "fr")
    assert "does not exist" in word("err_no_such_day", "en")


@pytest.mark.parametrize(("lang", "said"), [("fr", "n'existe pas"), ("en", "does not exist")])
async def test_the_pages_say_the_day_does_not_exist(
    client, keys: Keys, lang: str, said: str
) -> None:
    csrf = await signed_in(client, keys)
    head = {"accept-language": lang}
    for r in (
        await client.get("/finance/ledger?at=2026-02-30", headers=head),
        await client.get("/finance/invoices?from=2026-02-30", headers=head),
        await client.post(
            "/finance/runs",
            data={"csrf": csrf, "period_from": "2026-02-30", "period_to": "2026-03-01"},
            headers=head,
        ),
    ):
        assert r.status_code in (400, 422), r.text[:200]
        assert said in page_text(r), page_text(r)[:600]
        assert 'aria-invalid="true"' in r.text
