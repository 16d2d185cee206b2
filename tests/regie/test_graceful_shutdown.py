"""SIGTERM, as `docker stop` or an orchestrator sends it, with real processes.

- ``regie serve`` stops accepting new connections, lets a request in flight finish (its
  answer is a 2xx and what it did is stored), then exits 0; a request that never finishes
  does not hold the process past ``REGIE_SHUTDOWN_GRACE_SECONDS``.
- ``regie worker`` finishes the event it is applying (applied exactly once) and exits 0;
  an event stuck past the grace is abandoned, rolled back, and applied once by the next
  worker.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text

from ledger.models import JournalEntry
from payments.models import StateChange
from regie.kit.database import Database
from regie.kit.tenancy import Role, create_key, create_service
from regie.migrate import upgrade
from tests.conftest import Keys, create_invoice, invoice_body, pay
from tests.lock_waits import lock_waiters
from webhooks.inbound.models import InboxEvent

REGIE = str(Path(sys.executable).parent / "regie")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGIE_")}
    env.update(REGIE_DATABASE_URL=url, REGIE_PSP="simulator", REGIE_LOG_LEVEL="INFO", **extra)
    return env


async def _service_key(url: str) -> str:
    db = Database(url)
    try:
        async with db.session() as s:
            svc = await create_service(s, "urbanisme", "Mairie – Urbanisme")
            key = (await create_key(s, svc, Role.service, live=False))[1]
            await s.commit()
    finally:
        await db.dispose()
    return key


@pytest.fixture
def served(tmp_path: Path):
    """A migrated SQLite file, a service key, and a way to start `regie serve` on it."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}"
    upgrade(url)
    key = asyncio.run(_service_key(url))
    procs: list[subprocess.Popen[bytes]] = []

    def start(**extra: str) -> tuple[subprocess.Popen[bytes], int]:
        port = _free_port()
        env = _env(url, REGIE_BASE_URL=f"http://127.0.0.1:{port}", **extra)
        proc = subprocess.Popen(
            [REGIE, "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        procs.append(proc)
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    return proc, port
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "regie serve did not start"
            time.sleep(0.1)

    yield url, key, start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _half_sent_post(port: int, key: str, body: bytes) -> tuple[socket.socket, bytes]:
    """A POST whose headers and first half of body are sent: in flight until the rest is."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = (
        f"POST /v1/invoices HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    half = len(body) // 2
    sock.sendall(head + body[:half])
    return sock, body[half:]


def _read_response(sock: socket.socket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk
        rest += chunk
    return status, rest[:length]


def _refuses_connections(port: int, within: float = 30.0) -> bool:
    """Whether the server stops accepting connections within ``within`` seconds (once the
    signal is handled: on a loaded machine that is not at once)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        except OSError:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.timeout(120)
def test_serve_drains_a_request_in_flight_on_sigterm_and_exits_0(served) -> None:
    url, key, start = served
    proc, port = start()
    body = json.dumps(invoice_body(reference="DRAIN-1")).encode()
    sock, rest = _half_sent_post(port, key, body)
    time.sleep(1.0)  # the server has read the headers: the request is in flight
    proc.send_signal(signal.SIGTERM)
    assert _refuses_connections(port), "regie serve still accepts connections after SIGTERM"
    assert proc.poll() is None, "regie serve exited with a request in flight"
    sock.sendall(rest)
    status, answer = _read_response(sock)
    sock.close()
    assert status == 201, answer
    invoice = json.loads(answer)
    assert invoice["reference"] == "DRAIN-1"
    assert proc.wait(timeout=30) == 0
    stderr = proc.stderr.read() if proc.stderr else b""
    assert b"Traceback" not in stderr, stderr

    async def stored() -> int:
        db = Database(url)
        try:
            async with db.engine.connect() as conn:
                q = text("SELECT count(*) FROM invoices WHERE id = :id")
                return int((await conn.execute(q, {"id": invoice["id"]})).scalar_one())
        finally:
            await db.dispose()

    assert asyncio.run(stored()) == 1


@pytest.mark.timeout(120)
def test_serve_does_not_wait_past_the_grace_for_a_request_that_never_ends(served) -> None:
    _, key, start = served
    proc, port = start(REGIE_SHUTDOWN_GRACE_SECONDS="2")
    sock, _ = _half_sent_post(port, key, json.dumps(invoice_body()).encode())
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    try:
        # the grace is 2 s; 30 s is only a bound for the test, not a measure
        code = proc.wait(timeout=30)
    finally:
        sock.close()
    assert code == 0


async def _count(db: Database, model, *where) -> int:  # type: ignore[no-untyped-def]
    async with db.session() as s:
        q = select(func.count()).select_from(model).where(*where)
        return int((await s.execute(q)).scalar_one())


async def _wait(predicate, timeout: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(0.2)
    return False


async def _worker_stuck_on(app, settings, inv, **extra: str):  # type: ignore[no-untyped-def]
    """Hold the invoice's row lock, start a worker: it claims the event and waits on it."""
    db = app.state.db
    blocker = await db.engine.connect()
    await blocker.begin()
    await blocker.execute(
        text("SELECT id FROM invoices WHERE id = :id FOR UPDATE"), {"id": inv["id"]}
    )
    env = _env(settings.database_url, REGIE_WORKER_POLL_SECONDS="0.2", **extra)
    worker = subprocess.Popen(
        [REGIE, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )

    async def stuck() -> bool:
        return bool(await lock_waiters(db))

    assert await _wait(stuck), "the worker never reached the event"
    return blocker, worker


async def _applied_once(app, client, keys: Keys, inv) -> None:  # type: ignore[no-untyped-def]
    db = app.state.db
    r = await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))
    assert r.json()["status"] == "paid"
    paid = (StateChange.object == "invoice", StateChange.to_status == "paid")
    assert await _count(db, StateChange, *paid) == 1
    assert await _count(db, JournalEntry, JournalEntry.kind == "payment_succeeded") == 1
    assert await _count(db, InboxEvent, InboxEvent.status != "done") == 0


@pytest.mark.postgres
@pytest.mark.timeout(180)
async def test_worker_finishes_the_current_event_on_sigterm_and_exits_0(
    client, app, keys: Keys, settings
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv)  # the event waits in the inbox
    blocker, worker = await _worker_stuck_on(app, settings, inv)
    try:
        worker.send_signal(signal.SIGTERM)
        await asyncio.sleep(1.0)
        assert worker.poll() is None, "the worker left its event half-done"
        await blocker.rollback()  # the event can go on
        assert await asyncio.to_thread(worker.wait, 30) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
        await blocker.close()
    stderr = worker.stderr.read() if worker.stderr else b""
    assert b"worker stopped" in stderr and b"Traceback" not in stderr, stderr
    await _applied_once(app, client, keys, inv)


@pytest.mark.postgres
@pytest.mark.timeout(180)
async def test_worker_abandons_an_event_stuck_past_the_grace_and_the_next_applies_it_once(
    client, app, keys: Keys, settings
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv)
    blocker, worker = await _worker_stuck_on(app, settings, inv, REGIE_SHUTDOWN_GRACE_SECONDS="1")
    try:
        worker.send_signal(signal.SIGTERM)
        # the grace is 1 s; 30 s only bounds the test
        assert await asyncio.to_thread(worker.wait, 30) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
        await blocker.rollback()
        await blocker.close()
    db = app.state.db
    assert await _count(db, InboxEvent, InboxEvent.status == "pending") == 1  # rolled back
    env = _env(settings.database_url, REGIE_WORKER_POLL_SECONDS="0.2")
    again = subprocess.Popen(
        [REGIE, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:

        async def done() -> bool:
            return await _count(db, InboxEvent, InboxEvent.status == "done") == 1

        assert await _wait(done), "the next worker did not apply the event"
        again.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(again.wait, 30) == 0
    finally:
        if again.poll() is None:
            again.kill()
    await _applied_once(app, client, keys, inv)


async def test_a_stopped_worker_finishes_its_tick_within_the_grace() -> None:
    from regie.worker import Worker

    started, finished = asyncio.Event(), []

    async def drain(batch: int) -> int:
        started.set()
        await asyncio.sleep(0.3)  # an event being applied
        finished.append(batch)
        return 1

    worker = Worker([drain], poll_seconds=0.01, batch_size=5)
    run = asyncio.create_task(worker.run(grace_seconds=30))
    await started.wait()
    worker.stop()
    await asyncio.wait_for(run, timeout=30)
    assert finished == [5]  # the tick in progress ran to its end, and no other began


async def test_a_stopped_worker_cancels_a_tick_stuck_past_the_grace() -> None:
    from regie.worker import Worker

    started, cancelled = asyncio.Event(), []

    async def stuck(batch: int) -> int:
        started.set()
        try:
            await asyncio.Event().wait()  # waits on a lock that never comes
        except asyncio.CancelledError:
            cancelled.append(batch)  # its transaction rolls back here
            raise
        return 0

    worker = Worker([stuck], poll_seconds=0.01)
    run = asyncio.create_task(worker.run(grace_seconds=0.2))
    await started.wait()
    worker.stop()
    await asyncio.wait_for(run, timeout=30)  # run() returns: the process can exit 0
    assert cancelled == [20]
