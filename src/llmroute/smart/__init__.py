"""Smart routing: content-based choice of services by ordered blocks of ops.

A block (:class:`llmroute.SmartRouting`) lists ops — ``position`` ``operation``
``value`` — and the services that serve the requests its ops all match. :data:`OPERATIONS`
is the registry of every valid (position, operation) pair; ops are checked and compiled
when the configuration loads. :func:`extract_context` reads a :class:`RequestContext` out of
an OpenAI Chat Completions, OpenAI Responses or Anthropic Messages request, and
:class:`SmartRouter` finds the first block that matches it.
"""

from ._context import RequestContext, TokenCounter, estimate_tokens
from ._extract import Extractor, extract_context, register_extractor
from ._glob import compile_glob, glob_to_regex
from ._ops import CONTENT_TYPES, OPERATIONS, POSITIONS, Matcher, SmartOpSpec, ValueType
from ._router import SmartMatch, SmartRouter, validate_smart_op, validate_smart_routing

__all__ = [
    "CONTENT_TYPES",
    "OPERATIONS",
    "POSITIONS",
    "Extractor",
    "Matcher",
    "RequestContext",
    "SmartMatch",
    "SmartOpSpec",
    "SmartRouter",
    "TokenCounter",
    "ValueType",
    "compile_glob",
    "estimate_tokens",
    "extract_context",
    "glob_to_regex",
    "register_extractor",
    "validate_smart_op",
    "validate_smart_routing",
]
