"""``regie reconcile`` reads no more of a file than REGIE_MAX_UPLOAD_BYTES, even of one
without a size: a pipe (``--camt053 /dev/stdin``, ``<(zcat releve.xml.gz)``) says 0 bytes,
passed the size check, and was read to its end before the parser refused it (a review
found ``--camt053 /dev/zero`` reading until memory ran out). It says so in one line, exit 2,
and stores nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from regie.kit.database import utcnow
from regie.kit.settings import Settings
from tests.reconciliation.test_cli_refusals import _refused, _stored
from tests.reconciliation.test_reconcile_api import IBAN

LIMIT = 4096
SENT = 8 * 1024 * 1024  # what the pipe offers: far more than the limit
CHUNK = 64 * 1024


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(bank_iban=IBAN)  # type: ignore[no-any-return]


def _feed(fifo: Path, written: list[int]) -> None:
    """Writes up to ``SENT`` bytes into ``fifo`` until its reader closes it."""
    with open(fifo, "wb", buffering=0) as out:
        try:
            while written[0] < SENT:
                written[0] += out.write(b"<" * CHUNK)
        except BrokenPipeError:
            pass


async def test_a_pipe_is_read_no_further_than_the_limit(
    app: Any, settings: Settings, tmp_path: Path
) -> None:
    fifo = tmp_path / "releve.xml"
    os.mkfifo(fifo)
    written = [0]
    writer = threading.Thread(target=_feed, args=(fifo, written), daemon=True)
    writer.start()
    today = utcnow().date().isoformat()
    env = {
        **os.environ,
        "REGIE_DATABASE_URL": settings.database_url,
        "REGIE_BANK_IBAN": settings.bank_iban or "",
        "REGIE_LOG_LEVEL": "WARNING",
        "REGIE_MAX_UPLOAD_BYTES": str(LIMIT),
    }
    done = subprocess.run(
        [sys.executable, "-m", "regie.cli", "reconcile", "--from", today, "--to", today,
         "--camt053", str(fifo)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    writer.join(timeout=10)
    assert written[0] < SENT, f"the whole pipe was read: {done.stderr}"
    _refused(done, f"releve.xml: the file is larger than {LIMIT} bytes")
    assert await _stored(app) == (0, 0)
