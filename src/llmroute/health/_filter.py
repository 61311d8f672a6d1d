"""``HealthFilter``: narrows services to the healthy ones, with the one panic-mode rule."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

_T = TypeVar("_T")

__all__ = ["HealthFilter", "panic_filter"]


def panic_filter(
    items: tuple[_T, ...], healthy: Callable[[_T], bool]
) -> tuple[tuple[_T, ...], bool]:
    """The one panic-mode rule: the healthy ``items`` (order kept), or all of them when none is
    healthy. Returns ``(kept, degraded)``; ``degraded`` is True in panic mode."""
    kept = tuple(item for item in items if healthy(item))
    if kept or not items:
        return kept, False
    return items, True


class HealthFilter:
    """Narrows a list of services to the healthy ones, keeping their order.

    Items are service ids (strings) or objects with a ``service_id`` (a :class:`Service`) or a
    ``name``; anything else raises ``TypeError``. ``health`` is anything with
    ``is_healthy(service_id) -> bool`` (a :class:`HealthMonitor`); without one (None, the
    default: tingly-box's nil monitor) every service passes.
    """

    def __init__(self, health: object | None = None) -> None:
        is_healthy = getattr(health, "is_healthy", None) if health is not None else None
        if health is not None and not callable(is_healthy):
            raise TypeError(f"health must have is_healthy(service_id), got {health!r}")
        self._is_healthy: Callable[[str], bool] | None = is_healthy

    def filter(self, services: Iterable[_T]) -> list[_T]:
        """The healthy services, in the order given (possibly empty)."""
        items = list(services)
        is_healthy = self._is_healthy
        if is_healthy is None:
            return items
        return [service for service in items if is_healthy(_key(service))]

    def filter_with_fallback(self, services: Iterable[_T]) -> list[_T]:
        """The healthy services; all of them when none is healthy (panic mode)."""
        is_healthy = self._is_healthy
        items = tuple(services)
        if is_healthy is None:
            return list(items)
        kept, _ = panic_filter(items, lambda item: is_healthy(_key(item)))
        return list(kept)


def _key(item: object) -> str:
    if isinstance(item, str):
        return item
    for attr in ("service_id", "name"):
        value = getattr(item, attr, None)
        if isinstance(value, str) and value:
            return value
    raise TypeError(
        f"expected a service id or an object with service_id/name, got {type(item).__name__}"
    )
