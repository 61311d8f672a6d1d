"""What the write-behind thread sends: one outcome's round trip (with this replica's lease
and, with ``share_samples``, the outcome's sample), the compare-and-set retries it may need,
and the lease's own refreshes when no outcome carries it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..state import Outcome
from ._client import Connections
from ._codec import Keys, decode_health, next_health
from ._ops import (
    Command,
    Once,
    cas_command,
    lease_command,
    leases_of,
    sample_command,
    write_commands,
)
from ._replica import Replica
from ._scripts import SET_PIN
from ._view import View

__all__ = ["Sender"]

_MAX_CAS_TRIES = 8


class Sender:
    """The write-behind thread's work for one store; ``current`` answers the store's keys
    and view now (a new configuration generation replaces both)."""

    def __init__(
        self,
        conns: Connections,
        replica: Replica,
        writer_id: str,
        samples: int,
        current: Callable[[], tuple[Keys, View]],
    ) -> None:
        self._conns = conns
        self._replica = replica
        self._writer_id = writer_id
        self._samples = samples
        self._current = current

    def send(self, item: tuple[Keys, Outcome, float, str], number: int) -> None:
        """Send outcome ``number``: one round trip, and more only when a health
        compare-and-set meets a concurrent change. Sent again after a lost reply, it is not
        applied twice (see ``write_commands``)."""
        keys, outcome, now, mode = item
        view = self._current()[1]
        once = (keys.writer(self._writer_id), str(number))
        commands, has_cas = write_commands(keys, outcome, now, mode, view, once)
        first: list[Command] = []
        if self._samples:
            sample = sample_command(keys, outcome, now, self._samples, once)
            first += [sample] if sample is not None else []
        replica = self._replica
        mono = time.monotonic()
        lease = replica.lease(mono, idle=False) if replica.used else None
        if lease is not None:  # the counts in flight travel with the outcome
            first.insert(0, lease_command(keys, replica.id, replica.ttl, *lease))
        commands = first + commands
        if not commands:
            return
        results = self._conns.run(commands)
        if lease is not None:
            self._published(keys, lease[0], mono, results[0])
        current = keys is self._current()[0]
        if current:
            self._learn_pins(view, outcome, commands, results)
        if has_cas:
            self._settle_cas(view, keys, outcome, now, results[-1], current, once)

    def heartbeat(self) -> float | None:
        """The idle work: publish this replica's lease when a change has waited long enough
        or it is due for a refresh; returns the seconds until the next is due."""
        replica = self._replica
        mono = time.monotonic()
        lease = replica.lease(mono, idle=True)
        if lease is not None:
            keys = self._current()[0]
            command = lease_command(keys, replica.id, replica.ttl, *lease)
            self._published(keys, lease[0], mono, self._conns.run([command])[0])
        return replica.next_due(time.monotonic())

    def _published(self, keys: Keys, payload: str, mono: float, answer: Any) -> None:
        self._replica.published(payload, mono)
        if keys is self._current()[0]:  # the other replicas' leases, in the same round trip
            self._replica.learn(*leases_of(answer), time.monotonic())

    def _learn_pins(
        self, view: View, outcome: Outcome, commands: list[Any], results: list[Any]
    ) -> None:
        pin = outcome.pin
        if pin is None or pin.action != "set":
            return
        for (name, args), result in zip(commands, results, strict=True):
            if name == "evalsha" and args[0] == SET_PIN.sha:
                with view.lock:
                    view.set_pin(outcome.rule, pin.key, result, time.monotonic())

    def _settle_cas(
        self,
        view: View,
        keys: Keys,
        outcome: Outcome,
        now: float,
        answer: Any,
        current: bool,
        once: Once,
    ) -> None:
        sid = outcome.service.service_id
        for _ in range(_MAX_CAS_TRIES):
            ok, entry = int(answer[0]), answer[1] or None
            if current:
                with view.lock:
                    view.set_health(sid, entry)
            if ok == 1:
                return
            step = next_health(decode_health(entry), entry is not None, outcome, now)
            if step is None:
                return
            answer = self._conns.run([cas_command(keys, sid, entry, *step, once)])[0]
