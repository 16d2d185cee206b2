"""``regie serve``'s server: uvicorn, draining on SIGTERM and then exiting 0.

On SIGTERM (``docker stop``, an orchestrator scaling down) uvicorn stops accepting
connections, lets the requests in flight finish for up to ``REGIE_SHUTDOWN_GRACE_SECONDS``,
and runs the app's shutdown. uvicorn then raises the signal again, so the process would end
killed by SIGTERM (143) although it stopped cleanly; regie's server does not, and exits 0.
SIGINT keeps uvicorn's behaviour (a second Ctrl-C forces the exit).
"""

from __future__ import annotations

import signal
from types import FrameType

import uvicorn
from fastapi import FastAPI

from regie.kit.settings import Settings


class DrainingServer(uvicorn.Server):
    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        captured = getattr(self, "_captured_signals", None)
        if sig == signal.SIGTERM and isinstance(captured, list) and sig in captured:
            captured.remove(sig)  # a drained SIGTERM is a clean stop: exit 0


def serve(app: FastAPI, settings: Settings, host: str, port: int) -> None:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        proxy_headers=True,
        log_config=None,
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )
    DrainingServer(config).run()
