"""The ``regie`` command line (part of the composition root)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Annotated

import typer

from regie.cli_common import database_settings, run_async
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


@app.callback()
def _options(
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="The database to work on (instead of REGIE_DATABASE_URL)",
            show_default=False,
        ),
    ] = None,
) -> None:
    if database_url:
        os.environ["REGIE_DATABASE_URL"] = database_url


def _settings() -> Settings:
    """Settings for the commands that create the database (db upgrade, demo)."""
    from regie.kit.logging import configure

    settings = Settings()
    configure(settings.log_level)
    return settings


def _fail(message: str, exit_code: int = 1) -> None:
    """One line on stderr, then ``exit_code``: 2 for a bad argument (as click's own usage
    errors), 1 for what the command found (a service that exists, a test key refused)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(exit_code)


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
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="Server processes on the port, each with its own SO_REUSEPORT socket",
        ),
    ] = 1,
) -> None:
    """Run the API (and the worker too when REGIE_RUN_WORKER_IN_PROCESS=true). On SIGTERM,
    requests in flight finish (within REGIE_SHUTDOWN_GRACE_SECONDS), then it exits 0."""
    if workers > 1:
        from regie.serving import PortInUse, serve_many

        # a missing database or an unsafe production start is one error here, not a
        # traceback per process, each started again and again by the supervisor
        database_settings().check_production()
        try:
            raise typer.Exit(serve_many(host, port, workers))
        except PortInUse as exc:
            _fail(str(exc))
    from regie.app import create_app
    from regie.serving import serve as run_server

    settings = database_settings()
    run_server(create_app(settings), settings, host, port)


@app.command()
def worker() -> None:
    """Apply webhook events and run the sweeps. Any number may run against PostgreSQL."""
    from regie.app import build_services, build_worker

    settings = database_settings()
    settings.check_production()

    async def main() -> None:
        services = build_services(settings)
        w = build_worker(settings, services)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, w.stop)
        try:
            await w.run(grace_seconds=settings.shutdown_grace_seconds)
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
    from regie.kit.tenancy import SLUG_RE, TenancyError, create_service, set_contact

    if not SLUG_RE.fullmatch(name):
        _fail(f"service names are 2-40 lower-case letters, digits or dashes, not {name!r}", 2)
    settings = database_settings()
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
        svc, _ = run_async(_with_session(settings, go))
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

    settings = database_settings()
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

    if role not in {r.value for r in Role}:
        _fail(f"--role must be service, finance or admin, not {role!r}", 2)
    settings = database_settings()

    async def go(s):  # type: ignore[no-untyped-def]
        svc = await get_service_by_slug(s, service)
        if svc is None:
            return None
        production = settings.env == "production"
        return (await create_key(s, svc, Role(role), live=production, production=production))[1]

    try:
        raw = run_async(_with_session(settings, go))
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
        row = run_async(_with_session(database_settings(), go))
    except TenancyError as exc:  # no such key: a bad argument (the key itself is not shown)
        _fail(str(exc), 2)
    typer.echo(f"revoked {row.id}", err=True)


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    seed_only: Annotated[bool, typer.Option(help="Migrate and seed, then exit")] = False,
) -> None:
    """SQLite (or REGIE_DATABASE_URL) + simulator PSP, sample services and invoices, API and
    worker in one process."""
    os.environ.setdefault("REGIE_DATABASE_URL", "sqlite+aiosqlite:///./regie-demo.db")
    shown_host = f"[{host}]" if ":" in host else host  # an IPv6 address, in brackets
    os.environ.setdefault("REGIE_BASE_URL", f"http://{shown_host}:{port}")
    os.environ["REGIE_PSP"] = "simulator"
    os.environ["REGIE_RUN_WORKER_IN_PROCESS"] = "true"
    settings = _settings()
    if settings.env == "production":
        _fail("regie demo refuses REGIE_ENV=production")
    from regie.demo import PortTaken, database_shown, foreign_data, ready_lines, seed, take_port
    from regie.migrate import upgrade

    # The port first: taken, the demo says so and starts nothing (no "ready", no worker)
    listening = None
    if not seed_only:
        try:
            listening = take_port(host, port)
        except PortTaken as exc:
            _fail(str(exc))

    # The demo's keys are public: never write them next to anything else (checked before
    # the migrations run, so a refused database is not touched at all).
    other = run_async(foreign_data(settings.database_url))
    if other is not None:
        _fail(
            f"regie demo refuses {database_shown(settings.database_url)[1]}: it holds "
            f"{other}, and the demo would write its public test keys next to them. Point "
            "REGIE_DATABASE_URL at an empty database (the default is ./regie-demo.db)."
        )
    upgrade(settings.database_url)
    # seeded without the in-process worker (it would start, log before the banner and stop)
    invoices = run_async(seed(settings.model_copy(update={"run_worker_in_process": False})))
    lines = ready_lines(settings.base_url, settings.database_url, invoices, listening is not None)
    print("\n".join(lines), file=sys.stderr, flush=True)
    if listening is None:  # --seed-only
        return
    import uvicorn

    from regie.app import create_app
    from regie.serving import proxies

    config = uvicorn.Config(
        create_app(settings), host=host, port=port, log_config=None, **proxies(settings)
    )
    uvicorn.Server(config).run(sockets=[listening])


def main() -> None:
    from pydantic import ValidationError

    import regie.cli_common
    from regie.kit.settings import UnsafeSettingsError, settings_errors

    regie.cli_common.OWN_PROCESS = True  # a command may end the process (``finish``)
    try:
        app()
    except ValidationError as exc:  # a setting out of its range or not of its form
        if exc.title != "Settings":
            raise
        for line in settings_errors(exc):
            typer.echo(f"error: {line}", err=True)
        raise SystemExit(1) from None
    except UnsafeSettingsError as exc:  # a production start with unsafe settings
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None


def _register_subcommands() -> None:
    """Subcommands kept in modules of their own (``regie.cli_*``)."""
    from regie.cli_invoices import invoices_app
    from regie.cli_ledger import ledger_app
    from regie.cli_maintenance import maintenance_app
    from regie.cli_reconcile import bank_statement_app, reconcile
    from regie.cli_simulator import simulator_app

    app.add_typer(ledger_app, name="ledger")
    app.add_typer(simulator_app, name="simulator")
    app.add_typer(bank_statement_app, name="bank-statement")
    app.command("reconcile")(reconcile)
    app.add_typer(maintenance_app, name="maintenance")
    app.add_typer(invoices_app, name="invoices")


_register_subcommands()


if __name__ == "__main__":
    main()
