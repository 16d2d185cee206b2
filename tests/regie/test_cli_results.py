"""A command's result comes back from its coroutine unformatted (docs/architecture.md, "The
command line's start"): ``asyncio.run`` on Python 3.11 formats its main task's repr, the
result's included, as it ends; ``regie.cli_common.run_async`` does not."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import regie.cli_maintenance as cli_maintenance
import webhooks.inbound.dead as dead
from regie.cli import app
from regie.kit.database import Database
from regie.kit.settings import Settings


class _Ids(list[str]):
    """The ids ``requeue`` re-queued, counting the times they are turned into their repr."""

    reprs = 0

    def __repr__(self) -> str:
        type(self).reprs += 1
        return "_Ids()"


def test_requeue_hands_the_ids_it_requeued_back_unformatted(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setattr(cli_maintenance, "database_settings", lambda: settings)

    async def requeue(db: Database, ids: list[str] | None) -> _Ids:
        assert ids is None  # --all
        return _Ids(["inb_1", "inb_2"])

    monkeypatch.setattr(dead, "requeue", requeue)
    _Ids.reprs = 0
    result = CliRunner().invoke(app, ["maintenance", "requeue", "--all"])
    assert result.exit_code == 0, result.output
    assert "re-queued inb_1\nre-queued inb_2\nre-queued 2 dead events" in result.output
    assert _Ids.reprs == 0  # a dead letter's list of thousands is not formatted for nothing
