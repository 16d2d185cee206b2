"""The ``regie`` command line, run as a real subprocess on a fresh SQLite file."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from regie.app import create_app
from regie.cli_common import run_async
from regie.demo import DEMO_KEYS
from regie.kit.keycache import KEY_CACHE_TTL, KeyCache
from regie.kit.settings import Settings, UnsafeSettingsError

REGIE = str(Path(sys.executable).parent / "regie")


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([REGIE, *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGIE_")}
    env["REGIE_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    return env


async def test_services_and_keys_from_the_command_line(cli_env: dict[str, str]) -> None:
    assert run(["db", "upgrade"], cli_env).returncode == 0
    created = run(["services", "create", "cantine", "--display-name", "Cantine scolaire"], cli_env)
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip().startswith("svc_")
    assert run(["services", "create", "cantine"], cli_env).returncode == 1  # no duplicates
    key = run(["keys", "create", "--service", "cantine", "--role", "service"], cli_env)
    assert key.returncode == 0, key.stderr
    raw = key.stdout.strip()
    assert key.stdout == raw + "\n"  # the key alone on stdout: KEY=$(regie keys create …) works
    assert raw.startswith("rk_test_ser_")
    assert run(["keys", "create", "--service", "nope"], cli_env).returncode == 2  # bad argument

    settings = Settings(database_url=cli_env["REGIE_DATABASE_URL"], base_url="http://testserver")
    app = create_app(settings)
    now = [0.0]
    app.state.key_cache = KeyCache(clock=lambda: now[0])
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as c:
            assert (
                await c.get("/v1/invoices", headers={"Authorization": f"Bearer {raw}"})
            ).status_code == 200
            revoked = run(["keys", "revoke", raw], cli_env)
            assert revoked.returncode == 0, revoked.stderr
            # revoked by another process: refused once the server's memory of it runs out
            now[0] += KEY_CACHE_TTL
            r = await c.get("/v1/invoices", headers={"Authorization": f"Bearer {raw}"})
            assert r.status_code == 401
            assert r.json()["error"]["code"] == "invalid_api_key"


def test_production_refuses_unsafe_settings() -> None:
    with pytest.raises(UnsafeSettingsError) as err:
        create_app(Settings(env="production", psp="simulator"))
    message = str(err.value)
    assert "simulator" in message and "SECRET_KEY" in message and "SQLite" in message


def test_a_server_on_https_refuses_the_default_secret_whatever_its_env() -> None:
    """A staging server left in development on a public https address with the default
    REGIE_SECRET_KEY (public in this repository) would let anyone sign a finance session
    (a review forged one). It does not start; the demo on http://127.0.0.1 does."""
    with pytest.raises(UnsafeSettingsError) as err:
        create_app(Settings(env="development", base_url="https://recettes.example.fr"))
    assert "REGIE_SECRET_KEY" in str(err.value)
    Settings(env="development", base_url="https://recettes.example.fr",
             secret_key="s" * 40).check_production()  # fmt: skip
    Settings(env="development", base_url="http://127.0.0.1:8000").check_production()


def test_demo_refuses_production(cli_env: dict[str, str]) -> None:
    env = {**cli_env, "REGIE_ENV": "production"}
    result = run(["demo", "--seed-only"], env)
    assert result.returncode != 0
    assert "production" in result.stderr


def test_demo_seeds_services_keys_and_invoices(cli_env: dict[str, str], tmp_path: Path) -> None:
    result = subprocess.run(
        [REGIE, "demo", "--seed-only"],
        env=cli_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "rk_test_ser_demo_urbanisme" in result.stderr
    assert "/pay/" in result.stderr
    # nothing listens: the demo says it is seeded, not ready, and how to serve it
    assert "is ready" not in result.stderr
    assert "regie demo is seeded" in result.stderr and "nothing is served" in result.stderr
    # seeding starts no worker: its log lines came before the banner, and it stopped again
    assert "worker started" not in result.stderr and "worker stopped" not in result.stderr
    again = subprocess.run(
        [REGIE, "demo", "--seed-only"],
        env=cli_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr  # seeding twice is harmless


def _table_rows(db_url: str, sql: str) -> list[tuple[object, ...]]:
    import sqlite3

    con = sqlite3.connect(db_url.removeprefix("sqlite+aiosqlite:///"))
    try:
        return list(con.execute(sql))
    finally:
        con.close()


def test_demo_refuses_a_database_holding_other_services(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    assert run(["db", "upgrade"], cli_env).returncode == 0
    assert run(["services", "create", "cantine"], cli_env).returncode == 0
    before = _table_rows(cli_env["REGIE_DATABASE_URL"], "SELECT slug FROM services")

    result = run(["demo", "--seed-only"], cli_env)  # REGIE_ENV is development

    assert result.returncode != 0
    assert "1 other service(s)" in result.stderr and "public test keys" in result.stderr
    url = cli_env["REGIE_DATABASE_URL"]
    assert _table_rows(url, "SELECT slug FROM services") == before  # nothing written
    assert _table_rows(url, "SELECT count(*) FROM api_keys") == [(0,)]


async def test_demo_starts_again_on_its_own_database_after_the_tour(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    """The README's tour makes invoices with the demo's public keys; `make demo` started
    again on that database must work (nothing in it was ever private)."""
    first = subprocess.run(
        [REGIE, "demo", "--seed-only"], env=cli_env, cwd=tmp_path, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    url = cli_env["REGIE_DATABASE_URL"]
    settings = Settings(database_url=url, base_url="http://testserver")
    app = create_app(settings)
    now = [0.0]
    app.state.key_cache = KeyCache(clock=lambda: now[0])
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as c:
            r = await c.post(
                "/v1/invoices",
                headers={"Authorization": "Bearer rk_test_ser_demo_urbanisme"},
                json={"amount": 2500, "currency": "EUR", "reference": "PC-2026-0042",
                      "description": "Permis de construire", "payer": {"name": "A. B."}},
            )  # fmt: skip
            assert r.status_code == 201, r.text
    invoices = _table_rows(url, "SELECT count(*) FROM invoices")

    again = run(["demo", "--seed-only"], cli_env)

    assert again.returncode == 0, again.stderr
    assert _table_rows(url, "SELECT count(*) FROM invoices") == invoices
    assert _table_rows(url, "SELECT count(*) FROM api_keys") == [(len(DEMO_KEYS),)]


def test_demo_refuses_a_database_holding_invoices_without_its_keys(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    """A real database whose service happens to be called like the demo's, with real
    invoices and no demo key: the public keys are never written into it."""
    assert run(["db", "upgrade"], cli_env).returncode == 0
    assert run(["services", "create", "urbanisme"], cli_env).returncode == 0
    url = cli_env["REGIE_DATABASE_URL"]
    con = sqlite3.connect(url.split("///", 1)[1])
    try:
        (service_id,) = con.execute("SELECT id FROM services").fetchone()
        columns = [row[1] for row in con.execute("PRAGMA table_info(invoices)")]
        row = {c: None for c in columns}
        row.update(
            id="inv_real", service_id=service_id, number="URBANISME-2026-000001",
            reference="REAL-2026-1", description="Droit de place", currency="EUR",
            amount_total=1200, amount_paid=0, amount_refunded=0, status="open",
            payer_name="A. B.", metadata="{}", locale="fr", pay_token="t" * 32,
            expires_at="2027-01-01 00:00:00", created_at="2026-12-01 00:00:00",
            updated_at="2026-12-01 00:00:00",
        )  # fmt: skip
        row = {k: v for k, v in row.items() if k in columns}
        con.execute(
            f"INSERT INTO invoices ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
            list(row.values()),
        )
        con.commit()
    finally:
        con.close()

    result = run(["demo", "--seed-only"], cli_env)

    assert result.returncode != 0
    assert "1 invoice(s) that are not the demo's" in result.stderr
    assert _table_rows(url, "SELECT count(*) FROM api_keys") == [(0,)]


def test_a_services_statement_descriptor_suffix_follows_stripes_rules(
    cli_env: dict[str, str],
) -> None:
    assert run(["db", "upgrade"], cli_env).returncode == 0
    made = run(
        ["services", "create", "cantine", "--statement-descriptor-suffix", "CANTINE"], cli_env
    )
    assert made.returncode == 0, made.stderr
    refused = run(
        ["services", "create", "ecole", "--statement-descriptor-suffix", "L'ECOLE"], cli_env
    )
    assert refused.returncode == 2 and "may not contain '" in refused.stderr
    # the account's prefix leaves 14 characters: MAIRIE* CANTINE MARS25 is 22
    env = {**cli_env, "STRIPE_STATEMENT_DESCRIPTOR_PREFIX": "MAIRIE"}
    longer = run(["services", "set-statement-descriptor", "cantine", "CANTINE MARS 25"], env)
    assert longer.returncode == 2 and "more than 14 characters" in longer.stderr
    assert (
        run(["services", "set-statement-descriptor", "cantine", "CANTINE MARS25"], env).returncode
        == 0
    )
    db = cli_env["REGIE_DATABASE_URL"].removeprefix("sqlite+aiosqlite:///")

    def stored() -> list[tuple[str, str | None]]:
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT slug, statement_descriptor_suffix FROM services").fetchall()

    assert stored() == [("cantine", "CANTINE MARS25")]
    assert run(["services", "set-statement-descriptor", "cantine", ""], cli_env).returncode == 0
    assert stored() == [("cantine", None)]
    assert run(["services", "set-statement-descriptor", "nope", "X1"], cli_env).returncode == 2


def test_a_services_contact_details_and_regie_are_set_from_the_command_line(
    cli_env: dict[str, str],
) -> None:
    assert run(["db", "upgrade"], cli_env).returncode == 0
    created = run(
        ["services", "create", "urbanisme", "--email", "urbanisme@villeneuve.fr",
         "--regie-name", "Régie de l'urbanisme"],
        cli_env,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    changed = run(
        ["services", "set-contact", "urbanisme", "--phone", "05 61 00 00 00",
         "--opening-hours", "Lundi–vendredi 9 h – 12 h", "--address", "1 place de la Mairie"],
        cli_env,
    )  # fmt: skip
    assert changed.returncode == 0, changed.stderr
    db = cli_env["REGIE_DATABASE_URL"].removeprefix("sqlite+aiosqlite:///")

    def stored() -> tuple[str, ...]:
        with sqlite3.connect(db) as conn:
            return conn.execute(  # type: ignore[no-any-return]
                "SELECT address, email, phone, opening_hours, regie_name FROM services"
            ).fetchone()

    assert stored() == (
        "1 place de la Mairie",
        "urbanisme@villeneuve.fr",  # what is not given is kept
        "05 61 00 00 00",
        "Lundi–vendredi 9 h – 12 h",
        "Régie de l'urbanisme",
    )
    assert run(["services", "set-contact", "urbanisme", "--email", ""], cli_env).returncode == 0
    assert stored()[1] is None  # an empty value removes it
    missing = run(["services", "set-contact", "nope", "--email", "a@b.fr"], cli_env)
    assert missing.returncode == 2 and "no service named 'nope'" in missing.stderr


@pytest.mark.parametrize("own_process", [True, False])
def test_a_one_shot_command_stops_the_collector_only_in_its_own_process(
    own_process: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    from regie import cli_common

    monkeypatch.setattr(cli_common, "OWN_PROCESS", own_process)
    assert gc.isenabled()
    try:
        cli_common.one_shot()
        # inside a test runner (or any caller) the collector is left alone
        assert gc.isenabled() is not own_process
    finally:
        gc.enable()


def test_the_command_line_starts_without_the_heavy_libraries() -> None:
    """``regie reconcile --help`` (every command's start) imports neither the database
    engine, DuckDB, the web framework, the server, Alembic nor a PSP's SDK: each is imported
    where it is used (docs/architecture.md, "The command line's start")."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "regie.cli", "reconcile", "--help"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    imported = {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "regie" in imported and "typer" in imported  # the reading works
    heavy = {"sqlalchemy", "duckdb", "fastapi", "starlette", "uvicorn", "alembic", "stripe"}
    assert not heavy & imported, sorted(heavy & imported)


class _Output:
    """A command's result that counts the times it is turned into its repr."""

    reprs = 0

    def __repr__(self) -> str:
        type(self).reprs += 1
        return "_Output()"


def test_a_commands_result_is_handed_back_without_being_formatted() -> None:
    """``asyncio.run`` on Python 3.11 formats its main task's repr, and so its result's, as
    it ends (twice): a result can be a command's whole output (a run with ten thousand
    discrepancies, a report's bytes). ``run_async`` hands the result back untouched."""

    async def command() -> _Output:
        return _Output()

    _Output.reprs = 0
    got = run_async(command())
    assert isinstance(got, _Output)
    assert _Output.reprs == 0


def test_a_commands_failure_comes_out_of_run_async_as_it_was_raised() -> None:
    async def command() -> int:
        raise LookupError("no such run")

    with pytest.raises(LookupError, match="no such run"):
        run_async(command())


@pytest.mark.parametrize(
    ("variables", "words", "commands"),
    [
        (
            {"REGIE_WORKER_BATCH_SIZE": "0"},
            "REGIE_WORKER_BATCH_SIZE",
            (["worker"], ["serve", "--port", "1"], ["ledger", "verify"]),
        ),
        ({"REGIE_ENV": "production"}, "refusing a production start", (["worker"], ["serve"])),
    ],
)
def test_a_bad_setting_stops_a_command_with_one_error_not_a_traceback(
    cli_env: dict[str, str],
    variables: dict[str, str],
    words: str,
    commands: tuple[list[str], ...],
) -> None:
    """The README: a setting out of its range or not of its form stops the command at
    start, exit 1, naming the setting; so does a production start with unsafe settings.
    An operator reads one error line, not a traceback of regie's source."""
    assert run(["db", "upgrade"], cli_env).returncode == 0
    for command in commands:
        result = run(command, {**cli_env, **variables})
        assert result.returncode == 1, (command, result.stderr)
        assert "Traceback" not in result.stderr, (command, result.stderr)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert lines[0].startswith("error: ") and words in result.stderr, (command, lines)


@pytest.mark.parametrize("day", ["2026-W44-6", "20261031"])
def test_a_command_takes_its_days_as_yyyy_mm_dd_only(day: str, cli_env: dict[str, str]) -> None:
    """Python reads 2026-W44-6 (a week date) and 20261031 as 31 October: the commands' help
    and errors say YYYY-MM-DD, and so they read."""
    from regie.kit.instants import iso_day

    with pytest.raises(ValueError):
        iso_day(day)
    assert iso_day("2026-10-31") == dt.date(2026, 10, 31)
    for args in (["reconcile", "--from", day, "--to", "2026-10-31"],
                 ["ledger", "export", "--from", day, "--to", "2026-10-31"]):  # fmt: skip
        result = run(args, cli_env)
        assert result.returncode != 0 and "YYYY-MM-DD" in result.stderr, (args, result.stderr)
