"""Fixtures of the notification tests: a receiver started and stopped around a test, and
the app's outbox with a short quick-retry wait."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.webhooks.notify_kit import Receiver, free_port


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(free_port())
    r.start()
    yield r
    r.stop()


@pytest.fixture
def notifications(app: Any) -> Any:
    svc = app.state.outbox
    svc.quick_retry_wait = 0.01
    return svc
