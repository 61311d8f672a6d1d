"""The read side of health: the ``CooldownTracker`` protocol, and ``HealthFilter`` that
narrows services to the healthy ones."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TypeVar, runtime_checkable

_T = TypeVar("_T")


class _HealthReader(Protocol):
    """Anything with ``is_healthy`` (a ``HealthMonitor``; ``llmroute.HealthView`` says the same)."""

    def is_healthy(self, service_id: str, /) -> bool: ...


@runtime_checkable
class CooldownTracker(Protocol):
    """What ``execute()`` needs to skip providers that are cooling down.

    Names are whatever identifies a provider or service to you (provider names, service ids).
    :class:`HealthMonitor` implements it; any object with these three methods will do.
    """

    def is_available(self, name: str) -> bool:
        """True unless ``name`` is cooling down."""
        ...

    def cooldown_remaining(self, name: str) -> float:
        """Seconds until ``name`` may be tried again (0.0 when available or due)."""
        ...

    def record_failure(self, name: str, error: object) -> bool:
        """Record a failed call; True when this failure put ``name`` into cooldown."""
        ...


class HealthFilter:
    """Narrows a list of services to the healthy ones, keeping their order.

    Items are service ids (strings) or objects with a ``service_id`` (a :class:`Service`) or a
    ``name``; anything else raises ``TypeError``. ``health`` is a :class:`HealthMonitor` or any
    object with ``is_healthy(service_id) -> bool`` (an ``llmroute.HealthView``).
    """

    def __init__(self, health: _HealthReader) -> None:
        self._health = health

    def filter(self, services: Iterable[_T]) -> list[_T]:
        """The healthy services, in the order given (possibly empty)."""
        is_healthy = self._health.is_healthy
        return [service for service in services if is_healthy(_key(service))]

    def filter_with_fallback(self, services: Iterable[_T]) -> list[_T]:
        """The healthy services; all of them when none is healthy (panic mode)."""
        items = list(services)
        healthy = self.filter(items)
        return healthy if healthy else items


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
