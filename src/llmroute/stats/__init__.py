"""Service statistics: usage windows, latency, time to first token, speed and cache hits.

Runtime state, kept apart from configuration and keyed by :class:`ServiceID`:
:class:`InMemoryStatsStore` (the stats part of the in-memory state store) and the immutable
:class:`ServiceStats` figures it answers with.
"""

from ._samples import Samples, ewma_step, percentile
from ._store import InMemoryStatsStore, ServiceStats

__all__ = ["InMemoryStatsStore", "Samples", "ServiceStats", "ewma_step", "percentile"]
