"""Running a probe: its answer classified, async probes awaited, threads kept for joining."""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable

from ..failures import Failure, classify_error
from ..typing import AsyncProbe, Clock, Probe

__all__ = ["ProbeThreads", "is_async_probe", "run_probe"]

_log = logging.getLogger("llmroute.health")


def run_probe(
    probe: Probe | AsyncProbe, service_id: str, clock: Clock
) -> tuple[bool, Failure | None]:
    """Call ``probe`` and classify what it raised: (ok, failure or None)."""
    _log.debug(
        "health probe of %s started",
        service_id,
        extra={"event": "probe_started", "service_id": service_id},
    )
    try:
        answer: object = probe(service_id)
        if inspect.isawaitable(answer):  # an async probe, run to its end on this thread
            answer = asyncio.run(_awaited(answer))
        return bool(answer), None
    except Exception as exc:
        return False, classify_error(exc, now=clock())


async def _awaited(answer: Awaitable[object]) -> object:
    return await answer


def is_async_probe(probe: object) -> bool:
    """Whether ``probe`` is an async function or an object whose ``__call__`` is one."""
    call = type(probe).__dict__.get("__call__") if not inspect.isfunction(probe) else None
    return inspect.iscoroutinefunction(probe) or inspect.iscoroutinefunction(call)


class ProbeThreads:
    """The worker threads probes run on: started as daemons, kept until joined."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self, service_id: str, target: Callable[..., None], *args: object) -> None:
        """Run ``target(*args)`` on a new daemon thread named after the service."""
        thread = threading.Thread(
            target=target, args=args, name=f"llmroute-probe-{service_id}", daemon=True
        )
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the threads started so far."""
        with self._lock:
            threads, self._threads = self._threads, []
        for thread in threads:
            thread.join(timeout)
