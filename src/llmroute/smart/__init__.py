"""Smart routing: content-based choice of services by ordered blocks of ops.

A block (:class:`llmroute.SmartRouting`) lists ops — ``position`` ``operation``
``value`` — and the services that serve the requests its ops all match. The registry of
valid ops, :data:`llmroute.config.OPERATIONS`, lives with the configuration, which checks
every op when it loads. :func:`extract_context` reads a :class:`llmroute.RequestContext`
out of an OpenAI Chat Completions, OpenAI Responses or Anthropic Messages request, and
:class:`SmartRouter`, built from a rule's blocks, finds the first block that matches it.
"""

from ._extract import Extractor, extract_context, register_extractor
from ._router import SmartMatch, SmartRouter, validate_smart_op, validate_smart_routing

__all__ = [
    "Extractor",
    "SmartMatch",
    "SmartRouter",
    "extract_context",
    "register_extractor",
    "validate_smart_op",
    "validate_smart_routing",
]
