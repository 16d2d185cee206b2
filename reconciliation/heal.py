"""Healing a run's money missing in the ledger (a mixin of ``service.ReconciliationService``):
the PSP took money regie never recorded (a lost webhook), so its events are fetched and
applied through the normal event path, and the finance officer runs the period again."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from reconciliation.ledger_copy import GRACE, day_start
from reconciliation.run_views import RunView
from regie.kit.errors import ApiError

# pulls the PSP's events since an instant into the inbox and applies them (the shell wires
# it to webhooks.inbound); returns how many events were new
Healer = Callable[[dt.datetime], Awaitable[int]]


class RunHeal:
    healer: Healer | None
    if TYPE_CHECKING:  # ``run_views.RunViews``'s (the service has both mixins)

        async def get_run(self, run_id: str) -> RunView: ...

    async def heal(self, run_id: str) -> dict[str, int]:
        """Money the PSP moved that the ledger never recorded (a lost webhook): fetch the
        PSP's events from before the earliest such line, apply them through the normal event
        path. The finance officer then runs the period again."""
        view = await self.get_run(run_id)
        missing = [d for d in view.discrepancies if d.category == "missing_in_ledger"]
        if not missing:
            return {"missing_in_ledger": 0, "events": 0}
        if self.healer is None:
            raise ApiError(409, "heal_unavailable", "Healing is not available in this process.")
        since = day_start(view.run.period_from) - GRACE
        events = await self.healer(since)
        return {"missing_in_ledger": len(missing), "events": events}
