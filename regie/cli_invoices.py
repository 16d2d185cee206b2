"""``regie invoices import``: a CSV of invoices created as one batch, all or none.

It talks to the database directly, like the other ``regie`` commands, through the same
service function as ``POST /v1/invoice-batches`` (``PaymentsService.create_batch``), with
the same validation: on any invalid line nothing is created and every error is printed
with its line number. The services are built as the server builds them, so the batch's
notifications are queued for the service's endpoints.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from regie.cli_common import (
    check_database,
    check_output,
    fail,
    load_settings,
    read_input,
    run_async,
)

invoices_app = typer.Typer(help="Invoices.", no_args_is_help=True)

_MAX_SHOWN = 50


@invoices_app.command("import")
def import_invoices(
    # not exists=True: click boxed it as a usage error; read_input says it in one line
    file: Annotated[Path, typer.Argument(help="CSV file, one invoice per line")],
    service: Annotated[str, typer.Option("--service", help="The service's slug")],
    output: Annotated[
        Path | None,
        typer.Option(help="Write id, number, reference, payment_url of each invoice here"),
    ] = None,
    quiet: Annotated[bool, typer.Option(help="No progress bar")] = False,
) -> None:
    """Create every invoice of FILE.csv for a service, in one batch (at most 10,000).

    Columns by header name: reference, description, amount (integer, minor units:
    2500 = 25.00), currency (default EUR), payer_name, payer_email, payer_address,
    payer_company_id, payer_vat_number, expires_at, locale, return_url, and metadata.KEY
    for metadata. Comma or semicolon separated, UTF-8.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from payments.batch_csv import CsvError, param_of, parse
    from regie.composition import build_services
    from regie.kit.auth import Principal
    from regie.kit.errors import ApiError
    from regie.kit.tenancy import Role, get_service_by_slug

    settings = load_settings()
    if output is not None:  # before the batch: its invoices would be made, their links lost
        check_output(output)
    data = read_input(file, settings.max_upload_bytes)
    check_database(settings)  # before anything is built on it (SQLite would make the file)
    try:
        parsed = parse(data)
    except CsvError as exc:
        fail(f"{file}: {exc}")
        return
    if not parsed.items:
        fail(f"{file}: no invoice in the file")

    async def go(progress: Progress) -> dict[str, Any]:
        services = build_services(settings)
        try:
            async with services.db.session() as s:
                svc = await get_service_by_slug(s, service)
            if svc is None:
                fail(f"--service: no service named {service!r}", 2)  # a bad argument
                raise AssertionError  # (fail exits)
            principal = Principal("cli", svc.id, svc.slug, Role.service)
            task = progress.add_task("validating", total=len(parsed.items))

            def step(what: str, done: int, count: int) -> None:
                progress.update(task, completed=done, total=count, description=what)

            _, body = await services.payments.create_batch(
                principal, parsed.items, None, source="import", progress=step
            )
            return body  # type: ignore[no-any-return]
        finally:
            await services.close()

    progress = Progress(
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        disable=quiet or not sys.stderr.isatty(),
        transient=True,
    )
    try:
        with progress:
            body = run_async(go(progress))
    except ApiError as exc:
        _print_errors(exc, parsed.line_of, param_of, file)
        raise typer.Exit(1) from None
    if output is not None:
        _write_links(output, body["invoices"])
    typer.echo(
        f"created batch {body['id']}: {body['count']} invoices, "
        f"{body['first_number']} to {body['last_number']}"
    )


def _write_links(output: Path, invoices: list[dict[str, Any]]) -> None:
    """The links file, for a mail merge, opened in a spreadsheet: no cell it would run as a
    formula (a reference may start with ``-``), and the byte order mark Excel needs to read
    UTF-8 (``regie.kit.spreadsheet``)."""
    from regie.kit.spreadsheet import BOM, safe_cell

    with output.open("w", encoding="utf-8", newline="") as out:
        out.write(BOM)
        writer = csv.writer(out)
        writer.writerow(["id", "number", "reference", "payment_url"])
        for x in invoices:
            cells = (x["id"], x["number"], x["reference"], x["payment_url"])
            writer.writerow([safe_cell(c) for c in cells])


def _print_errors(exc: Any, line_of: Any, param_of: Any, file: Path) -> None:
    errors = exc.errors
    if not errors:
        where = f" ({param_of(exc.param)})" if exc.param else ""
        typer.echo(f"error: {exc.message}{where}; nothing was created", err=True)
        return
    for e in errors[:_MAX_SHOWN]:
        column = param_of(e["param"])
        typer.echo(
            f"{file}:{line_of(e['row'])}: {column or '-'}: {e['message']} ({e['code']})", err=True
        )
    if len(errors) > _MAX_SHOWN:
        typer.echo(f"… and {len(errors) - _MAX_SHOWN} more errors", err=True)
    typer.echo(f"error: {exc.message}", err=True)
