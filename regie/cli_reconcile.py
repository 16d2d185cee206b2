"""``regie reconcile``: reconcile a period from the command line.

Exit status: 0 when everything matched (no open discrepancy), 1 when discrepancies are open,
2 on bad input (a file regie cannot read, an invalid period), with the message on stderr.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from regie.cli_common import (
    check_database,
    check_output,
    finish,
    load_settings,
    one_shot,
    run_async,
    write_utf8,
)
from regie.kit.settings import Settings

if TYPE_CHECKING:
    import httpx

    from payments.providers.registry import ProviderRegistry
    from reconciliation.ledger_copy import LedgerPrefetch
    from reconciliation.schemas import RunOut
    from regie.kit.database import Database
    from regie.kit.tenancy import KeyLabel


def _date(value: str, option: str) -> dt.date:
    from regie.kit.instants import iso_day

    try:
        return iso_day(value)
    except ValueError:
        typer.echo(f"error: {option} is a day, YYYY-MM-DD (got {value!r})", err=True)
        raise typer.Exit(2) from None


_OPTIONS = {
    "period_from": "--from", "period_to": "--to", "as_of": "--as-of", "provider": "--provider",
}  # fmt: skip


def _in_range(lo: dt.date, hi: dt.date, day: dt.date | None) -> None:
    """The days regie reconciles, checked before the ledger's hand-over starts."""
    from reconciliation.period import out_of_range

    wrong = out_of_range(lo, hi, day)
    if wrong is not None:
        option = _OPTIONS[wrong[0]]
        typer.echo(f"error: {option}: {wrong[1]}", err=True)
        raise typer.Exit(2)


def _file(path: Path, max_bytes: int) -> tuple[str, bytes]:
    """The file's name and bytes; larger than ``max_bytes`` is exit 2, and no more than
    that is read (a pipe, ``/dev/stdin``, has no size to check first)."""
    try:
        size, data = path.stat().st_size, b""
        if size <= max_bytes:
            with path.open("rb") as fh:
                data = fh.read(max_bytes + 1)
        if size > max_bytes or len(data) > max_bytes:
            typer.echo(f"error: {path.name}: the file is larger than {max_bytes} bytes", err=True)
            raise typer.Exit(2)
        return path.name, data
    except OSError as err:
        typer.echo(f"error: {path}: {err.strerror}", err=True)
        raise typer.Exit(2) from None


def reconcile(
    date_from: Annotated[
        str,
        typer.Option(
            "--from", help="First day of the period, YYYY-MM-DD (a UTC day, the ledger's)"
        ),
    ],
    date_to: Annotated[
        str, typer.Option("--to", help="Last day of the period, YYYY-MM-DD (a UTC day)")
    ],
    stripe_csv: Annotated[
        Path | None,
        typer.Option("--stripe-csv", help="Stripe's itemised payout reconciliation CSV"),
    ] = None,
    camt053: Annotated[
        list[Path] | None, typer.Option("--camt053", help="A camt.053 bank statement (repeatable)")
    ] = None,
    format: Annotated[str, typer.Option("--format", help="table, json or csv")] = "table",
    output: Annotated[str, typer.Option("--output", help="File to write (default: stdout)")] = "-",
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Payouts due at the bank before this day (today)")
    ] = None,
    provider: Annotated[
        str | None, typer.Option("--provider", help="The PSP reconciled (default: REGIE_PSP)")
    ] = None,
) -> None:
    """Match the PSP's settlement lines, the ledger and the bank for a period; store the run."""
    one_shot()
    if format not in ("table", "json", "csv"):
        typer.echo("error: --format is table, json or csv", err=True)
        raise typer.Exit(2)
    lo, hi = _date(date_from, "--from"), _date(date_to, "--to")
    day = _date(as_of, "--as-of") if as_of else None
    _in_range(lo, hi, day)
    if output != "-":
        check_output(Path(output))  # the run is stored: its report must be writable
    settings = _settings()
    # PostgreSQL starts handing over the ledger now, while Python reads the files (a year's
    # report: 0.1 s) and imports the rest of regie
    prefetch = _prefetch(settings, lo, hi, provider) if stripe_csv else None
    try:
        limit = settings.max_upload_bytes
        report = _file(stripe_csv, limit) if stripe_csv else None
        statements = [_file(p, limit) for p in camt053 or []]
        run, labels = _run(
            settings, lo, hi, report, statements, day, provider, prefetch, format == "csv"
        )
    finally:
        if prefetch is not None:
            prefetch.close()
    from reconciliation.report import summary_lines, to_csv

    if format == "json":
        body = (
            run.model_dump_json(indent=2) + "\n"
        )  # json.dumps(..., ensure_ascii=False)'s text, 5x faster
    elif format == "csv":
        body = to_csv(run, labels).decode("utf-8")
    else:
        body = "\n".join(summary_lines(run)) + "\n"
    if output == "-" and format in ("json", "csv"):
        # a file's bytes (UTF-8, the CSV's byte order mark included: RFC 8259 for the JSON,
        # Excel for the CSV), as ``ledger export`` writes them, whatever the terminal's
        # encoding: a Latin-1 one could not encode the mark
        write_utf8(body)
    elif output == "-":
        sys.stdout.write(body)  # for a person: in any terminal's encoding (plain_terminal)
    else:
        try:
            Path(output).write_text(body, encoding="utf-8", newline="")
        except OSError as err:  # checked before the run, but the disk may fill up since
            typer.echo(
                f"error: --output {output}: {err.strerror} (run {run.id} is stored)", err=True
            )
            raise typer.Exit(2) from None
        typer.echo("\n".join(summary_lines(run)), err=True)
    # 1 while anything is left for a human: an open discrepancy, or a suggestion to decide
    waiting = run.summary.get("open", 0) or any(x.status == "open" for x in run.suggestions)
    finish(1 if waiting else 0)


def _settings() -> Settings:
    """The settings, or exit 2 with one line per bad one (1 means "discrepancies are
    open": a script must not read a misconfiguration as that)."""
    from pydantic import ValidationError

    from regie.kit.settings import settings_errors

    try:
        return load_settings()
    except ValidationError as exc:
        for line in settings_errors(exc):
            typer.echo(f"error: {line}", err=True)
        raise typer.Exit(2) from None


def _prefetch(
    settings: Settings, lo: dt.date, hi: dt.date, provider: str | None
) -> LedgerPrefetch | None:
    """The ledger's hand-over for a run on PostgreSQL (the bulk path's), started now."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from reconciliation.ledger_copy import LedgerPrefetch, window_for

    url = settings.database_url
    try:
        if make_url(url).get_backend_name() != "postgresql":
            return None
    except ArgumentError:
        return None  # the database check says what is wrong
    return LedgerPrefetch(url, window_for(provider or settings.psp, lo, hi))


def _run(
    settings: Settings,
    lo: dt.date,
    hi: dt.date,
    report: tuple[str, bytes] | None,
    statements: list[tuple[str, bytes]],
    day: dt.date | None,
    provider: str | None,
    prefetch: LedgerPrefetch | None,
    with_labels: bool = False,
) -> tuple[RunOut, dict[str, KeyLabel]]:
    """The run made and read back, with the labels of the keys that decided on its
    findings when ``with_labels`` (the CSV says who by them, as the API's does)."""
    check_database(settings, exit_code=2)  # 1 means "discrepancies are open"
    from reconciliation.schemas import run_out
    from reconciliation.service import ReconciliationService, ReconConfig, RunRequest
    from reconciliation.sources.errors import SourceError
    from regie.kit.database import Database
    from regie.kit.errors import ApiError
    from regie.kit.settings import UnsafeSettingsError

    # the PSP reconciled: a report is its word (no adapter is built, nor imported: that cost
    # the run 0.1 s before DuckDB could start); without one, its settlement lines are asked
    req = RunRequest(lo, hi, "cli", stripe_csv=report, camt053=statements, as_of=day,
                     provider=provider or settings.psp,
                     started_at=prefetch.started if prefetch else None)  # fmt: skip

    async def go() -> tuple[RunOut, dict[str, KeyLabel]]:
        # what a run needs, not the whole application (importing it costs seconds)
        db = Database(settings.database_url)
        clients: list[httpx.AsyncClient] = []
        recon = ReconciliationService(
            db,
            None if report else _providers(settings, db, clients),
            ReconConfig.from_settings(settings),
        )
        try:
            with _progress() as step:
                run_id = await recon.start_run(req, step, prefetch)
            v = await recon.get_run(run_id)
            out = run_out(v.run, v.discrepancies, v.suggestions, v.decisions)
            return out, (await recon.actor_labels(out) if with_labels else {})
        finally:
            for client in clients:
                await client.aclose()
            await db.dispose()

    try:
        return run_async(go())
    except (SourceError, UnsafeSettingsError) as err:  # a PSP refusing the settings too
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    except ApiError as err:
        option = _OPTIONS.get(err.param or "")  # the API's parameter, named as the command's
        typer.echo(
            f"error: {option}: {err.message}" if option else f"error: {err.message}", err=True
        )
        raise typer.Exit(2) from None


def _providers(
    settings: Settings, db: Database, clients: list[httpx.AsyncClient]
) -> ProviderRegistry:
    """The PSPs this regie runs, built for one command; their HTTP clients go to
    ``clients``, for the command to close."""
    from payments.providers.adapters import ADAPTERS, enabled_providers
    from payments.providers.context import BuildContext
    from payments.providers.registry import ProviderRegistry

    ctx = BuildContext(settings, db, None, clients)
    return ProviderRegistry(
        [ADAPTERS[name](ctx) for name in enabled_providers(settings)], default=settings.psp
    )


@contextmanager
def _progress() -> Iterator[Callable[[str, int], None]]:
    """A run's step reporter: a spinner with the step and its rows on a terminal, nothing
    otherwise (and then rich's progress is not imported)."""
    if not sys.stderr.isatty():
        yield lambda _what, _n: None
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), transient=True) as bar:
        task = bar.add_task("reading", total=None)

        def step(what: str, n: int) -> None:
            bar.update(task, description=f"{what}: {n:,} rows")

        yield step


bank_statement_app = typer.Typer(help="Bank statements (camt.053).", no_args_is_help=True)


@bank_statement_app.command("show")
def bank_statement_show(
    file: Annotated[str, typer.Argument(help="A camt.053 file (versions 001.02 to 001.08)")],
    format: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Print what regie reads in a camt.053 statement, storing nothing. Exit 2 when the file
    cannot be read or the import would refuse it (another account or currency than
    REGIE_BANK_IBAN / REGIE_BANK_CURRENCY); consistency problems (balances, sequence
    gaps) are listed, exit 0."""

    from reconciliation.config import ReconConfig
    from reconciliation.sources.camt053 import parse_camt053
    from reconciliation.sources.camt053_account import compact_iban, import_account
    from reconciliation.sources.errors import SourceError
    from reconciliation.sources.messages import msg
    from reconciliation.sources.show import AccountCheck, bank_statement_json, bank_statement_table

    if format not in ("table", "json"):
        typer.echo("error: --format is table or json", err=True)
        raise typer.Exit(2)
    settings = load_settings()
    config = ReconConfig.from_settings(settings)  # what the import checks against
    check = AccountCheck(
        iban=compact_iban(config.bank_iban),
        currency=config.bank_currency,
        demo_iban=config.bank_iban is not None and "bank_iban" not in settings.model_fields_set,
    )
    limit = config.max_file_bytes
    try:
        with open(file, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > limit:  # said with its real size, not read
                raise SourceError(file, None, msg("file_too_large", size=size, limit=limit))
            data = fh.read(limit + 1)  # one byte more: the parser names the limit
        statement = parse_camt053(data, file, max_bytes=limit)
        import_account(statement, check.iban, check.currency)  # what the import refuses too
    except OSError as exc:
        typer.echo(f"error: {file}: cannot read it ({exc.strerror or exc})", err=True)
        raise typer.Exit(2) from None
    except SourceError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if format == "json":
        doc = bank_statement_json(statement, check)
        write_utf8(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        return
    from rich.console import Console

    Console().print(bank_statement_table(statement, check))
