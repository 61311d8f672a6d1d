"""The selector: :class:`ServiceSelector`, its per-rule plan, the pure stages and the result.

A request's path: ``select`` builds the rule's state query (:mod:`._plan`), reads the store
once, and runs the stages of :mod:`._stages` on the snapshot (health, smart routing,
affinity, load balancer) into a :class:`SelectionResult`; nothing is written. ``record`` and
the execute forms (:mod:`._forms`, :mod:`._execute`) write one outcome per attempt
(:mod:`._outcome`) and return :class:`RoutedResult` / :class:`RoutedStream` /
:class:`RoutedAsyncStream` (:mod:`._routed`). Probes whose leases a read took run in
:mod:`._probes`.
"""

from ._execute import RouteOptions
from ._result import SelectionResult
from ._routed import RoutedAsyncStream, RoutedResult, RoutedStream
from ._selector import ServiceSelector
from ._stages import STAGES

__all__ = [
    "RouteOptions",
    "RoutedAsyncStream",
    "RoutedResult",
    "RoutedStream",
    "STAGES",
    "SelectionResult",
    "ServiceSelector",
]
