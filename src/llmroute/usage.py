"""Token usage read off a provider's response, for stats that tactics decide on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Usage"]


def _field(obj: object, name: str) -> object:
    if isinstance(obj, (dict, Mapping)):
        return obj.get(name)
    return getattr(obj, name, None)


def _count(obj: object, *names: str) -> int:
    for name in names:
        value = _field(obj, name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return 0


@dataclass(frozen=True, slots=True)
class Usage:
    """How many tokens a call used: ``input_tokens`` (all prompt tokens, cached ones
    included), ``output_tokens`` and ``cached_tokens`` (prompt tokens read from the cache).

    :meth:`of` reads it off OpenAI (Chat Completions and Responses) and Anthropic responses
    and stream chunks, as SDK objects or dicts, without importing either SDK.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0

    def __post_init__(self) -> None:
        for name in ("input_tokens", "output_tokens", "cached_tokens"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"Usage.{name} must be an int >= 0, got {value!r}")

    @classmethod
    def of(cls, response: object) -> Usage | None:
        """The usage a response (or stream chunk) reports, or None when it reports none.

        Reads ``usage`` (or, for Anthropic's ``message_start`` event, ``message.usage``):
        OpenAI ``prompt_tokens`` / ``completion_tokens`` / ``prompt_tokens_details.
        cached_tokens`` (Responses: ``input_tokens`` / ``output_tokens`` /
        ``input_tokens_details.cached_tokens``) and Anthropic ``input_tokens`` /
        ``output_tokens`` / ``cache_read_input_tokens`` / ``cache_creation_input_tokens``.
        Anthropic's ``input_tokens`` leaves cached tokens out; here they are added in, so
        ``input_tokens`` means the same for every provider. A :class:`Usage` passes through.
        """
        if isinstance(response, Usage):
            return response
        usage = _field(response, "usage")
        if usage is None:
            message = _field(response, "message")
            usage = _field(message, "usage") if message is not None else None
            if usage is None:
                return None
        output = _count(usage, "completion_tokens", "output_tokens")
        prompt = _count(usage, "prompt_tokens")
        if prompt:  # OpenAI Chat Completions: prompt_tokens include the cached ones
            details = _field(usage, "prompt_tokens_details")
            cached = _count(details, "cached_tokens") if details is not None else 0
            return cls(prompt, output, min(cached, prompt))
        details = _field(usage, "input_tokens_details")
        if details is not None:  # OpenAI Responses: input_tokens include the cached ones
            total = _count(usage, "input_tokens")
            return cls(total, output, min(_count(details, "cached_tokens"), total))
        read = _count(usage, "cache_read_input_tokens")
        created = _count(usage, "cache_creation_input_tokens")
        return cls(_count(usage, "input_tokens") + read + created, output, read)

    def merge(self, other: Usage | None) -> Usage:
        """The larger of each count: stream events report running totals, so merging each
        chunk's usage gives the final one."""
        if other is None or other == self:
            return self
        return Usage(
            max(self.input_tokens, other.input_tokens),
            max(self.output_tokens, other.output_tokens),
            max(self.cached_tokens, other.cached_tokens),
        )
