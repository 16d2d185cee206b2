"""The FEC against the rules of article A47 A-1 of the LPF and BOI-CF-IOR-60-40-20 (the
administration's commentary), beyond its labels (``test_fec.py``): the characters it is
written in."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import subprocess
from pathlib import Path
from typing import Any

import httpx

from ledger.export import write_fec
from ledger.service import ExportLine
from tests.conftest import Keys, create_invoice
from tests.regie.test_cli import REGIE

T = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
# A47 A-1, III 1°: the characters belong to ASCII, ISO 8859-15 or EBCDIC (not UTF-8)
FEC_ENCODING = "iso8859_15"


def test_a_character_outside_iso_8859_15_is_written_as_its_nearest_one() -> None:
    # an invoice reference takes any letter (\w): ą, 東京 cannot be written in Latin-9;
    # a letter loses its accent, anything else is a ?
    lines = [
        ExportLine(1, "je_1", "x", T, "Dąbrowa 東京 é€œ", None, "assets:bank:x", "EUR", 100, 0),
        ExportLine(1, "je_1", "x", T, "Dąbrowa 東京 é€œ", None, "income:u", "EUR", 0, 100),
    ]
    out = io.StringIO()
    write_fec(lines, out)
    text = out.getvalue()
    text.encode(FEC_ENCODING)  # raises if a character is not Latin-9
    assert "Dabrowa ?? é€œ" in text


async def test_the_cli_writes_the_fec_in_iso_8859_15(
    client: httpx.AsyncClient, keys: Keys, settings: Any, tmp_path: Path
) -> None:
    await create_invoice(client, keys.urbanisme)  # "Usagers - créances", "Facture …"
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("REGIE_")}
    env["REGIE_DATABASE_URL"] = settings.database_url
    args = ["ledger", "export", "--format", "fec", "--from", "2000-01-01", "--to", "2099-12-31"]
    for output in ("fec.txt", "-"):  # a file, and stdout (piped to a file)
        done = await asyncio.to_thread(
            subprocess.run,
            [REGIE, *args, "--siren", "213105554", "--output", output],
            env=env, cwd=tmp_path, capture_output=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    written = (tmp_path / "fec.txt").read_bytes()
    assert written == done.stdout
    assert "Usagers - créances".encode(FEC_ENCODING) in written
    assert "créances".encode() not in written  # not UTF-8


async def test_the_http_fec_is_iso_8859_15(client: httpx.AsyncClient, app: Any, keys: Keys) -> None:
    await create_invoice(client, keys.urbanisme)  # "Usagers - créances", "Facture …"
    params = {"from": "2000-01-01", "to": "2099-12-31", "siren": "213105554"}
    r = await client.get("/v1/ledger/fec", params=params, headers=Keys.h(keys.finance))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/plain; charset=iso-8859-15"
    assert "Usagers - créances".encode(FEC_ENCODING) in r.content
    assert "créances".encode() not in r.content  # not UTF-8
