"""This replica's lease: the calls it has in flight (per service, and for the retry budget its
calls and retries in flight), published to Redis under an expiry, and the other replicas'
leases as last read. A replica is one :class:`RedisState` (one per process, as a rule).

A lease lives ``ttl`` seconds on the server's clock unless its replica publishes it again: a
replica killed with calls in flight leaves no load behind once its lease runs out. The fleet
counts a decision sees are this replica's own live counts plus the other live leases; while
Redis is unreachable, this replica's own alone.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from ..state import EMPTY, InFlight
from ._link import Link

__all__ = ["Replica"]


class _Lease(NamedTuple):
    """Another replica's lease as read: its counts, and until when (monotonic) it lives."""

    services: Mapping[str, int]
    calls: int
    retries: int
    until: float


class _Sums(NamedTuple):
    """The other live leases added up, valid until the first of them runs out."""

    services: Mapping[str, int]
    calls: int
    retries: int
    until: float


_NO_SUMS = _Sums(EMPTY, 0, 0, math.inf)

#: The body of a lease with nothing in flight.
_NOTHING = "{}"


class Replica:
    """The counts of one replica and what it knows of the others' (thread-safe).

    It is the selector's in-flight counter (:meth:`add`, :meth:`count`, :meth:`view`) and
    the retry budget's counts (:meth:`add_call`, :meth:`take_retry`, :meth:`retry_done`).
    A change is published with the next outcome written, or by the write-behind thread
    ``delay`` seconds after it when no outcome carries it first (``wake`` tells it); a
    lease with calls in flight is published again every ``ttl / 4`` seconds.
    """

    def __init__(
        self,
        replica_id: str,
        ttl: float,
        delay: float,
        link: Link,
        wake: Callable[[float], None],
    ) -> None:
        self.ttl = ttl
        self._delay = min(delay, ttl / 4)
        self.used = False  # counts were asked for: reads then carry the leases
        self.restart(replica_id, link, wake)

    def restart(self, replica_id: str, link: Link, wake: Callable[[float], None]) -> None:
        """Start afresh as ``replica_id``, with nothing in flight and nothing known of the
        others (a forked child: its parent's calls, lease and locks are not its own)."""
        self.id = replica_id
        self._link = link
        self._wake = wake
        self._lock = threading.Lock()
        self._own = InFlight()  # this replica's calls in flight per service
        self._calls = 0
        self._retries = 0
        self._sent = _NOTHING  # the payload last published (an absent lease counts nothing)
        self._sent_at = -math.inf  # when (monotonic)
        self._changed_at: float | None = None  # the first change not published yet
        self._version = 0  # changes counted: a lease unchanged since its publish is not rebuilt
        self._sent_version = self._leased_version = 0
        self._others: dict[str, _Lease] = {}
        self._sums = _NO_SUMS
        self._prune = False  # an expired lease was seen: the next publish drops it

    # -- the in-flight counter ---------------------------------------------------------

    def add(self, service_id: str, delta: int) -> None:
        """Count ``delta`` calls in flight to a service (+1 started, -1 finished)."""
        self._own.add(service_id, delta)
        with self._lock:
            self._changed()

    def count(self, service_id: str) -> int:
        """This replica's calls in flight to a service."""
        return self._own.count(service_id)

    def view(self) -> Mapping[str, int]:
        """The fleet's calls in flight per service: this replica's live counts plus the
        other live leases (this replica's alone while Redis is unreachable)."""
        own = self._own.view()
        with self._lock:
            others = self._others_sums().services
        if not others:
            return own
        fleet = dict(others)
        for sid, count in own.items():
            fleet[sid] = fleet.get(sid, 0) + count
        return MappingProxyType(fleet)

    # -- the retry budget's counts -----------------------------------------------------

    def add_call(self, delta: int) -> None:
        """Count a call of the retry budget in flight (+1) or ended (-1)."""
        with self._lock:
            self._calls = max(self._calls + delta, 0)
            self._changed()

    def take_retry(self, ratio: float, min_retries: int) -> bool:
        """Take a retry slot if the fleet's retries in flight, as this replica sees them,
        stay within the fleet's allowance, ``max(min_retries, ratio * the fleet's calls in
        flight)``, and this replica's own within its share of it: ``ratio`` of its own calls
        in flight (the shares of all replicas add up to the ratio of the fleet's calls
        exactly, whatever each knows of the others); and while the floor is the larger
        part, its part of the ``min_retries`` floor, dealt by replica id among the replicas
        with calls in flight, if that is more. A replica may take one retry while the fleet
        shows none in flight, whatever its share (a quiet fleet never refuses a fallback)."""
        with self._lock:
            sums = self._others_sums()
            own, calls = self._retries, self._calls + sums.calls
            if own + sums.retries + 1 > max(min_retries, ratio * calls):
                return False
            share = ratio * self._calls
            if ratio * calls < min_retries:  # the floor rules: its parts are dealt
                share = max(share, self._floor_part(min_retries, sums))
            if own + 1 > share and (own or sums.retries):
                return False
            self._retries += 1
            self._changed()
            return True

    def _floor_part(self, min_retries: int, sums: _Sums) -> int:
        """This replica's part of the floor (lock held)."""
        busy = [self.id]
        if sums.calls:  # not alone, and Redis reachable
            busy = sorted({self.id, *(k for k, v in self._others.items() if v.calls > 0)})
        rank, dealt = busy.index(self.id), len(busy)
        return min_retries // dealt + (rank < min_retries % dealt)

    def retry_done(self) -> None:
        """A retry that took a slot ended."""
        with self._lock:
            self._retries = max(self._retries - 1, 0)
            self._changed()

    def fleet_counts(self) -> tuple[int, int]:
        """The fleet's calls and retries in flight, as this replica sees them now."""
        with self._lock:
            sums = self._others_sums()
            return self._calls + sums.calls, self._retries + sums.retries

    # -- publishing --------------------------------------------------------------------

    def lease(self, mono: float, idle: bool) -> tuple[str, bool] | None:
        """The payload to publish now and whether expired leases are to be dropped, or None
        when the published lease still holds. ``idle``: for a publish of its own (a change
        is then published only ``delay`` seconds after it); else to go with an outcome."""
        with self._lock:
            fresh = mono - self._sent_at < self.ttl / 4
            unchanged = self._version == self._sent_version and self._changed_at is None
            steady = self._sent == _NOTHING or fresh
            if unchanged and steady:  # the cheap answer of most outcomes' writes
                return None
            payload = self._payload()
            if payload == self._sent:
                self._changed_at = None  # changed and changed back, or nothing changed
                if payload == _NOTHING or mono - self._sent_at < self.ttl / 4:
                    return None
            elif idle and self._changed_at is not None and mono - self._changed_at < self._delay:
                return None
            self._leased_version = self._version
            return payload, self._prune

    def published(self, payload: str, mono: float) -> None:
        """``payload`` reached Redis (sent at ``mono``)."""
        with self._lock:
            self._sent, self._sent_at = payload, mono
            self._sent_version = self._leased_version
            # changed since: published again ``delay`` after this one at the soonest
            self._changed_at = None if self._payload() == payload else mono
            self._prune = False

    def next_due(self, mono: float) -> float | None:
        """Seconds until a publish of its own is due (None: none until the next change)."""
        with self._lock:
            if self._changed_at is not None:
                return max(self._changed_at + self._delay - mono, 0.0)
            if self._sent != _NOTHING:
                return max(self._sent_at + self.ttl / 4 - mono, 0.0)
            return None

    def _payload(self) -> str:
        """This replica's counts as a lease's body (lock held)."""
        services = dict(self._own.view())
        if not (services or self._calls or self._retries):
            return _NOTHING
        body = {"s": services, "c": self._calls, "r": self._retries}
        return json.dumps(body, separators=(",", ":"))

    def _changed(self) -> None:
        """Note a change (lock held); the write-behind thread is told of the first (to
        publish it within ``delay`` unless an outcome carries it first)."""
        self._version += 1
        if self._changed_at is None:
            self._changed_at = time.monotonic()
            self._wake(self._delay)

    # -- reading -----------------------------------------------------------------------

    def learn(self, server_ms: int, leases: Mapping[str, str], mono: float) -> None:
        """Take the leases Redis holds (``server_ms``: its clock when read, ``mono``: this
        process's monotonic clock then); unreadable ones count as absent."""
        found: dict[str, _Lease] = {}
        expired = False
        for replica, raw in leases.items():
            if replica == self.id:
                continue
            lease = _parse(raw, server_ms, mono)
            if lease is None:
                expired = True
            else:
                found[replica] = lease
        with self._lock:
            self._others = found
            self._sums = _add_up(found.values())
            self._prune = self._prune or expired

    def forget(self) -> None:
        """Forget the other replicas' leases (a new configuration generation)."""
        with self._lock:
            self._others = {}
            self._sums = _NO_SUMS
            if self._payload() != _NOTHING:
                self._changed()
            self._sent, self._sent_at = _NOTHING, -math.inf

    def _others_sums(self) -> _Sums:
        """The other live leases added up (none while Redis is unreachable; lock held)."""
        if not self._others or not self._link.up:
            return _NO_SUMS
        if time.monotonic() >= self._sums.until:
            now = time.monotonic()
            self._others = {k: v for k, v in self._others.items() if v.until > now}
            self._sums = _add_up(self._others.values())
        return self._sums


def _parse(raw: str, server_ms: int, mono: float) -> _Lease | None:
    """A lease ``"{expires_ms}|{json}"`` read at ``server_ms``; None when expired or
    unreadable."""
    try:
        until_text, _, body = raw.partition("|")
        left = (int(until_text) - server_ms) / 1000.0
        if left <= 0:
            return None
        data: dict[str, Any] = json.loads(body)
        services = {str(k): int(v) for k, v in dict(data.get("s", {})).items() if int(v) > 0}
        return _Lease(services, int(data.get("c", 0)), int(data.get("r", 0)), mono + left)
    except (ValueError, TypeError, AttributeError):
        return None


def _add_up(leases: Iterator[_Lease] | Any) -> _Sums:
    services: dict[str, int] = {}
    calls = retries = 0
    until = math.inf
    for lease in leases:
        for sid, count in lease.services.items():
            services[sid] = services.get(sid, 0) + count
        calls += lease.calls
        retries += lease.retries
        until = min(until, lease.until)
    return _Sums(MappingProxyType(services), calls, retries, until)
