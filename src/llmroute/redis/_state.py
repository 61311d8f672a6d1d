"""RedisState: the state store of a fleet of workers and replicas, on one Redis."""

from __future__ import annotations

import logging
import os
import time
import uuid
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeout

from ..config import HealthConfig, RoutingConfig
from ..execute import RetryBudget
from ..state import (
    EMPTY,
    NO_CURSOR,
    InMemoryTacticState,
    Outcome,
    StateQuery,
    StateSnapshot,
)
from ..stats import InMemoryStatsStore
from ..typing import Clock, system_clock
from ._budget import FleetRetryBudget
from ._client import Connections
from ._codec import Keys, generation_of, mask_url
from ._figures import figures
from ._fork import call_after_fork
from ._link import Link, Throttle
from ._local import apply_local
from ._ops import ReadPlan
from ._replica import Replica
from ._sender import Sender
from ._view import View
from ._writer import Writer

__all__ = ["RedisState"]

_log = logging.getLogger("llmroute.redis")

# A snapshot's seq carries the generation it was read under in its high bits, so an outcome
# that comes back after a config reload is known for one of the old generation.
_EPOCH_SHIFT = 48
_SEQ_MASK = (1 << _EPOCH_SHIFT) - 1

#: The errors that mean Redis is unreachable (the write-behind thread then keeps the outcome).
_TRANSIENT = (ConnectionError, TimeoutError, OSError, RedisConnectionError, RedisTimeout)


class RedisState:
    """A state store shared by every process that uses the same Redis and ``namespace``
    (implements ``StateStore`` and ``AsyncStateStore``). Build it with :meth:`from_url`.

    Shared: health (ejections, rate-limit windows, auth flags, consecutive errors, probe
    leases), pins and live-session counts, usage windows, round-robin turns, and the calls
    and retries in flight, each replica's under a lease of ``lease_ttl`` seconds (the
    selector's in-flight counts and its retry budget are the fleet's). This process's own:
    latency / TTFT / speed samples (:attr:`stats`; the fleet's with ``share_samples``) and
    tactic cursors (:attr:`tactics`). Reads are answered from a local view refreshed at
    most every ``sync_interval`` seconds by one pipelined round trip (0: on every read);
    outcomes are applied to the view at once and sent by a write-behind thread. When Redis
    is unreachable it fails open: the view answers, outcomes wait (at most ``max_pending``),
    the fleet's counts are this replica's own, and :attr:`connected` is False. Thread-safe;
    never raises from a read or a write.
    """

    def __init__(
        self,
        url: str,
        *,
        namespace: str = "default",
        sync_interval: float = 0.5,
        socket_timeout: float = 0.05,
        write_timeout: float = 1.0,
        max_pending: int = 10_000,
        lease_ttl: float | None = None,
        share_samples: bool = False,
        max_samples: int = 100,
        replica_id: str | None = None,
        clock: Clock | None = None,
        **redis_options: Any,
    ) -> None:
        if sync_interval < 0 or socket_timeout <= 0 or max_pending < 1:
            raise ValueError("sync_interval >= 0, socket_timeout > 0 and max_pending >= 1")
        if write_timeout < socket_timeout:
            raise ValueError(
                f"RedisState: write_timeout ({write_timeout!r}) must be >= socket_timeout "
                f"({socket_timeout!r})"
            )
        if lease_ttl is None:  # outlives a few refreshes of the other replicas' views
            lease_ttl = max(2.0, 4 * float(sync_interval))
        if not lease_ttl > 0:  # also NaN
            raise ValueError(f"RedisState: lease_ttl must be seconds > 0, got {lease_ttl!r}")
        if isinstance(max_samples, bool) or not isinstance(max_samples, int) or max_samples < 1:
            raise ValueError(f"RedisState: max_samples must be an int >= 1, got {max_samples!r}")
        self._where = mask_url(url)
        self._namespace = namespace
        self._generation = "0"
        self._epoch = 0  # this process's count of generations: the high bits of a read's seq
        self._keys = Keys(namespace, self._generation)
        self._interval = float(sync_interval)
        self._clock: Clock = clock if clock is not None else system_clock
        self._samples = max_samples if share_samples else 0
        self._parts = (url, socket_timeout, write_timeout, redis_options, max_pending)
        self._named = replica_id
        # a change of the counts in flight waits at most ``delay`` for an outcome to carry it
        self._lease = (float(lease_ttl), max(self._interval / 2, 0.01))
        self._replica = self._open(replica_id, None)
        call_after_fork(self._forked)
        self.health_config = HealthConfig()
        self.stats = InMemoryStatsStore(clock=self._clock)
        self.tactics = InMemoryTacticState()

    def _open(self, replica_id: str | None, replica: Replica | None) -> Replica:
        """Build the parts a process holds on its own: connections, link, view, writer
        thread, this replica's lease (in :meth:`__init__`, and afresh in a forked child)."""
        url, socket_timeout, write_timeout, options, max_pending = self._parts
        self._conns = Connections(url, socket_timeout, write_timeout, dict(options))
        self._link = Link(self._where)
        self._view = View()
        self._writer = Writer(
            self._send, self._link, max_pending, _TRANSIENT, socket_timeout, self._heartbeat
        )
        self._writer_id = uuid.uuid4().hex[:16]  # the key of this store's applied-outcome marks
        name = replica_id if replica_id is not None else self._writer_id
        if replica is None:
            replica = Replica(name, *self._lease, self._link, self._writer.nudge)
        else:  # the selector and its retry budget hold this one: it starts afresh in place
            replica.restart(name, self._link, self._writer.nudge)
        self._sender = Sender(self._conns, replica, self._writer_id, self._samples, self._current)
        self._refused = Throttle()
        self._unreadable = Throttle()
        return replica

    def _forked(self) -> None:
        """In a forked child: its own writer, connections and replica (a named replica's
        children are told apart by their pid); the parent's queue stays the parent's."""
        name = None if self._named is None else f"{self._named}-{os.getpid()}"
        self._open(name, self._replica)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisState:
        """A store on the Redis at ``url`` (``redis://[:password@]host:port/db``); options:

        - ``namespace``: the processes that share state (default ``"default"``);
        - ``sync_interval`` (0.5 s): how stale the local view may be (0: read every time);
        - ``socket_timeout`` (0.05 s): the longest a read waits for Redis, connect included;
        - ``write_timeout`` (1 s): the write-behind thread's, off every request's path;
        - ``max_pending`` (10,000): outcomes kept while Redis is unreachable;
        - ``lease_ttl`` (the larger of 2 s and 4 sync intervals): how long this replica's
          published calls in flight count after its last refresh (refreshed every
          ``lease_ttl / 4`` while it has any): a replica killed with calls in flight leaves
          no load behind after that;
        - ``share_samples`` (False): latency, TTFT and speed figures from the whole fleet's
          samples (the newest ``max_samples``, 100, per service) instead of this process's;
        - ``replica_id``: this replica's name in the leases (a random one by default; a
          forked child of a store starts afresh as ``{replica_id}-{pid}``);
        - ``clock``, and any option of ``redis.Redis.from_url``.

        Connects lazily: nothing is sent until the first read or write."""
        return cls(url, **options)

    # -- what it holds -----------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether the last call to Redis succeeded (for health endpoints)."""
        return self._link.up

    @property
    def namespace(self) -> str:
        """The namespace every key is under."""
        return self._namespace

    @property
    def generation(self) -> str:
        """The configuration generation keys are under (see :meth:`use_config`)."""
        return self._generation

    @generation.setter
    def generation(self, value: str) -> None:
        if value == self._generation:
            return
        self._generation = value
        self._epoch += 1
        self._keys = Keys(self._namespace, value)
        self._view = View()
        self._replica.forget()
        self.tactics.reset()

    @property
    def round_trips(self) -> int:
        """How many round trips to Redis this store has made (reads, writes, script loads)."""
        return self._conns.round_trips

    @property
    def pending(self) -> int:
        """Outcomes not yet sent to Redis."""
        return self._writer.pending

    @property
    def replica_id(self) -> str:
        """This replica's name in the fleet's leases."""
        return self._replica.id

    def in_flight_counter(self) -> Replica:
        """The counter of calls in flight a selector on this store uses
        (``typing.CountsInFlight``): ``add``/``count`` this replica's own, ``view()`` the
        fleet's (this replica's live counts plus the other live leases)."""
        self._replica.used = True
        return self._replica

    def retry_budget(self, like: RetryBudget | None = None) -> FleetRetryBudget:
        """A retry budget the fleet shares (``typing.SharesRetryBudget``), with ``like``'s
        ratio and minimum (the defaults, 0.2 and 3, without it). A selector on this store
        gets one for ``retry_budget=True``."""
        like = like if like is not None else RetryBudget()
        self._replica.used = True
        return FleetRetryBudget(self._replica, like.ratio, like.min_retries)

    def use_config(self, config: RoutingConfig) -> None:
        """Key state under ``config``'s generation (a hash of the document): every process
        that loads the same config shares one state; a different config starts afresh, so
        late outcomes of the old one cannot change the new one's decisions. The selector
        calls it on ``from_config`` and ``update_config``."""
        self.configure(config.health)
        self.generation = generation_of(config)

    def configure(self, health: HealthConfig) -> None:
        """Apply a reloaded health configuration (outcomes carry their own)."""
        self.health_config = health

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every outcome written so far was sent; True when done in time."""
        return self._writer.flush(timeout)

    def close(self) -> None:
        """Stop the write-behind thread and close the connections."""
        self._writer.close()
        self._conns.close()

    async def aclose(self) -> None:
        """Close the async connections of the running event loop (call it before the loop
        ends, e.g. at app shutdown: a loop's connections are its own). The store stays usable;
        :meth:`close` ends it."""
        await self._conns.aclose()

    # -- StateStore --------------------------------------------------------------------

    def read(self, query: StateQuery) -> StateSnapshot:
        """Answer ``query`` from the local view, refreshed first (one round trip) when it is
        older than ``sync_interval`` or lacks what the query asks for."""
        now = self._clock()
        plan = self._plan(query, now)
        if plan is None:
            return self._snapshot(query, now, None, ())
        epoch = self._link.epoch
        try:
            results = self._conns.run(plan.commands, reload=False)
        except Exception as error:
            return self._failed(error, query, now)
        return self._answer(plan, results, epoch)

    async def aread(self, query: StateQuery) -> StateSnapshot:
        """:meth:`read` for async callers, on ``redis.asyncio`` (never blocks the loop)."""
        now = self._clock()
        plan = self._plan(query, now)
        if plan is None:
            return self._snapshot(query, now, None, ())
        epoch = self._link.epoch
        try:
            results = await self._conns.arun(plan.commands)
        except Exception as error:
            return self._failed(error, query, now)
        return self._answer(plan, results, epoch)

    def write(self, outcome: Outcome) -> None:
        """Apply ``outcome`` to the local view at once and queue it for Redis (written behind
        on one thread, in order; never waits for the network)."""
        now = self._clock()
        if outcome.read_seq is not None:
            if outcome.read_seq >> _EPOCH_SHIFT != self._epoch:
                return  # read under an older generation: it must not change this one
            outcome = outcome._replace(read_seq=outcome.read_seq & _SEQ_MASK)
        mode = "nx"  # a session's first pin: the first writer wins; a move overwrites
        if outcome.pin is not None:
            with self._view.lock:
                if self._view.pins.get((outcome.rule, outcome.pin.key), (None, 0.0))[0]:
                    mode = "move"
        self._apply_local(outcome, now)
        self._writer.put((self._keys, outcome, now, mode))

    async def awrite(self, outcome: Outcome) -> None:
        """:meth:`write` for async callers (the write-behind thread sends it)."""
        self.write(outcome)

    # -- reading -----------------------------------------------------------------------

    def _plan(self, query: StateQuery, now: float) -> ReadPlan | None:
        """The round trip to make, or None to answer from the view (fresh, or Redis down:
        then it is tried again off the request path, once per backoff step)."""
        view, link = self._view, self._link
        if view.fresh(query, time.monotonic(), self._interval, now, bool(self._samples)):
            return None
        if not link.up:
            if link.may_try():
                self._conns.load_later(link)
            return None
        leases = self._replica.used or query.in_flight
        with view.lock:
            return ReadPlan(self._keys, query, view, now, leases, self._samples)

    def _answer(self, plan: ReadPlan, results: list[Any], epoch: int) -> StateSnapshot:
        self._link.ok(epoch)
        query, now = plan.query, plan.now
        try:
            mono = time.monotonic()
            taken, won, leases = plan.apply(results, self._view, mono)
            if leases is not None:
                self._replica.learn(*leases, mono)
        except Exception:  # an unreadable value in Redis: fail open on the view
            if self._unreadable.due() is not None:
                _log.error(
                    "llmroute: Redis holds a value this version cannot read; answering from "
                    "the local view",
                    exc_info=True,
                    extra={"event": "redis_read_unreadable"},
                )
            return self._snapshot(query, now, None, ())
        return self._snapshot(query, now, taken, tuple(won))

    def _failed(self, error: BaseException, query: StateQuery, now: float) -> StateSnapshot:
        if isinstance(error, ResponseError):  # this read refused (WRONGTYPE, OOM): not down
            if not isinstance(error, NoScriptError) and self._refused.due() is not None:
                _log.error(
                    "llmroute: Redis refused a read (%s); answering from the local view",
                    error,
                    extra={"event": "redis_read_refused"},
                )
        else:
            self._link.failed(error)
        return self._snapshot(query, now, None, ())

    def _snapshot(
        self, query: StateQuery, now: float, taken: int | None, probes: tuple[Any, ...]
    ) -> StateSnapshot:
        view = self._view
        rule = query.rule
        with view.lock:
            if taken is None and query.take_turn:  # Redis did not answer: this process's turns
                taken = view.turn_of(rule)
                view.turns[rule] = (taken + 1, view.turns.get(rule, (0, -1e18))[1])
            unhealthy = view.unhealthy(query.services)
            stats, ewma = figures(view, query, self.stats, bool(self._samples), now)
            return StateSnapshot(
                now=now,
                seq=self._epoch << _EPOCH_SHIFT | view.seq,
                unhealthy=unhealthy,
                probing=query.health.probe_enabled,
                stats=stats,
                ewma=ewma,
                in_flight=self._replica.view() if query.in_flight else EMPTY,
                sessions=view.session_counts(query.services) if query.sessions else EMPTY,
                pins=view.pins_of(rule, query.pin_keys, now) if query.pin_keys else EMPTY,
                cursor=self.tactics.cursor(rule) if query.cursor else NO_CURSOR,
                turn=taken if taken is not None else (view.turn_of(rule) if query.turn else 0),
                probes=probes,
                # only a pin's failback reads re-admissions (StateSnapshot.healthy_since)
                recovered=view.recovered_of(query.services) if query.pin_keys else EMPTY,
            )

    # -- writing -----------------------------------------------------------------------

    def _apply_local(self, outcome: Outcome, now: float) -> None:
        """This process's own outcome, applied to the view before Redis hears of it."""
        if outcome.kind == "success":
            service = outcome.service
            self.stats.record_success(service, outcome.usage, outcome.latency_ms, outcome.ttft_ms)
        if outcome.current:
            self.tactics.record(outcome.rule, outcome.service.service_id)
        apply_local(self._view, outcome, now, self._samples)

    def _send(self, item: tuple[Keys, Outcome, float, str], number: int) -> None:
        self._sender.send(item, number)

    def _heartbeat(self) -> float | None:
        return self._sender.heartbeat()

    def _current(self) -> tuple[Keys, View]:
        return self._keys, self._view

    def __repr__(self) -> str:
        state = "connected" if self.connected else "disconnected"
        return f"RedisState({self._where!r}, namespace={self._namespace!r}, {state})"
