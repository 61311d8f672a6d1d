"""The write-behind thread: outcomes are queued (bounded) and sent in order, one pipelined
round trip each, so a request never waits for Redis to take its outcome."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from ._link import Link

__all__ = ["Writer"]

_IDLE_WAIT = 0.05

_log = logging.getLogger("llmroute.redis")


class Writer:
    """Sends queued items with ``send`` on one daemon thread, in order. While Redis is down
    the items wait (the oldest are dropped past ``max_pending``) and are sent once the link
    is back (``transient``: the errors that mean "down"; an item failing otherwise is logged
    and dropped). :meth:`flush` waits for the queue to empty."""

    def __init__(
        self,
        send: Callable[[Any], None],
        link: Link,
        max_pending: int,
        transient: tuple[type[BaseException], ...] = (OSError,),
    ) -> None:
        self._send = send
        self._transient = transient
        self._link = link
        self._items: deque[Any] = deque(maxlen=max_pending)
        self._cond = threading.Condition()
        self._busy = False
        self._closed = False
        self._thread: threading.Thread | None = None
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
            self._items.append(item)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="llmroute-redis-writer", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued item was sent (or ``timeout`` seconds); True when done."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._items and not self._busy, timeout)

    def close(self) -> None:
        """Stop the thread after the item it is sending."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._items and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                item = self._items.popleft()
                self._busy = True
            try:
                sent = self._link.may_try() and self._attempt(item)
            finally:
                with self._cond:
                    self._busy = False
                    if not sent:
                        self._items.appendleft(item)
                        self._cond.wait(_IDLE_WAIT)
                    self._cond.notify_all()

    def _attempt(self, item: Any) -> bool:
        try:
            self._send(item)
        except self._transient as error:  # Redis unreachable or slow: keep it for later
            self._link.failed(error)
            return False
        except Exception:  # Redis refused this item (it would refuse it again): drop it
            self.dropped += 1
            _log.error(
                "llmroute: Redis refused an outcome; it is dropped",
                exc_info=True,
                extra={"event": "redis_write_refused"},
            )
            return True
        self._link.ok()
        return True
