"""The ops that read live figures of a block's services: ``service_ttft`` and
``service_capacity``, and the view of those figures they are given.

A view is built per block by the smart router from the state snapshot the selection read
(one read per request): the TTFT figures come from the services' stats, the capacity
figures from their live session counts and ``model_capacity``. A figure is ``None`` while
the block's services have none yet; an op on a missing figure does not match, so the
block is skipped.
"""

from __future__ import annotations

from typing import Literal, Protocol

__all__ = ["LiveFigures", "LiveMatcher", "TtftFigure"]

#: Which TTFT figure of a block an op reads: the mean over all samples of its services
#: (``avg``) or the slowest service's mean (``max``).
TtftFigure = Literal["avg", "max"]


class LiveFigures(Protocol):
    """What the live ops read: the clock reading, and the figures of one block's services."""

    @property
    def now(self) -> float:
        """The selection's clock reading (seconds since the epoch)."""

    def ttft(self, figure: TtftFigure) -> float | None:
        """The block's TTFT in ms (see :data:`TtftFigure`); None with no samples yet."""

    def utilization(self) -> float | None:
        """Live sessions over ``model_capacity``, summed over the block's services that have
        a ``model_capacity``; None when none has one."""


class LiveMatcher(Protocol):
    """A compiled live op: tells whether a block's live figures satisfy it."""

    def __call__(self, live: LiveFigures, /) -> bool:
        """True when the op matches."""


def ttft_le(spec: tuple[TtftFigure, float], live: LiveFigures) -> bool:
    """``service_ttft avg_le`` / ``max_le``."""
    value = live.ttft(spec[0])
    return value is not None and value <= spec[1]


def ttft_ge(spec: tuple[TtftFigure, float], live: LiveFigures) -> bool:
    """``service_ttft avg_ge`` / ``max_ge``."""
    value = live.ttft(spec[0])
    return value is not None and value >= spec[1]


def util_le(limit: float, live: LiveFigures) -> bool:
    """``service_capacity util_le``."""
    value = live.utilization()
    return value is not None and value <= limit


def util_ge(limit: float, live: LiveFigures) -> bool:
    """``service_capacity util_ge``."""
    value = live.utilization()
    return value is not None and value >= limit


def util_lt(limit: float, live: LiveFigures) -> bool:
    """``service_capacity util_lt``."""
    value = live.utilization()
    return value is not None and value < limit


def util_gt(limit: float, live: LiveFigures) -> bool:
    """``service_capacity util_gt``."""
    value = live.utilization()
    return value is not None and value > limit
