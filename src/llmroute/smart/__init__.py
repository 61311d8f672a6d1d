"""Smart routing: content-based choice of services by ordered blocks of ops.

A block (:class:`llmroute.SmartRouting`) lists ops — ``position`` ``operation``
``value`` — and the services that serve the requests its ops all match. The registry of
valid ops, :data:`llmroute.config.OPERATIONS`, lives with the configuration, which checks
every op when it loads. :func:`extract_context` reads a :class:`llmroute.RequestContext`
out of an OpenAI Chat Completions, OpenAI Responses or Anthropic Messages request, and
:class:`SmartRouter`, built from a rule's blocks, finds the first block that matches it.
``content_text`` and ``read_parts`` read a message's text the way extraction does (session
fingerprints use them too). Live ops read a block's figures from the state snapshot
(:class:`BlockFigures`); :meth:`SmartRouter.trace` evaluates again op by op for
``explain()`` (:class:`BlockTrace`, :class:`OpTrace`, snippets of at most :data:`SNIPPET`
characters, secrets masked). :func:`scan_body`, :func:`offers_tools` and
:func:`thinking_requested` scan a plain body cheaply for the catalog's fit stage.
"""

from ._extract import Extractor, extract_context, register_extractor
from ._figures import BlockFigures, SnapshotFigures
from ._messages import SYSTEM_ROLES, content_text, read_parts
from ._router import SmartMatch, SmartRouter, validate_smart_op, validate_smart_routing
from ._scan import BodyScan, offers_tools, scan_body, scannable, thinking_requested
from ._trace import SNIPPET, BlockTrace, OpTrace, snippet_of

__all__ = [
    "BlockFigures",
    "BlockTrace",
    "BodyScan",
    "Extractor",
    "OpTrace",
    "SNIPPET",
    "SYSTEM_ROLES",
    "SmartMatch",
    "SmartRouter",
    "SnapshotFigures",
    "content_text",
    "extract_context",
    "offers_tools",
    "read_parts",
    "register_extractor",
    "scan_body",
    "scannable",
    "snippet_of",
    "thinking_requested",
    "validate_smart_op",
    "validate_smart_routing",
]
