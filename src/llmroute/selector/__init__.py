"""The selector: :class:`ServiceSelector`, its per-rule plan, the pure stages and the result.

A request's path: ``select`` builds the rule's state query (:mod:`._plan`), reads the store
once, and runs the stages of :mod:`._stages` on the snapshot (health, smart routing,
affinity, load balancer) into a :class:`SelectionResult`; nothing is written. ``record`` and
the execute forms (:mod:`._forms`, :mod:`._execute`) write one outcome per attempt
(:mod:`._outcome`). Probes whose leases a read took run in :mod:`._probes`.
"""

from ._execute import RouteOptions
from ._result import SelectionResult
from ._selector import ServiceSelector
from ._stages import STAGES

__all__ = ["STAGES", "RouteOptions", "SelectionResult", "ServiceSelector"]
