"""What ``ledger`` registers with the shell: the sealing job and the unsealed-entries gauge
(see ``regie.kit.wiring``)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.service import LedgerService
from regie.kit.wiring import Gauge, Job, Sample, Wiring

# the entries awaiting their seal, late commits included: a short table (migration 0032)
_UNSEALED = text("SELECT count(*) FROM ledger_unsealed")


def wire(ledger: LedgerService) -> Wiring:
    return Wiring(
        jobs=[Job("seal-ledger", dt.timedelta(seconds=2), ledger.seal)],
        gauges=[Gauge("regie_ledger_unsealed_entries", unsealed_entries)],
    )


async def unsealed_entries(conn: AsyncConnection) -> list[Sample]:
    return [Sample({}, int((await conn.execute(_UNSEALED)).scalar() or 0))]
