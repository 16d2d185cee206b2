"""A run refused for its inputs stores nothing: the provider, the period and every file (read,
and dated in the period) are checked before anything is stored. A period or a report value
outside the range regie computes with is a 4xx, never a 500."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from regie.kit.database import utcnow
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.reconciliation.test_reconcile_api import IBAN, camt

HEADER = (
    "automatic_payout_id,automatic_payout_effective_at,balance_transaction_id,created,"
    "currency,gross,fee,net,reporting_category,payment_intent_id\n"
)


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(bank_iban=IBAN)  # type: ignore[no-any-return]


def _undated(ref: str) -> bytes:
    """A statement whose one entry has neither a booking nor a value date."""
    data = camt([(ref, "3.00", "NO DATE")], stmt="STMT-U", seq=2).decode()
    start, end = data.index("<BookgDt>"), data.index("<AcctSvcrRef>")
    return (data[:start] + data[end:]).encode()


async def _stored(client: httpx.AsyncClient, fin: dict[str, str]) -> tuple[int, int]:
    imports = (await client.get("/v1/bank-statements", headers=fin)).json()["data"]
    runs = (await client.get("/v1/reconciliations", headers=fin)).json()["data"]
    return len(imports), len(runs)


def _form(day_from: str, day_to: str, **extra: str) -> dict[str, str]:
    return {"period_from": day_from, "period_to": day_to, **extra}


async def test_an_unknown_provider_stores_no_statement(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    fin = Keys.h(keys.finance)
    today = utcnow().date().isoformat()
    r = await client.post(
        "/v1/reconciliations",
        data=_form(today, today, provider="stripe"),
        files={"camt053": ("ok.xml", camt([("BNK-1", "2.00", "Y")]), "application/xml")},
        headers=fin,
    )
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert (error["code"], error["param"]) == ("parameter_invalid", "provider")
    assert "stripe" in error["message"]
    assert await _stored(client, fin) == (0, 0)


async def test_a_statement_of_another_period_is_refused_before_it_is_stored(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    fin = Keys.h(keys.finance)
    day = utcnow().date()
    r = await client.post(
        "/v1/reconciliations",
        data=_form("2025-01-01", "2025-01-31"),
        files={"camt053": ("ok.xml", camt([("BNK-1", "2.00", "Y")]), "application/xml")},
        headers=fin,
    )
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert (error["code"], error["param"]) == ("file_invalid", "camt053"), error
    assert error["message"].startswith("ok.xml, line "), error
    assert f"dated from {day} to {day}, none from 2025-01-01 to 2025-01-31" in error["message"]
    assert await _stored(client, fin) == (0, 0)
    # the same file with a period it is dated in: a run, its statement imported (a balance
    # makes the bank's tie-out, even with nothing else in the period)
    r = await client.post(
        "/v1/reconciliations",
        data=_form(day.isoformat(), day.isoformat()),
        files={"camt053": ("ok.xml", camt([("BNK-1", "2.00", "Y")]), "application/xml")},
        headers=fin,
    )
    assert r.status_code == 201, r.text
    assert await _stored(client, fin) == (1, 1)


async def test_a_statement_dated_in_the_week_around_the_period_is_taken(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    """The run reads the ledger a week either side of its period (a payout of the last days
    is credited early the next month): a statement of those days is the period's too."""
    fin = Keys.h(keys.finance)
    day = utcnow().date() - dt.timedelta(days=40)
    first, last = day - dt.timedelta(days=37), day - dt.timedelta(days=7)
    data = camt([("BNK-7", "2.00", "Y")], day=day)
    r = await client.post(
        "/v1/reconciliations",
        data=_form(first.isoformat(), last.isoformat()),
        files={"camt053": ("late.xml", data, "application/xml")},
        headers=fin,
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        "/v1/reconciliations",
        data=_form(first.isoformat(), (last - dt.timedelta(days=1)).isoformat()),
        files={"camt053": ("late.xml", data, "application/xml")},
        headers=fin,
    )
    assert r.status_code == 422 and "another period" in r.json()["error"]["message"], r.text


async def test_a_bad_second_statement_stores_not_the_first(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    fin = Keys.h(keys.finance)
    today = utcnow().date().isoformat()
    r = await client.post(
        "/v1/reconciliations",
        data=_form(today, today),
        files=[
            ("camt053", ("good.xml", camt([("BNK-1", "2.00", "Y")]), "application/xml")),
            ("camt053", ("bad.xml", _undated("BNK-2"), "application/xml")),
        ],
        headers=fin,
    )
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "file_invalid" and error["param"] == "camt053"
    assert error["message"].startswith("bad.xml, line ")
    assert await _stored(client, fin) == (0, 0)


@pytest.mark.parametrize(
    ("day_from", "day_to", "param"),
    [
        ("0001-01-02", "0001-01-31", "period_from"),
        ("0001-01-01", "0001-01-01", "period_from"),
        ("1999-12-01", "1999-12-31", "period_from"),
        ("2026-01-01", "9999-12-31", "period_to"),
    ],
)
async def test_a_period_out_of_range_is_a_422(
    client: httpx.AsyncClient, keys: Keys, day_from: str, day_to: str, param: str
) -> None:
    fin = Keys.h(keys.finance)
    r = await client.post(
        "/v1/reconciliations", json={"period_from": day_from, "period_to": day_to}, headers=fin
    )
    assert r.status_code == 422, r.text
    assert (r.json()["error"]["code"], r.json()["error"]["param"]) == ("parameter_invalid", param)
    report = (
        HEADER
        + "po_1,2026-10-05 00:00:00,txn_1,2026-10-03 10:00:00,eur,25.00,0.63,24.37,charge,pi_1\n"
    )
    r = await client.post(
        "/v1/reconciliations",
        data=_form(day_from, day_to),
        files={"stripe_csv": ("payouts.csv", report.encode(), "text/csv")},
        headers=fin,
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["param"] == param
    assert await _stored(client, fin) == (0, 0)


@pytest.mark.parametrize(
    ("column", "value", "says"),
    [
        ("created", "0001-01-01 00:00:00", "out of range"),
        ("created", "9999-12-31T23:00:00-05:00", "out of range"),
        ("created", "0001-01-01T00:00:00+14:00", "out of range"),
        ("automatic_payout_effective_at", "9999-12-31 23:59:59", "out of range"),
        ("gross", "999999999999999999", "too large"),
        ("payment_intent_id", "pi_sim_nul\x00x", "NUL"),
        ("payment_intent_id", "pi_" + "x" * 300, "longer than"),
    ],
)
async def test_a_report_value_out_of_range_names_file_and_line(
    client: httpx.AsyncClient, keys: Keys, column: str, value: str, says: str
) -> None:
    fin = Keys.h(keys.finance)
    row = {
        "automatic_payout_id": "po_1",
        "automatic_payout_effective_at": "2026-10-05 00:00:00",
        "balance_transaction_id": "txn_1",
        "created": "2026-10-03 10:00:00",
        "currency": "eur",
        "gross": "25.00",
        "fee": "0.63",
        "net": "24.37",
        "reporting_category": "charge",
        "payment_intent_id": "pi_1",
    }
    row[column] = value
    if column == "gross":
        row["fee"], row["net"] = "0", value
    good = ",".join(
        ["po_1", "2026-10-05 00:00:00", "txn_0", "2026-10-02 10:00:00", "eur", "1.00", "0", "1.00",
         "charge", "pi_0"]
    )  # fmt: skip
    report = HEADER + good + "\n" + ",".join(row.values()) + "\n"
    r = await client.post(
        "/v1/reconciliations",
        data=_form("2026-10-01", "2026-10-31"),
        files={"stripe_csv": ("payouts.csv", report.encode(), "text/csv")},
        headers=fin,
    )
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "file_invalid" and error["param"] == "stripe_csv", error
    assert error["message"].startswith("payouts.csv, line 3"), error
    assert says in error["message"], error
    assert await _stored(client, fin) == (0, 0)


def test_today_is_in_range() -> None:
    from reconciliation.period import out_of_range

    today = dt.date.today()
    assert out_of_range(today, today, today) is None


# a report of three lines in euros, the second one's payout po_1 (line 3)
GOOD_LINES = [
    "po_0,2026-10-05 00:00:00,txn_0,2026-10-02 10:00:00,eur,1.00,0,1.00,charge,pi_0",
    "po_1,2026-10-06 00:00:00,txn_1,2026-10-03 10:00:00,eur,25.00,0.63,24.37,charge,pi_1",
    "po_1,2026-10-06 00:00:00,txn_2,2026-10-03 11:00:00,eur,8.12,0.30,7.82,charge,pi_2",
]


@pytest.mark.parametrize(
    ("lines", "says"),
    [
        (
            [*GOOD_LINES, GOOD_LINES[1]],
            "payouts.csv, line 5: balance transaction txn_1 is already on line 3",
        ),
        (
            [*GOOD_LINES[:2], GOOD_LINES[2].replace(",eur,", ",usd,")],
            "payouts.csv, line 4: payout po_1 is in EUR (line 3), this line is in USD",
        ),
    ],
    ids=["repeated", "two-currencies"],
)
async def test_a_repeated_line_or_a_payout_in_two_currencies_stores_no_statement(
    client: httpx.AsyncClient, keys: Keys, lines: list[str], says: str
) -> None:
    """Stripe lists each balance transaction once, and a payout's in its currency: a report
    that does not is refused (the file and line named) before the run stores anything, not
    even the statement given with it. On PostgreSQL the bulk path refuses it."""
    fin = Keys.h(keys.finance)
    report = HEADER + "\n".join(lines) + "\n"
    statement = camt([("BNK-1", "33.19", "STRIPE po_1")], day=dt.date(2026, 10, 6))
    r = await client.post(
        "/v1/reconciliations",
        data=_form("2026-10-01", "2026-10-31"),
        files=[
            ("stripe_csv", ("payouts.csv", report.encode(), "text/csv")),
            ("camt053", ("ok.xml", statement, "application/xml")),
        ],
        headers=fin,
    )
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert (error["code"], error["param"], error["message"]) == ("file_invalid", "stripe_csv",
                                                                 says)  # fmt: skip
    assert set(error) == {"type", "code", "message", "param"}, error  # the one error shape
    assert await _stored(client, fin) == (0, 0)
