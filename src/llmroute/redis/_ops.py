"""The round trips, as lists of commands: what one read sends (and how its answers update
the view) and what one outcome sends. Sync and async drivers only run the lists, so the two
forms share every line of logic."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..config import ServiceID
from ..health import lease_probe
from ..state import Outcome, StateQuery
from ._codec import Keys, decode_health, encode_health, encode_pin, health_ttl_ms, next_health
from ._samples import SAMPLES_TTL_MS, FleetSamples, encode_sample
from ._scripts import (
    ADD_SAMPLE,
    ADD_USAGE,
    ADVANCE_TURN,
    CAS_HEALTH,
    PUBLISH_LEASE,
    RELEASE_PIN,
    SET_PIN,
)
from ._view import Usage, View

__all__ = [
    "Command",
    "Leases",
    "Once",
    "ReadPlan",
    "cas_command",
    "lease_command",
    "leases_of",
    "sample_command",
    "write_commands",
]

#: The replicas' leases as read: the server's clock (ms) and the hash's fields and values.
Leases = tuple[int, dict[str, str]]

#: One pipelined command: the client method's name and its arguments.
Command = tuple[str, tuple[Any, ...]]

#: An outcome's identity for its idempotent writes: its writer's marks key and its number
#: (``("", "")`` for none).
Once = tuple[str, str]

#: How long a round-robin turn counter lives after its last use.
TURN_TTL_MS = 86_400_000

_NO_ONCE: Once = ("", "")


def cas_command(
    keys: Keys,
    sid: str,
    expected: str | None,
    body: str,
    stamp: bool,
    ttl: int,
    once: Once = _NO_ONCE,
) -> Command:
    """The compare-and-set of one health entry (applied at most once per ``once``)."""
    marks = once[0] or keys.seq
    args = (keys.health(sid), keys.seq, marks, expected or "", body, "1" if stamp else "0")
    return ("evalsha", (CAS_HEALTH.sha, 3, *args, ttl, once[1]))


class ReadPlan:
    """The one round trip of a read that the view cannot answer: every known service's
    health entry, the ejection sequence, the rule's turn (taken with INCR when the query
    takes it), the query's pins, session counts and usage windows, and a compare-and-set
    probe lease for each service the view sees due. ``leases``: the replicas' leases too
    (with the server's clock); ``samples``: the fleet's latency samples (their bound; 0:
    none), for a query that reads latency figures."""

    def __init__(
        self,
        keys: Keys,
        query: StateQuery,
        view: View,
        now: float,
        leases: bool = False,
        samples: int = 0,
    ) -> None:
        self.query = query
        self.now = now
        self.leases = leases
        self.samples = samples if (query.stats or query.ewma_decay) else 0
        self.sids = sorted({*view.server, *query.services})
        rule = query.rule
        commands: list[Command] = [
            ("mget", ([keys.health(sid) for sid in self.sids],)),
            ("get", (keys.seq,)),
        ]
        turn = keys.turn(rule)
        if query.take_turn:
            commands += [("incr", (turn,)), ("pexpire", (turn, TURN_TTL_MS))]
        elif query.turn:
            commands.append(("get", (turn,)))
        if query.pin_keys:
            commands.append(("mget", ([keys.pin(rule, key) for key in query.pin_keys],)))
        if query.sessions:
            commands += [("zcount", (keys.sessions(s), now, "+inf")) for s in query.services]
        if query.stats:
            fields = ("s", "w", "r", "i", "o", "h", "m")
            commands += [("hmget", (keys.usage(s), fields)) for s in query.services]
        if leases:
            commands += [("time", ()), ("hgetall", (keys.leases,))]
        if self.samples:
            commands += [("lrange", (keys.samples(s), 0, samples - 1)) for s in query.services]
        self.probe_leases: list[tuple[str, str]] = []
        if query.lease_probes:
            for sid in view.due(query.services, now):
                leased = lease_probe(view.states[sid], now)
                if leased is not None:
                    body, expected = encode_health(leased), view.server.get(sid)
                    ttl = health_ttl_ms(leased, now)
                    commands.append(cas_command(keys, sid, expected, body, False, ttl))
                    self.probe_leases.append((sid, body))
        self.commands = commands

    def apply(
        self, results: Sequence[Any], view: View, mono: float
    ) -> tuple[int | None, list[tuple[ServiceID, int]], Leases | None]:
        """Update the view from the answers; returns the turn taken (None when not taken),
        the probe leases won, as (service id, ejection seq), and the replicas' leases (None
        when not read)."""
        query = self.query
        rule = query.rule
        answers = iter(results)
        with view.lock:
            for sid, raw in zip(self.sids, next(answers), strict=True):
                view.set_health(sid, raw)
            view.health_at = mono
            view.seq = int(next(answers) or 0)
            taken = None
            if query.take_turn:
                taken = int(next(answers)) - 1
                next(answers)
                view.turns[rule] = (taken + 1, mono)
            elif query.turn:
                view.turns[rule] = (int(next(answers) or 0), mono)
            if query.pin_keys:
                for key, raw in zip(query.pin_keys, next(answers), strict=True):
                    view.set_pin(rule, key, raw, mono)
            if query.sessions:
                for sid in query.services:
                    view.sessions[sid] = (int(next(answers)), mono)
            if query.stats:
                for sid in query.services:
                    view.usage[sid] = (_usage(next(answers)), mono)
            leases = None
            if self.leases:
                seconds, micros = next(answers)
                leases = (int(seconds) * 1000 + int(micros) // 1000, dict(next(answers)))
                view.leases_at = mono
            if self.samples:
                for sid in query.services:
                    view.samples[sid] = (FleetSamples.parse(next(answers), self.samples), mono)
            won = []
            for sid, _body in self.probe_leases:
                ok, entry = next(answers)
                view.set_health(sid, entry)
                if int(ok) == 1:
                    won.append((ServiceID.parse(sid), view.states[sid].ejected_seq))
        return taken, won, leases


def _usage(values: Sequence[str | None]) -> Usage | None:
    if values[0] is None or values[1] is None:
        return None
    counts = [int(v or 0) for v in values[2:]]
    return Usage(float(values[0]), float(values[1]), *counts)


def write_commands(
    keys: Keys, outcome: Outcome, now: float, mode: str, view: View, once: Once
) -> tuple[list[Command], bool]:
    """The commands of one outcome (usage, pin, turn, then the health compare-and-set last),
    and whether the last one is that compare-and-set. ``mode``: how a pin is set, ``nx`` (a
    new session: the first writer wins) or ``move``. The usage, turn and health writes are
    applied at most once per ``once`` (a retry after a lost reply is skipped); setting and
    releasing a pin are idempotent as they are."""
    commands: list[Command] = []
    service = outcome.service
    sid = service.service_id
    rule = outcome.rule
    if outcome.kind == "success":
        usage = outcome.usage
        inputs = usage.input_tokens if usage is not None else 0
        outputs = usage.output_tokens if usage is not None else 0
        hits = int(usage is not None and inputs > 0 and usage.cached_tokens > 0)
        misses = int(usage is not None and inputs > 0 and not hits)
        args = (now, float(service.time_window), 1, inputs, outputs, hits, misses, now, once[1])
        usage_keys = (keys.usage(sid), keys.sessions(sid), once[0])
        commands.append(("evalsha", (ADD_USAGE.sha, 3, *usage_keys, *args)))
    pin = outcome.pin
    if pin is not None:
        pin_key = keys.pin(rule, pin.key)
        member = f"{rule}\x1f{pin.key}"
        if pin.action == "set":
            value = encode_pin(str(pin.service), now, now + pin.ttl, pin.fallback)
            ttl = max(int(pin.ttl * 1000), 1)
            commands.append(
                (
                    "evalsha",
                    (
                        SET_PIN.sha,
                        2,
                        pin_key,
                        keys.sessions(str(pin.service)),
                        mode,
                        value,
                        ttl,
                        member,
                        now + pin.ttl,
                        keys.sessions_prefix,
                        str(pin.service),
                    ),
                )
            )
        else:
            release = (RELEASE_PIN.sha, 2, pin_key, keys.sessions(str(pin.service)))
            commands.append(("evalsha", (*release, str(pin.service), member)))
    if outcome.advance_turn:
        turn = (ADVANCE_TURN.sha, 2, keys.turn(rule), once[0], TURN_TTL_MS, once[1])
        commands.append(("evalsha", turn))
    with view.lock:
        expected = view.server.get(sid)
    step = next_health(decode_health(expected), bool(expected), outcome, now)
    if step is None:
        return commands, False
    commands.append(cas_command(keys, sid, expected, *step, once))
    return commands, True


def lease_command(keys: Keys, replica: str, ttl: float, payload: str, prune: bool) -> Command:
    """Publish a replica's lease for ``ttl`` seconds (dropping the expired ones when
    ``prune``); its answer reads with :func:`leases_of`."""
    ttl_ms = max(int(ttl * 1000), 1)
    args = (keys.leases, replica, ttl_ms, payload, "1" if prune else "0")
    return ("evalsha", (PUBLISH_LEASE.sha, 1, *args))


def leases_of(answer: Sequence[Any]) -> Leases:
    """The leases a publish answered: the server's clock (ms) and the hash."""
    now, flat = answer
    return int(now), dict(zip(flat[::2], flat[1::2], strict=True))


def sample_command(
    keys: Keys, outcome: Outcome, now: float, bound: int, once: Once
) -> Command | None:
    """Add a served outcome's latency / TTFT / speed sample to the fleet's (None when it has
    none), applied at most once per ``once``."""
    entry = encode_sample(now, outcome.latency_ms, outcome.ttft_ms, outcome.usage)
    if outcome.kind != "success" or entry is None:
        return None
    sid = outcome.service.service_id
    args = (keys.samples(sid), once[0] or keys.seq, entry, bound, SAMPLES_TTL_MS, once[1])
    return ("evalsha", (ADD_SAMPLE.sha, 2, *args))
