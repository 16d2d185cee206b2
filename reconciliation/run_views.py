"""Reading runs back: the list, one run with its findings and the decisions in force, and
what is still open. A mixin of ``service.ReconciliationService``, as ``decisions`` is."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reconciliation import repository as repo
from reconciliation.models import ReconDecision, ReconDiscrepancy, ReconRun, ReconSuggestion
from reconciliation.schemas import RunOut
from regie.kit.database import Database
from regie.kit.errors import NotFound
from regie.kit.tenancy import KeyLabel, key_labels


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

    async def actor_labels(self, run: RunOut) -> dict[str, KeyLabel]:
        """The labels of the keys that ran ``run`` or decided on its findings: its reports
        say who by the key's service, role and prefix, never by the raw key id."""
        actors = [run.actor]
        actors += [x.decision.actor for x in run.suggestions if x.decision]
        actors += [d.resolution.actor for d in run.discrepancies if d.resolution]
        async with self.db.session() as s:
            return await key_labels(s, actors)

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
