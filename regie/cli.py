"""The ``regie`` command line (part of the composition root)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Annotated

import typer

from regie.cli_common import database_settings, fail, run_async
from regie.kit.settings import Settings

app = typer.Typer(
    help="regie: online payments and invoicing for public bodies.", no_args_is_help=True
)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")


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


def _check_port(port: int) -> None:
    """A TCP port (0: any free one); else exit 2, a bad argument."""
    if not 0 <= port <= 65535:
        fail(f"--port is a number from 0 to 65535, not {port}", 2)


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
    _check_port(port)
    if workers > 1:
        from regie.serving import PortInUse, serve_many

        # a missing database or an unsafe production start is one error here, not a
        # traceback per process, each started again and again by the supervisor
        database_settings().check_production()
        try:
            raise typer.Exit(serve_many(host, port, workers))
        except PortInUse as exc:
            fail(str(exc))
    from regie.app import create_app
    from regie.serving import serve as run_server

    settings = database_settings()
    run_server(create_app(settings), settings, host, port)


@app.command()
def worker(
    healthcheck: Annotated[
        bool,
        typer.Option(
            "--healthcheck",
            help="Start no worker: exit 0 when the one writing REGIE_WORKER_HEARTBEAT_FILE "
            "ended a tick without an error within REGIE_WORKER_HEARTBEAT_MAX_AGE_SECONDS, "
            "else 1 (a container's health check)",
        ),
    ] = False,
) -> None:
    """Apply webhook events and run the sweeps. Any number may run against PostgreSQL."""
    if healthcheck:
        raise typer.Exit(_worker_health())
    from regie.composition import build_services, build_worker

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


def _worker_health() -> int:
    from regie.cli_common import load_settings
    from regie.worker import heartbeat_age

    settings = load_settings()
    path, limit = settings.worker_heartbeat_file, settings.worker_heartbeat_max_age_seconds
    if path is None:
        typer.echo("error: REGIE_WORKER_HEARTBEAT_FILE is not set: no worker writes one", err=True)
        return 2
    age = heartbeat_age(path)
    if age is None:
        typer.echo(f"unhealthy: no tick has ended without an error yet ({path} is missing)")
        return 1
    if age > limit:
        typer.echo(f"unhealthy: the last good tick ended {age:.0f} s ago (limit {limit} s)")
        return 1
    typer.echo(f"healthy: the last good tick ended {age:.0f} s ago")
    return 0


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    seed_only: Annotated[bool, typer.Option(help="Migrate and seed, then exit")] = False,
) -> None:
    """SQLite (or REGIE_DATABASE_URL) + simulator PSP, sample services and invoices, API and
    worker in one process."""
    _check_port(port)  # before it makes REGIE_BASE_URL of it
    os.environ.setdefault("REGIE_DATABASE_URL", "sqlite+aiosqlite:///./regie-demo.db")
    shown_host = f"[{host}]" if ":" in host else host  # an IPv6 address, in brackets
    os.environ.setdefault("REGIE_BASE_URL", f"http://{shown_host}:{port}")
    os.environ["REGIE_PSP"] = "simulator"
    os.environ["REGIE_RUN_WORKER_IN_PROCESS"] = "true"
    settings = _settings()
    if settings.env == "production":
        fail("regie demo refuses REGIE_ENV=production")
    from regie.demo import PortTaken, database_shown, foreign_data, ready_lines, seed, take_port
    from regie.migrate import upgrade

    # The port first: taken, the demo says so and starts nothing (no "ready", no worker)
    listening = None
    if not seed_only:
        try:
            listening = take_port(host, port)
        except PortTaken as exc:
            fail(str(exc))

    # The demo's keys are public: never write them next to anything else (checked before
    # the migrations run, so a refused database is not touched at all).
    other = run_async(foreign_data(settings.database_url))
    if other is not None:
        fail(
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
    regie.cli_common.plain_terminal()  # any terminal's encoding: never a UnicodeEncodeError
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
    from regie.cli_services import keys_app, services_app
    from regie.cli_simulator import simulator_app

    app.add_typer(services_app, name="services")
    app.add_typer(keys_app, name="keys")
    app.add_typer(ledger_app, name="ledger")
    app.add_typer(simulator_app, name="simulator")
    app.add_typer(bank_statement_app, name="bank-statement")
    app.command("reconcile")(reconcile)
    app.add_typer(maintenance_app, name="maintenance")
    app.add_typer(invoices_app, name="invoices")


_register_subcommands()


if __name__ == "__main__":
    main()
