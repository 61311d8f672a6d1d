"""Exceptions raised by llmroute.

Every exception llmroute raises on purpose derives from :class:`LLMRouteError`, so one
``except LLMRouteError`` catches them all. Where the meaning fits a builtin too, the class
also derives from it (a bad configuration is a ``ValueError``)::

    LLMRouteError
    +-- ConfigError (also ValueError)       configuration that does not validate
    +-- NoServiceAvailableError             a rule has no service left to choose
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["ConfigError", "LLMRouteError", "NoServiceAvailableError"]


class LLMRouteError(Exception):
    """Base class of every error llmroute raises on purpose."""


class ConfigError(LLMRouteError, ValueError):
    """A configuration that does not validate.

    The message names where in the document each problem is, one per line, for example
    ``rules[0].services[1].weight: must be >= 0``. ``problems`` holds the same as
    ``(path, message)`` pairs (the path is ``""`` for the document itself) and ``source``
    names the file when the configuration was read from one.
    """

    def __init__(
        self,
        message: str | None = None,
        *,
        problems: Sequence[tuple[str, str]] = (),
        source: str | None = None,
    ) -> None:
        self.problems: tuple[tuple[str, str], ...] = tuple(problems)
        self.source = source
        if message is None:
            message = _render(self.problems)
        if source:
            message = f"{source}: {message}"
        super().__init__(message)


def _render(problems: Sequence[tuple[str, str]]) -> str:
    lines = [f"{path}: {msg}" if path else msg for path, msg in problems]
    if len(lines) == 1:
        return lines[0]
    return f"{len(lines)} configuration errors:\n" + "\n".join(f"  {line}" for line in lines)


class NoServiceAvailableError(LLMRouteError):
    """A rule has no service left that could serve the request.

    ``rule`` is the rule's uuid; the message says what removed the candidates.
    """

    def __init__(self, message: str, *, rule: str = "") -> None:
        self.rule = rule
        super().__init__(message)
