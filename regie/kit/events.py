"""In-process domain events.

A package publishes events into its unit of work (``uow.publish(InvoicePaid(...))``);
subscribers registered by the composition root run in the same transaction. The
publisher never imports its subscribers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DomainEvent:
    """Base class of all domain events (frozen dataclasses)."""


# (the unit of work, the event): typed loosely so that events imports nothing of the kernel
Handler = Callable[[Any, Any], Awaitable[None]]


class EventBus:
    def __init__(self) -> None:
        self._handlers: dict[type[DomainEvent], list[Handler]] = defaultdict(list)

    def subscribe(self, event_type: type[DomainEvent], handler: Handler) -> None:
        self._handlers[event_type].append(handler)

    async def dispatch(self, uow: Any, ev: DomainEvent) -> None:
        for klass in type(ev).__mro__:
            for handler in self._handlers.get(klass, []):  # type: ignore[call-overload]
                await handler(uow, ev)
