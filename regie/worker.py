"""The background worker: one loop that drains the PSP event inbox and runs the periodic
jobs each package registers (sweeps, refunds, notifications, ledger sealing, …).

The loop knows no domain: the composition root (``regie.composition.build_worker``) hands it the
drains and ``Job``s of every package's wiring (``regie.kit.wiring``). See
docs/architecture.md, "The worker".
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import time
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path

from regie.kit.database import utcnow
from regie.kit.wiring import Drain, Job

log = logging.getLogger("regie.worker")


class Worker:
    """Each tick runs every drain on up to ``batch_size`` due items, then the jobs that are
    due. It sleeps ``poll_seconds`` only when the drains handled less than a full batch."""

    def __init__(
        self,
        drains: Sequence[Drain],
        *,
        poll_seconds: float = 0.5,
        batch_size: int = 20,
        jobs: Sequence[Job] = (),
        heartbeat: Path | None = None,
    ) -> None:
        self.drains = list(drains)
        self.heartbeat = heartbeat
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.jobs = list(jobs)
        self._stop = asyncio.Event()
        self._last_run: dict[str, dt.datetime] = {}

    def stop(self) -> None:
        self._stop.set()

    async def tick(self) -> int:
        handled = 0
        for drain in self.drains:
            handled += await drain(self.batch_size)
        now = utcnow()
        for name, every, job in self.jobs:
            last = self._last_run.get(name)
            if last is None or now - last >= every:
                self._last_run[name] = now
                try:
                    await job()
                except Exception as exc:
                    log.error(
                        "periodic job failed",
                        extra={"job": name, "error_class": type(exc).__name__},
                        exc_info=exc,
                    )
        return handled

    async def run(self, *, grace_seconds: float | None = None) -> None:
        """Tick until ``stop``. A stop lets the current tick finish its events; with
        ``grace_seconds``, a tick still running that long after the stop is cancelled (its
        transaction rolls back, so its event stays pending for the next worker)."""
        log.info("worker started")
        while not self._stop.is_set():
            try:
                handled = await self._tick_within(grace_seconds)
                self._beat()
            except asyncio.CancelledError:
                if not self._stop.is_set():
                    raise
                log.warning("worker stopped mid-tick after the grace period")
                break
            except Exception as exc:
                log.error(
                    "worker tick failed", extra={"error_class": type(exc).__name__}, exc_info=exc
                )
                handled = 0
            if handled < self.batch_size:
                try:
                    await asyncio.wait_for(self._stop.wait(), timeout=self.poll_seconds)
                except TimeoutError:
                    pass
        log.info("worker stopped")

    def _beat(self) -> None:
        """After each tick that ended without an error: the heartbeat file's time set to now
        (``regie worker --healthcheck`` reads it). A file that cannot be written is said once
        a tick, never fatal: the worker's work matters more than its health report."""
        if self.heartbeat is None:
            return
        try:
            self.heartbeat.touch()
        except OSError as exc:
            log.warning("worker heartbeat not written", extra={"error_class": type(exc).__name__})

    async def _tick_within(self, grace_seconds: float | None) -> int:
        if grace_seconds is None:
            return await self.tick()
        tick = asyncio.ensure_future(self.tick())
        stop = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({tick, stop}, return_when=asyncio.FIRST_COMPLETED)
            if not tick.done():  # stopped mid-tick: let it finish, within the grace
                await asyncio.wait({tick}, timeout=grace_seconds)
            if not tick.done():
                tick.cancel()
                with suppress(asyncio.CancelledError):
                    await tick
                raise asyncio.CancelledError
            return tick.result()
        finally:
            stop.cancel()


def heartbeat_age(path: Path, now: float | None = None) -> float | None:
    """Seconds since the worker writing ``path`` last ended a tick without an error, or None
    when it never did (no file)."""
    try:
        at = os.stat(path).st_mtime
    except FileNotFoundError:
        return None
    return max(0.0, (time.time() if now is None else now) - at)
