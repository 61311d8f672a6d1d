"""The in-process pin store: session locks under (rule uuid, session key), bounded and LRU.

A lock is an :class:`AffinityEntry`. TTLs are strict: reading a lock never extends it. The
store answers ``count_by_service`` for the capacity-based tactic from counters kept up to
date (expired locks leave them when they are purged, which every call does for what is due).
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections import OrderedDict
from collections.abc import Mapping

from ..config import ServiceID
from ..typing import Clock, system_clock
from ._entry import AffinityEntry

__all__ = ["InMemoryAffinityStore"]

_Key = tuple[str, str]

# The expiry heap is rebuilt without the items of replaced or removed locks once it holds
# more than twice as many items as there are locks (and at least this many).
_MIN_COMPACT = 1024


class InMemoryAffinityStore:
    """The thread-safe in-process :class:`AffinityStore`, bounded to ``max_entries`` locks.

    TTLs are strict: a lock is live until its ``expires_at`` against ``clock`` (``time.time``
    by default), and a ``get`` hit does not extend it. At ``max_entries`` live locks, a new
    session evicts the least recently used one (``get`` hits and ``set`` count as use), so a
    flood of random session ids cannot grow memory without bound. One lock guards every call.

    Raises ``ValueError`` when ``max_entries`` < 1 and ``TypeError`` for a ``clock`` that is
    not callable; ``set`` raises ``TypeError`` for an entry that is not an
    :class:`AffinityEntry` and ``ValueError`` for an empty session key (a session that
    nothing identifies cannot hold a lock).
    """

    def __init__(self, max_entries: int = 100_000, *, clock: Clock | None = None) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int):
            raise TypeError(f"max_entries must be an int, not {type(max_entries).__name__}")
        if max_entries < 1:
            raise ValueError(f"max_entries must be >= 1, not {max_entries}")
        if clock is not None and not callable(clock):
            raise TypeError(f"clock must be callable, not {type(clock).__name__}")
        self._max_entries = max_entries
        self._clock: Clock = clock if clock is not None else system_clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[_Key, AffinityEntry] = OrderedDict()
        self._counts: dict[str, int] = {}
        self._expiries: list[tuple[float, int, _Key, AffinityEntry]] = []
        self._seq = itertools.count()

    @property
    def max_entries(self) -> int:
        """The most live locks the store holds before it evicts the least recently used."""
        return self._max_entries

    def get(self, rule_uuid: str, session_key: str) -> AffinityEntry | None:
        """The session's live lock, or None (absent or expired); a hit refreshes recency."""
        return self.get_many(rule_uuid, (session_key,)).get(session_key)

    def get_many(self, rule_uuid: str, session_keys: tuple[str, ...]) -> dict[str, AffinityEntry]:
        """The live locks of several session keys of one rule.

        Reads take no lock (each step is one atomic operation on the table), so threads that
        only read never queue behind each other; an expired lock reads as absent even before
        the purge that drops it.
        """
        now = self._clock()
        self._purge_due(now)
        entries = self._entries
        found: dict[str, AffinityEntry] = {}
        for session_key in session_keys:
            key = _key(rule_uuid, session_key)
            entry = entries.get(key)
            if entry is not None and entry.expires_at > now:
                # try/except, not contextlib.suppress: its context manager costs three calls
                # per hit (~0.3 us, about 4% of a returning session's select())
                try:  # noqa: SIM105
                    entries.move_to_end(key)
                except KeyError:  # removed meanwhile: the hit stands
                    pass
                found[session_key] = entry
        return found

    def pin(self, rule_uuid: str, session_key: str, entry: AffinityEntry) -> bool:
        """Lock the session to ``entry.service`` unless a live lock holds it there already
        (whose expiry is kept), in one step. True when the lock was written."""
        key = _checked(rule_uuid, session_key, entry)
        with self._lock:
            now = self._clock()
            live = self._entries.get(key)
            if live is not None and live.service == entry.service and live.expires_at > now:
                return False
            self._store(key, entry, now)
            return True

    def release(self, rule_uuid: str, session_key: str, service_id: ServiceID) -> bool:
        """Release the session's lock when it is on ``service_id``; True when one was removed."""
        key = _key(rule_uuid, session_key)
        with self._lock:
            live = self._entries.get(key)
            if live is None or live.service != service_id:
                return False
            return self._remove(key)

    def set(self, rule_uuid: str, session_key: str, entry: AffinityEntry) -> None:
        """Lock the session to ``entry.service`` until ``entry.expires_at``.

        Replaces the session's lock, if any. An entry that has already expired only removes
        the session's lock.
        """
        key = _checked(rule_uuid, session_key, entry)
        with self._lock:
            self._store(key, entry, self._clock())

    def delete(self, rule_uuid: str, session_key: str) -> bool:
        """Release the session's lock; True when a live lock was removed."""
        key = _key(rule_uuid, session_key)
        with self._lock:
            self._purge(self._clock())
            return self._remove(key)

    def count_by_service(self, service_id: ServiceID, /) -> int:
        """How many live (unexpired) sessions are locked to the service."""
        self._purge_due(self._clock())
        return self._counts.get(service_id, 0)

    def counts(self) -> Mapping[str, int]:
        """Live sessions per service, for every service holding one (a copy)."""
        self._purge_due(self._clock())
        with self._lock:
            return dict(self._counts)

    def clear(self) -> None:
        """Release every lock."""
        with self._lock:
            self._entries.clear()
            self._counts.clear()
            self._expiries.clear()

    def __len__(self) -> int:
        with self._lock:
            self._purge(self._clock())
            return len(self._entries)

    def __repr__(self) -> str:
        return f"InMemoryAffinityStore({len(self)} sessions, max_entries={self._max_entries})"

    # -- internals (lock held, but for _purge_due) -----------------------------------------

    def _purge_due(self, now: float) -> None:
        """Purge under the lock when the earliest expiry has come (checked without it)."""
        try:
            due = self._expiries[0][0] <= now
        except IndexError:  # nothing queued (or emptied meanwhile)
            return
        if due:
            with self._lock:
                self._purge(now)

    def _store(self, key: _Key, entry: AffinityEntry, now: float) -> None:
        self._purge(now)
        self._remove(key)
        if entry.expires_at <= now:
            return
        if len(self._entries) >= self._max_entries:
            oldest = next(iter(self._entries))
            self._remove(oldest)
        self._entries[key] = entry
        self._counts[entry.service] = self._counts.get(entry.service, 0) + 1
        heapq.heappush(self._expiries, (entry.expires_at, next(self._seq), key, entry))
        if len(self._expiries) > max(2 * len(self._entries), _MIN_COMPACT):
            self._compact()

    def _remove(self, key: _Key) -> bool:
        entry = self._entries.pop(key, None)
        if entry is None:
            return False
        left = self._counts[entry.service] - 1
        if left:
            self._counts[entry.service] = left
        else:
            del self._counts[entry.service]
        return True

    def _purge(self, now: float) -> None:
        expiries = self._expiries
        while expiries and expiries[0][0] <= now:
            _, _, key, entry = heapq.heappop(expiries)
            if self._entries.get(key) is entry:
                self._remove(key)

    def _compact(self) -> None:
        entries = self._entries
        self._expiries = [item for item in self._expiries if entries.get(item[2]) is item[3]]
        heapq.heapify(self._expiries)


def _key(rule_uuid: object, session_key: object) -> _Key:
    if not isinstance(rule_uuid, str) or not isinstance(session_key, str):
        raise TypeError(
            "rule_uuid and session_key must be strings, not "
            f"{type(rule_uuid).__name__} and {type(session_key).__name__}"
        )
    return (rule_uuid, session_key)


def _checked(rule_uuid: object, session_key: object, entry: object) -> _Key:
    if not isinstance(entry, AffinityEntry):
        raise TypeError(f"set() takes an AffinityEntry, not {type(entry).__name__}")
    key = _key(rule_uuid, session_key)
    if not session_key:
        raise ValueError("an empty session key cannot hold a lock: nothing identifies it")
    return key
