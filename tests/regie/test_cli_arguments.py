"""The command line as an operator meets it: a wrong file, folder or setting is one line on
stderr naming it, exit 2 (a bad argument), no traceback, and nothing stored."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

REGIE = str(Path(sys.executable).parent / "regie")


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([REGIE, *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGIE_", "STRIPE_"))}
    env["REGIE_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    assert run(["db", "upgrade"], env).returncode == 0
    return env


def refused(result: subprocess.CompletedProcess[str], *words: str, code: int = 2) -> None:
    """Exit ``code`` with one ``error:`` line naming ``words``, and no traceback."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr and "Error" not in result.stderr, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert all(w in lines[0] for w in words), (words, lines)


def _count(env: dict[str, str], table: str) -> int:
    path = env["REGIE_DATABASE_URL"].removeprefix("sqlite+aiosqlite:///")
    with sqlite3.connect(path) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608


def test_an_import_whose_links_file_cannot_be_written_creates_nothing(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    """The links file (--output) is checked before the batch: the invoices were created,
    then writing the links failed with a traceback, and the links were lost (the same file
    again is refused, reference_already_used)."""
    made = ["services", "create", "cantine", "--display-name", "Cantine",
            "--identifier", "21310555400041"]  # fmt: skip
    assert run(made, cli_env).returncode == 0
    csv = tmp_path / "novembre.csv"
    csv.write_text("reference,description,amount,payer_name\nR1,Repas,4250,Jean Test\n")
    folder = tmp_path / "links"
    folder.mkdir()
    for output, words in ((folder, "is a directory"), (tmp_path / "no" / "l.csv", "no directory")):
        args = ["invoices", "import", str(csv), "--service", "cantine", "--output", str(output)]
        refused(run(args, cli_env), "--output", str(output), words)
        assert _count(cli_env, "invoices") == 0
    # a folder, or a file that cannot be read, given as the CSV
    refused(run(["invoices", "import", str(folder), "--service", "cantine"], cli_env), str(folder))
    links = tmp_path / "links.csv"
    args = ["invoices", "import", str(csv), "--service", "cantine", "--output", str(links)]
    assert run(args, cli_env).returncode == 0
    assert "R1" in links.read_text()


def test_an_export_or_a_simulated_file_names_an_output_it_cannot_write(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    """ledger export, simulator settlement-report and bank-statement: a folder or a missing
    directory as --output was a traceback (IsADirectoryError, FileNotFoundError), exit 1."""
    folder = tmp_path / "out"
    folder.mkdir()
    period = ["--from", "2026-01-01", "--to", "2026-01-31"]
    for command in (["ledger", "export", "--format", "csv"],
                    ["ledger", "export", "--format", "fec", "--siren", "213105554"],
                    ["simulator", "settlement-report"],
                    ["simulator", "bank-statement"]):  # fmt: skip
        for output, words in ((folder, "is a directory"), (folder / "no" / "f", "no directory")):
            result = run([*command, *period, "--output", str(output)], cli_env)
            refused(result, "--output", str(output), words)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--from", "2026-12-01", "--to", "2026-01-31"], "--to"),
        (["--from", "2026-13-01", "--to", "2026-12-31"], "YYYY-MM-DD"),
        (["--format", "xml"], "--format"),
        (["--format", "fec", "--siren", "12"], "--siren"),
        (["--format", "fec", "--siren", "213105554", "--currency", "euro"], "--currency"),
        # a day whose bounds in Paris are out of the instants' range was a traceback
        (["--from", "2026-01-01", "--to", "9999-12-31"], "--to"),
        (["--from", "0001-01-01", "--to", "2026-12-31"], "--from"),
    ],
)
def test_a_ledger_export_refuses_a_bad_argument_with_exit_2(
    args: list[str], words: str, cli_env: dict[str, str]
) -> None:
    """A period that ends before it starts was an empty export, exit 0 (an accountant
    handed a FEC without a line); a currency not of three capitals left every line out; the
    other bad arguments exited 1, where a bad argument is 2 (as click's own, and reconcile's)."""
    refused(run(["ledger", "export", *args, "--output", "-"], cli_env), words)


def test_an_unknown_log_level_is_a_bad_setting_not_a_traceback(cli_env: dict[str, str]) -> None:
    """REGIE_LOG_LEVEL was any text: an unknown level stopped every command with a traceback
    from logging (ValueError: Unknown level). It is checked with the other settings; a level
    is taken in any case, as logging's names."""
    from pydantic import ValidationError

    from regie.kit.settings import Settings, settings_errors

    assert Settings(log_level="debug").log_level == "DEBUG"
    with pytest.raises(ValidationError) as caught:
        Settings(log_level="verbose")
    assert settings_errors(caught.value)[0].startswith("REGIE_LOG_LEVEL: ")
    result = run(["ledger", "verify"], {**cli_env, "REGIE_LOG_LEVEL": "verbose"})
    refused(result, "REGIE_LOG_LEVEL", "'verbose'", code=1)


def test_serve_with_workers_refuses_an_unsafe_production_start_at_once(
    cli_env: dict[str, str],
) -> None:
    """`regie serve --workers N` with REGIE_ENV=production and unsafe settings: each server
    process died with a traceback, was started again every 5 s, and the supervisor never
    ended (an orchestrator saw a process running). It is one line and exit 1, as `serve`."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    env = {**cli_env, "REGIE_ENV": "production"}
    args = [REGIE, "serve", "--port", port, "--workers", "2"]
    try:
        result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"still running after 30 s: {exc.stderr!r}"[:2000])
    refused(result, "refusing a production start", "REGIE_SECRET_KEY", code=1)


def test_reconcile_says_a_bad_setting_with_exit_2_not_a_traceback(
    cli_env: dict[str, str],
) -> None:
    """reconcile's 1 means "a discrepancy is open": a setting it cannot run with is exit 2
    (as its missing database), one line. With REGIE_ENV=production and the simulator it was
    a traceback (SimulatorNotAllowed), exit 1: read as discrepancies by a script."""
    period = ["reconcile", "--from", "2026-01-01", "--to", "2026-01-31"]
    refused(run(period, {**cli_env, "REGIE_ENV": "production"}), "REGIE_PSP=simulator")
    refused(run(period, {**cli_env, "REGIE_RECONCILE_WINDOW_DAYS": "-1"}),
            "REGIE_RECONCILE_WINDOW_DAYS")  # fmt: skip
    assert _count(cli_env, "recon_runs") == 0
    # the other commands that build the PSP: the same line, exit 1 as any bad setting
    made = ["services", "create", "cantine", "--display-name", "Cantine",
            "--identifier", "21310555400041"]  # fmt: skip
    assert run(made, cli_env).returncode == 0
    csv = Path(cli_env["REGIE_DATABASE_URL"].removeprefix("sqlite+aiosqlite:///")).parent / "i.csv"
    csv.write_text("reference,description,amount,payer_name\nR1,Repas,4250,Jean Test\n")
    args = ["invoices", "import", str(csv), "--service", "cantine"]
    refused(run(args, {**cli_env, "REGIE_ENV": "production"}), "REGIE_PSP=simulator", code=1)
    assert _count(cli_env, "invoices") == 0


def test_a_bad_argument_to_services_keys_or_requeue_exits_2(cli_env: dict[str, str]) -> None:
    """A bad slug, an unknown --role, an unknown key or dead event exited 1, which the other
    commands (and click) keep for what a command found: a bad argument is 2, one line."""
    refused(run(["services", "create", "Cantine Scolaire"], cli_env), "2-40 lower-case")
    assert _count(cli_env, "services") == 0
    assert run(["services", "create", "cantine"], cli_env).returncode == 0
    assert run(["services", "create", "cantine"], cli_env).returncode == 1  # found: it exists
    refused(run(["keys", "create", "--service", "cantine", "--role", "boss"], cli_env),
            "--role", "service, finance or admin", "'boss'")  # fmt: skip
    assert _count(cli_env, "api_keys") == 0
    refused(run(["keys", "revoke", "key_01KAAAAAAAAAAAAAAAAAAAAAAA"], cli_env), "no such key")
    refused(run(["keys", "revoke", "rk_test_notakey"], cli_env), "no such key")
    result = run(["maintenance", "requeue", "inb_nope"], cli_env)
    refused(result, "not a dead event", "inb_nope")


def test_reconcile_names_the_provider_option_it_refuses(cli_env: dict[str, str]) -> None:
    """`--provider paypal` said "No PSP named 'paypal' is configured." without the option."""
    args = ["reconcile", "--from", "2026-01-01", "--to", "2026-01-31", "--provider", "paypal"]
    refused(run(args, cli_env), "--provider", "'paypal'")
    assert _count(cli_env, "recon_runs") == 0


def test_a_missing_import_file_is_one_line(cli_env: dict[str, str], tmp_path: Path) -> None:
    """A CSV that is not there was click's boxed usage error; it is the others' one line."""
    assert run(["services", "create", "cantine"], cli_env).returncode == 0
    missing = tmp_path / "absent.csv"
    refused(run(["invoices", "import", str(missing), "--service", "cantine"], cli_env),
            str(missing), "cannot read it")  # fmt: skip


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("notaurl", "http:// or https://"),
        ("ftp://recettes.example.fr", "http:// or https://"),
        ("recettes.example.fr", "http:// or https://"),
        ("http://", "no host"),
        ("https:///paiements", "no host"),
        ("http://127.0.0.1:port", "port"),
        ("http://127.0.0.1:99999", "port"),
        ("http://recettes example.fr", "space"),
    ],
)
def test_a_base_url_that_is_not_one_is_refused_at_start(
    value: str, words: str, cli_env: dict[str, str]
) -> None:
    """REGIE_BASE_URL was any text outside production: pay links came out broken, silently.
    It is an absolute http(s) URL with a host in every environment, checked with the other
    settings (exit 1, one line naming it)."""
    from pydantic import ValidationError

    from regie.kit.settings import Settings, settings_errors

    with pytest.raises(ValidationError) as caught:
        Settings(base_url=value)
    (line,) = settings_errors(caught.value)
    assert line.startswith("REGIE_BASE_URL: ") and words in line, line
    refused(run(["ledger", "verify"], {**cli_env, "REGIE_BASE_URL": value}),
            "REGIE_BASE_URL", words, code=1)  # fmt: skip


def test_the_base_urls_regie_runs_with_are_taken() -> None:
    from regie.kit.settings import Settings

    assert Settings().base_url == "http://127.0.0.1:8000"
    for value, kept in (("http://testserver", "http://testserver"),
                        ("https://recettes.example.fr/paiements/", "https://recettes.example.fr/paiements"),
                        ("HTTPS://recettes.example.fr", "https://recettes.example.fr"),
                        ("http://[::1]:8000", "http://[::1]:8000")):  # fmt: skip
        assert Settings(base_url=value).base_url == kept


def test_the_demo_on_an_ipv6_address_makes_a_base_url_of_it(tmp_path: Path) -> None:
    """The demo's REGIE_BASE_URL is made of --host and --port: an IPv6 address in brackets."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGIE_", "STRIPE_"))}
    result = subprocess.run([REGIE, "demo", "--seed-only", "--host", "::1"], env=env,
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "http://[::1]:8000/v1/invoices" in result.stderr


def test_keys_or_an_import_for_a_service_that_does_not_exist_exit_2(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    """`keys create` and `invoices import` with a --service no service is named: exit 1, as
    if the command had found something, where an unknown name is a bad argument. Nothing is
    made: no key, no invoice."""
    assert run(["services", "create", "cantine"], cli_env).returncode == 0
    refused(run(["keys", "create", "--service", "piscine"], cli_env), "'piscine'")
    assert _count(cli_env, "api_keys") == 0
    csv = tmp_path / "novembre.csv"
    csv.write_text("reference,description,amount,payer_name\nR1,Repas,4250,Jean Test\n")
    refused(run(["invoices", "import", str(csv), "--service", "piscine"], cli_env), "piscine")
    assert _count(cli_env, "invoices") == 0


def test_a_statement_descriptor_or_contact_that_is_refused_exits_2(
    cli_env: dict[str, str],
) -> None:
    """A suffix Stripe would refuse, a contact detail too long, or a service that does not
    exist: exit 1, where they are bad arguments (2). Nothing is changed."""
    assert run(["services", "create", "cantine"], cli_env).returncode == 0
    descriptor = ["services", "set-statement-descriptor"]
    refused(run([*descriptor, "cantine", "CANTINE<1>"], cli_env), "may not contain")
    refused(run([*descriptor, "piscine", "PISCINE"], cli_env), "'piscine'")
    contact = ["services", "set-contact"]
    refused(run([*contact, "cantine", "--phone", "0" * 41], cli_env), "phone", "40")
    refused(run([*contact, "piscine", "--phone", "05 61 00 00 40"], cli_env), "'piscine'")
    path = cli_env["REGIE_DATABASE_URL"].removeprefix("sqlite+aiosqlite:///")
    with sqlite3.connect(path) as conn:
        row = conn.execute("SELECT statement_descriptor_suffix, phone FROM services").fetchone()
    assert row == (None, None)


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--statement-descriptor-suffix", "CANTINE<1>", "may not contain"),
        ("--email", "a" * 250 + "@b.fr", "email is at most 254"),
        ("--display-name", "C" * 201, "--display-name is at most 200"),
        ("--address", "A" * 501, "--address is at most 500"),
        ("--identifier", "2" * 41, "--identifier is at most 40"),
        ("--timezone", "Europe/Villeneuve", "'Europe/Villeneuve'"),
    ],
)
def test_a_service_created_with_a_value_it_cannot_keep_exits_2(
    option: str, value: str, words: str, cli_env: dict[str, str]
) -> None:
    """A refused suffix or contact was exit 1; a name, address or identifier longer than
    its column was stored as is by SQLite and a traceback on PostgreSQL; a time zone that
    is none was stored, and the service's pay pages failed on it. A bad argument: exit 2,
    one line, no service."""
    refused(run(["services", "create", "cantine", option, value], cli_env), words)
    assert _count(cli_env, "services") == 0


@pytest.mark.parametrize("command", [["serve"], ["demo", "--seed-only"]])
def test_a_port_that_is_not_one_exits_2(command: list[str], cli_env: dict[str, str]) -> None:
    """`serve --port 99999` started (on another port than asked); `demo --port 99999` said
    REGIE_BASE_URL was wrong, exit 1. A port is 0 to 65535: a bad argument, exit 2."""
    args = [REGIE, *command, "--port", "99999"]
    try:
        result = subprocess.run(args, env=cli_env, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"still running after 30 s: {exc.stderr!r}"[:2000])
    refused(result, "--port", "65535")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["settlement-report", "--from", "2026-13-01", "--to", "2026-12-31"], "YYYY-MM-DD"),
        (["bank-statement", "--from", "2026-12-31", "--to", "2026-12-01"], "before --from"),
        (["bank-statement", "--from", "2020-01-04", "--to", "2020-01-05"], "no bank day"),
    ],
)
def test_a_simulator_file_with_a_bad_period_is_one_line(
    args: list[str], words: str, cli_env: dict[str, str]
) -> None:
    """The simulator's bad periods were click's boxed "Invalid value" (six lines, a
    "Usage:" and a "Try --help"), not the one line of every other command's bad argument."""
    refused(run(["simulator", *args, "--output", "-"], cli_env), words)
