"""The ledger's payments handed over by PostgreSQL for the bulk path, and that hand-over
started before the rest of regie is imported.

PostgreSQL writes the ledger's payments of a window with ``COPY ... CSV``, from one
repeatable-read, read-only snapshot (``copy_parts``): one read of one table, the lines on
the PSP's account that book a payment, kept at posting with the payment's id at the PSP and
its fee (``ledger.models.PspPosting``). It once wrote the entries, the lines and the
payments, for DuckDB to join: the three reads and the join cost a run three times what
this read does.

The hand-over is PostgreSQL's work, on its own CPU: a command that knows its window at once
(``regie reconcile``) starts it with ``LedgerPrefetch`` on a thread of its own, over a bare
asyncpg connection, while Python imports the rest of regie (about a second and a half). This
module therefore imports nothing heavy: no SQLAlchemy engine, no DuckDB. A prefetch that
fails, or that is for another window, is not used: the run reads the ledger itself
(``bulk_load.read_ledger``), and reports what goes wrong there.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.posting import psp as psp_account

# a run reads the ledger this far either side of its period: a payment booked just before
# the period can be paid out in it, and one at the PSP just after it is booked a little later
GRACE = dt.timedelta(days=7)
# each part's name, in the order PostgreSQL writes them (one: the ledger keeps its payments'
# lines on the PSP's account with what a run compares, ``ledger_psp_postings``)
PARTS = ("payments",)
# the files' write buffer: asyncpg hands over a chunk for every read from the socket (tens of
# thousands for a million rows); given a path, it writes each on a thread of the loop's
# executor, which cost regie's process more CPU than PostgreSQL's COPY itself
_BUFFER = 1 << 20
# each part's query, and its parameters: the window's bounds (timestamptz), or the PSP's
# clearing account
_SQL = {
    # the PSP's id, the entry, the amount on the PSP's account, the currency, the fee (in
    # that currency): ``ledger_reads._PAYMENTS_SQL``'s rows (a fee booked after its
    # payment's success among them, no money of the payment: gross 0), not the instant (its
    # text cost PostgreSQL 0.5 s a million: the run reads it for the payments left over)
    "payments": (
        """SELECT x.reference, x.entry_id,
               CASE WHEN x.kind = 'psp_fee' THEN 0 ELSE x.amount END, x.currency, x.fee
        FROM ledger_psp_postings x
        WHERE x.account = $1 AND x.kind IN ('payment_succeeded', 'overpayment', 'psp_fee')
          AND x.effective_at >= $2 AND x.effective_at < $3""",
        ("account", "since", "until"),
    ),
}


@dataclass(frozen=True)
class Window:
    """The ledger's payments a run reads: its PSP's, booked in ``[since, until)``."""

    provider: str
    since: dt.datetime
    until: dt.datetime


def day_start(day: dt.date) -> dt.datetime:
    """The instant a day starts: a period's days are UTC days."""
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def window_for(provider: str, period_from: dt.date, period_to: dt.date) -> Window:
    """The window a run of ``[period_from, period_to]`` reads (unless its report starts
    earlier: then the earlier slice is read as well)."""
    since, until = day_start(period_from), day_start(period_to + dt.timedelta(days=1))
    return Window(provider, since - GRACE, until + GRACE)


def ledger_parts(prefix: Path) -> dict[str, Path]:
    """Where a hand-over writes its parts: ``{prefix}.{part}.csv``."""
    return {name: prefix.with_name(f"{prefix.name}.{name}.csv") for name in PARTS}


async def copy_parts(raw: Any, prefix: Path, window: Window) -> None:
    """Writes the parts of ``window`` beside ``prefix`` on the asyncpg connection ``raw``,
    inside the repeatable-read, read-only transaction its caller has begun."""
    await raw.execute("SET LOCAL max_parallel_workers_per_gather = 0")  # DuckDB has the rest
    values = {"account": psp_account(window.provider), "since": window.since,
              "until": window.until}  # fmt: skip
    for name, path in ledger_parts(prefix).items():
        sql, params = _SQL[name]
        args = [values[p] for p in params]
        with path.open("wb", buffering=_BUFFER) as f:

            async def write(chunk: bytes, f: Any = f) -> None:
                f.write(chunk)  # into the file's buffer: no thread hop for each chunk

            await raw.copy_from_query(sql, *args, output=write, format="csv")


def connect_args(url: str) -> dict[str, Any]:
    """asyncpg's arguments for a SQLAlchemy URL (``postgresql+asyncpg://...``): what the
    engine passes, less its own options."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    args: dict[str, Any] = parsed.translate_connect_args(username="user")
    args.update(parsed.query)
    args.setdefault("timeout", 10)
    return args


class LedgerPrefetch:
    """The hand-over of ``window`` started now (``started``: the run is dated then at the
    latest, ``RunRequest.started_at``), on a thread with its own event loop and its own
    connection, into a private temporary directory. ``wait`` tells whether it succeeded;
    ``close`` removes the directory."""

    def __init__(self, url: str, window: Window) -> None:
        self.started = dt.datetime.now(dt.UTC)
        self.window = window
        self.tmp = Path(tempfile.mkdtemp(prefix="regie-ledger-"))
        self.prefix = self.tmp / "ledger"
        self._done: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._lock = threading.Lock()
        self._closed = False
        args = connect_args(url)
        thread = threading.Thread(
            target=self._run, args=(args,), name="regie-ledger-prefetch", daemon=True
        )
        thread.start()

    def _run(self, args: dict[str, Any]) -> None:
        try:
            asyncio.run(self._copy(args))
        except BaseException as exc:  # noqa: BLE001 (the run reads the ledger itself then)
            self._done.set_exception(exc)
        else:
            self._done.set_result(None)
        with self._lock:
            if self._closed:
                shutil.rmtree(self.tmp, ignore_errors=True)

    async def _copy(self, args: dict[str, Any]) -> None:
        import asyncpg

        conn = await asyncpg.connect(**args)
        try:
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                await copy_parts(conn, self.prefix, self.window)
        finally:
            await conn.close()

    async def wait(self) -> bool:
        """True once the parts are written; False if the hand-over failed."""
        try:
            await asyncio.wrap_future(self._done)
        except Exception:  # noqa: BLE001 (the caller reads the ledger itself)
            return False
        return True

    def close(self) -> None:
        """Removes the directory now (a hand-over still writing fails on its next file, or
        ends in a file nobody sees, and the thread removes what is left when it ends)."""
        with self._lock:
            self._closed = True
        shutil.rmtree(self.tmp, ignore_errors=True)
