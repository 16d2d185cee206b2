"""Invoice creation through regie vs a bare FastAPI endpoint doing one INSERT, same database.

Both apps are driven in process through httpx's ASGI transport, in alternating rounds, so
the machine's noise hits both alike. Prints requests/s (median of the rounds) and the ratio.

    python -m bench.invoices [--n 300] [--rounds 5] [--database-url postgresql+asyncpg://…]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from typing import Any

import httpx
from fastapi import FastAPI, Request
from sqlalchemy import Column, MetaData, String, Table, Text, insert
from sqlalchemy.ext.asyncio import create_async_engine

from regie.app import create_app
from regie.kit.ids import new_id
from regie.kit.settings import Settings
from regie.kit.tenancy import Role, create_key, create_service
from regie.migrate import upgrade

BODY = {
    "amount": 2500,
    "currency": "EUR",
    "description": "Permis de construire",
    "payer": {"name": "Camille Martin", "email": "camille@example.org"},
}

bare_meta = MetaData()
bare_table = Table(
    "bench_bare", bare_meta, Column("id", String(40), primary_key=True), Column("body", Text)
)


def bare_app(url: str) -> FastAPI:
    app = FastAPI()
    engine = create_async_engine(url)
    app.state.engine = engine

    @app.post("/bare", status_code=201)
    async def bare(request: Request) -> dict[str, Any]:
        raw = await request.body()
        row_id = new_id("inv")
        async with engine.begin() as conn:
            await conn.execute(insert(bare_table).values(id=row_id, body=raw.decode()))
        return {"id": row_id}

    return app


async def drive(
    client: httpx.AsyncClient, path: str, n: int, headers: dict[str, str], tag: str
) -> float:
    start = time.perf_counter()
    for i in range(n):
        body = {**BODY, "reference": f"{tag}-{i}"}
        r = await client.post(path, json=body, headers={**headers, "Idempotency-Key": f"{tag}-{i}"})
        if r.status_code != 201:
            raise RuntimeError(f"{path}: {r.status_code} {r.text}")
    return n / (time.perf_counter() - start)


async def run(url: str, n: int, rounds: int) -> dict[str, float]:
    # counted (the check is part of the measure) but never refused
    settings = Settings(
        database_url=url,
        base_url="http://bench",
        psp="simulator",
        rate_limit_api_key="100000000/minute",
    )
    app = create_app(settings)
    bare = bare_app(url)
    async with bare.state.engine.begin() as conn:
        await conn.run_sync(bare_meta.create_all)
    async with app.router.lifespan_context(app):
        async with app.state.db.session() as s:
            svc = await create_service(s, f"bench-{os.getpid()}"[:40])
            _, key = await create_key(s, svc, Role.service, live=False)
            await s.commit()
        regie_rates, bare_rates = [], []
        async with (
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://bench"
            ) as rc,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=bare), base_url="http://bench"
            ) as bc,
        ):
            auth = {"Authorization": f"Bearer {key}"}
            await drive(rc, "/v1/invoices", 20, auth, "warm")  # warm-up
            await drive(bc, "/bare", 20, {}, "warm")
            for r in range(rounds):
                regie_rates.append(await drive(rc, "/v1/invoices", n, auth, f"r{r}"))
                bare_rates.append(await drive(bc, "/bare", n, {}, f"b{r}"))
    await bare.state.engine.dispose()
    regie_med, bare_med = statistics.median(regie_rates), statistics.median(bare_rates)
    return {"regie_per_s": regie_med, "baseline_per_s": bare_med, "ratio": bare_med / regie_med}


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database-url", default=os.environ.get("REGIE_BENCH_DATABASE_URL", ""))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{tmp}/bench.db"
        upgrade(url)
        result = asyncio.run(run(url, args.n, args.rounds))
    backend = url.split("+")[0].split(":")[0]
    print(
        f"invoice creation ({backend}): regie {result['regie_per_s']:.0f}/s, "
        f"bare insert endpoint {result['baseline_per_s']:.0f}/s, "
        f"regie costs {result['ratio']:.2f}x the baseline (median of {args.rounds} rounds of {args.n})"
    )
    return result


if __name__ == "__main__":
    main()
