"""State shared by several workers and replicas, on Redis (the ``llmroute[redis]`` extra).

:class:`RedisState` implements the sync and async state protocols on one Redis::

    from llmroute.redis import RedisState

    state = RedisState.from_url("redis://127.0.0.1:6379/0", namespace="myapp")
    selector = ServiceSelector.from_config(config, state=state)

Nothing else in llmroute imports this package; it needs the ``redis`` package (>= 5).
"""

try:
    import redis as _redis  # noqa: F401
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "llmroute.redis needs the redis package: pip install 'llmroute[redis]'"
    ) from error

from ._state import RedisState

__all__ = ["RedisState"]
