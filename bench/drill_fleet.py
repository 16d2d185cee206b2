"""The fault drill's processes and faults (``bench.drill``): two ``regie serve`` and two
``regie worker`` processes, the worker killed and started again, PostgreSQL restarted
(or every backend of the drill's database terminated)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

from bench.http_invoices import _plain

ROOT = Path(__file__).resolve().parent.parent
STOP_WAIT = 30.0  # seconds: REGIE_SHUTDOWN_GRACE_SECONDS (10) and then some


@dataclass
class Fault:
    what: str
    start: float  # time.monotonic()
    end: float
    detail: str = ""


class Fleet:
    """The drill's regie processes, each with its log file in ``logdir``."""

    def __init__(self, env: dict[str, str], logdir: Path, server_ports: list[int]) -> None:
        self.env = env
        self.logdir = logdir
        self.server_ports = server_ports
        self.servers: list[subprocess.Popen[bytes]] = []
        self.workers: list[subprocess.Popen[bytes]] = []
        self.worker_logs: list[Path] = []
        self.killed: list[subprocess.Popen[bytes]] = []
        self.starts = 0
        self.exit_codes: dict[str, int | None] | None = None

    def _spawn(
        self, name: str, args: list[str], env: dict[str, str]
    ) -> tuple[subprocess.Popen[bytes], Path]:
        self.starts += 1
        path = self.logdir / f"{name}.{self.starts}.log"
        with path.open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "regie.cli", *args], env=env, cwd=ROOT, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        return proc, path

    def start(self) -> None:
        quiet = {**self.env, "REGIE_LOG_LEVEL": "WARNING"}
        for port in self.server_ports:
            self.servers.append(
                self._spawn(f"serve-{port}", ["serve", "--port", str(port)], quiet)[0]
            )
        for i in range(2):
            proc, log = self._spawn(f"worker-{i + 1}", ["worker"], self.env)
            self.workers.append(proc)
            self.worker_logs.append(log)

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        for port in self.server_ports:
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"regie serve on port {port} not ready after {timeout} s")
                time.sleep(0.1)
        while not all(self.worker_started(i) for i in range(len(self.workers))):
            if time.monotonic() > deadline:
                raise RuntimeError("the workers did not start")
            time.sleep(0.1)

    def worker_started(self, i: int) -> bool:
        """The worker's log says its loop has begun."""
        return b"worker started" in self.worker_logs[i].read_bytes()

    def kill_worker(self, i: int) -> None:
        proc = self.workers[i]
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        self.killed.append(proc)

    def restart_worker(self, i: int) -> None:
        self.workers[i], self.worker_logs[i] = self._spawn(f"worker-{i + 1}", ["worker"], self.env)

    def stop(self) -> dict[str, int | None]:
        """SIGTERM to every process still running; their exit codes (None: had to be
        killed after ``STOP_WAIT``). Stops once: a second call gives the same codes."""
        if self.exit_codes is not None:
            return self.exit_codes
        procs = {f"serve:{p}": s for p, s in zip(self.server_ports, self.servers, strict=True)}
        procs |= {f"worker-{i + 1}": w for i, w in enumerate(self.workers)}
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes: dict[str, int | None] = {}
        for name, proc in procs.items():
            try:
                codes[name] = proc.wait(STOP_WAIT)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                codes[name] = None
        self.exit_codes = codes
        return codes

    def errors_logged(self) -> int:
        """Lines at error level in every log (the faults cause some: counted, not judged)."""
        return sum(log.read_bytes().count(b'"level": "error"') for log in self.logdir.glob("*.log"))


async def restart_postgres() -> str:
    """Restart the whole cluster (every database on it: the drill's own full mode)."""
    versions = sorted(os.listdir("/etc/postgresql"))
    if len(versions) != 1:
        raise RuntimeError(f"expected one PostgreSQL version in /etc/postgresql: {versions}")
    cmd = ["pg_ctlcluster", "--skip-systemctl-redirect", versions[0], "main", "restart"]
    done = await asyncio.to_thread(subprocess.run, cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr.strip()}")
    return " ".join(cmd)


async def terminate_backends(url: str) -> str:
    """Kill every backend connected to the drill's database (and only those)."""
    base, name = _plain(url).rsplit("/", 1)
    conn = await asyncpg.connect(f"{base}/postgres")
    try:
        n = await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
    finally:
        await conn.close()
    return f"pg_terminate_backend on the {n} backends of {name}"
