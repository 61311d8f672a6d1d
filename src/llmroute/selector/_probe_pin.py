"""The probe pin: a request header (the selector's ``probe_header``, off by default) naming a
service the operator wants to test through the app. A candidate of the rule serves the
request, bypassing smart routing, affinity and balancing, and writing no pin; anything else
is ignored, with one warning, and the request is routed as usual."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from ..affinity import header_value
from ..failures import mask_secrets
from ._plan import RulePlan
from ._result import Request

__all__ = ["ProbeHeader"]

_log = logging.getLogger("llmroute.selector")

#: How much of an ignored header value a warning or a trace shows.
_SHOWN = 80


class ProbeHeader:
    """The probe header of a selector: its ``name``, checked once."""

    __slots__ = ("name",)

    def __init__(self, name: object) -> None:
        if not isinstance(name, str) or not name.strip() or ":" in name:
            raise ValueError(f"probe_header must be a header name (no ':'), got {name!r}")
        self.name = name.strip()

    def apply(self, plan: RulePlan, request: Request, headers: Mapping[str, str]) -> None:
        """Read the header off ``headers``: a candidate of ``plan`` becomes the request's
        ``probe``; a value naming no candidate is logged once and noted in the trace."""
        value = header_value(headers, self.name)
        if not value:
            return
        service = plan.service_by_id.get(value)
        if service is not None:
            request.probe = service
            return
        shown = mask_secrets(value)
        if len(shown) > _SHOWN:
            shown = shown[: _SHOWN - 3] + "..."
        why = "not 'provider:model'" if ":" not in value else "not a candidate of the rule"
        _log.warning(
            "llmroute: %s: %r is %s; routing as usual",
            self.name,
            shown,
            why,
            extra={"event": "probe_header_ignored", "rule": plan.rule.uuid, "header": self.name},
        )
        request.notes += (("probe_header", "{}: {!r} ignored: {}", (self.name, shown, why)),)
