"""Running health probes off the request path: a read that took a probe lease hands it here;
the probe runs on a worker thread (sync callers) or a task (async callers, when the probe is
a coroutine function), and its answer is written to the store as one outcome."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..config import HealthConfig, Service, ServiceID
from ..failures import Failure, classify_error
from ..health import ProbeThreads, is_async_probe, run_probe
from ..state import Outcome
from ..typing import Clock
from ._outcome import awrite_outcome, write_outcome

__all__ = ["ProbeRunner"]

_log = logging.getLogger("llmroute.health")


class ProbeRunner:
    """Starts the probes whose leases a read took; each answer is one outcome write."""

    def __init__(self, state: Any, probe: Any, clock: Clock) -> None:
        self._state = state
        self._probe = probe
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
        self._threads = ProbeThreads()
        self.enabled = False

    @property
    def has_probe(self) -> bool:
        """Whether a probe function was given."""
        return self._probe is not None

    @property
    def active(self) -> bool:
        """Whether reads should take probe leases."""
        return self.enabled and self._probe is not None

    def start(
        self, rule: str, leases: tuple[tuple[ServiceID, int], ...], health: HealthConfig
    ) -> None:
        """Start one probe per lease, on a task when called from a running event loop with a
        coroutine-function probe, else on a daemon thread."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        for service_id, lease_seq in leases:
            if loop is not None and is_async_probe(self._probe):
                task = loop.create_task(self._arun(rule, service_id, lease_seq, health))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            else:
                self._threads.start(service_id, self._run, rule, service_id, lease_seq, health)

    def join(self, timeout: float | None = None) -> None:
        """Wait for the probes started on threads to answer (tasks are the loop's)."""
        self._threads.join(timeout)

    def _run(self, rule: str, service_id: ServiceID, lease_seq: int, health: HealthConfig) -> None:
        try:
            ok, failure = run_probe(self._probe, service_id, self._clock)
        except BaseException:  # not an answer: the lease runs out and the probe is due again
            _log.warning("health probe of %s did not answer", service_id, exc_info=True)
            return
        write_outcome(self._state, self._answer(rule, service_id, lease_seq, health, ok, failure))

    async def _arun(
        self, rule: str, service_id: ServiceID, lease_seq: int, health: HealthConfig
    ) -> None:
        failure: Failure | None = None
        try:
            ok = bool(await self._probe(service_id))
        except Exception as exc:
            ok, failure = False, classify_error(exc, now=self._clock())
        outcome = self._answer(rule, service_id, lease_seq, health, ok, failure)
        await awrite_outcome(self._state, outcome)

    def _answer(
        self,
        rule: str,
        service_id: ServiceID,
        lease_seq: int,
        health: HealthConfig,
        ok: bool,
        failure: Failure | None,
    ) -> Outcome:
        _log.debug("health probe of %s answered %s", service_id, ok, extra=_extra(service_id))
        service = Service(provider=service_id.provider, model=service_id.model)
        return Outcome(
            rule=rule,
            service=service,
            kind="probe",
            health=health,
            failure=failure,
            ok=ok,
            lease_seq=lease_seq,
        )

    def _write(self, outcome: Outcome) -> None:
        write_outcome(self._state, outcome)


def _extra(service_id: str) -> dict[str, str]:
    return {"event": "probe_answered", "service_id": service_id}
