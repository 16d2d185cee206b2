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
  flight (uvicorn's graceful shutdown) and exits;
- a process that dies on its own is started again, at most once per ``RESTART_EVERY``.

Linux lets only a process of the same user join a ``SO_REUSEPORT`` group, so another user
cannot take a share of the port.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.process
import os
import signal
import socket
import time
from types import FrameType
from typing import Any

from regie.kit.settings import Settings

RESTART_EVERY = 5.0  # seconds: the shortest interval between two starts of one process
STOP_TIMEOUT = 30.0  # seconds a process has to finish its requests once told to stop


def proxies(settings: Settings) -> dict[str, Any]:
    """uvicorn reads X-Forwarded-For/-Proto only from REGIE_TRUSTED_PROXIES, the peers the
    rate limits believe too (``regie.kit.ratelimit.client_address``)."""
    trusted = [p.strip() for p in settings.trusted_proxies.split(",") if p.strip()]
    return {"proxy_headers": bool(trusted), "forwarded_allow_ips": trusted or None}


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
    import uvicorn

    from regie.app import create_app
    from regie.kit.logging import configure

    settings = Settings()
    configure(settings.log_level)
    sock = reuse_port_socket(host, port)
    config = uvicorn.Config(
        create_app(settings),
        log_config=None,
        **proxies(settings),
        timeout_graceful_shutdown=int(STOP_TIMEOUT),
    )
    uvicorn.Server(config).run(sockets=[sock])


def serve_many(host: str, port: int, workers: int) -> int:
    """Start ``workers`` server processes on (host, port) and supervise them until told to
    stop; returns the exit status."""
    check_port_free(host, port)
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
        deadline = time.monotonic() + STOP_TIMEOUT
        for proc in procs:
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join()
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 0
