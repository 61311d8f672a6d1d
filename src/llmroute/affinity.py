"""Session affinity: locks that keep a session on the service that served it.

A lock is an :class:`AffinityEntry` stored under (rule uuid, session key) in an
:class:`AffinityStore`; the session key is usually :attr:`SessionID.key` from
:func:`resolve_session_id`. Locks have a strict TTL: reading one never extends it.
:class:`InMemoryAffinityStore` is the thread-safe in-process store; a shared backend (Redis)
implements the same protocol. The store also answers ``count_by_service`` for the
capacity-based tactic (it is a :class:`llmroute.SessionCounts`).
"""

from __future__ import annotations

import heapq
import itertools
import math
import threading
from collections import OrderedDict, deque

from ._affinity_entry import AffinityEntry, AffinityStore
from ._affinity_session import (
    DEFAULT_SESSION_HEADERS,
    SessionID,
    SessionSource,
    resolve_session_id,
)
from ._clock import Clock, system_clock
from .config import ServiceID

__all__ = [
    "DEFAULT_SESSION_HEADERS",
    "AffinityEntry",
    "AffinityStore",
    "InMemoryAffinityStore",
    "SessionID",
    "SessionSource",
    "resolve_session_id",
]

# Expiry queues: one FIFO per lock duration (in expiry order, as the clock only moves
# forward), at most this many; other durations and out-of-order expiries go to a heap.
_MAX_QUEUES = 16
# The queues are compacted (stale items of overwritten, deleted and evicted locks dropped)
# once they hold twice as many items as the last compaction left, and at least this many.
_MIN_COMPACT = 1024
# Rule uuids are interned to short key prefixes, at most this many; keys of further rules
# spell the rule uuid out (still injective, only longer).
_MAX_RULE_PREFIXES = 4096


class _Queue:
    """Keys and their entries in expiry order: two parallel deques, no per-item object."""

    __slots__ = ("entries", "keys", "last")

    def __init__(self) -> None:
        self.keys: deque[str] = deque()
        self.entries: deque[AffinityEntry] = deque()
        self.last = -math.inf  # the latest expiry queued


class InMemoryAffinityStore:
    """The thread-safe in-process :class:`AffinityStore`, bounded to ``max_entries`` locks.

    TTLs are strict: a lock is live until its ``expires_at`` against ``clock`` (``time.time``
    by default), and a ``get`` hit does not extend it. Expired locks are dropped lazily. At
    ``max_entries`` live locks, a new session evicts the least recently used one (``get`` hits
    and ``set`` count as use), so a flood of random session ids cannot grow memory without
    bound. ``count_by_service`` is O(1) amortized (counters kept up to date, not a scan),
    and ``len()`` is the number of live locks. One lock guards every change.

    Raises ``ValueError`` when ``max_entries`` < 1 and ``TypeError`` for a ``clock`` that is
    not callable; ``set`` raises ``TypeError`` for an entry that is not an
    :class:`AffinityEntry` and ``ValueError`` for an empty session key (a session that
    nothing identifies cannot hold a lock).
    """

    # Layout, for a small footprint per session (about 280 bytes at a million sessions):
    # one OrderedDict from key to entry in recency order; the key is the rule's interned
    # prefix + the session key, one string shared with the expiry queues, which hold
    # references only. Queue items of replaced locks go stale (their entry is no longer the
    # key's) and are skipped when due, or dropped by a compaction.

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
        self._reset()

    def _reset(self) -> None:
        # key (rule prefix + session key) -> entry, least recently used first
        self._entries: OrderedDict[str, AffinityEntry] = OrderedDict()
        self._counts: dict[str, int] = {}  # live locks per service id
        self._queues: dict[int, _Queue] = {}  # by lock duration in whole seconds
        self._late: list[tuple[float, int, str, AffinityEntry]] = []  # heap of the rest
        self._seq = itertools.count()
        self._queued = 0  # items in the queues and the heap, stale ones included
        self._compact_at = _MIN_COMPACT
        self._next_due = math.inf  # no queued expiry is earlier than this
        self._prefixes: dict[str, str] = {}

    @property
    def max_entries(self) -> int:
        """The most live locks the store holds before it evicts the least recently used."""
        return self._max_entries

    def get(self, rule_uuid: str, session_key: str) -> AffinityEntry | None:
        """The session's live lock, or None (absent or expired); a hit refreshes recency."""
        if type(rule_uuid) is not str or type(session_key) is not str:
            _check_keys(rule_uuid, session_key)
        # A miss and a live hit take no lock: each step is one atomic dict operation, so
        # threads reading the store never queue behind each other (under the GIL a queue on
        # a lock turns into a convoy of thread switches that costs far more than the read).
        prefix = self._prefixes.get(rule_uuid) or self._other_prefix(rule_uuid)
        if prefix is None:
            return None
        key = prefix + session_key
        entries = self._entries
        entry = entries.get(key)
        if entry is None:
            return None
        if entry.expires_at <= self._clock():
            with self._lock:
                # Re-read the table: clear() may have replaced it (and the counts) meanwhile.
                entries = self._entries
                if entries.get(key) is entry:  # not replaced or removed meanwhile
                    del entries[key]
                    self._uncount(entry.service)
            return None
        try:  # noqa: SIM105 (contextlib.suppress would cost a context manager per hit)
            entries.move_to_end(key)
        except KeyError:  # removed by another thread since it was read: the hit stands
            pass
        return entry

    def set(self, rule_uuid: str, session_key: str, entry: AffinityEntry) -> None:
        """Lock the session to ``entry.service`` until ``entry.expires_at``.

        Replaces the session's lock, if any (moving it between services updates both
        counts). An entry that has already expired only removes the session's lock.
        """
        if not isinstance(entry, AffinityEntry):
            raise TypeError(f"set() takes an AffinityEntry, not {type(entry).__name__}")
        if type(rule_uuid) is not str or type(session_key) is not str:
            _check_keys(rule_uuid, session_key)
        if not session_key:
            raise ValueError("an empty session key cannot hold a lock: nothing identifies it")
        expires_at = entry.expires_at
        with self._lock:
            now = self._clock()
            if now >= self._next_due:
                self._purge(now)
            entries = self._entries
            prefix = self._prefixes.get(rule_uuid) or self._new_prefix(rule_uuid)
            key = prefix + session_key
            old = entries.get(key)
            if old is None:
                if expires_at <= now:
                    return
                if len(entries) >= self._max_entries:
                    self._evict()
                entries[key] = entry
            elif old is entry:
                entries.move_to_end(key)
                return
            else:
                self._uncount(old.service)
                if expires_at <= now:
                    del entries[key]
                    return
                entries[key] = entry
                entries.move_to_end(key)
            counts = self._counts
            service = entry.service
            counts[service] = counts.get(service, 0) + 1
            queue = self._queues.get(round(expires_at - entry.locked_at))
            if queue is not None and queue.last <= expires_at:
                queue.keys.append(key)
                queue.entries.append(entry)
                queue.last = expires_at
                self._queued += 1
            else:
                self._enqueue(key, entry)
            if expires_at < self._next_due:
                self._next_due = expires_at
            if self._queued > self._compact_at:
                self._maybe_compact()

    def delete(self, rule_uuid: str, session_key: str) -> bool:
        """Release the session's lock; True when a live lock was removed."""
        if type(rule_uuid) is not str or type(session_key) is not str:
            _check_keys(rule_uuid, session_key)
        with self._lock:
            prefix = self._prefixes.get(rule_uuid) or self._other_prefix(rule_uuid)
            if prefix is None:
                return False
            entry = self._entries.pop(prefix + session_key, None)
            if entry is None:
                return False
            self._uncount(entry.service)
            return entry.expires_at > self._clock()

    def count_by_service(self, service_id: ServiceID, /) -> int:
        """How many live (unexpired) sessions are locked to the service; O(1) amortized."""
        if self._clock() >= self._next_due:
            with self._lock:
                self._purge(self._clock())
        return self._counts.get(service_id, 0)

    def clear(self) -> None:
        """Release every lock."""
        with self._lock:
            self._reset()

    def __len__(self) -> int:
        with self._lock:
            now = self._clock()
            if now >= self._next_due:
                self._purge(now)
            return len(self._entries)

    def __repr__(self) -> str:
        return f"InMemoryAffinityStore({len(self)} sessions, max_entries={self._max_entries})"

    # --- internals (called with the lock held) -------------------------------------------

    def _other_prefix(self, rule_uuid: str) -> str | None:
        """The key prefix of a rule without an interned one: None while the table has room
        (the rule holds no lock), the rule uuid spelled out once it is full."""
        if len(self._prefixes) < _MAX_RULE_PREFIXES:
            return None
        # Interned prefixes are hex digits + "\\x1f"; this form starts with "\\x1e".
        return f"\x1e{len(rule_uuid)}:{rule_uuid}"

    def _new_prefix(self, rule_uuid: str) -> str:
        """Intern a key prefix for a rule while the table has room."""
        prefix = self._other_prefix(rule_uuid)
        if prefix is None:
            prefix = self._prefixes[rule_uuid] = f"{len(self._prefixes):x}\x1f"
        return prefix

    def _evict(self) -> None:
        """Drop the least recently used lock, and its queue item when that is first due."""
        key, entry = self._entries.popitem(last=False)
        self._uncount(entry.service)
        # In a flood of new sessions the evicted lock is the oldest one queued: drop its
        # item now, so the queues stay as short as the store without a compaction.
        queue = self._queues.get(round(entry.expires_at - entry.locked_at))
        if (
            queue is not None
            and queue.entries
            and queue.entries[0] is entry
            and queue.keys[0] == key
        ):
            queue.keys.popleft()
            queue.entries.popleft()
            self._queued -= 1

    def _uncount(self, service: str) -> None:
        left = self._counts[service] - 1
        if left:
            self._counts[service] = left
        else:
            del self._counts[service]

    def _enqueue(self, key: str, entry: AffinityEntry) -> None:
        """Queue an expiry that does not go at the end of an existing queue."""
        expires_at = entry.expires_at
        duration = round(expires_at - entry.locked_at)
        queue = self._queues.get(duration)
        if queue is None and len(self._queues) < _MAX_QUEUES:
            queue = self._queues[duration] = _Queue()
        if queue is not None and queue.last <= expires_at:
            queue.keys.append(key)
            queue.entries.append(entry)
            queue.last = expires_at
        else:  # out of order (a lock taken in the past) or too many durations
            heapq.heappush(self._late, (expires_at, next(self._seq), key, entry))
        self._queued += 1

    def _maybe_compact(self) -> None:
        # Scan only when at least a third of the items are stale; either way the next check
        # waits until the queues have doubled, so the work stays O(1) per set.
        if self._queued - len(self._entries) > len(self._entries) // 2:
            self._compact()
        self._compact_at = max(2 * self._queued, _MIN_COMPACT)

    def _purge(self, now: float) -> None:
        """Drop every lock that has expired by ``now`` and the queue items that are due."""
        entries = self._entries
        next_due = math.inf
        for duration, queue in list(self._queues.items()):
            keys, queued = queue.keys, queue.entries
            while queued and queued[0].expires_at <= now:
                key = keys.popleft()
                entry = queued.popleft()
                self._queued -= 1
                if entries.get(key) is entry:
                    del entries[key]
                    self._uncount(entry.service)
            if queued:
                next_due = min(next_due, queued[0].expires_at)
            else:
                del self._queues[duration]
        late = self._late
        while late and late[0][0] <= now:
            _, _, key, entry = heapq.heappop(late)
            self._queued -= 1
            if entries.get(key) is entry:
                del entries[key]
                self._uncount(entry.service)
        if late:
            next_due = min(next_due, late[0][0])
        self._next_due = next_due

    def _compact(self) -> None:
        """Drop the queue items of locks that were overwritten, deleted or evicted."""
        entries = self._entries
        queued = 0
        for queue in self._queues.values():
            keys: deque[str] = deque()
            live: deque[AffinityEntry] = deque()
            for key, entry in zip(queue.keys, queue.entries, strict=True):
                if entries.get(key) is entry:
                    keys.append(key)
                    live.append(entry)
            queue.keys, queue.entries = keys, live
            queued += len(keys)
        self._late = [item for item in self._late if entries.get(item[2]) is item[3]]
        heapq.heapify(self._late)
        self._queued = queued + len(self._late)


def _check_keys(rule_uuid: object, session_key: object) -> None:
    if not isinstance(rule_uuid, str) or not isinstance(session_key, str):
        raise TypeError(
            "rule_uuid and session_key must be strings, not "
            f"{type(rule_uuid).__name__} and {type(session_key).__name__}"
        )
