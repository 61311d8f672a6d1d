"""Usage: token counts read off OpenAI and Anthropic responses and stream chunks."""

from __future__ import annotations

from typing import Any

import pytest
from anthropic.types import Message
from openai.types.chat import ChatCompletion

from llmroute import Usage


def test_openai_chat_completion_object() -> None:
    completion = ChatCompletion.model_validate(
        {
            "id": "c",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-4o",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": "hi"},
                }
            ],
            "usage": {
                "prompt_tokens": 1200,
                "completion_tokens": 30,
                "total_tokens": 1230,
                "prompt_tokens_details": {"cached_tokens": 1024},
            },
        }
    )
    assert Usage.of(completion) == Usage(1200, 30, 1024)


def test_anthropic_message_adds_cache_reads_and_writes_to_input() -> None:
    message = Message.model_validate(
        {
            "id": "m",
            "type": "message",
            "role": "assistant",
            "model": "claude",
            "content": [{"type": "text", "text": "hi"}],
            "stop_reason": "end_turn",
            "usage": {
                "input_tokens": 10,
                "output_tokens": 5,
                "cache_read_input_tokens": 900,
                "cache_creation_input_tokens": 100,
            },
        }
    )
    assert Usage.of(message) == Usage(1010, 5, 900, 100)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {
                "usage": {
                    "input_tokens": 40,
                    "output_tokens": 8,
                    "input_tokens_details": {"cached_tokens": 32},
                }
            },
            Usage(40, 8, 32),
        ),
        (
            {
                "type": "message_start",
                "message": {"usage": {"input_tokens": 12, "output_tokens": 1}},
            },
            Usage(12, 1, 0),
        ),
        ({"type": "message_delta", "usage": {"output_tokens": 77}}, Usage(0, 77, 0)),
        ({"choices": [{"delta": {"content": "x"}}]}, None),
        ({"usage": None}, None),
        ("plain text", None),
        (None, None),
    ],
)
def test_dict_shapes(body: Any, expected: Usage | None) -> None:
    assert Usage.of(body) == expected


def test_merge_keeps_the_running_totals() -> None:
    start = Usage(12, 1, 0)
    assert start.merge(Usage(0, 77, 0)) == Usage(12, 77, 0)
    assert start.merge(None) is start


def test_negative_counts_are_rejected() -> None:
    with pytest.raises(ValueError, match="input_tokens must be an int >= 0"):
        Usage(-1, 0)


def test_a_usage_passes_through() -> None:
    usage = Usage(1, 2, 0)
    assert Usage.of(usage) is usage


def test_usage_read_off_a_response_equals_the_constructed_one() -> None:
    read = Usage.of({"usage": {"prompt_tokens": 42, "completion_tokens": 2}})
    assert read == Usage(42, 2, 0)
    assert hash(read) == hash(Usage(42, 2, 0))
    assert repr(read) == (
        "Usage(input_tokens=42, output_tokens=2, cached_tokens=0, cache_write_tokens=0)"
    )
