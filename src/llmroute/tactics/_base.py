"""What every tactic is built on: the views a standalone balancer reads, the candidate set,
and the tactic base class."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

from ..config import ModelSpec, Service, ServiceID, Tactic
from ..state import StateSnapshot
from ..typing import Rng

_P = TypeVar("_P")

#: A request's estimated (input, output) tokens, computed when a tactic asks (see
#: :attr:`BalancingTactic.reads_tokens`).
Tokens = Callable[[], tuple[int, int]]

_NO_SPECS: Mapping[ServiceID, ModelSpec] = MappingProxyType({})
_UNKNOWN = ModelSpec()

#: What :meth:`BalancingTactic.pick` returns: the chosen service, a ``str.format`` template
#: saying why, and the template's arguments (formatted only when a decision is explained).
Pick = tuple[Service, str, tuple[object, ...]]


@runtime_checkable
class HealthView(Protocol):
    """Anything that says whether a service is healthy, such as the health monitor.

    ``is_healthy`` takes a :class:`ServiceID` (a ``str``) and must be thread-safe. A view may
    also offer ``any_unhealthy() -> bool``: when it returns False the load balancer skips the
    per-service checks, which keeps selection O(1) in the common all-healthy case. It must
    only return False when ``is_healthy`` would return True for every service.
    """

    def is_healthy(self, service_id: ServiceID, /) -> bool:
        """True when the service may take requests."""


@runtime_checkable
class SessionCounts(Protocol):
    """Anything that counts the live sessions locked to a service, such as an affinity store.

    ``count_by_service`` must be cheap (O(1)) and thread-safe; ``capacity_based`` reads it for
    every candidate on every selection.
    """

    def count_by_service(self, service_id: ServiceID, /) -> int:
        """How many live (unexpired) sessions are locked to the service."""


class CandidateSet:
    """The services a tactic chooses among, with lookups precomputed once per set.

    ``services`` are active and unique by service id, in the order given (config order);
    ``ids`` are their service ids and ``index`` maps an id to its position. ``ranks`` maps
    the service ids of the whole rule to their config position (round_robin uses it to go on
    after a service that left the set). ``data`` holds what the tactic's
    :meth:`BalancingTactic.prepare` computed for this set; a tactic may replace it with an
    updated value (an atomic attribute swap), never mutate it in place. ``specs``: the
    catalog figures of the services that have any (the selector's plan gives them; a
    service's own ``model_info`` stands in otherwise, see :meth:`spec`). ``start`` is the
    position of ``seed`` (the rule's configured current service,
    :meth:`llmroute.Rule.current_service`) in the set, 0 when it is not in it: the current
    service before the state has one, and where round robin's rotation starts.
    """

    __slots__ = ("data", "ids", "index", "ranks", "services", "specs", "start")

    def __init__(
        self,
        services: tuple[Service, ...],
        ranks: dict[ServiceID, int] | None = None,
        specs: Mapping[ServiceID, ModelSpec] | None = None,
        seed: ServiceID | None = None,
    ) -> None:
        if not services:
            raise ValueError("a candidate set needs at least one service")
        self.services = services
        self.ids: tuple[ServiceID, ...] = tuple(s.service_id for s in services)
        self.index: dict[ServiceID, int] = {sid: i for i, sid in enumerate(self.ids)}
        self.ranks: dict[ServiceID, int] = ranks if ranks is not None else dict(self.index)
        self.specs = specs if specs is not None else _NO_SPECS
        self.start = self.index.get(seed, 0) if seed is not None else 0
        self.data: Any = None

    def spec(self, position: int) -> ModelSpec:
        """The figures of the service at ``position`` (all unknown when none is known)."""
        service = self.services[position]
        found = self.specs.get(service.service_id)
        if found is None:
            found = service.model_info if service.model_info is not None else _UNKNOWN
        return found

    def __len__(self) -> int:
        return len(self.services)

    def __repr__(self) -> str:
        return f"CandidateSet({', '.join(self.ids)})"


class BalancingTactic(ABC):
    """A load-balancing tactic: a pure choice of one service among candidates.

    Built by :func:`create_tactic` from a :class:`Tactic` config; ``name`` is the tactic's
    config name and ``config`` the config it came from. Instances are shared across threads;
    per-rule state (cursor, turn) comes from the :class:`StateSnapshot`, per-candidate-set
    precomputation lives in :attr:`CandidateSet.data` (from :meth:`prepare`).

    A tactic declares what it reads, so one state read fetches exactly that: ``reads_stats``
    (usage windows, latency and speed figures), ``ewma_decay`` (the latency EWMA, None when
    not read), ``reads_sessions`` (live session counts), ``reads_in_flight`` (calls in
    flight), ``takes_turn`` (the rule's round-robin turn) and ``reads_tokens`` (the request's
    estimated tokens: the selector calls :meth:`pick_for` with them). :meth:`pick` is called
    with at least two candidates and must return one of them; it reads only the snapshot
    and ``rng`` and does no I/O. Ties go to the first candidate unless the tactic says
    otherwise.
    """

    name: ClassVar[str] = ""
    reads_stats: ClassVar[bool] = False
    reads_sessions: ClassVar[bool] = False
    takes_turn: ClassVar[bool] = False
    reads_in_flight: ClassVar[bool] = False
    reads_tokens: ClassVar[bool] = False
    #: Whether the tactic keeps a current service (the rule's cursor) while it is good enough.
    keeps_current: ClassVar[bool] = False
    #: Whether the tactic prefers lower ``Service.tier`` values: a session pinned to a higher
    #: tier than the tactic's choice fails back to it (after the promotion hold), and
    #: failover tries the services tier by tier.
    prefers_tiers: ClassVar[bool] = False

    def __init__(self, config: Tactic) -> None:
        self.config = config
        self.ewma_decay: float | None = None

    def prepare(self, candidates: CandidateSet) -> Any:
        """Precompute what :meth:`pick` needs for this candidate set (stored as its ``data``)."""
        return None

    @abstractmethod
    def pick(self, snapshot: StateSnapshot, candidates: CandidateSet, rng: Rng) -> Pick:
        """Choose among ``candidates``; return ``(service, reason template, reason args)``."""

    def pick_for(
        self, snapshot: StateSnapshot, candidates: CandidateSet, rng: Rng, tokens: Tokens
    ) -> Pick:
        """:meth:`pick` for a request whose estimated (input, output) tokens ``tokens()``
        gives (called only if needed); a tactic that prices a request overrides it."""
        return self.pick(snapshot, candidates, rng)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.config.params!r}>"


def current_of(snapshot: StateSnapshot, candidates: CandidateSet) -> Service | None:
    """The rule's current service (from the snapshot's cursor) when it is a candidate.

    Before the state has a current service for the rule (no cursor yet), the rule's
    configured one is (``current_service_index``, see :meth:`llmroute.Rule.current_service`),
    else the first candidate in config order, as in tingly-box. None when the cursor names a
    service that is not a candidate now.
    """
    current = snapshot.cursor.current
    if current is None:
        return candidates.services[candidates.start]
    pos = candidates.index.get(current)
    return None if pos is None else candidates.services[pos]


def params_of(config: Tactic, kind: type[_P]) -> _P:
    """``config.params`` checked to be a ``kind``; a ``TypeError`` naming both otherwise."""
    params = config.params
    if not isinstance(params, kind):
        raise TypeError(
            f"tactic {config.type!r} needs {kind.__name__} params, got {type(params).__name__}"
        )
    return params


def first_min(values: Sequence[float]) -> int:
    """The position of the smallest value; ties go to the first."""
    return min(range(len(values)), key=values.__getitem__)


def first_max(values: Sequence[float]) -> int:
    """The position of the largest value; ties go to the first."""
    return max(range(len(values)), key=values.__getitem__)


def two_choices(
    rng: Rng, pool: Sequence[int], cost: Callable[[int], float]
) -> tuple[int, int, float, float]:
    """Power of two choices: draw two distinct positions from ``pool``, keep the cheaper.

    Returns ``(winner, loser, winner's cost, loser's cost)``; on equal costs the first drawn
    wins, so ties spread at random too. ``pool`` needs at least two entries.
    """
    n = len(pool)
    i = int(rng.random() * n)
    j = int(rng.random() * (n - 1))
    if j >= i:
        j += 1
    a, b = pool[i], pool[j]
    cost_a, cost_b = cost(a), cost(b)
    if cost_b < cost_a:
        return b, a, cost_b, cost_a
    return a, b, cost_a, cost_b
