"""Load-balancing tactics and the :class:`LoadBalancer` that applies a rule's tactic.

A tactic picks one service among a rule's candidates from a stats snapshot, the health
view, its own per-rule state and an injected ``random.Random``; it does no I/O. Each tactic
family lives in its own module; :func:`create_tactic` builds one from its config.
"""

from ._balancer import LBDecision, LoadBalancer
from ._base import BalancingTactic, CandidateSet, HealthView, SessionCounts, TacticEnv
from ._registry import create_tactic
from ._state import InMemoryTacticState, TacticCursor, TacticState

__all__ = [
    "BalancingTactic",
    "CandidateSet",
    "HealthView",
    "InMemoryTacticState",
    "LBDecision",
    "LoadBalancer",
    "SessionCounts",
    "TacticCursor",
    "TacticEnv",
    "TacticState",
    "create_tactic",
]
