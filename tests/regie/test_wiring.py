"""The composition root builds the bus, the worker and /metrics from what each package's
``wiring`` registers (regie.kit.wiring): nothing a package registers is lost."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import httpx

from regie.composition import build_worker
from regie.kit.wiring import Job
from regie.worker import Worker
from tests.conftest import Keys, create_invoice, pay


async def test_metrics_expose_the_gauges_each_package_registers(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    r = await client.post(
        "/v1/webhook-endpoints",
        json={"url": "http://127.0.0.1:9/hook"},
        headers=Keys.h(keys.urbanisme),
    )
    assert r.status_code == 201
    await pay(client, await create_invoice(client, keys.urbanisme, reference="A"), apply=app)
    await pay(client, await create_invoice(client, keys.urbanisme, reference="B"))  # waits
    text = (await client.get("/metrics")).text
    gauges = sorted(line for line in text.splitlines() if "regie_http" not in line)
    lag = next(line for line in gauges if line.startswith("regie_webhook_lag_seconds "))
    assert re.fullmatch(r"regie_webhook_lag_seconds \d+\.\d{3}", lag)
    assert float(lag.split()[1]) > 0  # an event waits in the inbox
    assert [line for line in gauges if line != lag] == [
        "# TYPE regie_ledger_unsealed_entries gauge",
        "# TYPE regie_outbox_deliveries gauge",
        "# TYPE regie_payments gauge",
        "# TYPE regie_webhook_inbox gauge",
        "# TYPE regie_webhook_lag_seconds gauge",
        "regie_ledger_unsealed_entries 4",
        'regie_outbox_deliveries{status="delivered"} 0',
        'regie_outbox_deliveries{status="failed"} 0',
        'regie_outbox_deliveries{status="pending"} 1',
        'regie_payments{status="canceled"} 0',
        'regie_payments{status="expired"} 0',
        'regie_payments{status="failed"} 0',
        'regie_payments{status="pending"} 1',
        'regie_payments{status="succeeded"} 1',
        'regie_webhook_inbox{status="dead"} 0',
        'regie_webhook_inbox{status="done"} 1',
        'regie_webhook_inbox{status="ignored"} 0',
        'regie_webhook_inbox{status="pending"} 1',
    ]


async def test_the_worker_gets_every_package_job_and_the_inbox_drain(app: Any) -> None:
    worker = build_worker(app.state.settings, app.state.services)
    assert sorted(job.name for job in worker.jobs) == [
        "catch-up-psp-events",
        "deliver-notifications",
        "expire-invoices",
        "maintenance-prune",
        "prune-rate-limits",
        "recheck-pending-payments",
        "seal-ledger",
        "simulator-payout",
        "simulator-redeliver",
        "submit-refunds",
    ]
    assert worker.drains == [
        app.state.payments.close_checkouts_due,  # the other checkouts of invoices just paid
        app.state.receipts.files.render_due,  # the PDFs of the receipts just issued
        app.state.applier.process_batch,
    ]


async def test_a_tick_runs_every_drain_then_the_due_jobs() -> None:
    calls: list[str] = []

    def drain(name: str, found: int) -> Any:
        async def run(limit: int) -> int:
            calls.append(f"{name}:{limit}")
            return found

        return run

    async def job() -> None:
        calls.append("job")

    worker = Worker(
        [drain("a", 2), drain("b", 3)],
        batch_size=7,
        jobs=[Job("j", dt.timedelta(hours=1), job)],
    )
    assert await worker.tick() == 5
    assert await worker.tick() == 5
    assert calls == ["a:7", "b:7", "job", "a:7", "b:7"]  # the job is not due again yet


async def test_requests_are_counted_by_route_template_never_by_url(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    """Two invoices read make one series, labelled with the route's template: ids never
    become labels (a monitoring system's series stay few); a path no route matches counts
    as ``unmatched``."""
    invoices = [await create_invoice(client, keys.urbanisme, reference=r) for r in "AB"]
    for inv in invoices:
        r = await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))
        assert r.status_code == 200
    assert (await client.get("/v1/nope", headers=Keys.h(keys.urbanisme))).status_code == 404
    counted = [
        line
        for line in (await client.get("/metrics")).text.splitlines()
        if line.startswith('regie_http_requests_total{method="GET"')
    ]
    assert counted == [
        'regie_http_requests_total{method="GET",route="/v1/invoices/{invoice_id}",status="200"} 2',
        'regie_http_requests_total{method="GET",route="unmatched",status="404"} 1',
    ]


async def test_the_worker_seals_the_ledger_as_often_as_the_readme_says(app: Any) -> None:
    """The README tells an operator how stale the chain's head can be ("the worker does it
    every N s"): the worker's job must keep that promise."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    promised = re.search(r"regie ledger seal .*the worker does it every (\d+) s\)", readme)
    assert promised is not None
    worker = build_worker(app.state.settings, app.state.services)
    every = {job.name: job.every for job in worker.jobs}["seal-ledger"]
    assert every == dt.timedelta(seconds=int(promised.group(1)))


async def test_metrics_give_every_status_a_sample_even_at_zero(client: httpx.AsyncClient) -> None:
    """The README's alerts read `delta(regie_webhook_inbox{status="dead"}[1h]) > 0` and
    `delta(regie_outbox_deliveries{status="failed"}[1h]) > 0`: a series that only
    appears with the first dead event starts at 1, so `delta` sees no rise and the alert
    never fires for it. Every known status is a sample from the start, at 0."""
    text = (await client.get("/metrics")).text
    for line in (
        'regie_webhook_inbox{status="pending"} 0',
        'regie_webhook_inbox{status="done"} 0',
        'regie_webhook_inbox{status="ignored"} 0',
        'regie_webhook_inbox{status="dead"} 0',
        'regie_outbox_deliveries{status="pending"} 0',
        'regie_outbox_deliveries{status="delivered"} 0',
        'regie_outbox_deliveries{status="failed"} 0',
        'regie_payments{status="pending"} 0',
        'regie_payments{status="succeeded"} 0',
        'regie_payments{status="failed"} 0',
        'regie_payments{status="canceled"} 0',
        'regie_payments{status="expired"} 0',
    ):
        assert line in text.splitlines(), line


async def test_the_readme_alerts_read_metrics_that_exist_as_their_type_allows(
    client: httpx.AsyncClient,
) -> None:
    """Each alert of README's "Metrics and alerts" names a metric /metrics serves, and
    applies the counter functions (``rate``, ``increase``, ``irate``) to counters (or a
    histogram's buckets) only. ``increase`` of a gauge reads every fall as a counter
    reset: requeuing two of five dead events (5 -> 3) counted as 3 new dead ones, and the
    dead-events alert fired at the operator who had just handled them."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    alerts = readme.split("Alert on (PromQL", 1)[1].split("\n\n")[1]  # the table
    expressions = re.findall(r"`([^`]*regie_[^`]*)`", alerts)
    assert len(expressions) >= 8, expressions
    text = (await client.get("/metrics")).text
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, flags=re.M))
    for expression in expressions:
        for name in re.findall(r"\bregie_[a-z_]+", expression):
            base = name.removesuffix("_bucket")
            assert base in types, (name, expression)
        for function, name in re.findall(r"\b(rate|irate|increase)\((regie_[a-z_]+)", expression):
            kind = types[name.removesuffix("_bucket")]
            assert kind == "counter" or (kind == "histogram" and name.endswith("_bucket")), (
                f"{function}() of the {kind} {name}: {expression}"
            )
