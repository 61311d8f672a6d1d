"""The write-behind thread: outcomes are queued (bounded) and sent in order, one pipelined
round trip each, so a request never waits for Redis to take its outcome."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from ._link import Link, Throttle

__all__ = ["Writer"]

_IDLE_WAIT = 0.05

#: The writer's own backoff between failed sends (doubling from the first to the last).
_FIRST_BACKOFF = 0.1
_MAX_BACKOFF = 5.0

#: How long :meth:`Writer.close` waits for the queue to empty.
_CLOSE_WAIT = 1.0

_log = logging.getLogger("llmroute.redis")


class Writer:
    """Sends queued items with ``send(item, number)`` on one daemon thread, in order; each
    item is numbered once, when queued (increasing in the order sent: what makes a retried
    write skippable). While Redis is down the items wait (the oldest are dropped past
    ``max_pending``, logged once per outage) and are sent once the link is back
    (``transient``: the errors that mean "down"; an item failing otherwise is logged, at
    most once a minute, and dropped). :meth:`flush` waits for the queue to empty.

    The writer paces its own retries (0.1 s doubling to 5 s): a Redis too slow for reads
    may still take outcomes on the writer's longer timeout, so a failed send marks the link
    down but only a send answered within ``fast`` seconds (the reads' socket timeout) marks
    it up: a slow Redis never flaps the link the request path reads."""

    def __init__(
        self,
        send: Callable[[Any, int], None],
        link: Link,
        max_pending: int,
        transient: tuple[type[BaseException], ...] = (OSError,),
        fast: float = _IDLE_WAIT,
        idle: Callable[[], float | None] | None = None,
    ) -> None:
        self._send = send
        self._transient = transient
        self._link = link
        self._fast = fast
        self._backoff = 0.0
        self._retry_at = 0.0
        self._idle = idle
        self._idle_wait: float | None = None  # seconds until the idle work is due
        self._items: deque[tuple[int, Any]] = deque(maxlen=max_pending)
        self._cond = threading.Condition()
        self._busy = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self._number = 0
        self._overflow = 0  # dropped past max_pending in this outage, not logged yet
        self._refused = Throttle()
        self.dropped = 0

    @property
    def pending(self) -> int:
        """Items not sent yet."""
        return len(self._items) + self._busy

    def put(self, item: Any) -> None:
        """Queue one item (never blocks)."""
        with self._cond:
            if len(self._items) == self._items.maxlen:
                self.dropped += 1
                self._overflow += 1
                if self._overflow == 1:
                    _log.warning(
                        "llmroute: more than %d outcomes wait for Redis; the oldest are "
                        "dropped (counted when it is back)",
                        self._items.maxlen,
                        extra={"event": "redis_outcomes_dropped"},
                    )
            self._number += 1
            self._items.append((self._number, item))
            self._start()
            self._cond.notify_all()

    def nudge(self, within: float = 0.0) -> None:
        """Have the thread run its idle work within ``within`` seconds (it sends what is
        queued first). A thread already due to wake by then is left alone: waking it costs
        the caller's thread a switch (measured: ~30 us per call on the execute path)."""
        with self._cond:
            waking = self._idle_wait is not None and (
                self._idle_wait <= within or self._busy or bool(self._items)
            )
            if self._thread is not None and waking:
                return
            self._idle_wait = 0.0
            self._start()
            self._cond.notify_all()

    def _start(self) -> None:
        """Start the thread if it is not running (lock held)."""
        if self._thread is None and not self._closed:
            self._thread = threading.Thread(
                target=self._run, name="llmroute-redis-writer", daemon=True
            )
            self._thread.start()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued item was sent (or ``timeout`` seconds); True when done."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._items and not self._busy, timeout)

    def close(self, timeout: float = _CLOSE_WAIT) -> None:
        """Send what is queued (waiting at most ``timeout`` seconds), then stop the thread;
        what is still queued then is logged and discarded."""
        sent = self._link.up and self.flush(timeout)
        with self._cond:
            self._closed = True
            left = len(self._items)
            self._items.clear()
            self._cond.notify_all()
        if not sent and left:
            self.dropped += left
            _log.warning(
                "llmroute: closing with %d outcomes not sent to Redis; they are dropped",
                left,
                extra={"event": "redis_outcomes_discarded", "count": left},
            )

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._items and not self._closed and self._idle_wait != 0.0:
                    self._cond.wait(self._idle_wait)
                if self._closed:
                    return
                if not self._items:
                    self._idle_wait = None
                    entry = None
                else:
                    entry = self._items.popleft()
                    self._busy = True
                    self._idle_wait = 0.0  # once the queue is empty, see to the idle work
            if entry is None:
                wait = self._run_idle()
                with self._cond:
                    if self._idle_wait is None:  # not nudged meanwhile
                        self._idle_wait = wait
                continue
            sent = False
            try:
                sent = time.monotonic() >= self._retry_at and self._attempt(*entry)
            finally:
                with self._cond:
                    self._busy = False
                    if not sent and not self._closed:
                        self._requeue(entry)
                        self._cond.wait(_IDLE_WAIT)
                    self._cond.notify_all()

    def _requeue(self, entry: tuple[int, Any]) -> None:
        """Put an unsent item back first (lock held); with the queue full meanwhile, it is
        the oldest, so it is the one dropped (counted as any other)."""
        if len(self._items) == self._items.maxlen:
            self.dropped += 1
            self._overflow += 1
            return
        self._items.appendleft(entry)

    def _run_idle(self) -> float | None:
        """The idle work (a lease's refresh), paced by the backoff as a send is; returns the
        seconds until it is due again (None: when nudged)."""
        if self._idle is None:
            return None
        wait = self._retry_at - time.monotonic()
        if wait > 0:
            return wait
        try:
            return self._idle()
        except self._transient as error:
            self._link.failed(error)
            self._backoff = min(max(self._backoff * 2, _FIRST_BACKOFF), _MAX_BACKOFF)
            self._retry_at = time.monotonic() + self._backoff
            return self._backoff
        except Exception:  # refused: logged (throttled), tried again at the next change
            if self._refused.due() is not None:
                _log.error(
                    "llmroute: Redis refused a lease refresh",
                    exc_info=True,
                    extra={"event": "redis_write_refused"},
                )
            return None

    def _attempt(self, number: int, item: Any) -> bool:
        epoch = self._link.epoch
        started = time.monotonic()
        try:
            self._send(item, number)
        except self._transient as error:  # Redis unreachable or slow: keep it for later
            self._link.failed(error)
            self._backoff = min(max(self._backoff * 2, _FIRST_BACKOFF), _MAX_BACKOFF)
            self._retry_at = time.monotonic() + self._backoff
            return False
        except Exception:  # Redis refused this item (it would refuse it again): drop it
            self.dropped += 1
            skipped = self._refused.due()
            if skipped is not None:
                _log.error(
                    "llmroute: Redis refused an outcome; it is dropped (%d more since the "
                    "last such line)",
                    skipped,
                    exc_info=True,
                    extra={"event": "redis_write_refused", "count": skipped + 1},
                )
            return True
        self._backoff = 0.0
        if time.monotonic() - started <= self._fast:  # fit for reads too
            self._link.ok(epoch)
        self._report_overflow()
        return True

    def _report_overflow(self) -> None:
        if not self._overflow:
            return
        with self._cond:
            count, self._overflow = self._overflow, 0
        _log.warning(
            "llmroute: %d outcomes were dropped while Redis was unreachable (max_pending %d)",
            count,
            self._items.maxlen,
            extra={"event": "redis_outcomes_dropped", "count": count},
        )
