"""``regie ledger balances``: the API's balances on the command line, at the end of a Paris
day as the workspace's ledger page counts it."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from regie.finance.forms import end_of, today
from regie.kit.money import to_decimal
from regie.kit.settings import Settings
from tests.conftest import Keys, create_invoice, pay


def balances(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "regie.cli", "ledger", "balances", *args],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def env_for(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGIE_")}
    return {**env, "PYTHONPATH": os.getcwd(), "REGIE_DATABASE_URL": url}


async def test_the_balances_after_a_payment_are_the_apis(
    client: httpx.AsyncClient, app: Any, keys: Keys, settings: Settings
) -> None:
    invoice = await create_invoice(client, keys.urbanisme, amount=8550)
    assert (await pay(client, invoice, apply=app)).response.status_code == 303
    r = await client.get("/v1/ledger/accounts", headers=Keys.h(keys.finance))
    assert r.status_code == 200, r.text
    api = r.json()["data"]
    assert any(row["balance"] == 8550 for row in api), api  # the payment is in the ledger
    env = env_for(settings.database_url)

    done = balances(env, "--format", "json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["data"] == api and doc["at"] is None and doc["as_of"] is None
    for row in doc["data"]:
        for name in ("debit", "credit", "balance"):
            assert type(row[name]) is int, row  # minor units, never a float or a text

    # at the end of today (a Paris day, as /finance/ledger?at=): the payment is in
    day = today(dt.datetime.now(dt.UTC))
    done = balances(env, "--at", day.isoformat(), "--format", "json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["data"] == api and doc["at"] == day.isoformat()
    assert dt.datetime.fromisoformat(doc["as_of"]) == end_of(day)

    # before any entry: nothing, in both formats
    done = balances(env, "--at", "2000-01-01", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["data"] == []
    done = balances(env, "--at", "2000-01-01")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["account", "currency", "debit", "credit", "balance"]

    # the table: exact decimals, one row per account and currency
    done = balances(env)
    assert done.returncode == 0, done.stderr
    table = [line.split() for line in done.stdout.splitlines()[1:]]
    assert table == [
        [row["account"], row["currency"]]
        + [f"{to_decimal(row[k], row['currency']):f}" for k in ("debit", "credit", "balance")]
        for row in api
    ]
    assert ["85.50"] == [x[4] for x in table if x[4] == "85.50"]


@pytest.mark.parametrize(
    ("day", "end"),
    [
        ("2026-10-31", "2026-10-31T23:00:00Z"),  # winter time: Paris is UTC+1
        ("2026-03-28", "2026-03-28T23:00:00Z"),  # the day before summer time
        ("2026-03-29", "2026-03-29T22:00:00Z"),  # summer time: Paris is UTC+2
    ],
)
def test_at_is_the_end_of_a_paris_day_as_the_ledger_page(
    day: str, end: str, tmp_path: Path
) -> None:
    env = env_for(f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    assert balances(env).returncode == 1  # no database yet
    made = subprocess.run(
        [sys.executable, "-m", "regie.cli", "db", "upgrade"], env=env, capture_output=True
    )
    assert made.returncode == 0, made.stderr
    done = balances(env, "--at", day, "--format", "json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc == {"at": day, "as_of": end, "data": []}
    assert dt.datetime.fromisoformat(end) == end_of(dt.date.fromisoformat(day))
    assert "Paris" in balances(env, "--help").stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--at", "2026-02-30"],
        ["--at", "20261031"],
        ["--at", "2026-W44-6"],
        ["--at", "yesterday"],
        ["--format", "csv"],
        ["--at", "9999-12-31"],  # its end, in Paris, is past the last instant: a traceback
    ],
)
def test_a_bad_day_or_format_is_exit_2_with_one_line(args: list[str], tmp_path: Path) -> None:
    done = balances(env_for(f"sqlite+aiosqlite:///{tmp_path / 'none.db'}"), *args)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith("error: ")
    assert done.stdout == "" and "Traceback" not in done.stderr


def test_without_a_database_one_line_and_exit_1(tmp_path: Path) -> None:
    done = balances(env_for(f"sqlite+aiosqlite:///{tmp_path / 'none.db'}"), "--at", "2026-10-31")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no database at "), lines
    assert not (tmp_path / "none.db").exists()  # nothing created
