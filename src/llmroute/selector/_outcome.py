"""From an attempt's result to the one :class:`Outcome` the store writes, and the store's
one read and one write, both failing open (logged, never raised)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..affinity import pin_change
from ..config import HealthConfig, RoutingConfig, Service
from ..execute import RetryBudget
from ..failures import Failure, FailureKind
from ..state import InFlight, Outcome, OutcomeKind, StateQuery, StateSnapshot
from ..typing import Clock, CountsInFlight, InFlightCounter, SharesRetryBudget
from ..usage import Usage
from ._result import SelectionResult

__all__ = [
    "aread_state",
    "awrite_outcome",
    "build_outcome",
    "configure_store",
    "read_failed",
    "read_state",
    "store_budget",
    "store_counter",
    "write_outcome",
]

_log = logging.getLogger("llmroute.state")


def write_outcome(state: Any, outcome: Outcome) -> None:
    """Write ``outcome`` from sync code: the store's ``write``, or (an async-only store, from a
    thread without a running loop) its ``awrite`` run to its end. A store that raises is
    logged, never re-raised: bookkeeping never fails a request."""
    try:
        write = getattr(state, "write", None)
        if write is not None:
            write(outcome)
        else:
            asyncio.run(state.awrite(outcome))
    except Exception:
        _write_failed(outcome)


async def awrite_outcome(state: Any, outcome: Outcome) -> None:
    """Write ``outcome`` from async code: the store's ``awrite``, else its ``write``; a store
    that raises is logged, never re-raised."""
    try:
        awrite = getattr(state, "awrite", None)
        if awrite is not None:
            await awrite(outcome)
        else:
            state.write(outcome)
    except Exception:
        _write_failed(outcome)


def _write_failed(outcome: Outcome) -> None:
    _log.error(
        "llmroute: writing the %s outcome of %s to the state store failed; it is lost",
        outcome.kind,
        outcome.service.service_id,
        exc_info=True,
        extra={"event": "state_write_failed", "service_id": outcome.service.service_id},
    )


def configure_store(state: Any, config: RoutingConfig) -> None:
    """Tell a store of a configuration: ``use_config(config)`` when it keys its state by
    config generation (a shared store), else ``configure(config.health)`` when it has one."""
    use_config = getattr(state, "use_config", None)
    if use_config is not None:
        use_config(config)
        return
    configure = getattr(state, "configure", None)
    if configure is not None:
        configure(config.health)


def read_state(state: Any, query: StateQuery, clock: Clock) -> StateSnapshot:
    """One read of ``state`` (a ``TypeError`` for an async-only store); a store that raises
    is logged and the selection goes on from an empty snapshot as of ``clock``."""
    read = getattr(state, "read", None)
    if read is None:
        raise TypeError(f"{type(state).__name__} is async only: use aselect()")
    try:
        snapshot: StateSnapshot = read(query)
    except Exception:
        read_failed(query.rule)
        return StateSnapshot(now=clock())
    return snapshot


async def aread_state(state: Any, query: StateQuery, clock: Clock) -> StateSnapshot:
    """One awaited read of ``state`` (its sync read when it has no async one), failing open
    as :func:`read_state` does."""
    aread = getattr(state, "aread", None)
    if aread is None:
        return read_state(state, query, clock)
    try:
        snapshot: StateSnapshot = await aread(query)
    except Exception:
        read_failed(query.rule)
        return StateSnapshot(now=clock())
    return snapshot


def read_failed(rule: str) -> None:
    """Log a state read that raised (the selection goes on from an empty snapshot)."""
    _log.error(
        "llmroute: reading the state store for rule %r failed; routing without state",
        rule,
        exc_info=True,
        extra={"event": "state_read_failed", "rule": rule},
    )


def build_outcome(
    result: SelectionResult,
    served: Service,
    health: HealthConfig,
    usage: Usage | None,
    latency_ms: float | None,
    ttft_ms: float | None,
    failure: Failure | None,
    cancelled: bool = False,
) -> Outcome:
    """The outcome of ``served`` answering (or failing) the request ``result`` chose for.

    A success pins the session to ``served`` and makes it the rule's current service (for
    tactics that keep one; not when the probe header chose it); a failure of the service
    releases the session's pin; a cancellation or a failure of the request itself changes
    neither. The round-robin turn advances once per selection that did not take it in its
    read. A success's ``cost``: its usage at the served service's catalog prices."""
    kind: OutcomeKind
    if cancelled or (failure is not None and failure.kind is FailureKind.CANCELLED):
        kind = "cancelled"
    elif failure is not None:
        kind = "failure"
    else:
        kind = "success"
    success = kind == "success"
    plan = result.plan
    rule = plan.rule
    tactic = plan.tactic.tactic
    chosen = result.service.service_id
    counts = failure is not None and failure.counts_against_health and not cancelled
    spec = plan.specs.get(served.service_id) if success and usage is not None else None
    probed = result.source == "probe_header"  # an operator's test: the rule's cursor stays
    return Outcome(
        cost=None if spec is None else spec.cost(usage),
        rule=rule.uuid,
        service=served,
        kind=kind,
        health=health,
        usage=usage if success else None,
        latency_ms=latency_ms if success else None,
        ttft_ms=ttft_ms if success else None,
        failure=failure if kind == "failure" else None,
        read_seq=result.read_seq,
        pin=pin_change(
            result.pin_key,
            float(rule.session_affinity),
            served.service_id,
            result.pinned,
            success,
            counts,
            served.service_id != chosen,
        ),
        current=success and tactic.keeps_current and not probed,
        advance_turn=(
            tactic.takes_turn
            and not result.took_turn
            and not probed
            and served.service_id == chosen
        ),
    )


def store_counter(state: object) -> InFlightCounter:
    """The in-flight counter of a selector on ``state``: the store's when it keeps one
    (``CountsInFlight``), else one of the selector's own."""
    if isinstance(state, CountsInFlight):
        return state.in_flight_counter()
    return InFlight()


def store_budget(state: object, budget: RetryBudget | bool) -> RetryBudget | None:
    """The retry budget of a selector on ``state``: the one given, none, or for True a
    default one (the store's when it makes budgets a fleet shares, ``SharesRetryBudget``)."""
    if budget is not True:
        return budget or None
    if isinstance(state, SharesRetryBudget):
        return state.retry_budget()
    return RetryBudget()
