"""``regie serve --workers N``: N processes, each with its own SO_REUSEPORT socket on the port
(the kernel spreads connections over them), a clear error for a taken port, and a clean stop
on SIGTERM. Real subprocesses on a fresh SQLite file."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

REGIE = str(Path(sys.executable).parent / "regie")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listeners(port: int) -> int:
    """How many sockets listen on ``port`` (TCP state 0A in /proc/net/tcp)."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state = fields[1], fields[3]
        if state == "0A" and int(local.split(":")[1], 16) == port:
            count += 1
    return count


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGIE_")}
    env["REGIE_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}"
    subprocess.run([REGIE, "db", "upgrade"], env=env, check=True, capture_output=True)
    return env


def wait_for(port: int, n: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if listeners(port) >= n:
            return
        time.sleep(0.2)
    raise AssertionError(f"{listeners(port)} listeners on {port}, expected {n}")


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads /proc/net/tcp (Linux)")
def test_two_processes_each_listen_on_the_port_and_stop_cleanly_on_sigterm(
    env: dict[str, str],
) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [REGIE, "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(port, 2)
        assert listeners(port) == 2  # two sockets, not one shared: SO_REUSEPORT
        for _ in range(20):  # new connections each time: whichever process gets them answers
            assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
        assert listeners(port) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_taken_port_is_one_clear_error_and_nothing_starts(env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = subprocess.run(
            [REGIE, "serve", "--port", str(port), "--workers", "2"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert f"127.0.0.1:{port} is already in use" in done.stderr
    assert "Traceback" not in done.stderr
