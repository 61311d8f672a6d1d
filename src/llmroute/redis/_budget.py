"""The retry budget a fleet shares through :class:`RedisState`."""

from __future__ import annotations

from ..execute import RetryBudget
from ._replica import Replica

__all__ = ["FleetRetryBudget"]


class FleetRetryBudget(RetryBudget):
    """A :class:`RetryBudget` reckoned over the fleet (see :meth:`RedisState.retry_budget`).

    A retry is allowed while both hold: the fleet's retries in flight (this replica's live
    ones plus the others' as their leases last said) stay within ``max(min_retries, ratio *
    the fleet's calls in flight)``; and this replica's own stay within its share: ``ratio``
    of its own calls in flight (the shares add up to the ratio of the fleet's calls exactly,
    whatever each replica knows of the others), or, while the floor is the larger part, its
    part of ``min_retries`` dealt by replica id among the replicas it sees with calls in
    flight. Any replica may take one retry while the fleet shows none in flight, so a quiet
    fleet never refuses a fallback. No round trip of its own: the counts travel in the
    replicas' leases, so it is as exact as the view: the ratio shares are exact however
    stale; where the floor rules, a replica that sees no other busy (an outage after a lull,
    before the leases meet) takes the whole floor, so the fleet may then hold up to
    ``min_retries`` per replica. While Redis is unreachable it is this replica's own
    budget.
    ``in_flight`` and ``retries_in_flight`` count this budget's own calls;
    :meth:`fleet_counts` the fleet's."""

    __slots__ = ("_replica",)

    def __init__(self, replica: Replica, ratio: float = 0.2, min_retries: int = 3) -> None:
        super().__init__(ratio, min_retries)
        self._replica = replica

    def enter(self) -> None:
        super().enter()
        self._replica.add_call(1)

    def leave(self) -> None:
        super().leave()
        self._replica.add_call(-1)

    def try_retry(self) -> bool:
        if not self._replica.take_retry(self.ratio, self.min_retries):
            return False
        with self._lock:
            self.retries_in_flight += 1
        return True

    def retry_done(self) -> None:
        super().retry_done()
        self._replica.retry_done()

    def fleet_counts(self) -> tuple[int, int]:
        """The fleet's calls and retries in flight, as this replica sees them now."""
        return self._replica.fleet_counts()

    def __repr__(self) -> str:
        calls, retries = self.fleet_counts()
        return (
            f"FleetRetryBudget(ratio={self.ratio:g}, min_retries={self.min_retries}, "
            f"fleet_in_flight={calls}, fleet_retries_in_flight={retries})"
        )
