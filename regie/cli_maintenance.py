"""``regie maintenance``: housekeeping (``regie.maintenance``); the worker prunes daily."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer

from regie.cli_common import database_settings, fail, run_async, write_utf8

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

    settings = database_settings()

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

    settings = database_settings()
    settings.check_sealing_key()

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

    settings = database_settings()

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


@maintenance_app.command("dead-events")
def dead_events(
    format: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """List the PSP events the worker gave up on (dead letters), oldest first: those that
    kept failing (REGIE_WORKER_MAX_ATTEMPTS) and those that waited a week for an event that
    never came. Fix the cause, then `regie maintenance requeue`."""
    from regie.kit.database import Database
    from webhooks.inbound.dead import dead_events as listed

    if format not in ("table", "json"):
        fail(f"--format must be table or json, not {format!r}", 2)
    settings = database_settings()

    async def go() -> None:
        db = Database(settings.database_url)
        try:
            rows = await listed(db)
        finally:
            await db.dispose()
        if format == "json":
            doc = [
                {"id": r.id, "provider": r.provider, "event_id": r.event_id,
                 "type": r.raw_type, "received_at": r.received_at.isoformat(),
                 "attempts": r.attempts, "last_error": r.last_error}
                for r in rows
            ]  # fmt: skip
            write_utf8(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
            return
        if not rows:
            typer.echo("no dead events")
            return
        for r in rows:
            error = " ".join((r.last_error or "").split())
            typer.echo(
                f"{r.id}  {r.received_at:%Y-%m-%d %H:%M}Z  {r.provider}  {r.raw_type}  "
                f"{r.event_id}  attempts {r.attempts}  {error[:160]}"
            )
        typer.echo(f"{len(rows)} dead events")

    asyncio.run(go())


@maintenance_app.command("requeue")
def requeue(
    ids: Annotated[
        list[str] | None, typer.Argument(help="Inbox ids (the first column of dead-events)")
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="Every dead event")] = False,
) -> None:
    """Put dead PSP events back in the inbox, due now, with their attempts back to zero: a
    running worker applies them, exactly once. Give their ids, or --all. An event still
    waiting for another (a refund before its payment's success) is dead again at once,
    with the same reason. Exit 2 (a bad argument) when an id given is not a dead event; the
    others given are re-queued."""
    from regie.kit.database import Database
    from webhooks.inbound.dead import requeue as run_requeue

    if bool(ids) == every:
        fail("give the ids of the dead events to re-queue, or --all", 2)
    settings = database_settings()

    async def go() -> list[str]:
        db = Database(settings.database_url)
        try:
            return await run_requeue(db, None if every else ids)
        finally:
            await db.dispose()

    done = run_async(go())  # the ids: not formatted as asyncio.run's task ends
    for inbox_id in done:
        typer.echo(f"re-queued {inbox_id}")
    typer.echo(f"re-queued {len(done)} dead events; a running worker applies them")
    missed = sorted(set(ids or ()) - set(done))
    if missed:
        fail(f"not a dead event: {', '.join(missed)}", 2)
