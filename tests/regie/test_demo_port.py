"""`make demo` when its port is taken (issue 11): it says so before anything else, prints
no "ready", starts no worker and touches no database."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

from regie.demo import PortTaken, take_port
from tests.regie.test_cli import REGIE


def _listening() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    return sock


def test_the_demo_on_a_taken_port_says_so_and_starts_nothing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGIE_")}
    with _listening() as busy:
        port = busy.getsockname()[1]
        result = subprocess.run(
            [REGIE, "demo", "--port", str(port)],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert result.returncode == 1, result.stderr[-2000:]
    assert "is ready" not in result.stderr and "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr[-2000:]
    assert f"port {port}" in lines[0] and "already in use" in lines[0], lines
    assert f"--port {port + 1}" in lines[0] and f"make demo PORT={port + 1}" in lines[0], lines
    assert "worker" not in result.stderr.lower()  # its worker never started (nor logged)
    assert list(tmp_path.iterdir()) == []  # no database migrated or seeded


def test_take_port_holds_the_port_until_the_server_takes_it() -> None:
    sock = take_port("127.0.0.1", 0)
    try:
        port = sock.getsockname()[1]
        try:
            take_port("127.0.0.1", port)
        except PortTaken as exc:
            assert f"port {port} on 127.0.0.1 is already in use" in str(exc)
        else:
            raise AssertionError("the same port was taken twice")
    finally:
        sock.close()
