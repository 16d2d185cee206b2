"""``regie ledger …``: seal, verify and export the double-entry ledger (CSV and FEC), and
read its balances."""

from __future__ import annotations

import datetime as dt
import io
import json
import sys
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

from regie.cli_common import check_output, database_settings, fail, run_async, write_utf8
from regie.kit.instants import iso_day
from regie.kit.settings import Settings

ledger_app = typer.Typer(help="The double-entry ledger.", no_args_is_help=True)


def _ledger(settings: Settings):  # type: ignore[no-untyped-def]
    from ledger.service import LedgerService
    from regie.kit.database import Database

    return LedgerService(Database(settings.database_url))


def _paris_edge(day: dt.date, option: str, *, end: bool = False) -> dt.datetime:
    """The instant ``day`` begins (``end``: ends) in Paris time, in UTC; a day whose edge is
    not an instant (1 January of the year 1, 31 December 9999) is a bad argument, exit 2."""
    from ledger.export import day_end, day_start

    try:
        return day_end(day) if end else day_start(day)
    except OverflowError:
        edge = "end" if end else "start"
        fail(
            f"{option} {day} is out of range: its {edge} in Paris time must be an instant "
            "of the years 0001 to 9999",
            2,
        )


@ledger_app.command("seal")
def ledger_seal() -> None:
    """Seal committed entries into the hash chain now (the worker does it continuously)."""
    svc = _ledger(database_settings())

    async def go() -> int:
        total = 0
        try:
            while n := await svc.seal():
                total += n
        finally:
            await svc.db.dispose()
        return total

    typer.echo(f"sealed {run_async(go())} entries", err=True)


@ledger_app.command("verify")
def ledger_verify(
    seal_first: Annotated[bool, typer.Option(help="Seal pending entries first")] = False,
    head: Annotated[
        str | None,
        typer.Option(
            help="POSITION:HASH, the head an earlier verify gave: the chain must still hold it "
            "(finds a removed tail, or a chain rewritten up to it)"
        ),
    ] = None,
) -> None:
    """Re-compute the hash chain; exit 1 and name the first entry that no longer matches."""
    expected = None
    if head is not None:
        position, _, digest = head.partition(":")
        digest = digest.lower()
        hexadecimal = len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)
        if not (position.isascii() and position.isdigit() and hexadecimal):
            fail("--head is POSITION:HASH, as verify gives it (1042:3f9a…, 64 hex digits)", 2)
        expected = (int(position), digest)
    svc = _ledger(database_settings())

    async def go():  # type: ignore[no-untyped-def]
        try:
            if seal_first:
                while await svc.seal():
                    pass
            return await svc.verify(head=expected)
        finally:
            await svc.db.dispose()

    result = run_async(go())
    if result.ok:
        at = f"; head {result.head[0]}:{result.head[1]}" if result.head else ""
        typer.echo(
            f"ledger OK: {result.sealed} sealed entries verified, {result.unsealed} awaiting "
            f"sealing{at}"
        )
        return
    where = f"entry {result.first_bad_entry}: " if result.first_bad_entry else ""
    typer.echo(
        f"ledger TAMPERED: {where}{result.reason} ({result.sealed} entries verified before it)",
        err=True,
    )
    raise typer.Exit(1)


@ledger_app.command("export")
def ledger_export(
    format: Annotated[str, typer.Option("--format", help="csv or fec")] = "csv",
    date_from: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD")] = "2000-01-01",
    date_to: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD")] = "2100-12-31",
    currency: Annotated[str, typer.Option(help="FEC: the accounting currency")] = "EUR",
    siren: Annotated[
        str | None,
        typer.Option(help="FEC: the body's SIREN (default: the one its services' SIRETs share)"),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            help="File to write, - for stdout (default: csv to stdout, "
            "fec to <SIREN>FEC<YYYYMMDD>.txt, named after --to)",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Export journal lines of entries effective between two days (Europe/Paris)."""
    from ledger.export import FEC_ENCODING, left_out, write_csv, write_fec
    from ledger.fec_labels import fec_filename
    from regie.fec import fec_pieces, fec_siren

    # a bad argument is exit 2, as click's own (1 is for what the command found)
    if format not in ("csv", "fec"):
        fail("--format is csv or fec", 2)
    try:
        first, last = iso_day(date_from), iso_day(date_to)
    except ValueError:
        fail("dates are YYYY-MM-DD", 2)
    if last < first:
        fail(f"--to {last} is before --from {first}", 2)
    if siren is not None and not (siren.isascii() and siren.isdigit() and len(siren) == 9):
        fail("--siren is 9 digits", 2)
    if not (len(currency) == 3 and currency.isascii() and currency.isupper()):
        fail(f"--currency is three capital letters (EUR), not {currency!r}", 2)
    if output not in (None, "-"):
        check_output(Path(output))
    lo, hi = _paris_edge(first, "--from"), _paris_edge(last, "--to", end=True)
    svc = _ledger(database_settings())

    async def go():  # type: ignore[no-untyped-def]
        try:
            async with svc.snapshot() as ledger:  # the lines and the opening: one moment
                lines = [x async for x in ledger.lines(lo, hi)]
                if format != "fec":
                    return lines, {}, [], None
                opening = await ledger.balances(as_of=lo)
            pieces = await fec_pieces(svc.db, {x.invoice_id for x in lines if x.invoice_id})
            return lines, pieces, opening, siren or await fec_siren(svc.db)
        finally:
            await svc.db.dispose()

    lines, pieces, opening, body_siren = run_async(go())
    if output is None:
        if format == "fec" and body_siren is None:
            fail(
                "no SIREN to name the FEC after (the services' SIRETs share none): "
                "give --siren 123456789, or --output FILE",
                2,
            )
        output = fec_filename(body_siren, last) if format == "fec" else "-"
        if output != "-":
            check_output(Path(output))
    encoding = FEC_ENCODING if format == "fec" else "utf-8"
    if output == "-":  # to stdout, the file's bytes too (piped to a file), not the terminal's
        out: TextIO = io.StringIO(newline="")  # encoding: a CSV is UTF-8 with its mark
    else:
        out = open(output, "w", encoding=encoding, newline="")
    try:
        if format == "fec":
            count = write_fec(
                lines, out, currency, pieces=pieces, opening=opening, opening_day=first
            )
        else:
            count = write_csv(lines, out)
    finally:
        if output != "-":
            out.close()
    if isinstance(out, io.StringIO):
        sys.stdout.buffer.write(out.getvalue().encode(encoding))
        sys.stdout.buffer.flush()
    where = "" if output == "-" else f" to {output}"
    typer.echo(f"exported {count} lines{where}", err=True)
    if format == "fec":
        for cur, n in left_out(lines, currency).items():
            typer.echo(
                f"warning: left out {n} lines in {cur}: a FEC holds the lines of one currency "
                f"({currency}; --currency {cur} writes the others)",
                err=True,
            )


@ledger_app.command("balances")
def ledger_balances(
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="YYYY-MM-DD: the balances at the end of that day in Paris time (Europe/Paris, "
            "as the workspace's /finance/ledger?at= and the FEC: an entry at 23:30 UTC on "
            "31 October is on 1 November); default: now",
            show_default=False,
        ),
    ] = None,
    format: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Each account's balance per currency, as GET /v1/ledger/accounts gives it: JSON in
    integer minor units, the table in exact decimals."""
    from ledger.chart import account_type, natural_balance, normal_side

    if format not in ("table", "json"):
        fail("--format is table or json", 2)
    day = None
    if at is not None:
        try:
            day = iso_day(at)
        except ValueError:
            fail("--at is a day, YYYY-MM-DD", 2)
    # the end of the Paris day D: the first instant of D+1 in Paris, as the ledger page's
    as_of = _paris_edge(day, "--at", end=True) if day is not None else None
    svc = _ledger(database_settings())

    async def go():  # type: ignore[no-untyped-def]
        try:
            return await svc.balances(as_of=as_of)
        finally:
            await svc.db.dispose()

    rows = [
        {
            "account": b.account,
            "type": account_type(b.account).value,
            "normal_side": normal_side(b.account),
            "currency": b.currency,
            "debit": b.debit,
            "credit": b.credit,
            "balance": natural_balance(b.account, b.debit, b.credit),
        }
        for b in run_async(go())
    ]
    if format == "json":
        stamp = as_of.isoformat().replace("+00:00", "Z") if as_of else None
        doc = {"at": day.isoformat() if day else None, "as_of": stamp, "data": rows}
        write_utf8(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        return
    typer.echo(_balances_table(rows))
    when = f"at the end of {day} (Paris time)" if day else "now"
    typer.echo(f"{len(rows)} balances {when}", err=True)


def _balances_table(rows: list[dict[str, Any]]) -> str:
    """Aligned columns; amounts as exact decimals of their currency (never a float)."""
    from regie.kit.money import to_decimal

    head = ["account", "currency", "debit", "credit", "balance"]
    body = [
        [r["account"], r["currency"]] + [f"{to_decimal(r[k], r['currency']):f}" for k in head[2:]]
        for r in rows
    ]
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]
    return "\n".join(
        "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(x, widths, strict=True))
        )
        for x in [head, *body]
    )
