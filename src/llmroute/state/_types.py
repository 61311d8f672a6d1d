"""The values that cross the state boundary: a query, the snapshot that answers it, and the
outcome written after a call. Plain immutable named tuples, so a shared store can send them
over the wire and decisions can read them without locks."""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

from ..affinity import AffinityEntry, PinChange
from ..config import HealthConfig, Service, ServiceID
from ..failures import Failure
from ..health import HealthState, available
from ..stats import ServiceStats
from ..usage import Usage

__all__ = [
    "EMPTY",
    "NO_CURSOR",
    "Outcome",
    "OutcomeKind",
    "StateQuery",
    "StateSnapshot",
    "TacticCursor",
]

#: An empty read-only mapping, shared.
EMPTY: Mapping[Any, Any] = MappingProxyType({})

#: What an :class:`Outcome` reports.
OutcomeKind = Literal["success", "failure", "cancelled", "probe"]


class TacticCursor(NamedTuple):
    """A rule's tactic cursor: its current service (the last that served) and how many
    outcomes in a row it has had; ``current`` is None (``streak`` 0) before the first."""

    current: ServiceID | None = None
    streak: int = 0


#: The cursor of a rule before its first outcome (shared).
NO_CURSOR = TacticCursor()


class StateQuery(NamedTuple):
    """What a selection needs to read, in one step.

    ``rule``: the rule's uuid; ``services``: every service id the rule may pick (its own and
    its smart blocks'); ``pin_keys``: the session's pin keys to look up; ``stats``: whether the
    tactic reads usage windows and latency figures; ``ewma_decay``: the latency EWMA decay the
    tactic reads (None: none); ``sessions``: whether it reads live session counts; ``cursor``:
    whether it reads the rule's current service; ``in_flight``: whether it reads the calls
    in flight (a store that shares them refreshes them for it); ``turn``: whether it reads
    the rule's round-robin turn, and ``take_turn``: take it atomically (``select()`` only peeks);
    ``lease_probes``: take the probe lease of services due for one; ``health``: the
    configuration health figures are read under.
    """

    rule: str
    services: tuple[ServiceID, ...]
    pin_keys: tuple[str, ...] = ()
    stats: bool = False
    ewma_decay: float | None = None
    sessions: bool = False
    cursor: bool = False
    in_flight: bool = False
    turn: bool = False
    take_turn: bool = False
    lease_probes: bool = False
    health: HealthConfig = HealthConfig()


class StateSnapshot(NamedTuple):
    """The state a selection decides from, as of ``now``; read-only.

    ``unhealthy``: the services that are not healthy, by id (every other one is); ``seq``: the
    ejection sequence at the read (outcomes carry it back); ``probing``: whether probes
    re-admit (else the recovery time does); ``stats`` / ``ewma`` / ``sessions``: the figures
    the query asked for, by service id (absent: no figure yet); ``in_flight``: requests in
    flight per service (this process's, or the fleet's with a store that shares them);
    ``pins``: the session's live pins by key;
    ``cursor``: the rule's cursor; ``turn``: the rule's round-robin turn; ``probes``: the probe
    leases this read took, as (service id, ejection seq); ``recovered``: when recently
    re-admitted services were re-admitted (for the pins' promotion hold).
    """

    now: float
    seq: int = 0
    unhealthy: Mapping[str, HealthState] = EMPTY
    probing: bool = False
    stats: Mapping[str, ServiceStats] = EMPTY
    ewma: Mapping[str, float] = EMPTY
    sessions: Mapping[str, int] = EMPTY
    in_flight: Mapping[str, int] = EMPTY
    pins: Mapping[str, AffinityEntry] = EMPTY
    cursor: TacticCursor = NO_CURSOR
    turn: int = 0
    probes: tuple[tuple[ServiceID, int], ...] = ()
    recovered: Mapping[str, float] = EMPTY

    def healthy(self, service_id: str) -> bool:
        """Whether the service may take traffic as of this snapshot."""
        state = self.unhealthy.get(service_id)
        return state is None or available(state, self.now, self.probing)

    def healthy_since(self, service_id: str) -> float:
        """Since when the service has been available (``-inf``: as far as the store knows,
        always; ``inf``: it is not available now)."""
        state = self.unhealthy.get(service_id)
        if state is not None:
            return state.unhealthy_until if available(state, self.now, self.probing) else math.inf
        return self.recovered.get(service_id, -math.inf)

    def stats_of(self, service_id: ServiceID) -> ServiceStats:
        """The service's figures (zeros when it has none)."""
        try:
            return self.stats[service_id]
        except KeyError:
            return ServiceStats(service_id=service_id)


class Outcome(NamedTuple):
    """One outcome to write, in one step.

    ``kind``: ``success`` (with ``usage``, ``latency_ms``, ``ttft_ms``), ``failure`` (with its
    classified ``failure``), ``cancelled`` (nothing counts), or ``probe`` (``ok``, and the
    probe's ``failure`` if it raised, for the ejection ``lease_seq``). ``read_seq`` is the
    ejection sequence the selection read (a success read before an ejection does not end it).
    ``pin``: the session pin change; ``current``: make ``service`` the rule's current service;
    ``advance_turn``: advance the rule's round-robin turn (when the read did not take it).
    ``cost``: the attempt's cost at the catalog's prices (None when unknown), where a budget
    settles and the stats' window cost adds up.
    """

    rule: str
    service: Service
    kind: OutcomeKind
    health: HealthConfig = HealthConfig()
    usage: Usage | None = None
    latency_ms: float | None = None
    ttft_ms: float | None = None
    failure: Failure | None = None
    read_seq: int | None = None
    pin: PinChange | None = None
    current: bool = False
    advance_turn: bool = False
    ok: bool = False
    lease_seq: int = 0
    cost: float | None = None
