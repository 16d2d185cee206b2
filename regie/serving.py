"""``regie serve --workers N``: N server processes on one port, evenly loaded.

uvicorn's own ``--workers`` shares one listening socket between its processes: whichever
process wakes first accepts, and under keep-alive one process often ends up holding every
connection while the others idle. Here each process binds its own socket to the same port
with ``SO_REUSEPORT``, so the kernel spreads new connections over the processes' accept
queues by a hash of the client's address and port.

The parent process only supervises:
- it checks first that the port is free (a plain bind), so a taken port is one clear error;
- it starts the N processes (``spawn``: fresh interpreters, nothing inherited from a
  running event loop);
- SIGTERM or SIGINT is passed to every process, each of which finishes its requests in
  flight (within ``REGIE_SHUTDOWN_GRACE_SECONDS``) and exits;
- a process that dies on its own is started again, at most once per ``RESTART_EVERY``.

Linux lets only a process of the same user join a ``SO_REUSEPORT`` group, so another user
cannot take a share of the port.

One process or many, on SIGTERM (``docker stop``, an orchestrator scaling down) uvicorn
stops accepting connections, lets the requests in flight finish for up to
``REGIE_SHUTDOWN_GRACE_SECONDS``, and runs the app's shutdown. uvicorn then raises the
signal again, so the process would end killed by SIGTERM (143) although it stopped cleanly;
``DrainingServer`` does not, and exits 0. SIGINT keeps uvicorn's behaviour (a second Ctrl-C
forces the exit).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.process
import os
import signal
import socket
import time
from types import FrameType
from typing import TYPE_CHECKING, Any

import uvicorn

from regie.kit.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

RESTART_EVERY = 5.0  # seconds: the shortest interval between two starts of one process
STOP_MARGIN = 5.0  # seconds, beyond REGIE_SHUTDOWN_GRACE_SECONDS, before a process is killed


def proxies(settings: Settings) -> dict[str, Any]:
    """uvicorn reads X-Forwarded-For/-Proto only from REGIE_TRUSTED_PROXIES, the peers the
    rate limits believe too (``regie.kit.ratelimit.client_address``)."""
    trusted = [p.strip() for p in settings.trusted_proxies.split(",") if p.strip()]
    return {"proxy_headers": bool(trusted), "forwarded_allow_ips": trusted or None}


class DrainingServer(uvicorn.Server):
    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        captured = getattr(self, "_captured_signals", None)
        if sig == signal.SIGTERM and isinstance(captured, list) and sig in captured:
            captured.remove(sig)  # a drained SIGTERM is a clean stop: exit 0


def _config(app: FastAPI, settings: Settings, **where: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        log_config=None,
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
        **proxies(settings),
        **where,
    )


def serve(app: FastAPI, settings: Settings, host: str, port: int) -> None:
    """One server process: the app on (host, port), draining on SIGTERM, then exit 0."""
    DrainingServer(_config(app, settings, host=host, port=port)).run()


class PortInUse(RuntimeError):
    pass


def check_port_free(host: str, port: int) -> None:
    """Raise ``PortInUse`` when something listens on (host, port) already."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PortInUse(f"{host}:{port} is already in use ({exc.strerror})") from None


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A listening socket of this process's own in the port's ``SO_REUSEPORT`` group."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve_one(host: str, port: int) -> None:
    """One server process (the child's entry point): the app on its own reuse-port socket."""
    from regie.app import create_app
    from regie.kit.logging import configure

    settings = Settings()
    configure(settings.log_level)
    sock = reuse_port_socket(host, port)
    DrainingServer(_config(create_app(settings), settings)).run(sockets=[sock])


def serve_many(host: str, port: int, workers: int) -> int:
    """Start ``workers`` server processes on (host, port) and supervise them until told to
    stop; returns the exit status."""
    check_port_free(host, port)
    stop_timeout = Settings().shutdown_grace_seconds + STOP_MARGIN
    ctx = multiprocessing.get_context("spawn")
    procs: list[multiprocessing.process.BaseProcess] = []
    started: list[float] = []
    stopping = False

    def start(i: int) -> None:
        proc = ctx.Process(target=serve_one, args=(host, port), name=f"regie-serve-{i}")
        proc.start()
        if i < len(procs):
            procs[i], started[i] = proc, time.monotonic()
        else:
            procs.append(proc)
            started.append(time.monotonic())

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        for i in range(workers):
            start(i)
        while not stopping:
            time.sleep(0.2)
            for i, proc in enumerate(procs):
                if not proc.is_alive() and not stopping:
                    if time.monotonic() - started[i] >= RESTART_EVERY:
                        start(i)
    finally:
        for proc in procs:
            if proc.is_alive() and proc.pid is not None:
                os.kill(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + stop_timeout
        for proc in procs:
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join()
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 0
