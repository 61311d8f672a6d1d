"""This process's own outcome applied to the local view at once, before Redis hears of it:
health, usage window, turn, pin, and (with ``share_samples``) the fleet's samples."""

from __future__ import annotations

from ..affinity import AffinityEntry
from ..health import FRESH
from ..state import Outcome
from ._codec import decode_health, next_health
from ._samples import EMPTY_SAMPLES, encode_sample
from ._view import Usage, View

__all__ = ["apply_local"]


def apply_local(view: View, outcome: Outcome, now: float, samples: int) -> None:
    """Apply ``outcome`` to ``view`` (``samples``: the shared samples' bound, 0 when they
    are not shared)."""
    sid = outcome.service.service_id
    with view.lock:
        state = view.states.get(sid, FRESH)
        step = next_health(state, state is not FRESH, outcome, now)
        if step is not None:
            body, stamp, _ttl = step
            seq = view.seq + 1 if stamp else state.ejected_seq
            view.put_state(sid, decode_health(f"{seq}|{body}") if body else FRESH)
        if outcome.kind == "success":
            _count_usage(view, outcome, now)
            if samples:
                _add_sample(view, outcome, now, samples)
        if outcome.advance_turn:
            turn, at = view.turns.get(outcome.rule, (0, -1e18))
            view.turns[outcome.rule] = (turn + 1, at)
        _pin_local(view, outcome, now)


def _count_usage(view: View, outcome: Outcome, now: float) -> None:
    sid = outcome.service.service_id
    usage = outcome.usage
    inputs = usage.input_tokens if usage is not None else 0
    outputs = usage.output_tokens if usage is not None else 0
    cache = 0 if usage is None or inputs <= 0 else (1 if usage.cached_tokens > 0 else -1)
    window, at = view.usage.get(sid, (None, -1e18))
    length = float(outcome.service.time_window)
    base = window if window is not None else Usage(now, length)
    view.usage[sid] = (base.plus(now, length, inputs, outputs, cache), at)


def _add_sample(view: View, outcome: Outcome, now: float, bound: int) -> None:
    entry = encode_sample(now, outcome.latency_ms, outcome.ttft_ms, outcome.usage)
    if entry is None:
        return
    sid = outcome.service.service_id
    samples, at = view.samples.get(sid, (EMPTY_SAMPLES, -1e18))
    view.samples[sid] = (samples.plus(entry, bound), at)


def _pin_local(view: View, outcome: Outcome, now: float) -> None:
    pin = outcome.pin
    if pin is None:
        return
    rule = outcome.rule
    entry, at = view.pins.get((rule, pin.key), (None, -1e18))
    held = entry.service if entry is not None and now < entry.expires_at else None
    target = pin.service
    if pin.action == "set" and held != target:
        entry = AffinityEntry(target, "", now, now + pin.ttl, pin.fallback)
        view.put_pin(rule, pin.key, entry, at)
        count, when = view.sessions.get(target, (0, -1e18))
        view.sessions[target] = (count + 1, when)
    elif pin.action == "release" and held == target:
        view.put_pin(rule, pin.key, None, at)
