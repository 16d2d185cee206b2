"""A worker's health, as a container's health check sees it: `regie worker` touches
``REGIE_WORKER_HEARTBEAT_FILE`` after each tick that ends without an error, and
`regie worker --healthcheck` exits 0 only while that was recent enough."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from regie.worker import Worker, heartbeat_age

REGIE = str(Path(sys.executable).parent / "regie")


def _run_one_tick(worker: Worker) -> None:
    async def main() -> None:
        async def stop_soon() -> None:
            await asyncio.sleep(0.05)
            worker.stop()

        stopper = asyncio.ensure_future(stop_soon())
        await worker.run()
        await stopper

    asyncio.run(main())


def test_a_tick_that_ends_well_touches_the_heartbeat_file(tmp_path: Path) -> None:
    beat = tmp_path / "beat"
    calls: list[int] = []

    async def drain(n: int) -> int:
        calls.append(n)
        return 0

    _run_one_tick(Worker([drain], poll_seconds=0.01, heartbeat=beat))
    assert calls, "the worker ticked"
    age = heartbeat_age(beat)
    assert age is not None and age < 60


def test_a_tick_that_fails_leaves_the_heartbeat_as_it_was(tmp_path: Path) -> None:
    beat = tmp_path / "beat"
    calls: list[int] = []

    async def drain(n: int) -> int:
        calls.append(n)
        raise RuntimeError("the database is down")

    _run_one_tick(Worker([drain], poll_seconds=0.01, heartbeat=beat))
    assert calls, "the worker ticked"
    assert heartbeat_age(beat) is None
    beat.touch()
    os.utime(beat, (time.time() - 1000, time.time() - 1000))
    _run_one_tick(Worker([drain], poll_seconds=0.01, heartbeat=beat))
    age = heartbeat_age(beat)
    assert age is not None and age > 900


def test_a_heartbeat_file_that_cannot_be_written_does_not_stop_the_worker(tmp_path: Path) -> None:
    beat = tmp_path / "no-such-directory" / "beat"
    calls: list[int] = []

    async def drain(n: int) -> int:
        calls.append(n)
        return 0

    _run_one_tick(Worker([drain], poll_seconds=0.01, heartbeat=beat))
    assert len(calls) >= 2, "the worker went on ticking"
    assert heartbeat_age(beat) is None


def _health(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("REGIE_")}
    base["REGIE_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'none.db'}"
    return subprocess.run(
        [REGIE, "worker", "--healthcheck"],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("age", "code", "said"),
    [(None, 1, "unhealthy: no tick"), (5, 0, "healthy"), (400, 1, "unhealthy: the last good tick")],
)
def test_the_healthcheck_reads_the_heartbeat_age(
    tmp_path: Path, age: int | None, code: int, said: str
) -> None:
    beat = tmp_path / "beat"
    if age is not None:
        beat.touch()
        os.utime(beat, (time.time() - age, time.time() - age))
    done = _health(tmp_path, REGIE_WORKER_HEARTBEAT_FILE=str(beat))
    assert done.returncode == code, done
    assert done.stdout.startswith(said), done.stdout
    assert not (tmp_path / "none.db").exists(), "the health check touches no database"


def test_the_healthcheck_limit_is_a_setting(tmp_path: Path) -> None:
    beat = tmp_path / "beat"
    beat.touch()
    os.utime(beat, (time.time() - 100, time.time() - 100))
    env = {"REGIE_WORKER_HEARTBEAT_FILE": str(beat)}
    assert _health(tmp_path, **env).returncode == 0
    assert _health(tmp_path, **env, REGIE_WORKER_HEARTBEAT_MAX_AGE_SECONDS="60").returncode == 1


def test_the_healthcheck_without_a_heartbeat_file_says_so(tmp_path: Path) -> None:
    done = _health(tmp_path)
    assert done.returncode == 2
    assert "REGIE_WORKER_HEARTBEAT_FILE is not set" in done.stderr
