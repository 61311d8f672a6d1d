"""The in-process state store: stats, health, pins and cursors behind one read and one write."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping

from ..affinity import AffinityEntry, InMemoryAffinityStore
from ..config import HealthConfig, ServiceID
from ..health import HealthMonitor
from ..stats import InMemoryStatsStore, ServiceStats
from ..typing import Clock, system_clock
from ._cursors import InMemoryTacticState
from ._types import EMPTY, NO_CURSOR, Outcome, StateQuery, StateSnapshot

__all__ = ["InMemoryState", "ewma_view", "stats_view"]


class InMemoryState:
    """The thread-safe in-process state store (implements ``StateStore`` and
    ``AsyncStateStore``); the default of every selector.

    Its parts are reachable for inspection and tests: :attr:`stats`
    (:class:`InMemoryStatsStore`), :attr:`health` (:class:`HealthMonitor`), :attr:`affinity`
    (:class:`InMemoryAffinityStore`) and :attr:`tactics` (:class:`InMemoryTacticState`); pass
    your own to share one between selectors. All run on ``clock``.

    A snapshot's usage and latency figures are read from the stats part when a tactic first
    asks for a service's figure, and kept from then on: a tactic that reads two services of a
    hundred pays for two.
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        stats: InMemoryStatsStore | None = None,
        health: HealthMonitor | None = None,
        affinity: InMemoryAffinityStore | None = None,
        tactics: InMemoryTacticState | None = None,
    ) -> None:
        self._clock: Clock = clock if clock is not None else system_clock
        self.stats = stats if stats is not None else InMemoryStatsStore(clock=self._clock)
        self.health = health if health is not None else HealthMonitor(clock=self._clock)
        self.affinity = (
            affinity if affinity is not None else InMemoryAffinityStore(clock=self._clock)
        )
        self.tactics = tactics if tactics is not None else InMemoryTacticState()

    # -- StateStore ------------------------------------------------------------------------

    def read(self, query: StateQuery) -> StateSnapshot:
        """Answer ``query`` as of now (see :class:`StateQuery`)."""
        now = self._clock()
        unhealthy, seq = self.health.unhealthy()
        probes: tuple[tuple[ServiceID, int], ...] = ()
        if query.lease_probes and unhealthy:
            due = [sid for sid in query.services if sid in unhealthy]  # the query's ServiceIDs
            probes = tuple(self.health.lease_probes(due, now))
        rule = query.rule
        turn = 0
        if query.take_turn:
            turn = self.tactics.take_turn(rule)
        elif query.turn:
            turn = self.tactics.peek_turn(rule)
        return StateSnapshot(
            now=now,
            seq=seq,
            unhealthy=unhealthy,
            probing=query.health.probe_enabled,
            stats=stats_view(self.stats) if query.stats else EMPTY,
            ewma=ewma_view(self.stats, query.ewma_decay) if query.ewma_decay else EMPTY,
            sessions=self.affinity.counts() if query.sessions else EMPTY,
            pins=self.affinity.get_many(rule, query.pin_keys) if query.pin_keys else EMPTY,
            cursor=self.tactics.cursor(rule) if query.cursor else NO_CURSOR,
            turn=turn,
            probes=probes,
            recovered=self.health.recovered(),
        )

    def write(self, outcome: Outcome) -> None:
        """Apply ``outcome``: stats and health, then the rule's cursor and the session's pin."""
        now = self._clock()
        service = outcome.service
        sid = service.service_id
        kind = outcome.kind
        if kind == "success":
            self.stats.record_success(
                service, outcome.usage, outcome.latency_ms, outcome.ttft_ms, cost=outcome.cost
            )
            self.health.apply_success(sid, now, outcome.read_seq)
        elif kind == "failure" and outcome.failure is not None:
            self.health.apply_failure(sid, outcome.failure, outcome.health, now, outcome.read_seq)
        elif kind == "probe":
            self.health.apply_probe(
                sid, outcome.ok, outcome.failure, outcome.health, now, outcome.lease_seq
            )
        if outcome.current:
            self.tactics.record(outcome.rule, sid)
        if outcome.advance_turn:
            self.tactics.take_turn(outcome.rule)
        pin = outcome.pin
        if pin is None:
            return
        if pin.action == "set":
            entry = AffinityEntry(pin.service, "", now, now + pin.ttl, pin.fallback)
            self.affinity.pin(outcome.rule, pin.key, entry)
        else:
            self.affinity.release(outcome.rule, pin.key, pin.service)

    # -- AsyncStateStore: nothing here waits, so the async forms run the sync ones ----------

    async def aread(self, query: StateQuery) -> StateSnapshot:
        """:meth:`read` for async callers."""
        return self.read(query)

    async def awrite(self, outcome: Outcome) -> None:
        """:meth:`write` for async callers."""
        self.write(outcome)

    def configure(self, health: HealthConfig) -> None:
        """Apply a reloaded health configuration to the health part."""
        self.health.update_config(health)

    def __repr__(self) -> str:
        return f"InMemoryState({self.health!r}, {self.affinity!r})"


def stats_view(stats: InMemoryStatsStore) -> Mapping[str, ServiceStats]:
    """A snapshot's figures read lazily from ``stats``: each service's :class:`ServiceStats`,
    read once on first access and kept."""
    return _StatsView(stats)


def ewma_view(stats: InMemoryStatsStore, decay: float) -> Mapping[str, float]:
    """A snapshot's latency EWMAs for ``decay`` read lazily from ``stats`` (a service without
    samples is absent), read once on first access and kept."""
    return _EwmaView(stats, decay)


class _StatsView(Mapping[str, ServiceStats]):
    """Figures by service id, each read once from the stats part on first access."""

    __slots__ = ("_read", "_stats")

    def __init__(self, stats: InMemoryStatsStore) -> None:
        self._stats = stats
        self._read: dict[str, ServiceStats] = {}

    def __getitem__(self, service_id: str) -> ServiceStats:
        found = self._read.get(service_id)
        if found is None:
            sid = service_id if isinstance(service_id, ServiceID) else ServiceID.parse(service_id)
            found = self._read[service_id] = self._stats.get(sid)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._read)

    def __len__(self) -> int:
        return len(self._read)


class _EwmaView(Mapping[str, float]):
    """Latency EWMAs by service id for one decay, each read once on first access; a service
    with no latency sample is absent."""

    __slots__ = ("_decay", "_read", "_stats")

    def __init__(self, stats: InMemoryStatsStore, decay: float) -> None:
        if not 0 < decay < math.inf:
            raise ValueError(f"decay_seconds must be a finite number > 0, got {decay!r}")
        self._stats = stats
        self._decay = decay
        self._read: dict[str, float | None] = {}

    def __getitem__(self, service_id: str) -> float:
        if service_id in self._read:
            found = self._read[service_id]
        else:
            found = self._read[service_id] = self._stats.ewma_of(service_id, self._decay)
        if found is None:
            raise KeyError(service_id)
        return found

    def __iter__(self) -> Iterator[str]:
        return (sid for sid, value in self._read.items() if value is not None)

    def __len__(self) -> int:
        return sum(1 for value in self._read.values() if value is not None)
