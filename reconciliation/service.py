"""Reconciliation use cases: import bank statements, run a reconciliation, decide.

A run reads the three sides (the PSP's settlement lines from the port or an uploaded Stripe
report, the ledger, the imported bank entries), matches them (``matching``, pure), and stores
the run with its inputs' checksums, its discrepancies and its suggestions in one
transaction. Decisions (resolve, confirm, reject) are stored by the item's stable key, so a
decision taken in one run holds in the next. Every file is parsed in full before anything is
stored: a bad file stores nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import hashlib
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

from payments.providers.registry import ProviderRegistry
from reconciliation import bank_repository as bank_repo
from reconciliation import repository as repo
from reconciliation.bulk import BulkReport
from reconciliation.config import ReconConfig
from reconciliation.decisions import Decisions
from reconciliation.digest import checksum, summary_of
from reconciliation.heal import Healer, RunHeal
from reconciliation.imports import ParsedStatement, StatementImporter
from reconciliation.in_transit import bank_in_transit, with_in_transit
from reconciliation.ledger_copy import GRACE, LedgerPrefetch, Window, day_start, window_for
from reconciliation.matching import reconcile
from reconciliation.models import ReconRun
from reconciliation.normalise import ReportFolder, from_port, payouts_from_lines
from reconciliation.records import Inputs, LedgerItem, Payout, PspLine, Result, Settled, TieOut
from reconciliation.run_checks import (
    PeriodError,
    RunStamp,
    check_report_period,
    start_run_stamp,
)
from reconciliation.run_payouts import lines_beyond
from reconciliation.run_rows import (
    carried_from,
    discrepancy_rows,
    suggestion_rows,
    tie_out_row,
)
from reconciliation.run_sides import RunSides
from reconciliation.run_statements import RunStatements
from reconciliation.run_views import RunView, RunViews
from reconciliation.sources.errors import SourceError
from reconciliation.sources.messages import msg
from reconciliation.sources.stripe_csv import iter_stripe_payout_csv
from regie.kit.database import Database, utcnow
from regie.kit.errors import ApiError

Progress = Callable[[str, int], None]


@dataclass
class RunRequest:
    period_from: dt.date
    period_to: dt.date
    actor: str
    stripe_csv: tuple[str, bytes] | None = None
    camt053: list[tuple[str, bytes]] = field(default_factory=list)
    as_of: dt.date | None = None
    provider: str | None = None  # the PSP whose settlement is reconciled (default: REGIE_PSP)
    # when the run began reading, if before the service is asked (``regie reconcile``
    # starts the ledger's hand-over first, ``LedgerPrefetch.started``): the run is dated
    # then, so that what was stored before its time is among its inputs
    started_at: dt.datetime | None = None


@dataclass
class _Report:
    """The PSP's side of a run: its lines (what is left of them after the bulk path's
    settled pairs), its payouts, how far it covers each currency, and its line count."""

    lines: list[PspLine]
    payouts: list[Payout]
    covered: dict[str, dt.datetime]
    count: int
    earliest: dt.datetime | None
    bulk: BulkReport | None
    before: list[PspLine] = field(default_factory=list)  # ``Inputs.psp_before``
    # the lines of its payouts the PSP's side does not hold, asked of the PSP
    # (``run_payouts``)
    payout_lines: list[PspLine] = field(default_factory=list)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ReconciliationService(Decisions, RunHeal, RunSides, RunStatements, RunViews):
    def __init__(
        self,
        db: Database,
        providers: ProviderRegistry | None,
        config: ReconConfig | None = None,
    ) -> None:
        """``providers``: the PSPs whose settlement lines a run asks for; None where no PSP
        is built (``regie reconcile`` given the PSP's report), and then a run must be given a
        report and name its PSP."""
        self.db = db
        self.providers = providers
        self.config = config or ReconConfig()
        self.healer: Healer | None = None
        self.statements = StatementImporter(
            db, self.config.bank_iban, self.config.bank_currency, self.config.max_file_bytes
        )

    # -- bank statements ------------------------------------------------------------------

    async def import_bank_statement(
        self, data: bytes, filename: str, actor: str
    ) -> dict[str, object]:
        return await self.statements.import_file(data, filename, actor)

    async def list_bank_statements(self, limit: int = 100) -> list[dict[str, object]]:
        async with self.db.session() as s:
            return [self.statements.view(i) for i in await bank_repo.list_imports(s, limit)]

    # -- runs -----------------------------------------------------------------------------

    async def start_run(
        self,
        req: RunRequest,
        progress: Progress | None = None,
        prefetch: LedgerPrefetch | None = None,
    ) -> str:
        """Runs and stores a reconciliation; ``prefetch``: the ledger's hand-over its caller
        started (``regie reconcile`` starts it before importing the rest of regie), used
        when it read the window this run reads."""
        # a run builds millions of small objects that live until it ends: the cyclic
        # collector would walk them again and again for nothing (3x the time on a large run)
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            async with AsyncExitStack() as stack:
                return await self._run(req, progress, stack, prefetch)
        finally:
            if was_enabled:
                gc.enable()

    async def _report(
        self,
        name: str,
        data: bytes,
        stack: AsyncExitStack,
        ledger: Window,
        prefetch: LedgerPrefetch | None,
    ) -> _Report:
        """An uploaded Stripe report: loaded in bulk on PostgreSQL when it can be
        (``reconciliation.bulk``, which reads the ledger's payments of ``ledger`` meanwhile),
        else read and folded line by line here."""
        if (
            self.config.bulk
            and self.db.engine.dialect.name == "postgresql"
            and len(data) <= self.config.max_file_bytes
        ):
            bulk = await BulkReport.open(self.db.engine, data, name, ledger, prefetch)
            if bulk is not None:
                stack.push_async_callback(bulk.close)
                return _Report([], bulk.payouts, bulk.covered, bulk.lines, bulk.earliest, bulk)
        folder = ReportFolder()
        rows = iter_stripe_payout_csv(data, name, max_bytes=self.config.max_file_bytes)
        lines = [folder.add(r) for r in rows]
        covered: dict[str, dt.datetime] = {}
        for line in lines:
            covered[line.currency] = max(covered.get(line.currency, line.created), line.created)
        earliest = min((x.created for x in lines), default=None)
        return _Report(lines, folder.payouts(), covered, len(lines), earliest, None)

    async def _run(
        self,
        req: RunRequest,
        progress: Progress | None,
        stack: AsyncExitStack,
        prefetch: LedgerPrefetch | None,
    ) -> str:
        step = progress or (lambda _what, _n: None)
        now = utcnow()
        if req.started_at is not None:
            now = min(now, req.started_at)
        stamp = start_run_stamp(req, now)  # (the period checked)
        # every check before anything is stored: the PSP, the period, every file read and
        # dated in the period, the report
        parsed = self._parse_statements(req.camt053, req.period_from, req.period_to)
        sources: list[dict[str, object]] = []
        report: _Report | None = None
        file_sha256: str | None = None  # the uploaded report's
        # whose settlement this is: the PSP asked for (an uploaded report names none), else
        # the default one
        if req.provider:
            provider_name = req.provider
        elif self.providers is not None:
            provider_name = self.providers.default.name
        else:
            raise ApiError(
                422, "parameter_missing", "Name the PSP whose settlement this is.",
                param="provider",
            )  # fmt: skip
        since, until = day_start(req.period_from), day_start(req.period_to + dt.timedelta(days=1))
        if req.stripe_csv is not None:
            name, data = req.stripe_csv
            # the ledger's window, unless the report starts before the period (then wider)
            window = window_for(provider_name, req.period_from, req.period_to)
            # hashed on a worker thread (hashlib lets go of the GIL) while the report loads
            hashing = asyncio.create_task(asyncio.to_thread(_sha256, data))
            try:
                report = await self._report(name, data, stack, window, prefetch)
            finally:
                file_sha256 = await hashing
            sources.append({"kind": "stripe_csv", "filename": name, "sha256": file_sha256})
            check_report_period(
                name, report.count, report.payouts, report.earliest, report.covered,
                req.period_from, req.period_to,
            )  # fmt: skip
        else:
            provider = self.providers.find(provider_name) if self.providers else None
            if provider is None:
                raise ApiError(
                    422, "parameter_invalid", f"No PSP named {provider_name!r} is configured.",
                    param="provider",
                )  # fmt: skip
            # the period's lines, and the week's before it (``Inputs.psp_before``: what the
            # ledger booked in the period's first days may be the days' before at the PSP,
            # a payment across midnight, a payout on its arrival day)
            lines: list[PspLine] = []
            before: list[PspLine] = []
            async for x in provider.list_settlement_lines(since - GRACE, until):
                line = from_port(x)
                (lines if line.created >= since else before).append(line)
            covered = {line.currency: min(until, utcnow()) for line in lines}
            earliest = min((x.created for x in lines), default=None)
            report = _Report(lines, payouts_from_lines(lines), covered, len(lines), earliest, None,
                             before)  # fmt: skip
            report.payout_lines = await lines_beyond(provider, lines, report.payouts)
            sources.append({"kind": "psp", "provider": provider_name})
        await self._store_statements(parsed, req.actor)
        step("statements", len(parsed))
        return await self._after_statements(
            req, step, report, parsed, sources, provider_name, stamp, file_sha256
        )

    async def _after_statements(
        self,
        req: RunRequest,
        step: Progress,
        report: _Report,
        parsed: list[ParsedStatement],
        sources: list[dict[str, object]],
        provider_name: str,
        stamp: RunStamp,
        file_sha256: str | None,
    ) -> str:
        """The run once its inputs are checked and its statements stored: the ledger and
        the bank read, matched, stored."""
        since, until = day_start(req.period_from), day_start(req.period_to + dt.timedelta(days=1))
        grace = GRACE  # the ledger is read this far either side of the period
        step("psp", report.count)
        for p in parsed:
            sources.append({"kind": "camt053", "filename": p.filename, "sha256": p.sha256})
        # the ledger over the span the report covers (its lines and its payouts' arrivals):
        # what it holds from before or after the period is in the ledger then too
        earliest = min(since, report.earliest or since)
        arrivals = [day_start(p.arrival_date + dt.timedelta(days=1)) for p in report.payouts]
        latest = max([until, *report.covered.values(), *arrivals])
        lo, hi = earliest - grace, latest + grace
        # the ledger's other items, the bank's entries and the tie-outs are PostgreSQL's work:
        # on the bulk path they are read while DuckDB settles the report's pairs
        sides = self._sides(
            provider_name, lo, hi, since, until, req.period_from, req.period_to, report.lines,
            psp_complete=req.stripe_csv is None, payments=report.bulk is None,
        )  # fmt: skip
        settled: Settled | None = None
        ledger: list[LedgerItem] = []
        if report.bulk is not None:
            # both run to their end, even when one fails: the match's DuckDB thread must be
            # done before the report is closed
            matched, read = await asyncio.gather(
                report.bulk.match(provider_name, lo, hi), sides, return_exceptions=True
            )
            if isinstance(matched, BaseException):
                raise matched
            if isinstance(read, BaseException):
                raise read
            report.lines, ledger, settled = matched
        else:
            read = await sides
        others, bank, tie_outs = read.others, read.bank, read.tie_outs
        given = {src.get("sha256") for src in sources if src["kind"] == "camt053"}
        # the statements imported before that the run read too (the ones it was given are
        # listed already): which files a run's bank side came from
        sources += [st for st in read.statements if st["sha256"] not in given]
        ledger += others
        step("ledger", len(ledger) + (settled.ledger_items if settled else 0))
        step("bank", len(bank))
        # (statements given are dated in the period: their balances make a bank tie-out)
        if (
            not report.count
            and not ledger
            and not bank
            and not parsed
            and not (settled and settled.ledger_items)
        ):
            raise PeriodError(
                msg("nothing_to_reconcile", first=req.period_from, last=req.period_to)
            )
        async with self.db.session() as s:
            decided = await repo.current_decisions(s)
        inputs = Inputs(
            period_from=req.period_from,
            period_to=req.period_to,
            psp_lines=tuple(report.lines),
            ledger_items=tuple(ledger),
            payouts=tuple(report.payouts),
            bank_lines=tuple(bank),
            as_of=stamp.as_of,
            window_days=self.config.window_days,
            confirmed=frozenset(k for k, d in decided.items() if d.action == "confirm"),
            rejected=frozenset(k for k, d in decided.items() if d.action == "reject"),
            psp_covered_until=report.covered,
            settled=settled,
            psp_file_sha256=file_sha256,
            payout_lines=tuple(report.payout_lines),
            psp_before=tuple(report.before),
            bank_covered_until=read.bank_covered,
            bank_gaps=read.bank_gaps,
            bank_breaks=read.bank_breaks,
        )
        result = reconcile(inputs)
        cut = {t.currency: t.as_of for t in tie_outs if t.name == "bank" and t.as_of}
        tie_outs = with_in_transit(
            tie_outs, bank_in_transit(inputs, result, cut), result.clearing_cut_off
        )
        step("matched", result.matched_count)
        digest = await report.bulk.checksum(inputs) if report.bulk else checksum(inputs)
        seen = {k: d.id for k, d in decided.items()}  # what the views tell later ones from
        return await self._store(req, stamp, provider_name, sources, inputs, result, tie_outs,
                                 digest, seen)  # fmt: skip

    async def _store(
        self,
        req: RunRequest,
        stamp: RunStamp,
        provider: str,
        sources: list[dict[str, object]],
        inputs: Inputs,
        result: Result,
        tie_outs: list[TieOut],
        digest: str,
        seen: dict[str, str],
    ) -> str:
        run_id = stamp.run_id
        async with self.db.session() as s:
            earlier = await repo.runs_before(s, req.period_from)
            tie_outs = carried_from(tie_outs, req.period_from, earlier)
            s.add(
                ReconRun(
                    id=run_id,
                    period_from=req.period_from,
                    period_to=req.period_to,
                    as_of=stamp.as_of,
                    provider=provider,
                    sources=sources,
                    inputs_sha256=digest,
                    summary=summary_of(inputs, result),
                    tie_outs=[tie_out_row(t) for t in tie_outs],
                    actor=req.actor,
                    created_at=stamp.at,
                )
            )
            await s.flush()
            await repo.insert_discrepancies(s, discrepancy_rows(run_id, result.discrepancies))
            await repo.insert_suggestions(s, suggestion_rows(run_id, result.suggestions, seen))
            await s.commit()
        return run_id


__all__ = [
    "PeriodError",
    "ReconConfig",
    "ReconciliationService",
    "RunRequest",
    "RunView",
    "SourceError",
]
