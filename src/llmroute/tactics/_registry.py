"""Building a tactic from its configuration."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..config import TACTIC_PARAMS, Tactic
from ._base import BalancingTactic
from ._cost import LowestCostTactic, PriceWeightedTactic
from ._p2c import LeastBusyTactic, LeastLatencyTactic
from ._performance import AdaptiveTactic, LatencyBasedTactic, SpeedBasedTactic
from ._usage import HybridTactic, TokenBasedTactic
from ._weighted import CapacityBasedTactic, RandomTactic, RoundRobinTactic, TierTactic

#: Each tactic name and the class that implements it.
TACTICS: dict[str, type[BalancingTactic]] = {
    cls.name: cls
    for cls in (
        RoundRobinTactic,
        TokenBasedTactic,
        HybridTactic,
        RandomTactic,
        LatencyBasedTactic,
        SpeedBasedTactic,
        AdaptiveTactic,
        CapacityBasedTactic,
        LeastLatencyTactic,
        LeastBusyTactic,
        LowestCostTactic,
        PriceWeightedTactic,
        TierTactic,
    )
}

if set(TACTICS) != set(TACTIC_PARAMS):  # pragma: no cover - a packaging mistake
    raise RuntimeError(f"tactics {sorted(TACTICS)} do not match configs {sorted(TACTIC_PARAMS)}")


def create_tactic(config: Tactic | Mapping[str, Any] | str) -> BalancingTactic:
    """Build the tactic a :class:`Tactic` config describes.

    ``config`` may also be its document form (``{"type": "random", "params": {}}``) or just a
    tactic name (default params). Invalid input raises :class:`ConfigError`; anything else
    than those three raises ``TypeError``. The result is immutable and safe to share; the
    load balancer caches one per rule.
    """
    if isinstance(config, str):
        config = Tactic.model_validate({"type": config})
    elif isinstance(config, Mapping):
        config = Tactic.model_validate(config)
    elif not isinstance(config, Tactic):
        raise TypeError(
            "create_tactic() needs a Tactic, its document (a mapping) or a tactic name, "
            f"got {type(config).__name__}"
        )
    return TACTICS[config.type](config)
