"""The local view: what this process last read from Redis (and its own outcomes since), from
which reads are answered while it is fresh."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import NamedTuple

from ..affinity import AffinityEntry
from ..config import ServiceID
from ..health import HealthState
from ..state import EMPTY, StateQuery
from ._codec import decode_health, decode_pin
from ._samples import FleetSamples

__all__ = ["Usage", "View"]

_MAX_PINS = 100_000


class Usage(NamedTuple):
    """A service's shared usage window: its start and length, and what it counted."""

    start: float
    length: float
    requests: int = 0
    inputs: int = 0
    outputs: int = 0
    hits: int = 0
    misses: int = 0

    def live(self, now: float) -> Usage | None:
        """This window, or None once it has run out."""
        return self if now - self.start < self.length else None

    def plus(self, now: float, length: float, inputs: int, outputs: int, cache: int) -> Usage:
        """The window after one more request (``cache``: 1 hit, -1 miss, 0 none)."""
        base = self.live(now) or Usage(now, length)
        return base._replace(
            requests=base.requests + 1,
            inputs=base.inputs + inputs,
            outputs=base.outputs + outputs,
            hits=base.hits + (cache > 0),
            misses=base.misses + (cache < 0),
        )


class View:
    """What the process knows of the shared state, each part with the monotonic time it was
    read at. ``server`` holds the health entries as Redis last answered (what a
    compare-and-set expects); ``states`` what decisions read (the server's, with this
    process's own outcomes applied at once). One lock guards it; no I/O happens under it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.server: dict[str, str | None] = {}
        self.states: dict[str, HealthState] = {}
        self.health_at = -1e18
        self.seq = 0
        self.turns: dict[str, tuple[int, float]] = {}
        self.sessions: dict[str, tuple[int, float]] = {}
        self.usage: dict[str, tuple[Usage | None, float]] = {}
        self.pins: OrderedDict[tuple[str, str], tuple[AffinityEntry | None, float]] = OrderedDict()
        self.samples: dict[str, tuple[FleetSamples, float]] = {}  # with share_samples
        self.leases_at = -1e18  # when the replicas' leases were last read
        self.sick: dict[str, HealthState] = {}  # the unhealthy ones among ``states``
        self.recovered: dict[str, float] = {}  # when the healthy ones were re-admitted
        self._checked: dict[int, tuple[ServiceID, ...]] = {}  # service tuples all in the view

    def fresh(
        self, query: StateQuery, mono: float, interval: float, now: float, samples: bool = False
    ) -> bool:
        """Whether ``query`` can be answered from the view without a network call (not when
        it takes a turn or a probe lease is due: those are taken on the server).
        ``samples``: latency figures come from the fleet's samples."""
        if interval <= 0 or query.take_turn:
            return False
        limit = mono - interval
        if self.health_at < limit or not self._known(query.services):
            return False
        if query.lease_probes and self.due(query.services, now):
            return False
        if query.turn:
            turn = self.turns.get(query.rule)
            if turn is None or turn[1] < limit:
                return False
        pins = self.pins
        rule = query.rule
        if any(pins.get((rule, key), (None, -1e18))[1] < limit for key in query.pin_keys):
            return False
        if query.sessions and _stale(self.sessions, query.services, limit):
            return False
        if query.in_flight and self.leases_at < limit:
            return False
        figures = query.stats or query.ewma_decay
        if samples and figures and _stale(self.samples, query.services, limit):
            return False
        return not (query.stats and _stale(self.usage, query.services, limit))

    def _known(self, services: tuple[ServiceID, ...]) -> bool:
        """Whether every service of ``services`` is in the view (kept per tuple: a rule's
        query holds one tuple for its lifetime)."""
        if self._checked.get(id(services)) is services:
            return True
        if any(sid not in self.server for sid in services):
            return False
        if len(self._checked) > 1024:
            self._checked.clear()
        self._checked[id(services)] = services
        return True

    def due(self, services: Iterable[str], now: float) -> list[str]:
        """The services whose view state has a probe due at ``now``."""
        found = []
        for sid in services:
            state = self.states.get(sid)
            if state is None or state.healthy:
                continue
            if now >= state.unhealthy_until and now >= state.probe_until:
                found.append(sid)
        return found

    def set_health(self, sid: str, raw: str | None) -> None:
        """Record a health entry as the server holds it (lock held)."""
        self.server[sid] = raw
        self.put_state(sid, decode_health(raw))

    def put_state(self, sid: str, state: HealthState) -> None:
        """Record the health decisions read for a service (lock held)."""
        self.states[sid] = state
        if state.healthy:
            self.sick.pop(sid, None)
            if state.readmitted_at is not None:
                self.recovered[sid] = state.readmitted_at
            else:
                self.recovered.pop(sid, None)
        else:
            self.sick[sid] = state
            self.recovered.pop(sid, None)

    def set_pin(self, rule: str, key: str, raw: str | None, mono: float) -> None:
        """Record a pin as read or written (lock held); the least recently set go first."""
        self.put_pin(rule, key, decode_pin(raw, -math.inf), mono)

    def put_pin(self, rule: str, key: str, entry: AffinityEntry | None, mono: float) -> None:
        """Record a pin's entry (lock held)."""
        pins = self.pins
        pins[(rule, key)] = (entry, mono)
        pins.move_to_end((rule, key))
        while len(pins) > _MAX_PINS:
            pins.popitem(last=False)

    def unhealthy(self, services: Iterable[ServiceID]) -> Mapping[str, HealthState]:
        """The unhealthy states among ``services``."""
        sick = self.sick
        if not sick:
            return EMPTY
        return MappingProxyType({sid: sick[sid] for sid in services if sid in sick})

    def recovered_of(self, services: Iterable[ServiceID]) -> Mapping[str, float]:
        """When the services among ``services`` re-admitted lately were re-admitted."""
        recovered = self.recovered
        if not recovered:
            return EMPTY
        return MappingProxyType({sid: recovered[sid] for sid in services if sid in recovered})

    def pins_of(self, rule: str, keys: Iterable[str], now: float) -> dict[str, AffinityEntry]:
        """The live pins of the session keys."""
        found = {}
        for key in keys:
            entry = self.pins.get((rule, key), (None, 0.0))[0]
            if entry is not None and now < entry.expires_at:
                found[key] = entry
        return found

    def session_counts(self, services: Iterable[ServiceID]) -> Mapping[str, int]:
        """Live pins per service, as last read (plus this process's own since)."""
        counts = {sid: self.sessions.get(sid, (0, 0.0))[0] for sid in services}
        return MappingProxyType({sid: n for sid, n in counts.items() if n})

    def turn_of(self, rule: str) -> int:
        """The rule's round-robin turn as last read."""
        return self.turns.get(rule, (0, 0.0))[0]


def _stale(table: Mapping[str, tuple[object, float]], sids: Iterable[str], limit: float) -> bool:
    return any(table.get(sid, (None, -1e18))[1] < limit for sid in sids)
