"""Recognising Claude Code's requests: its main loop, its sub-agents and its compactions.

The markers, read from the request (``agent claude_code`` ops compare the kind found):

- **compaction**: a system message says the model is "tasked with summarizing
  conversations" (Claude Code's compaction system prompt), or the request is Claude Code's
  (below) and its latest user message asks for a detailed summary of the conversation (the
  ``/compact`` and auto-compact prompt opens "Your task is to create a detailed summary of
  the conversation so far"). Checked first. The user message alone is not enough: from
  another client it is a user's own request.
- **Claude Code at all**: a system message names "Claude Code" (every Claude Code request
  opens its system prompt with "You are Claude Code, Anthropic's official CLI for Claude";
  built-in sub-agents say "You are an agent for Claude Code"). Without it (and without the
  compaction system prompt), no kind: the ops match nothing, so other clients never count
  as Claude Code.
- **subagent**: a system message holds the built-in sub-agent preamble "You are an agent for
  Claude Code", or the request offers tools but not the ``Task`` / ``Agent`` tool that starts
  sub-agents (only the main loop has it: a sub-agent cannot start another; custom agents from
  ``.claude/agents`` are caught this way).
- **main**: any other Claude Code request (the main loop, and its short tool-less side calls).

A main loop run with the Task tool disallowed (``--disallowedTools Task``) reads as a
sub-agent: route by ``context_system`` for such setups.
"""

from __future__ import annotations

from ..request import RequestContext

__all__ = ["AGENT_KINDS", "claude_code_kind"]

#: The kinds an ``agent claude_code`` op accepts (``compact``, tingly-box's spelling, is read
#: as ``compaction``).
AGENT_KINDS = ("main", "subagent", "compaction", "compact")

_COMPACT_USER = "create a detailed summary of the conversation"
_COMPACT_SYSTEM = "tasked with summarizing conversations"
_IDENTITY = "Claude Code"
_SUBAGENT = "You are an agent for Claude Code"
_SPAWNERS = frozenset({"Task", "Agent"})


def claude_code_kind(ctx: RequestContext) -> str:
    """``"compaction"``, ``"subagent"``, ``"main"``, or ``""`` for a request that is not
    Claude Code's (see the module docstring for the markers)."""
    systems = ctx.system_messages
    if any(_COMPACT_SYSTEM in s for s in systems):
        return "compaction"
    if not any(_IDENTITY in s for s in systems):
        return ""
    if _COMPACT_USER in ctx.latest_user_text:
        return "compaction"
    if any(_SUBAGENT in s for s in systems):
        return "subagent"
    tools = ctx.offered_tools
    if tools and _SPAWNERS.isdisjoint(tools):
        return "subagent"
    return "main"
