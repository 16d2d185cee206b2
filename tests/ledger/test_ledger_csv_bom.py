"""The ledger's CSV export (``regie ledger export --format csv``) opens in Excel with its
accents, as the workspace's invoices CSV, the run's CSV and the links file of
``regie invoices import`` do: it starts with the UTF-8 byte order mark, in a file and on
stdout, and its bytes are UTF-8 whatever the terminal's encoding."""

from __future__ import annotations

import datetime as dt
import io
import subprocess
from pathlib import Path

from ledger.export import CSV_COLUMNS, write_csv
from ledger.service import ExportLine
from tests.regie.test_cli import REGIE, cli_env, run  # noqa: F401 (cli_env: a fixture)

BOM = b"\xef\xbb\xbf"


def test_the_csv_starts_with_the_byte_order_mark_excel_needs() -> None:
    """Without it Excel reads the UTF-8 file in cp1252: "Facture F-1 Réfection" shows as
    "Facture F-1 RÃ©fection"."""
    at = dt.datetime(2026, 1, 2, 9, 30, tzinfo=dt.UTC)
    lines = [
        ExportLine(7, "je_1", "invoice_issued", at, "Facture F-1 Réfection", "inv_1",
                   "receivable:u", "EUR", 2500, 0),
    ]  # fmt: skip
    out = io.StringIO()
    assert write_csv(lines, out) == 1
    data = out.getvalue().encode("utf-8")
    assert data.startswith(BOM), data[:20]
    assert data.count(BOM) == 1
    assert data[len(BOM) :].decode().startswith(",".join(CSV_COLUMNS) + "\r\n")


def test_the_command_writes_the_mark_to_a_file_and_to_stdout(
    cli_env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    assert run(["db", "upgrade"], cli_env).returncode == 0
    period = ["--from", "2026-01-01", "--to", "2026-01-31"]
    written = tmp_path / "ledger.csv"
    done = run(["ledger", "export", "--format", "csv", *period, "--output", str(written)], cli_env)
    assert done.returncode == 0, done.stderr
    assert written.read_bytes().startswith(BOM + b"entry_seq,"), written.read_bytes()[:20]
    # on stdout too, as UTF-8 bytes even where the terminal's encoding is Latin-1 (the mark,
    # and any accent of a description, would not be written in it)
    for encoding in ("utf-8", "latin-1"):
        out = subprocess.run(
            [REGIE, "ledger", "export", "--format", "csv", *period],
            env={**cli_env, "PYTHONIOENCODING": encoding},
            capture_output=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith(BOM + b"entry_seq,"), (encoding, out.stdout[:20])
