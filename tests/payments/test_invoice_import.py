"""``regie invoices import FILE.csv --service SLUG``: the CSV (pure) and the command, run as
a real subprocess on the test database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import csv
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from payments.batch_csv import CsvError, parse
from payments.models import Invoice, InvoiceBatch
from tests.conftest import Keys
from webhooks.outbound.models import WebhookDelivery

REGIE = str(Path(sys.executable).parent / "regie")

HEADER = "reference,description,amount,currency,payer_name,payer_email,metadata.eleve\n"


def csv_of(n: int, prefix: str = "CANT") -> str:
    return HEADER + "".join(
        f"{prefix}-{i:04d},Cantine novembre,{1000 + i},EUR,Famille {i},f{i}@example.org,{i}\n"
        for i in range(n)
    )


# ------------------------------------------------------------------ the CSV, pure
def test_rows_become_batch_items_with_their_line_numbers() -> None:
    data = (
        "\ufeffreference;description;amount;payer_name;payer_address;metadata.classe\n"
        'A-1;Cantine;2500;Camille Martin;"1 rue de la Paix\n75002 Paris";CM1\n'
        "\n"
        "A-2;Cantine;12,50;Léa Petit;;\n"
    ).encode()
    parsed = parse(data)
    assert parsed.items == [
        {
            "currency": "EUR",
            "reference": "A-1",
            "description": "Cantine",
            "amount": 2500,
            "payer": {"name": "Camille Martin", "address": "1 rue de la Paix\n75002 Paris"},
            "metadata": {"classe": "CM1"},
        },
        {
            "currency": "EUR",
            "reference": "A-2",
            "description": "Cantine",
            "amount": "12,50",  # left as text: the validation names it
            "payer": {"name": "Léa Petit"},
        },
    ]
    assert parsed.lines == [2, 5]  # a quoted cell spans lines 2-3; line 4 is blank


@pytest.mark.parametrize("amount", ["\u00b2", "\u0661\u0662\u0663", "\uff11\uff12\uff13"])
def test_an_amount_in_other_digits_is_left_as_text(amount: str) -> None:
    """Python's ``isdigit`` takes a superscript two (which ``int`` then refuses: the import
    crashed with a trace) and Arabic-Indic or fullwidth digits (which ``int`` read: 123
    cents from text a finance officer does not read so); only ASCII digits are the API's
    integer, anything else goes as text for the validation to name."""
    data = f"reference,description,amount,payer_name\nA-1,Cantine,{amount},Camille\n"
    assert parse(data.encode()).items[0]["amount"] == amount


@pytest.mark.parametrize(
    "data, line, words",
    [
        (b"", 1, "empty"),
        (b"reference,description,amount,payer_name,colour\n", 1, "unknown column 'colour'"),
        (b"reference,description,amount\n", 1, "missing column 'payer_name'"),
        (b"reference,description,amount,payer_name\nA,B,1\n", 2, "3 cells for 4 columns"),
        (b"reference,description,amount,payer_name\nA,B,1,\xe9\n", 1, "not UTF-8"),
    ],
)
def test_a_file_that_cannot_be_read_names_its_line(data: bytes, line: int, words: str) -> None:
    with pytest.raises(CsvError) as err:
        parse(data)
    assert err.value.line == line and words in err.value.message


# ------------------------------------------------------------------ the command
async def run_import(settings: Any, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGIE_")}
    env["REGIE_DATABASE_URL"] = settings.database_url
    env["REGIE_BASE_URL"] = settings.base_url
    return await asyncio.to_thread(
        subprocess.run,
        [REGIE, "invoices", "import", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


async def count(app: Any, model: Any) -> int:
    async with app.state.db.session() as s:
        return int((await s.execute(select(func.count()).select_from(model))).scalar_one())


async def test_import_creates_the_batch_and_writes_the_links(
    client, app, keys: Keys, settings, tmp_path: Path
) -> None:
    r = await client.post(
        "/v1/webhook-endpoints",
        json={"url": "http://127.0.0.1:9/hook"},
        headers=Keys.h(keys.urbanisme),
    )
    assert r.status_code == 201
    source = tmp_path / "novembre.csv"
    source.write_text(csv_of(30), encoding="utf-8")
    out = tmp_path / "links.csv"
    done = await run_import(settings, str(source), "--service", "urbanisme", "--output", str(out))
    assert done.returncode == 0, done.stderr
    assert "30 invoices" in done.stdout and "URBANISME-" in done.stdout
    with out.open(encoding="utf-8-sig") as f:
        links = list(csv.DictReader(f))
    assert [x["reference"] for x in links] == [f"CANT-{i:04d}" for i in range(30)]
    numbers = [int(x["number"].rsplit("-", 1)[1]) for x in links]
    assert numbers == list(range(1, 31))
    assert all(x["payment_url"].startswith(f"{settings.base_url}/pay/") for x in links)
    async with app.state.db.session() as s:
        batch = (await s.execute(select(InvoiceBatch))).scalar_one()
        inv = (
            await s.execute(select(Invoice).where(Invoice.reference == "CANT-0007"))
        ).scalar_one()
    assert batch.source == "import" and batch.count == 30
    assert inv.amount_total == 1007 and inv.metadata_ == {"eleve": "7"}
    assert inv.batch_id == batch.id and inv.number == links[7]["number"]
    assert await count(app, WebhookDelivery) == 30  # notifications queued, as by the API


async def test_the_links_file_is_safe_to_open_in_a_spreadsheet(
    app, keys: Keys, settings, tmp_path: Path
) -> None:
    # a reference may start with "-" (letters, digits and _ . / : # -): a spreadsheet runs
    # "-A1" as a formula; the links file is for a mail merge, opened in one
    source = tmp_path / "novembre.csv"
    source.write_text(
        HEADER
        + "-A1,Cantine,1000,EUR,Famille A,a@example.org,1\n"
        + "-2-3,Cantine,1000,EUR,Famille B,b@example.org,2\n"
        + "CANT-1,Cantine,1000,EUR,Famille C,c@example.org,3\n",
        encoding="utf-8",
    )
    out = tmp_path / "links.csv"
    done = await run_import(settings, str(source), "--service", "urbanisme", "--output", str(out))
    assert done.returncode == 0, done.stderr
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8, not cp1252
    with out.open(encoding="utf-8-sig") as f:
        links = list(csv.DictReader(f))
    assert [x["reference"] for x in links] == ["'-A1", "'-2-3", "CANT-1"]
    assert all(x["id"].startswith("inv_") for x in links)
    assert all(x["payment_url"].startswith(f"{settings.base_url}/pay/") for x in links)
    async with app.state.db.session() as s:  # stored as given: only the file's cell is quoted
        stored = set((await s.execute(select(Invoice.reference))).scalars())
    assert stored == {"-A1", "-2-3", "CANT-1"}


async def test_import_errors_name_the_line_and_create_nothing(
    app, keys: Keys, settings, tmp_path: Path
) -> None:
    lines = csv_of(6).splitlines(keepends=True)
    lines[3] = lines[3].replace("f2@example.org", "not-an-email")  # line 4 of the file
    lines[5] = lines[5].replace(",1004,", ",12.50,")  # line 6
    lines[6] = lines[6].replace("CANT-0005", "CANT-0000")  # line 7: row 0's reference
    source = tmp_path / "bad.csv"
    source.write_text("".join(lines), encoding="utf-8")
    done = await run_import(settings, str(source), "--service", "urbanisme")
    assert done.returncode == 1
    err = done.stderr
    assert f"{source}:4: payer_email:" in err
    assert f"{source}:6: amount:" in err
    assert f"{source}:7: reference:" in err and "reference_duplicated" in err
    assert "3 of the 6 invoices are invalid; none was created" in err
    assert await count(app, Invoice) == 0 and await count(app, InvoiceBatch) == 0


async def test_import_refuses_an_unknown_service_or_column(
    app, keys: Keys, settings, tmp_path: Path
) -> None:
    source = tmp_path / "ok.csv"
    source.write_text(csv_of(2), encoding="utf-8")
    done = await run_import(settings, str(source), "--service", "nope")
    assert done.returncode == 2 and "no service named 'nope'" in done.stderr
    source.write_text("reference,colour\nA,red\n", encoding="utf-8")
    done = await run_import(settings, str(source), "--service", "urbanisme")
    assert done.returncode == 1 and f"{source}: line 1: unknown column 'colour'" in done.stderr
    assert await count(app, Invoice) == 0
