"""Schemathesis against openapi.yaml, on each backend, with a service key and a finance key.

regie runs in uvicorn on a loopback port, in a thread of this process, on the test database
of the backend (SQLite, and PostgreSQL when REGIE_TEST_DATABASE_URL is set), with a few
invoices and a webhook endpoint already there. ``st run`` (the schemathesis CLI) then calls
every operation of openapi.yaml with a bounded number of generated cases (its examples,
coverage and fuzzing phases, valid and invalid data, a fixed seed: the same cases every
run) and fails on:

- a 5xx (``not_a_server_error``);
- a status, content type, header or body the schema does not document
  (``status_code_conformance``, ``content_type_conformance``, ``response_headers_conformance``,
  ``response_schema_conformance``);
- a 405 without ``Allow``, or a method answered that the schema does not list
  (``unsupported_method``);
- invalid data accepted (``negative_data_rejection``), a missing required header accepted,
  an operation answering without authentication (``ignored_auth``), ...

Left out: ``positive_data_acceptance`` (schema-valid data regie refuses by a business rule
no JSON schema states: exactly one of ``amount`` or ``lines``, a notification URL that
must reach the internet, a camt.053 file that must be XML, a period that must not end
before it starts) and the stateful phase (bounded time).

``REGIE_FUZZ_EXAMPLES`` raises the number of cases per operation for a longer local run.
Reproduce a failure with the ``curl`` line the report prints.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from regie.app import create_app
from regie.kit.database import Database
from regie.kit.settings import Settings
from regie.kit.tenancy import Role, create_key, create_service
from tests.conftest import _truncate, invoice_body

ROOT = Path(__file__).resolve().parents[2]
ST = str(Path(sys.executable).parent / "st")
EXAMPLES = int(os.environ.get("REGIE_FUZZ_EXAMPLES", "15"))
SEED = 20261201
LEFT_OUT = ["positive_data_acceptance"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _keys(url: str) -> dict[str, str]:
    await _truncate(url)
    db = Database(url)
    try:
        async with db.session() as s:
            urba = await create_service(s, "urbanisme", "Mairie – Urbanisme")
            treso = await create_service(s, "tresorerie", "Régie de recettes")
            service = (await create_key(s, urba, Role.service, live=False))[1]
            finance = (await create_key(s, treso, Role.finance, live=False))[1]
            await s.commit()
    finally:
        await db.dispose()
    return {"service": service, "finance": finance}


class _Server:
    """uvicorn in a thread of this process, on a loopback port, until ``stop``."""

    def __init__(self, settings: Settings, port: int) -> None:
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=port, log_config=None, lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert self.thread.is_alive(), "uvicorn stopped at start"
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture
def live(migrated_urls: dict[str, str], backend: str) -> Iterator[tuple[str, dict[str, str]]]:
    url = migrated_urls[backend]
    keys = asyncio.run(_keys(url))
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings(
        database_url=url,
        base_url=base,
        psp="simulator",
        env="development",
        run_worker_in_process=False,
    )
    server = _Server(settings, port)
    server.start()
    try:
        with httpx.Client(base_url=base, timeout=30) as c:
            auth = {"Authorization": f"Bearer {keys['service']}"}
            for i in range(2):
                r = c.post("/v1/invoices", json=invoice_body(reference=f"F-{i}"), headers=auth)
                assert r.status_code == 201, r.text
            lines = invoice_body(amount=None, lines=[{"description": "Copie", "unit_amount": 150}])
            assert c.post("/v1/invoices", json=lines, headers=auth).status_code == 201
            hook = {"url": "http://127.0.0.1:9/regie-hooks"}
            r = c.post("/v1/webhook-endpoints", json=hook, headers=auth)
            assert r.status_code == 201, r.text
        yield base, keys
    finally:
        server.stop()


def st_command(base: str, key: str, report: Path) -> list[str]:
    return [
        ST,
        "run",
        str(ROOT / "openapi.yaml"),
        "--url",
        base,
        "--header",
        f"Authorization: Bearer {key}",
        "--phases",
        "examples,coverage,fuzzing",
        "--mode",
        "all",
        "--checks",
        "all",
        "--exclude-checks",
        ",".join(LEFT_OUT),
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        str(SEED),
        "--generation-deterministic",  # the same cases every run (and no example database)
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--no-color",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
    ]


@pytest.mark.timeout(360)
@pytest.mark.parametrize("role", ["service", "finance"])
def test_schemathesis_finds_nothing(live: tuple[str, dict[str, str]], role: str, tmp_path) -> None:
    base, keys = live
    run = subprocess.run(
        st_command(base, keys[role], tmp_path / "junit.xml"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=330,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-20000:]
    tested = _tested(out)
    assert tested == _operation_count(), out[-5000:]
    print(next(line for line in out.splitlines() if " generated, " in line))


def _tested(out: str) -> int:
    for line in out.splitlines():
        if line.strip().startswith("Tested:"):
            return int(line.split(":")[1])
    raise AssertionError("no 'Tested:' line in schemathesis' summary:\n" + out[-5000:])


def _operation_count() -> int:
    import yaml

    spec: dict[str, Any] = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    return sum(1 for item in spec["paths"].values() for m in item if m in methods)
