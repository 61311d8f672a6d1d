"""Token usage read off a provider's response, for stats that tactics decide on."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["MAX_TOKENS", "Usage"]

#: The largest token count a :class:`Usage` holds. A response reporting more is not
#: believed: :meth:`Usage.of` ignores that count (with one warning), so an absurd figure
#: (``completion_tokens: 10**400``) never reaches the stats, where it would overflow.
MAX_TOKENS = 1_000_000_000

_log = logging.getLogger("llmroute.usage")


def _field(obj: object, name: str) -> object:
    if isinstance(obj, (dict, Mapping)):
        return obj.get(name)
    return getattr(obj, name, None)


class _Reader:
    """Reads counts off one usage object, remembering the absurd ones it ignored."""

    __slots__ = ("ignored",)

    def __init__(self) -> None:
        self.ignored: list[str] = []

    def count(self, obj: object, *names: str) -> int:
        for name in names:
            value = _field(obj, name)
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                if value <= MAX_TOKENS:
                    return value
                self.ignored.append(name)
        return 0


@dataclass(frozen=True, slots=True)
class Usage:
    """How many tokens a call used: ``input_tokens`` (all prompt tokens, cached ones
    included), ``output_tokens``, ``cached_tokens`` (prompt tokens read from the cache) and
    ``cache_write_tokens`` (prompt tokens written to the cache, Anthropic's
    ``cache_creation_input_tokens``; also counted in ``input_tokens``).

    :meth:`of` reads it off OpenAI (Chat Completions and Responses) and Anthropic responses
    and stream chunks, as SDK objects or dicts, without importing either SDK.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0

    def __post_init__(self) -> None:
        for name in ("input_tokens", "output_tokens", "cached_tokens", "cache_write_tokens"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"Usage.{name} must be an int >= 0, got {_shown(value)}")
            if value > MAX_TOKENS:
                raise ValueError(
                    f"Usage.{name} must be at most {MAX_TOKENS:,}, got {_shown(value)}"
                )

    @classmethod
    def of(cls, response: object) -> Usage | None:
        """The usage a response (or stream chunk) reports, or None when it reports none.

        Reads ``usage`` (or, for Anthropic's ``message_start`` event, ``message.usage``):
        OpenAI ``prompt_tokens`` / ``completion_tokens`` / ``prompt_tokens_details.
        cached_tokens`` (Responses: ``input_tokens`` / ``output_tokens`` /
        ``input_tokens_details.cached_tokens``) and Anthropic ``input_tokens`` /
        ``output_tokens`` / ``cache_read_input_tokens`` / ``cache_creation_input_tokens``.
        Anthropic's ``input_tokens`` leaves the cache reads and writes out; here both are
        added in, so ``input_tokens`` means the same for every provider (OpenAI's
        ``prompt_tokens`` already include ``cached_tokens``; OpenAI reports no cache
        writes). A :class:`Usage` passes through.
        A count above :data:`MAX_TOKENS` is ignored (read as absent), with one warning.
        """
        if isinstance(response, Usage):
            return response
        usage = _field(response, "usage")
        if usage is None:
            message = _field(response, "message")
            usage = _field(message, "usage") if message is not None else None
            if usage is None:
                return None
        reader = _Reader()
        found = cls._read(usage, reader)
        if reader.ignored:
            _log.warning(
                "llmroute: ignored absurd token counts in a response's usage: %s (over %s)",
                ", ".join(reader.ignored),
                f"{MAX_TOKENS:,}",
                extra={"event": "usage_ignored", "fields": tuple(reader.ignored)},
            )
        return found

    @classmethod
    def _read(cls, usage: object, reader: _Reader) -> Usage:
        count = reader.count
        output = count(usage, "completion_tokens", "output_tokens")
        prompt = count(usage, "prompt_tokens")
        if prompt:  # OpenAI Chat Completions: prompt_tokens include the cached ones
            details = _field(usage, "prompt_tokens_details")
            cached = count(details, "cached_tokens") if details is not None else 0
            return cls(prompt, output, min(cached, prompt))
        details = _field(usage, "input_tokens_details")
        if details is not None:  # OpenAI Responses: input_tokens include the cached ones
            total = count(usage, "input_tokens")
            return cls(total, output, min(count(details, "cached_tokens"), total))
        read = count(usage, "cache_read_input_tokens")
        created = count(usage, "cache_creation_input_tokens")
        total = min(count(usage, "input_tokens") + read + created, MAX_TOKENS)
        return cls(total, output, min(read, total), min(created, total - min(read, total)))

    def merge(self, other: Usage | None) -> Usage:
        """The larger of each count: stream events report running totals, so merging each
        chunk's usage gives the final one."""
        if other is None or other == self:
            return self
        return Usage(
            max(self.input_tokens, other.input_tokens),
            max(self.output_tokens, other.output_tokens),
            max(self.cached_tokens, other.cached_tokens),
            max(self.cache_write_tokens, other.cache_write_tokens),
        )


def _shown(value: object) -> str:
    if isinstance(value, int) and value.bit_length() > 200:  # repr() refuses past 4300 digits
        return f"an int of about {int(value.bit_length() * 0.30103) + 1} digits"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
