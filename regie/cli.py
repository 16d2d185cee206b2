"""The ``regie`` command line (part of the composition root)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import signal
import sys
from typing import Annotated

import typer

from regie.kit.settings import Settings

app = typer.Typer(
    help="regie: online payments and invoicing for public bodies.", no_args_is_help=True
)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
services_app = typer.Typer(help="Client services (tenants).", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(services_app, name="services")
app.add_typer(keys_app, name="keys")


def _settings() -> Settings:
    from regie.kit.logging import configure

    settings = Settings()
    configure(settings.log_level)
    return settings


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations to REGIE_DATABASE_URL."""
    from regie.migrate import upgrade

    upgrade(_settings().database_url)
    typer.echo("database is up to date", err=True)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
) -> None:
    """Run the API (and the worker too when REGIE_RUN_WORKER_IN_PROCESS=true)."""
    import uvicorn

    from regie.app import create_app

    settings = _settings()
    uvicorn.run(create_app(settings), host=host, port=port, proxy_headers=True, log_config=None)


@app.command()
def worker() -> None:
    """Apply webhook events and run the sweeps. Any number may run against PostgreSQL."""
    from regie.app import build_services, build_worker

    settings = _settings()
    settings.check_production()

    async def main() -> None:
        services = build_services(settings)
        w = build_worker(settings, services)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, w.stop)
        try:
            await w.run()
        finally:
            await services.close()

    asyncio.run(main())


async def _with_session(settings: Settings, fn):  # type: ignore[no-untyped-def]
    from regie.kit.database import Database

    db = Database(settings.database_url)
    try:
        async with db.session() as s:
            result = await fn(s)
            await s.commit()
            return result
    finally:
        await db.dispose()


@services_app.command("create")
def services_create(
    name: Annotated[str, typer.Argument(help="Short name, e.g. urbanisme")],
    display_name: Annotated[str | None, typer.Option(help="Name shown to citizens")] = None,
    address: Annotated[str, typer.Option(help="Postal address on receipts")] = "",
    identifier: Annotated[str, typer.Option(help="SIRET or similar")] = "",
    timezone: Annotated[str, typer.Option(help="IANA time zone")] = "Europe/Paris",
) -> None:
    """Create a client service (tenant)."""
    from regie.kit.tenancy import TenancyError, create_service

    async def go(s):  # type: ignore[no-untyped-def]
        return await create_service(
            s, name, display_name, address=address, identifier=identifier, timezone=timezone
        )

    try:
        svc = asyncio.run(_with_session(_settings(), go))
    except TenancyError as exc:
        _fail(str(exc))
    typer.echo(svc.id)


@keys_app.command("create")
def keys_create(
    service: Annotated[str, typer.Option(help="The service's short name")],
    role: Annotated[str, typer.Option(help="service, finance or admin")] = "service",
) -> None:
    """Create an API key; prints the key alone on stdout (it is shown only once)."""
    from regie.kit.tenancy import Role, TenancyError, create_key, get_service_by_slug

    settings = _settings()
    if role not in {r.value for r in Role}:
        _fail("role is service, finance or admin")

    async def go(s):  # type: ignore[no-untyped-def]
        svc = await get_service_by_slug(s, service)
        if svc is None:
            return None
        production = settings.env == "production"
        return (await create_key(s, svc, Role(role), live=production, production=production))[1]

    try:
        raw = asyncio.run(_with_session(settings, go))
    except TenancyError as exc:
        _fail(str(exc))
    if raw is None:
        _fail(f"no service named {service!r} (create it with `regie services create {service}`)")
    typer.echo(raw)


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(help="The key's id (key_…) or the key itself")],
) -> None:
    """Revoke an API key at once."""
    from regie.kit.tenancy import TenancyError, revoke_key

    async def go(s):  # type: ignore[no-untyped-def]
        return await revoke_key(s, key)

    try:
        row = asyncio.run(_with_session(_settings(), go))
    except TenancyError as exc:
        _fail(str(exc))
    typer.echo(f"revoked {row.id}", err=True)


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    seed_only: Annotated[bool, typer.Option(help="Migrate and seed, then exit")] = False,
) -> None:
    """SQLite + simulator PSP, sample services and invoices, API and worker in one process."""
    os.environ.setdefault("REGIE_DATABASE_URL", "sqlite+aiosqlite:///./regie-demo.db")
    os.environ.setdefault("REGIE_BASE_URL", f"http://{host}:{port}")
    os.environ["REGIE_PSP"] = "simulator"
    os.environ["REGIE_RUN_WORKER_IN_PROCESS"] = "true"
    settings = _settings()
    if settings.env == "production":
        _fail("regie demo refuses REGIE_ENV=production")
    from regie.demo import DEMO_KEYS, foreign_data, seed
    from regie.migrate import upgrade

    # The demo's keys are public: never write them next to anything else (checked before
    # the migrations run, so a refused database is not touched at all).
    other = asyncio.run(foreign_data(settings.database_url))
    if other is not None:
        _fail(
            f"regie demo refuses {settings.database_url}: it holds {other}, and the demo "
            "would write its public test keys next to them. Point REGIE_DATABASE_URL at "
            "an empty database (the default is ./regie-demo.db)."
        )
    upgrade(settings.database_url)
    invoices = asyncio.run(seed(settings))
    lines = [
        "",
        "regie demo is ready (SQLite + simulator PSP; API and worker in one process)",
        f"  API:            {settings.base_url}/v1/invoices",
        f"  API reference:  {settings.base_url}/docs",
        f"  database:       {settings.database_url}",
        "",
        "  demo keys (test keys, demo only):",
    ]
    lines += [f"    {slug:<12} {role:<8} {raw}" for slug, role, raw in DEMO_KEYS]
    lines += ["", "  sample pay links (use card 4242 4242 4242 4242, any future date, any code):"]
    lines += [f"    {number}  {url}" for number, url in invoices]
    lines.append("")
    print("\n".join(lines), file=sys.stderr, flush=True)
    if seed_only:
        return
    import uvicorn

    from regie.app import create_app

    uvicorn.run(create_app(settings), host=host, port=port, log_config=None)


def main() -> None:
    app()


ledger_app = typer.Typer(help="The double-entry ledger.", no_args_is_help=True)
app.add_typer(ledger_app, name="ledger")


def _ledger(settings: Settings):  # type: ignore[no-untyped-def]
    from ledger.service import LedgerService
    from regie.kit.database import Database

    return LedgerService(Database(settings.database_url))


@ledger_app.command("seal")
def ledger_seal() -> None:
    """Seal committed entries into the hash chain now (the worker does it continuously)."""
    svc = _ledger(_settings())

    async def go() -> int:
        total = 0
        try:
            while n := await svc.seal():
                total += n
        finally:
            await svc.db.dispose()
        return total

    typer.echo(f"sealed {asyncio.run(go())} entries", err=True)


@ledger_app.command("verify")
def ledger_verify(
    seal_first: Annotated[bool, typer.Option(help="Seal pending entries first")] = False,
) -> None:
    """Re-compute the hash chain; exit 1 and name the first entry that no longer matches."""
    svc = _ledger(_settings())

    async def go():  # type: ignore[no-untyped-def]
        try:
            if seal_first:
                while await svc.seal():
                    pass
            return await svc.verify()
        finally:
            await svc.db.dispose()

    result = asyncio.run(go())
    if result.ok:
        typer.echo(
            f"ledger OK: {result.sealed} sealed entries verified, {result.unsealed} awaiting sealing"
        )
        return
    typer.echo(
        f"ledger TAMPERED: entry {result.first_bad_entry}: {result.reason} "
        f"({result.sealed} entries verified before it)",
        err=True,
    )
    raise typer.Exit(1)


@ledger_app.command("export")
def ledger_export(
    format: Annotated[str, typer.Option("--format", help="csv or fec")] = "csv",
    date_from: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD")] = "2000-01-01",
    date_to: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD")] = "2100-12-31",
    currency: Annotated[str, typer.Option(help="FEC: the accounting currency")] = "EUR",
    output: Annotated[str, typer.Option(help="File to write (default: stdout)")] = "-",
) -> None:
    """Export journal lines of entries effective between two days (Europe/Paris)."""
    from ledger.export import day_bounds, write_csv, write_fec

    if format not in ("csv", "fec"):
        _fail("--format is csv or fec")
    try:
        lo, hi = day_bounds(dt.date.fromisoformat(date_from), dt.date.fromisoformat(date_to))
    except ValueError:
        _fail("dates are YYYY-MM-DD")
    svc = _ledger(_settings())

    async def go():  # type: ignore[no-untyped-def]
        try:
            return [x async for x in svc.export_lines(lo, hi)]
        finally:
            await svc.db.dispose()

    lines = asyncio.run(go())
    out = sys.stdout if output == "-" else open(output, "w", encoding="utf-8", newline="")
    try:
        count = write_fec(lines, out, currency) if format == "fec" else write_csv(lines, out)
    finally:
        if out is not sys.stdout:
            out.close()
    typer.echo(f"exported {count} lines", err=True)


simulator_app = typer.Typer(
    help="The simulator PSP and the bank it pays into (development and demos).",
    no_args_is_help=True,
)
app.add_typer(simulator_app, name="simulator")


def _simulator_settings() -> Settings:
    settings = _settings()
    if settings.env == "production":
        _fail("the simulator refuses REGIE_ENV=production")
    return settings


def _period(date_from: str, date_to: str) -> tuple[dt.date, dt.date]:
    try:
        first, last = dt.date.fromisoformat(date_from), dt.date.fromisoformat(date_to)
    except ValueError:
        raise typer.BadParameter("dates are YYYY-MM-DD") from None
    if last < first:
        raise typer.BadParameter("--to is before --from")
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
    Stripe's automatic payouts) and send payout.paid and payout.reconciled to regie."""
    from payments.providers.simulator.commands import pay_out_now
    from regie.kit.money import format_money

    settings = _simulator_settings()
    if settings.psp != "simulator":
        _fail(f"the simulator is not this regie's PSP (REGIE_PSP={settings.psp})")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per webhook POST
    made = asyncio.run(pay_out_now(settings))
    if not made:
        typer.echo("nothing to pay out: the simulator's balance is empty", err=True)
        return
    for m in made:
        p = m.payout
        sent = "events delivered" if m.delivered else "events queued (the worker re-sends them)"
        typer.echo(
            f"{p.id}  {format_money(p.amount, p.currency, 'en')}  {m.line_count} transaction(s)"
            f"  arrives {p.arrival_date}  {sent}"
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
    report = asyncio.run(settlement_report(_simulator_settings(), first, last))
    _write(output, report.content)
    typer.echo(f"wrote {report.rows} transaction(s) of {report.payouts} payout(s)", err=True)


@simulator_app.command("bank-statement")
def simulator_bank_statement(
    date_from: Annotated[str, _FROM],
    date_to: Annotated[str, _TO],
    output: Annotated[str, _OUTPUT] = "-",
) -> None:
    """The camt.053.001.08 the bank sends for REGIE_BANK_IBAN: one statement per day, one
    credit per payout."""
    from payments.providers.simulator.commands import bank_statement_file

    first, last = _period(date_from, date_to)
    report = asyncio.run(bank_statement_file(_simulator_settings(), first, last))
    _write(output, report.content)
    days = (last - first).days + 1
    typer.echo(f"wrote {days} statement(s) with {report.payouts} payout credit(s)", err=True)
    if report.left_out:
        typer.echo(f"left out {report.left_out} payout(s) in other currencies", err=True)
