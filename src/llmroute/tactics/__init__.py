"""Load-balancing tactics: pure choices among a rule's candidates.

A tactic picks one service among candidates from a state snapshot and an injected
``random.Random``; it does no I/O. Each tactic family lives in its own module;
:func:`create_tactic` builds one from its config; :class:`RuleTactic` is a rule's tactic with
its prepared candidate sets; :class:`LoadBalancer` runs a tactic standalone over stores you
hold.
"""

from ._balancer import LBDecision, LoadBalancer, RuleTactic
from ._base import BalancingTactic, CandidateSet, HealthView, SessionCounts, current_of
from ._ranking import REFRESH_SECONDS as ADAPTIVE_REFRESH_SECONDS
from ._registry import create_tactic
from ._simulate import SimulatedCall

__all__ = [
    "ADAPTIVE_REFRESH_SECONDS",
    "BalancingTactic",
    "CandidateSet",
    "HealthView",
    "LBDecision",
    "LoadBalancer",
    "RuleTactic",
    "SessionCounts",
    "SimulatedCall",
    "create_tactic",
    "current_of",
]
