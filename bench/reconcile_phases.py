"""One ``regie reconcile`` of the benchmark's year, timed phase by phase in its own process.

``bench.reconcile`` gives a run's end-to-end time; this gives where it goes. It runs regie's
command line in this very process (as ``python -m regie.cli`` does) on the files that
``python -m bench.reconcile --keep DIR --rounds 0`` generated, after wrapping the functions
of each phase as their modules are imported (the wrapping imports nothing earlier than regie
would), and prints, when the command ends, one line per start and end: seconds since this
process started, the machine's CPU-seconds since then (``/proc/stat``: PostgreSQL's
included), the thread, and the phase:

    python -m bench.reconcile --keep /tmp/recon --rounds 0
    python -m bench.reconcile_phases /tmp/recon [--checkout ../main]

On a machine of two CPUs the run is CPU-bound: a phase moved earlier shortens it only if a
CPU was idle then; the CPU column shows whether one was. For what the CPU-seconds are spent
on, ``perf record -g`` (Debian's ``linux-perf``) of the same command names DuckDB's
functions as well as Python's.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import importlib.abc
import importlib.machinery
import importlib.util
import inspect
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.reconcile import regie_args, regie_env

# module -> the functions (``Class.method`` or ``function``) whose start and end are logged
PHASES: dict[str, tuple[str, ...]] = {
    "regie.cli_common": ("load_settings", "check_database", "finish"),
    "regie.cli_reconcile": ("_file", "_prefetch"),
    "reconciliation.ledger_copy": ("LedgerPrefetch._copy",),
    "reconciliation.bulk": (
        "BulkReport.open",
        "BulkReport._load",
        "BulkReport.match",
        "BulkReport._match",
        "BulkReport._write_lines",
        "BulkReport.checksum",
        "BulkReport.close",
    ),
    "reconciliation.bulk_load": ("load_report", "type_report", "read_ledger"),
    "reconciliation.bulk_typing": ("typed",),
    "reconciliation.ledger_reads": ("entry_times",),
    "reconciliation.service": (
        "ReconciliationService._report",
        "ReconciliationService._sides",
        "ReconciliationService._store",
        "ReconciliationService.get_run",
        "reconcile",
        "_sha256",
    ),
    "reconciliation.imports": ("StatementImporter.store_all", "StatementImporter.parse"),
    "reconciliation.schemas": ("run_out",),
    "reconciliation.report": ("summary_lines",),
}


class Timeline:
    """Lines of (seconds, machine CPU-seconds, thread, what), from this process's start."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.cpu0 = _machine_cpu()
        self.lines: list[tuple[float, float, str, str]] = []

    def log(self, what: str) -> None:
        self.lines.append((time.perf_counter() - self.t0, _machine_cpu() - self.cpu0,
                           threading.current_thread().name, what))  # fmt: skip

    def print(self) -> None:
        self.log("end")
        print(f"{'s':>6} {'cpu-s':>6}  {'thread':14} phase", file=sys.stderr)
        for at, cpu, thread, what in self.lines:
            print(f"{at:6.2f} {cpu:6.2f}  {thread[:14]:14} {what}", file=sys.stderr)
        sys.stderr.flush()


def _machine_cpu() -> float:
    """CPU-seconds spent by the whole machine (user, nice, system) since it booted."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:4]
    return sum(int(x) for x in fields) / os.sysconf("SC_CLK_TCK")


def _timed(fn: Callable[..., Any], name: str, timeline: Timeline) -> Callable[..., Any]:
    if asyncio.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def waited(*args: Any, **kwargs: Any) -> Any:
            timeline.log(f"> {name}")
            try:
                return await fn(*args, **kwargs)
            finally:
                timeline.log(f"< {name}")

        return waited

    @functools.wraps(fn)
    def called(*args: Any, **kwargs: Any) -> Any:
        timeline.log(f"> {name}")
        try:
            return fn(*args, **kwargs)
        finally:
            timeline.log(f"< {name}")

    return called


def wrap(module: ModuleType, names: Sequence[str], timeline: Timeline) -> None:
    """Each of ``names`` in ``module`` replaced by its timed self (a class method stays one);
    a name the module does not have (an older checkout's, ``--checkout``) is left out."""
    for name in names:
        owner: Any = module
        *path, attr = name.split(".")
        for part in path:
            owner = getattr(owner, part)
        raw = inspect.getattr_static(owner, attr, None)  # a class method as itself, a mixin's too
        if raw is None:
            continue
        if isinstance(raw, classmethod):
            setattr(owner, attr, classmethod(_timed(raw.__func__, name, timeline)))
        else:
            setattr(owner, attr, _timed(raw, name, timeline))


class _Hook(importlib.abc.MetaPathFinder):
    """Wraps a module's phases as soon as it is imported, and logs the import."""

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline

    def find_spec(
        self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name not in PHASES:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        loader: Any = spec.loader
        execute = loader.exec_module
        timeline = self.timeline

        def exec_module(module: ModuleType) -> None:
            execute(module)
            timeline.log(f"imported {name}")
            wrap(module, PHASES[name], timeline)

        loader.exec_module = exec_module
        return spec


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("data", type=Path, help="the directory of bench.reconcile --keep")
    p.add_argument("--database-url", default=os.environ.get(
        "REGIE_BENCH_RECON_URL",
        "postgresql+asyncpg://postgres@127.0.0.1:5432/regie_bench_recon"))  # fmt: skip
    p.add_argument("--checkout", type=Path, default=None,
                   help="the regie of another checkout (say, a worktree of main)")  # fmt: skip
    args = p.parse_args(argv)
    if args.checkout is not None:
        sys.path.insert(0, str(args.checkout.resolve()))
    timeline = Timeline()
    sys.meta_path.insert(0, _Hook(timeline))
    os.environ.update(regie_env(args.database_url))
    sys.argv = ["regie", *regie_args(args.data / "payouts.csv", args.data / "releve.xml",
                                     args.data / "run.json")]  # fmt: skip
    exit_now = os._exit

    def printed_then_exit(code: int) -> None:  # ``regie.cli_common.finish`` ends the process
        timeline.print()
        exit_now(code)

    os._exit = printed_then_exit  # type: ignore[assignment]
    from regie.cli import main as regie_main

    try:
        regie_main()
    finally:
        timeline.print()  # the command ended without ``finish`` (an error)


if __name__ == "__main__":
    main()
