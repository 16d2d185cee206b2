"""The inbox's dead letters, listed and re-queued by an operator (``webhooks.inbound.dead``,
``regie maintenance dead-events`` and ``regie maintenance requeue``): the README promised
they "can be re-queued", and no command did it."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import select

from regie.kit.database import Database
from webhooks.inbound.dead import dead_events, requeue
from webhooks.inbound.models import InboxEvent

REGIE = str(Path(sys.executable).parent / "regie")
NOW = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)


def _row(n: int, status: str, attempts: int, error: str | None) -> InboxEvent:
    return InboxEvent(
        id=f"inb_{n}", provider="simulator", event_id=f"evt_{n}", event_type="refund.updated",
        raw_type="refund.updated", event_created_at=NOW, data={"refund_id": f"re_{n}"},
        status=status, attempts=attempts, next_attempt_at=NOW + dt.timedelta(days=9),
        last_error=error, received_at=NOW - dt.timedelta(hours=n),
    )  # fmt: skip


async def _seed(db: Database) -> None:
    async with db.session() as s:
        s.add(_row(1, "dead", 8, "ProviderError: unavailable"))
        s.add(_row(2, "dead", 0, "deferred: refund re_2 of pay_2, whose payment regie has not"))
        s.add(_row(3, "pending", 2, "ProviderError: timeout"))
        s.add(_row(4, "done", 1, None))
        await s.commit()


async def _rows(db: Database) -> dict[str, tuple[str, int]]:
    async with db.session() as s:
        found = (await s.execute(select(InboxEvent))).scalars()
        return {r.id: (r.status, r.attempts) for r in found}


async def test_dead_letters_are_listed_oldest_first_and_requeued_with_a_fresh_budget(
    app: Any,
) -> None:
    db = app.state.db
    await _seed(db)
    assert [r.id for r in await dead_events(db)] == ["inb_2", "inb_1"]  # received earlier first
    # only a dead letter is re-queued: not a pending event, not a done one, not an unknown id
    assert await requeue(db, ["inb_1", "inb_3", "inb_4", "inb_nope"]) == ["inb_1"]
    rows = await _rows(db)
    assert rows == {
        "inb_1": ("pending", 0),  # the whole retry schedule again
        "inb_2": ("dead", 0),
        "inb_3": ("pending", 2),  # untouched
        "inb_4": ("done", 1),
    }
    async with db.session() as s:
        again = await s.get(InboxEvent, "inb_1")
        assert again is not None and again.next_attempt_at <= dt.datetime.now(dt.UTC)  # due
    assert await requeue(db, None) == ["inb_2"]
    assert await dead_events(db) == []


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([REGIE, *args], env=env, capture_output=True, text=True, timeout=120)


async def test_an_operator_lists_and_requeues_dead_events_from_the_command_line(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGIE_")}
    env["REGIE_DATABASE_URL"] = url
    assert _run(["db", "upgrade"], env).returncode == 0
    db = Database(url)
    try:
        await _seed(db)
        listed = _run(["maintenance", "dead-events", "--format", "json"], env)
        assert listed.returncode == 0, listed.stderr
        doc = json.loads(listed.stdout)
        assert [(d["id"], d["event_id"], d["attempts"]) for d in doc] == [
            ("inb_2", "evt_2", 0),
            ("inb_1", "evt_1", 8),
        ]
        assert doc[1]["last_error"] == "ProviderError: unavailable"
        table = _run(["maintenance", "dead-events"], env)
        assert "inb_1" in table.stdout and "2 dead events" in table.stdout
        nothing = _run(["maintenance", "requeue"], env)  # neither ids nor --all
        assert nothing.returncode == 2 and "--all" in nothing.stderr
        partly = _run(["maintenance", "requeue", "inb_1", "inb_3"], env)
        assert partly.returncode == 2  # an id that is not a dead event: a bad argument
        assert "re-queued inb_1" in partly.stdout
        assert "error: not a dead event: inb_3" in partly.stderr
        assert (await _rows(db))["inb_1"] == ("pending", 0)
        rest = _run(["maintenance", "requeue", "--all"], env)
        assert rest.returncode == 0 and "re-queued 1 dead events" in rest.stdout
        assert _run(["maintenance", "dead-events"], env).stdout.strip() == "no dead events"
    finally:
        await db.dispose()
