"""Reading runs back: the list, one run with its findings and the decisions in force, and
what is still open. A mixin of ``service.ReconciliationService``, as ``decisions`` is."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reconciliation import repository as repo
from reconciliation.models import ReconDecision, ReconDiscrepancy, ReconRun, ReconSuggestion
from regie.kit.database import Database
from regie.kit.errors import NotFound


class RunViews:
    db: Database

    async def list_runs(self, limit: int = 50) -> list[ReconRun]:
        async with self.db.session() as s:
            return await repo.list_runs(s, limit)

    async def resolved_amounts(self, run_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """Per run and currency, the amount of its discrepancies settled since."""
        async with self.db.session() as s:
            return await repo.resolved_amounts(s, run_ids)

    async def get_run(self, run_id: str) -> RunView:
        async with self.db.session() as s:
            run = await repo.get_run(s, run_id)
            if run is None:
                raise NotFound("reconciliation", "id")
            dis = await repo.discrepancies(s, run_id)
            sug = await repo.suggestions(s, run_id)
            decided = await repo.run_decisions(s, run_id)
        return RunView(run, dis, sug, decided)

    async def open_discrepancies(self) -> int:
        async with self.db.session() as s:
            return await repo.count_open(s)


@dataclass
class RunView:
    run: ReconRun
    discrepancies: list[ReconDiscrepancy]
    suggestions: list[ReconSuggestion]
    decisions: dict[str, ReconDecision]

    def status_of(self, key: str) -> str:
        d = self.decisions.get(key)
        if d is None:
            return "open"
        return {"resolve": "resolved", "confirm": "confirmed", "reject": "rejected"}[d.action]

    @property
    def open_count(self) -> int:
        return sum(1 for d in self.discrepancies if self.status_of(d.key) == "open")
