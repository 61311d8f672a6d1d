"""What RedisState keeps on the server, as strings: key names, health states, pins, and the
pure step from an outcome to the next health state (the transitions of ``llmroute.health``)."""

from __future__ import annotations

import json
from dataclasses import asdict, fields, replace
from hashlib import blake2b
from typing import Any
from urllib.parse import unquote_plus, urlsplit, urlunsplit

from ..affinity import AffinityEntry
from ..config import RoutingConfig, ServiceID
from ..health import FRESH, HealthState, on_failure, on_probe, on_success
from ..state import Outcome

__all__ = [
    "Keys",
    "decode_health",
    "decode_pin",
    "encode_health",
    "encode_pin",
    "generation_of",
    "health_ttl_ms",
    "mask_url",
    "next_health",
]

#: The ejection sequence a transition is given before the server stamps the real one.
PENDING_SEQ = 1 << 62

_HEALTH_FIELDS = tuple(f.name for f in fields(HealthState) if f.name != "last_error")

#: How long a health entry outlives its ejection (or its last error), in seconds.
HEALTH_GRACE_SECONDS = 3600.0

#: How long a re-admission is remembered (``StateSnapshot.recovered``), in seconds.
RECOVERED_SECONDS = 3600.0


class Keys:
    """The key names of one namespace and config generation: ``llmroute:{ns}:{gen}:...``."""

    __slots__ = ("prefix",)

    def __init__(self, namespace: str, generation: str) -> None:
        self.prefix = f"llmroute:{namespace}:{generation}:"

    def health(self, sid: str) -> str:
        """A service's health entry: ``"{ejected_seq}|{json}"``."""
        return f"{self.prefix}h:{sid}"

    @property
    def seq(self) -> str:
        """The ejection sequence (INCR)."""
        return f"{self.prefix}seq"

    def turn(self, rule: str) -> str:
        """A rule's round-robin turn counter (INCR)."""
        return f"{self.prefix}turn:{rule}"

    def pin(self, rule: str, key: str) -> str:
        """A session's pin under a rule."""
        return f"{self.prefix}pin:{rule}:{key}"

    @property
    def sessions_prefix(self) -> str:
        """The prefix of the per-service sorted sets of live pins (score: expiry)."""
        return f"{self.prefix}sess:"

    def sessions(self, sid: str) -> str:
        """A service's live pins: members ``rule\\x1fkey``, scored by expiry."""
        return f"{self.sessions_prefix}{sid}"

    def writer(self, writer_id: str) -> str:
        """A writer's marks: the last outcome number it applied, per part (a hash)."""
        return f"{self.prefix}w:{writer_id}"

    def usage(self, sid: str) -> str:
        """A service's usage window (a hash: start, length, requests, tokens, cache)."""
        return f"{self.prefix}use:{sid}"

    @property
    def leases(self) -> str:
        """The replicas' leases of calls in flight (a hash by replica id)."""
        return f"{self.prefix}leases"

    def samples(self, sid: str) -> str:
        """A service's shared latency / TTFT / speed samples (a list, newest first)."""
        return f"{self.prefix}lat:{sid}"


def generation_of(config: RoutingConfig) -> str:
    """A short hash of a configuration: the same document gives the same generation in every
    process (it is hashed, never stored, so secrets in it do not leave the process)."""
    text = config.model_dump_json(round_trip=True)
    return blake2b(text.encode("utf-8"), digest_size=6).hexdigest()


def mask_url(url: str) -> str:
    """``url`` with any password (in its user part or its query string) replaced by ``***``
    (the rest as written, IPv6 brackets included)."""
    parts = urlsplit(url)
    netloc, query = parts.netloc, parts.query
    user, at, host = netloc.rpartition("@")
    if at and ":" in user:
        netloc = f"{user.partition(':')[0]}:***@{host}"
    if query:
        fields = query.split("&")
        for index, field in enumerate(fields):
            name, equals, _value = field.partition("=")
            if equals and unquote_plus(name).lower() == "password":
                fields[index] = f"{name}=***"
        query = "&".join(fields)
    return urlunsplit(parts._replace(netloc=netloc, query=query))


# -- health ---------------------------------------------------------------------------------


def encode_health(state: HealthState) -> str:
    """The JSON part of a health entry (the server prefixes the ejection sequence)."""
    data = asdict(replace(state, last_error=None))
    data.pop("last_error", None)
    data.pop("ejected_seq", None)
    return json.dumps(data, separators=(",", ":"))


def decode_health(raw: str | None) -> HealthState:
    """A health entry read back (FRESH for an absent or unreadable one)."""
    if not raw:
        return FRESH
    seq_text, _, body = raw.partition("|")
    try:
        data: dict[str, Any] = json.loads(body)
        values = {name: data[name] for name in _HEALTH_FIELDS if name in data}
        values["ejected_seq"] = int(seq_text)
        return HealthState(**values)
    except (ValueError, TypeError, KeyError):
        return FRESH


def health_ttl_ms(state: HealthState, now: float) -> int:
    """How long an entry lives: its ejection's remaining time plus a grace period."""
    until = max(state.unhealthy_until, state.rate_limited_until, state.probe_until, now)
    return int((until - now + HEALTH_GRACE_SECONDS) * 1000)


def next_health(
    state: HealthState, present: bool, outcome: Outcome, now: float
) -> tuple[str, bool, int] | None:
    """The next health entry for ``outcome`` over ``state`` (``present``: an entry exists):
    (its JSON part, or ``""`` to delete a healthy entry with nothing to remember; whether the
    server must stamp a new ejection sequence; its TTL in ms). None when nothing changes."""
    sid = outcome.service.service_id
    kind = outcome.kind
    if kind == "success":
        if not present or (state.healthy and state.consecutive_errors == 0):
            return None  # nothing a decision reads would change
        new, events = on_success(state, sid, now, outcome.read_seq)
    elif kind == "failure" and outcome.failure is not None:
        if not outcome.failure.counts_against_health:
            return None
        new, events = on_failure(
            state, sid, outcome.failure, outcome.health, now, PENDING_SEQ, outcome.read_seq
        )
    elif kind == "probe":
        new, events = on_probe(
            state,
            sid,
            outcome.ok,
            outcome.failure,
            outcome.health,
            now,
            outcome.lease_seq,
            PENDING_SEQ,
        )
    else:
        return None
    ejected = any(event["event"] == "ejected" for event in events)
    if new.healthy and new.consecutive_errors == 0 and now >= new.rate_limited_until:
        recent = new.readmitted_at is not None and now - new.readmitted_at < RECOVERED_SECONDS
        if not recent:  # nothing to remember (a recent re-admission is: failback reads it)
            return ("", False, 0) if present else None
    return encode_health(new), ejected, health_ttl_ms(new, now)


def with_seq(body: str, seq: int) -> str:
    """A full health entry from its JSON part and its ejection sequence."""
    return f"{seq}|{body}"


# -- pins -----------------------------------------------------------------------------------


def encode_pin(service: str, locked_at: float, expires_at: float, fallback: bool = False) -> str:
    """A pin's value: ``service\\tlocked_at\\texpires_at\\tfallback`` (1 or 0)."""
    return f"{service}\t{locked_at!r}\t{expires_at!r}\t{int(fallback)}"


def decode_pin(raw: str | None, now: float) -> AffinityEntry | None:
    """A pin read back; None when absent, expired or unreadable."""
    if not raw:
        return None
    try:
        service, locked, expires, *rest = raw.split("\t")
        fallback = bool(rest) and rest[0] == "1"
        sid = ServiceID.parse(service)
        entry = AffinityEntry(sid, "", float(locked), float(expires), fallback)
    except (ValueError, TypeError):
        return None
    return entry if now < entry.expires_at else None
