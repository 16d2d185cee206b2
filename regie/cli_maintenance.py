"""``regie maintenance``: housekeeping (``regie.maintenance``); the worker prunes daily."""

from __future__ import annotations

import asyncio

import typer

from regie.cli_common import load_settings

maintenance_app = typer.Typer(help="Housekeeping.", no_args_is_help=True)


@maintenance_app.command("prune")
def prune() -> None:
    """Delete idempotency keys past their TTL and the bodies of notifications delivered
    or given up before the retention period (REGIE_NOTIFICATION_RETENTION_DAYS), and
    erase webhook secrets rotated out whose overlap is over, and forget the finance
    workspace's signed-out sessions once they would have ended anyway. The worker does it
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
            f"pruned {result.idempotency_rows} idempotency keys, "
            f"{result.payloads} notification bodies, "
            f"{result.expired_secrets} rotated-out webhook secrets and "
            f"{result.signed_out_sessions} signed-out workspace sessions"
        )

    asyncio.run(go())


@maintenance_app.command("reseal")
def reseal() -> None:
    """Seal every webhook endpoint secret again with the current REGIE_SECRET_KEY, after a
    change of key (list the former ones in REGIE_PREVIOUS_SECRET_KEYS while it runs; they
    can be removed afterwards)."""
    from regie.kit.database import Database
    from regie.kit.sealing import Sealer
    from webhooks.outbound.endpoints import reseal_all

    settings = load_settings()

    async def go() -> None:
        db = Database(settings.database_url)
        try:
            count = await reseal_all(db, Sealer(settings.sealing_keys))
        finally:
            await db.dispose()
        typer.echo(f"resealed {count} webhook endpoint secrets")

    asyncio.run(go())


@maintenance_app.command("psp-postings")
def psp_postings() -> None:
    """Keep the PSP postings (what reconciliation reads of the ledger's payments) of the
    payments booked without them: by processes of a regie older than migration 0021 still
    running after the upgrade. Run it once the old processes are gone; run again, it writes
    nothing."""
    from payments.accounting import keep_missing_psp_postings
    from regie.kit.database import Database

    settings = load_settings()

    async def go() -> None:
        db = Database(settings.database_url)
        try:
            async with db.session() as s:
                count = await keep_missing_psp_postings(s)
                await s.commit()
        finally:
            await db.dispose()
        typer.echo(f"kept the PSP postings of {count} ledger lines booked without them")

    asyncio.run(go())
