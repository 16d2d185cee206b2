"""The baseline of ``bench.http_invoices``: a bare FastAPI endpoint that stores the invoice's
body with one raw asyncpg INSERT, on the same database as regie.

Run as its own process (``uvicorn bench.bare_server:app``), with ``BENCH_DSN`` set to a plain
``postgresql://`` URL. It does what regie's invoice creation cannot do without: read the body,
make an id, write one row, answer JSON with 201.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

TABLE = "bench_bare_invoices"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    pool = await asyncpg.create_pool(os.environ["BENCH_DSN"], min_size=2, max_size=10)
    async with pool.acquire() as conn:
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE} (id text PRIMARY KEY, body jsonb NOT NULL)"
        )
    app.state.pool = pool
    yield
    await pool.close()


app = FastAPI(lifespan=lifespan)


@app.post("/v1/invoices", status_code=201)
async def create(request: Request) -> Any:
    raw = await request.body()
    row_id = "inv_" + secrets.token_hex(12)
    async with request.app.state.pool.acquire() as conn:
        await conn.execute(f"INSERT INTO {TABLE} (id, body) VALUES ($1, $2)", row_id, raw.decode())
    return JSONResponse({"id": row_id}, status_code=201)
