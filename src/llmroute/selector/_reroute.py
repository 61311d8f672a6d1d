"""Request-scoped rerouting: after a failure that is the request's own (its prompt too long
for the model, a content-policy refusal), which of the pending fallbacks are worth trying.

- ``CONTEXT_LENGTH``: the fallbacks whose known context window is larger than the failed
  service's, in chain order, then those whose window is unknown; a smaller or equal known
  window is passed over. When the failed service's own window is unknown, nothing is known
  to be larger: the order is kept.
- ``CONTENT_POLICY``: the fallbacks of another provider (policies differ between
  providers; the same provider would refuse again).

Neither failure counts against the service's health (the classification says so); this
only chooses the order of this one call's remaining attempts.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..failures import Failure, FailureKind
from ._plan import RulePlan

__all__ = ["reroute_order"]


def _provider_key(plan: RulePlan, name: str) -> str:
    service, provider = plan.pair(name)
    return provider.name if provider is not None else service.provider


def _window(plan: RulePlan, name: str) -> int | None:
    spec = plan.specs.get(name)  # type: ignore[call-overload]
    return None if spec is None else spec.context_window


def reroute_order(
    plan: RulePlan, name: str, failure: Failure, pending: Sequence[str]
) -> list[int] | None:
    """The positions in ``pending`` to try after ``name`` failed with ``failure``, in order;
    None to keep the chain as it is (every other kind of failure)."""
    if failure.kind is FailureKind.CONTEXT_LENGTH:
        failed = _window(plan, name)
        if failed is None:
            return None
        larger: list[int] = []
        unknown: list[int] = []
        for k, other in enumerate(pending):
            window = _window(plan, other)
            if window is None:
                unknown.append(k)
            elif window > failed:
                larger.append(k)
        return larger + unknown
    if failure.kind is FailureKind.CONTENT_POLICY:
        refused = _provider_key(plan, name)
        return [k for k, other in enumerate(pending) if _provider_key(plan, other) != refused]
    return None
