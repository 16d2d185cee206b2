"""``regie simulator …``: the simulator PSP pays out and plays the bank (development and
demos; refused in production)."""

from __future__ import annotations

import datetime as dt
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from regie.cli_common import check_output, run_async
from regie.cli_common import database_settings as _settings
from regie.cli_common import fail as _fail
from regie.kit.instants import iso_day
from regie.kit.settings import Settings

simulator_app = typer.Typer(
    help="The simulator PSP and the bank it pays into (development and demos).",
    no_args_is_help=True,
)


def _simulator_settings() -> Settings:
    settings = _settings()
    if settings.env == "production":
        _fail("the simulator refuses REGIE_ENV=production")
    return settings


def _period(date_from: str, date_to: str) -> tuple[dt.date, dt.date]:
    try:
        first, last = iso_day(date_from), iso_day(date_to)
    except ValueError:
        _fail("dates are YYYY-MM-DD", 2)
    if last < first:
        _fail(f"--to {last} is before --from {first}", 2)
    return first, last


def _write(output: str, content: bytes) -> None:
    if output == "-":
        sys.stdout.buffer.write(content)
        sys.stdout.flush()
        return
    with open(output, "wb") as out:
        out.write(content)


_FROM = typer.Option("--from", help="First bank day (Europe/Paris), YYYY-MM-DD")
_TO = typer.Option("--to", help="Last bank day, YYYY-MM-DD")
_OUTPUT = typer.Option(help="File to write (default: stdout)")


@simulator_app.command("payout")
def simulator_payout() -> None:
    """Pay the simulator's balance out to the bank now (one payout per currency, like
    Stripe's automatic payouts; a balance refunds left negative is a negative payout, which
    debits the bank) and send payout.paid and payout.reconciled to regie."""
    from payments.providers.simulator.commands import pay_out_now
    from regie.kit.money import format_money

    settings = _simulator_settings()
    if settings.psp != "simulator":
        _fail(f"the simulator is not this regie's PSP (REGIE_PSP={settings.psp})")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per webhook POST
    made = run_async(pay_out_now(settings))
    if not made:
        typer.echo("nothing to pay out: the simulator's balance is empty", err=True)
        return
    for m in made:
        p = m.payout
        sent = "events delivered" if m.delivered else "events queued (the worker re-sends them)"
        debit = "  negative: debits the bank" if p.amount < 0 else ""
        typer.echo(
            f"{p.id}  {format_money(p.amount, p.currency, 'en')}  {m.line_count} transaction(s)"
            f"  arrives {p.arrival_date}{debit}  {sent}"
        )


@simulator_app.command("settlement-report")
def simulator_settlement_report(
    date_from: Annotated[str, _FROM],
    date_to: Annotated[str, _TO],
    output: Annotated[str, _OUTPUT] = "-",
) -> None:
    """Stripe's itemised payout reconciliation CSV for the payouts arriving in the period."""
    from payments.providers.simulator.commands import settlement_report

    first, last = _period(date_from, date_to)
    if output != "-":
        check_output(Path(output))
    report = run_async(settlement_report(_simulator_settings(), first, last))
    _write(output, report.content)
    typer.echo(f"wrote {report.rows} transaction(s) of {report.payouts} payout(s)", err=True)


@simulator_app.command("bank-statement")
def simulator_bank_statement(
    date_from: Annotated[str, _FROM],
    date_to: Annotated[str, _TO],
    output: Annotated[str, _OUTPUT] = "-",
    quirks: Annotated[
        bool,
        typer.Option(
            "--quirks",
            help="Also book a grant no payout explains, and the first payout 8 days late "
            "(to see the reconciliation find and suggest)",
        ),
    ] = False,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="The day the simulated bank writes on (YYYY-MM-DD; default: today): it "
            "writes the bank days up to it, dated at its end at the latest",
        ),
    ] = None,
) -> None:
    """The camt.053.001.08 the bank sends for REGIE_BANK_IBAN: one statement per bank day
    (Monday to Friday but TARGET2's closing days) of the period up to today, one credit per payout (a debit per
    negative payout)."""
    from payments.providers.simulator.commands import bank_statement_file
    from payments.providers.simulator.records import BANK_TZ

    first, last = _period(date_from, date_to)
    now = None
    if as_of is not None:
        day = _period(as_of, as_of)[0]
        now = dt.datetime.combine(day, dt.time(23, 59, 59), BANK_TZ)
    if output != "-":
        check_output(Path(output))
    settings = _simulator_settings()
    try:
        report = run_async(bank_statement_file(settings, first, last, quirks=quirks, now=now))
    except ValueError as e:  # no bank day in the period up to today
        _fail(str(e), 2)
    _write(output, report.content)
    debits = f" and {report.debits} negative payout debit(s)" if report.debits else ""
    typer.echo(
        f"wrote {report.statements} statement(s) with {report.payouts - report.debits} payout "
        f"credit(s){debits}",
        err=True,
    )
    if report.not_yet_booked:
        typer.echo(
            f"left {report.not_yet_booked} payout(s) the bank books after today for a later "
            "statement",
            err=True,
        )
    if report.left_out:
        typer.echo(f"left out {report.left_out} payout(s) in other currencies", err=True)
