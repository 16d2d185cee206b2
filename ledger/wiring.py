"""What ``ledger`` registers with the shell: the sealing job and the unsealed-entries gauge
(see ``regie.kit.wiring``)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.service import LedgerService
from regie.kit.wiring import Gauge, Job, Sample, Wiring

# cheap on a large ledger (primary-key range): entries after the chain's head; a late
# commit sealed out of order is not counted
_UNSEALED = text(
    "SELECT count(*) FROM ledger_entries WHERE seq > COALESCE(("
    "SELECT e.seq FROM ledger_seals s JOIN ledger_entries e ON e.id = s.entry_id "
    "ORDER BY s.position DESC LIMIT 1), 0)"
)


def wire(ledger: LedgerService) -> Wiring:
    return Wiring(
        jobs=[Job("seal-ledger", dt.timedelta(seconds=2), ledger.seal)],
        gauges=[Gauge("regie_ledger_unsealed_entries", unsealed_entries)],
    )


async def unsealed_entries(conn: AsyncConnection) -> list[Sample]:
    return [Sample({}, int((await conn.execute(_UNSEALED)).scalar() or 0))]
