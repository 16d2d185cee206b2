"""What a rate-limit check costs a request, in process: microseconds per hit.

- memory: the SQLite path (``MemoryCounters``), also the local half of the shared one;
- shared, batched: PostgreSQL, pushed every ``batch`` hits (the per-key default: a tenth
  of 6000/minute = 600), so most hits cost no round trip;
- shared, exact: PostgreSQL with batch 1 (a limit of under 20 per window, e.g. checkouts
  per invoice): one upsert per hit.

    python -m bench.ratelimit [--n 5000] [--database-url postgresql+asyncpg://…]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from limits import parse
from sqlalchemy import text

from regie.kit.database import Database
from regie.kit.ratecounters import MemoryCounters, SharedCounters
from regie.kit.ratelimit import Limit
from regie.migrate import upgrade


async def per_hit(limit: Limit, n: int, keys: int = 10) -> float:
    whos = [f"key_{i}" for i in range(keys)]
    for who in whos:  # first hits: a window starts (and, shared, is pushed)
        await limit.hit(who)
    start = time.perf_counter()
    for i in range(n):
        await limit.hit(whos[i % keys])
    return (time.perf_counter() - start) / n * 1e6


async def run(n: int, url: str) -> dict[str, float]:
    item = parse("100000000/minute")  # never refuses: the cost of counting alone
    out = {"memory": await per_hit(Limit("key", item, MemoryCounters(), time.time), n)}
    if url:
        db = Database(url)
        try:
            batched = SharedCounters(db, batch=600)
            out["shared, batch 600"] = await per_hit(Limit("key", item, batched, time.time), n)
            exact = SharedCounters(db, batch=1)
            out["shared, batch 1"] = await per_hit(Limit("x", item, exact, time.time), n // 10)
            start = time.perf_counter()
            for _ in range(n // 10):  # for scale: the cheapest round trip there is
                async with db.engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
            out["(SELECT 1, for scale)"] = (time.perf_counter() - start) / (n // 10) * 1e6
        finally:
            await db.dispose()
    return out


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--database-url", default=os.environ.get("REGIE_BENCH_DATABASE_URL", ""))
    args = parser.parse_args(argv)
    if args.database_url:
        upgrade(args.database_url)
    result = asyncio.run(run(args.n, args.database_url))
    for name, us in result.items():
        print(f"rate-limit check, {name:<22} {us:>8.1f} µs per request")
    return result


if __name__ == "__main__":
    main()
