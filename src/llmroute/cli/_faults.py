"""``--fault SERVICE=KIND@RATE[,FROM-TO]``: scripted provider failures for ``simulate``.

KIND is a :class:`FailureKind` value; each maps to an error the library classifies as that
kind (the one a real SDK raises for it). RATE is the fraction of calls that fail, FROM-TO
the 1-based request numbers (inclusive) during which they may; either end may be left
open (``50-``, ``-120``). Whether a call fails is a draw keyed by (seed, fault, service,
request), so it does not depend on the calls before it: the same seed fails the same
calls, whatever the tactic picked earlier.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection
from dataclasses import dataclass

from ..failures import FailureKind
from ..testing import FakeAPIError
from ._common import CliError

__all__ = ["ERRORS", "RATE_LIMIT_RETRY_AFTER", "Fault", "parse_fault"]

#: The Retry-After (seconds) a simulated rate limit sends.
RATE_LIMIT_RETRY_AFTER = 10.0

#: The error each simulated kind raises (a cancellation is the caller's, never simulated).
ERRORS: dict[FailureKind, Callable[[], Exception]] = {
    FailureKind.RATE_LIMIT: lambda: FakeAPIError(429, retry_after=RATE_LIMIT_RETRY_AFTER),
    FailureKind.AUTH: lambda: FakeAPIError(401),
    FailureKind.SERVER: lambda: FakeAPIError(500),
    FailureKind.TIMEOUT: lambda: TimeoutError("simulated timeout"),
    FailureKind.CONNECTION: lambda: ConnectionError("simulated connection error"),
    FailureKind.BAD_REQUEST: lambda: FakeAPIError(400),
    FailureKind.CONTEXT_LENGTH: lambda: FakeAPIError(400, code="context_length_exceeded"),
    FailureKind.CONTENT_POLICY: lambda: FakeAPIError(400, code="content_policy_violation"),
    FailureKind.NOT_FOUND: lambda: FakeAPIError(404),
    FailureKind.UNKNOWN: lambda: RuntimeError("simulated unknown error"),
}

_KINDS = ", ".join(kind.value for kind in ERRORS)


@dataclass(frozen=True)
class Fault:
    """Calls to ``services`` fail with ``kind`` at ``rate`` during requests ``first``..``last``
    (1-based, inclusive; None is open). ``spec`` is the text it was parsed from."""

    spec: str
    services: tuple[str, ...]
    kind: FailureKind
    rate: float
    first: int | None
    last: int | None

    def fails(self, seed: int, index: int, service: str, request: int) -> bool:
        """Whether this fault (the ``index``-th given) fails ``service``'s call in ``request``."""
        if service not in self.services:
            return False
        if (self.first is not None and request < self.first) or (
            self.last is not None and request > self.last
        ):
            return False
        draw = random.Random(f"{seed}/fault{index}/{service}/{request}").random()
        return draw < self.rate

    def describe(self) -> str:
        """``kind@rate`` and the request range, for the report."""
        span = ""
        if self.first is not None or self.last is not None:
            span = f", requests {self.first or 1}-{self.last if self.last is not None else ''}"
        return f"{', '.join(self.services)}: {self.kind.value}@{self.rate:g}{span}"


def parse_fault(spec: str, services: Collection[str], providers: dict[str, list[str]]) -> Fault:
    """Parse one ``--fault``; ``services`` are the simulated service ids and ``providers``
    maps a provider's name and uuid to its simulated service ids."""
    target, sep, rest = spec.rpartition("=")
    if not sep or not target:
        raise _bad(spec, "expected SERVICE=KIND@RATE[,FROM-TO], e.g. openai:gpt-4o=server@0.5")
    what, _, span = rest.partition(",")
    name, at, rate_text = what.partition("@")
    try:
        kind = FailureKind(name.strip().lower())
    except ValueError:
        kind = None
    if kind is FailureKind.CANCELLED:
        raise _bad(spec, "a cancellation is the caller's doing, not a provider's: not simulated")
    if kind is None:
        raise _bad(spec, f"unknown failure kind {name.strip()!r}; one of: {_KINDS}")
    if not at:
        raise _bad(spec, "the rate is missing: KIND@RATE, e.g. server@0.25")
    try:
        rate = float(rate_text)
    except ValueError:
        rate = -1.0
    if not 0.0 <= rate <= 1.0:
        raise _bad(spec, f"the rate must be a number from 0 to 1, got {rate_text!r}")
    first, last = _span(spec, span) if span else (None, None)
    return Fault(spec, _targets(spec, target, services, providers), kind, rate, first, last)


def _span(spec: str, text: str) -> tuple[int | None, int | None]:
    start, dash, end = text.partition("-")
    if not dash:
        raise _bad(spec, f"the range must be FROM-TO (request numbers), got {text!r}")
    try:
        first = int(start) if start.strip() else None
        last = int(end) if end.strip() else None
    except ValueError:
        raise _bad(spec, f"the range must be FROM-TO (request numbers), got {text!r}") from None
    if (first is not None and first < 1) or (last is not None and last < (first or 1)):
        raise _bad(spec, f"the range {text!r} is empty: requests are numbered from 1")
    return first, last


def _targets(
    spec: str, target: str, services: Collection[str], providers: dict[str, list[str]]
) -> tuple[str, ...]:
    if target in services:
        return (target,)
    if target in providers:
        return tuple(providers[target])
    known = ", ".join(services) or "none"
    names = ", ".join(providers) or "none"
    raise _bad(
        spec,
        f"unknown service {target!r}; the simulated services are: {known} "
        f"(or a provider for all its services: {names})",
    )


def _bad(spec: str, why: str) -> CliError:
    return CliError(f"--fault {spec!r}: {why}")
