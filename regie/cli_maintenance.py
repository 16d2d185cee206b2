"""``regie maintenance``: housekeeping (``regie.maintenance``); the worker prunes daily."""

from __future__ import annotations

import asyncio

import typer

from regie.cli_common import load_settings

maintenance_app = typer.Typer(help="Housekeeping.", no_args_is_help=True)


@maintenance_app.command("prune")
def prune() -> None:
    """Delete idempotency keys past their TTL and the bodies of notifications delivered
    before the retention period (REGIE_NOTIFICATION_RETENTION_DAYS). The worker does it
    daily; this runs it now."""
    from regie.kit.database import Database
    from regie.maintenance import prune as run_prune

    settings = load_settings()

    async def go() -> None:
        db = Database(settings.database_url)
        try:
            result = await run_prune(db, settings)
        finally:
            await db.dispose()
        typer.echo(
            f"pruned {result.idempotency_rows} idempotency keys and "
            f"{result.payloads} notification bodies"
        )

    asyncio.run(go())
