"""The ``regie`` command line (part of the composition root)."""

from __future__ import annotations

import asyncio
import datetime as dt
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


_SUFFIX_HELP = (
    "Printed after the Stripe account's prefix on payers' card statements "
    "(Stripe's rules: 22 characters in all, Latin letters, no < > \\ ' \" *)"
)


_EMAIL_HELP = "Email address citizens write to (on receipts and pay pages)"
_PHONE_HELP = "Phone number citizens call (on receipts and pay pages)"
_HOURS_HELP = "Opening hours, as you word them, e.g. 'Lundi–vendredi 9 h – 12 h'"
_REGIE_HELP = "Name of the régie that collects for the service (on receipts)"


def _checked_suffix(settings: Settings, suffix: str | None) -> str | None:
    """The suffix, if Stripe would take it after the account's prefix; exit 1 if not."""
    if not suffix:
        return None
    from payments.providers.stripe.descriptors import suffix_problem

    problem = suffix_problem(suffix, settings.stripe_statement_descriptor_prefix or None)
    if problem:
        _fail(problem)
    return suffix


@services_app.command("create")
def services_create(
    name: Annotated[str, typer.Argument(help="Short name, e.g. urbanisme")],
    display_name: Annotated[str | None, typer.Option(help="Name shown to citizens")] = None,
    address: Annotated[str, typer.Option(help="Postal address on receipts")] = "",
    identifier: Annotated[str, typer.Option(help="SIRET or similar")] = "",
    timezone: Annotated[str, typer.Option(help="IANA time zone")] = "Europe/Paris",
    statement_descriptor_suffix: Annotated[str, typer.Option(help=_SUFFIX_HELP)] = "",
    email: Annotated[str, typer.Option(help=_EMAIL_HELP)] = "",
    phone: Annotated[str, typer.Option(help=_PHONE_HELP)] = "",
    opening_hours: Annotated[str, typer.Option(help=_HOURS_HELP)] = "",
    regie_name: Annotated[str, typer.Option(help=_REGIE_HELP)] = "",
) -> None:
    """Create a client service (tenant)."""
    from regie.kit.tenancy import TenancyError, create_service, set_contact

    settings = _settings()
    suffix = _checked_suffix(settings, statement_descriptor_suffix)

    async def go(s):  # type: ignore[no-untyped-def]
        return await create_service(
            s,
            name,
            display_name,
            address=address,
            identifier=identifier,
            timezone=timezone,
            statement_descriptor_suffix=suffix,
        ), await set_contact(
            s, name, email=email, phone=phone, opening_hours=opening_hours, regie_name=regie_name
        )

    try:
        svc, _ = asyncio.run(_with_session(settings, go))
    except TenancyError as exc:
        _fail(str(exc))
    typer.echo(svc.id)


@services_app.command("set-statement-descriptor")
def services_set_statement_descriptor(
    name: Annotated[str, typer.Argument(help="The service's short name")],
    suffix: Annotated[str, typer.Argument(help=_SUFFIX_HELP + "; empty to remove it")],
) -> None:
    """Set (or remove) the words a service's payers read on their card statement."""
    from regie.kit.tenancy import TenancyError, set_statement_descriptor_suffix

    settings = _settings()
    checked = _checked_suffix(settings, suffix)

    async def go(s):  # type: ignore[no-untyped-def]
        return await set_statement_descriptor_suffix(s, name, checked)

    try:
        asyncio.run(_with_session(settings, go))
    except TenancyError as exc:
        _fail(str(exc))


@services_app.command("set-contact")
def services_set_contact(
    name: Annotated[str, typer.Argument(help="The service's short name")],
    address: Annotated[
        str | None, typer.Option(help="Postal address, lines separated by commas")
    ] = None,
    email: Annotated[str | None, typer.Option(help=_EMAIL_HELP)] = None,
    phone: Annotated[str | None, typer.Option(help=_PHONE_HELP)] = None,
    opening_hours: Annotated[str | None, typer.Option(help=_HOURS_HELP)] = None,
    regie_name: Annotated[str | None, typer.Option(help=_REGIE_HELP)] = None,
) -> None:
    """Set how citizens reach a service, printed on its receipts from now on and shown on
    the pay pages that send them to it; an option left out is kept, an empty one removed."""
    from regie.kit.tenancy import TenancyError, set_contact

    given = {
        "address": address, "email": email, "phone": phone,
        "opening_hours": opening_hours, "regie_name": regie_name,
    }  # fmt: skip

    async def go(s):  # type: ignore[no-untyped-def]
        return await set_contact(s, name, **{k: v for k, v in given.items() if v is not None})

    try:
        asyncio.run(_with_session(_settings(), go))
    except TenancyError as exc:
        _fail(str(exc))


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


def _register_subcommands() -> None:
    """Subcommands kept in modules of their own (``regie.cli_*``)."""
    from regie.cli_invoices import invoices_app
    from regie.cli_maintenance import maintenance_app
    from regie.cli_reconcile import bank_statement_app, reconcile
    from regie.cli_simulator import simulator_app

    app.add_typer(simulator_app, name="simulator")
    app.add_typer(bank_statement_app, name="bank-statement")
    app.command("reconcile")(reconcile)
    app.add_typer(maintenance_app, name="maintenance")
    app.add_typer(invoices_app, name="invoices")


_register_subcommands()


if __name__ == "__main__":
    main()
