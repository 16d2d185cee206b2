"""The contract files: openapi.yaml, the import rules, the migrations."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

from regie.openapi import current_schema

ROOT = Path(__file__).resolve().parent.parent


def test_openapi_yaml_matches_the_app() -> None:
    on_disk = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    assert on_disk == current_schema(), "openapi.yaml is stale: run `make openapi`"


def test_openapi_documents_the_main_routes() -> None:
    paths = current_schema()["paths"]
    for path in (
        "/v1/invoices",
        "/v1/invoices/{invoice_id}",
        "/v1/invoices/{invoice_id}/cancel",
        "/v1/payments/{payment_id}",
        "/webhooks/{provider}",
        "/healthz",
        "/readyz",
    ):
        assert path in paths


def test_each_operation_is_listed_once_in_the_docs() -> None:
    """/docs lists an operation under each of its tags: one tag each, so none shows twice."""
    schema = current_schema()
    tags = {
        (method.upper(), path): op.get("tags", [])
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
        if isinstance(op, dict) and "responses" in op
    }
    assert {k: v for k, v in tags.items() if len(v) > 1} == {}
    assert tags[("GET", "/v1/payments/{payment_id}")] == ["payments"]
    assert tags[("POST", "/v1/invoices/{invoice_id}/refunds")] == ["refunds"]
    assert tags[("GET", "/v1/invoices/{invoice_id}")] == ["invoices"]


def test_import_rules_hold() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


async def test_migrations_match_the_models(settings) -> None:
    """The Alembic head (applied by the fixtures) has exactly the tables the models declare."""
    engine = create_async_engine(settings.database_url)
    async with engine.connect() as conn:
        diff = await conn.run_sync(
            lambda sync_conn: compare_metadata(
                MigrationContext.configure(sync_conn), SQLModel.metadata
            )
        )
    await engine.dispose()
    assert diff == []
