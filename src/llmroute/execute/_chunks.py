"""What commits a stream to its provider, and the time limits of a stream.

A stream fails over until it *commits*: until a chunk carries content the caller would see.
Role-only deltas, empty deltas, keep-alive comments and Anthropic ``message_start`` / ``ping``
events do not commit; they are held back and delivered, in order, with the chunk that does.
:func:`default_commits` is the predicate the stream drivers use unless given ``commits=``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

__all__ = ["StreamLimits", "check_seconds", "default_commits"]

#: Anthropic events (raw and of the SDK's ``messages.stream()`` helper) whose text fields
#: carry content, and the fields to look in.
_ANTHROPIC_DELTAS = ("text", "partial_json", "thinking")
#: Events that never carry content (their stream may still fail over after them).
_NO_CONTENT = frozenset(
    {"message_start", "ping", "content_block_stop", "error", "response.created"}
    | {"response.in_progress", "response.queued", "response.output_item.added"}
    | {"response.content_part.added", "response.reasoning_summary_part.added"}
)
#: Events that end an answer: a definite reply (a stop reason, the final response).
_FINAL = frozenset(
    {"message_delta", "message_stop", "response.completed", "response.incomplete", "message"}
)


def _field(obj: object, name: str) -> Any:
    if type(obj) is dict or isinstance(obj, Mapping):  # a plain dict first: the cheap check
        return obj.get(name)
    return getattr(obj, name, None)


def _filled(value: object) -> bool:
    """A field with content: a non-empty string or list, or another non-None value."""
    if value is None:
        return False
    if isinstance(value, (str, bytes, list, tuple, dict)):
        return len(value) > 0
    return True


def default_commits(chunk: object) -> bool:
    """Whether ``chunk`` commits its stream: the default ``commits=`` of the stream drivers.

    Reads dicts and SDK objects alike (no SDK is imported):

    - OpenAI Chat Completions chunks (a ``choices`` list): commits when a choice's ``delta``
      has non-empty ``content``, ``refusal``, ``tool_calls``, ``function_call`` or
      ``audio``, or the choice has a ``finish_reason``. A role-only or empty delta, and the
      usage-only chunk (no choices), do not.
    - OpenAI Responses events (``type`` ``response.*``): ``*.delta`` events with a non-empty
      ``delta``, ``*.done`` events, ``response.completed`` and ``response.incomplete``
      commit; ``response.created`` / ``in_progress`` / ``*.added`` do not.
    - Anthropic events: ``content_block_delta`` with text, JSON or thinking, a
      ``content_block_start`` of a tool use or with text, ``message_delta`` and
      ``message_stop`` commit; ``message_start``, ``ping``, ``content_block_stop`` and
      ``error`` do not. The SDK helper's ``text`` / ``input_json`` / ``thinking`` events
      commit when they carry text.
    - Raw server-sent-event text (``str`` / ``bytes``): blank lines, comments (``:``...) and
      ``event:`` lines do not commit; a ``data:`` line is read as the JSON it holds
      (``[DONE]`` commits).
    - ``None`` does not commit; anything else does (a chunk it does not understand is
      content as far as it can tell, which was the behaviour before the predicate).
    """
    if chunk is None:
        return False
    if isinstance(chunk, (str, bytes)):
        return _sse_commits(chunk)
    choices = _field(chunk, "choices")
    if isinstance(choices, (list, tuple)):
        return any(_choice_commits(choice) for choice in choices)
    kind = _field(chunk, "type")
    if isinstance(kind, str):
        return _event_commits(chunk, kind)
    return True


def _choice_commits(choice: object) -> bool:
    if _field(choice, "finish_reason") is not None:
        return True
    delta = _field(choice, "delta")
    if delta is None:
        delta = _field(choice, "message")  # a non-delta choice: a whole message
        if delta is None:
            return _filled(_field(choice, "text"))  # legacy completions
    return any(
        _filled(_field(delta, name))
        for name in ("content", "refusal", "tool_calls", "function_call", "audio")
    )


def _event_commits(event: object, kind: str) -> bool:
    if kind in _NO_CONTENT:
        return False
    if kind in _FINAL:
        return True
    if kind.startswith("response."):
        if kind.endswith(".delta"):
            return _filled(_field(event, "delta"))
        return kind.endswith(".done")
    if kind == "content_block_delta":
        delta = _field(event, "delta")
        return any(_filled(_field(delta, name)) for name in _ANTHROPIC_DELTAS)
    if kind == "content_block_start":
        block = _field(event, "content_block")
        block_type = _field(block, "type")
        if block_type in ("text", "thinking"):
            return any(_filled(_field(block, name)) for name in _ANTHROPIC_DELTAS)
        return block is not None
    if kind in ("text", "input_json", "thinking"):  # the SDK helper's events
        return any(_filled(_field(event, name)) for name in _ANTHROPIC_DELTAS)
    return True


def _sse_commits(line: str | bytes) -> bool:
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    text = text.strip()
    if not text or text.startswith(":") or text.startswith("event:"):
        return False
    if not text.startswith("data:"):
        return True
    data = text[5:].strip()
    if data == "[DONE]":
        return True
    try:
        parsed = json.loads(data)
    except ValueError:
        return bool(data)
    return default_commits(parsed) if isinstance(parsed, dict) else True


def check_seconds(name: str, seconds: float | None) -> float | None:
    """A time limit validated: None, or finite seconds > 0 (``ValueError`` naming ``name``)."""
    if seconds is None:
        return None
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, (int, float))
        or not math.isfinite(seconds)
        or seconds <= 0
    ):
        raise ValueError(f"{name} must be seconds > 0 or None, got {seconds!r}")
    return float(seconds)


class StreamLimits(NamedTuple):
    """The stream options of one call, validated once (:meth:`build`).

    ``first_chunk_timeout`` bounds the call plus the wait for the committing chunk;
    ``stall_timeout`` the gap between two chunks after the commit; ``commits`` decides which
    chunk commits; ``hedge_after`` (async only) starts the next candidate as well when the
    first has not committed by then.
    """

    first_chunk_timeout: float | None = None
    stall_timeout: float | None = None
    commits: Callable[[Any], bool] = default_commits
    hedge_after: float | None = None

    @classmethod
    def build(
        cls,
        first_chunk_timeout: float | None = None,
        stall_timeout: float | None = None,
        commits: Callable[[Any], bool] | None = None,
        hedge_after: float | None = None,
    ) -> StreamLimits:
        """The limits from the drivers' keyword arguments (``ValueError`` for a bad one)."""
        if (
            first_chunk_timeout is None
            and stall_timeout is None
            and commits is None
            and hedge_after is None
        ):
            return _NO_LIMITS
        if commits is not None and not callable(commits):
            raise TypeError(f"commits must be a callable(chunk) -> bool, got {commits!r}")
        return cls(
            check_seconds("first_chunk_timeout", first_chunk_timeout),
            check_seconds("stall_timeout", stall_timeout),
            default_commits if commits is None else commits,
            check_seconds("hedge_after", hedge_after),
        )

    @property
    def threaded(self) -> bool:
        """Whether a sync stream needs its worker thread (a time limit is set)."""
        return self.first_chunk_timeout is not None or self.stall_timeout is not None


_NO_LIMITS = StreamLimits()
