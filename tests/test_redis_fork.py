"""A RedisState built before a fork (``gunicorn --preload``, a ``fork`` pool) works in each
child: the child's outcomes reach Redis (threads do not survive a fork, so the parent's
write-behind thread is not the child's) and each child is a replica of its own. Real Redis."""

from __future__ import annotations

import json
import os
import warnings
from typing import Any

import pytest
import redis_support as rs

from llmroute import ServiceSelector
from llmroute.config import ServiceID
from llmroute.redis import RedisState
from llmroute.state import StateQuery
from llmroute.testing import FakeAPIError

rs.require_redis()

if not hasattr(os, "fork"):
    pytest.skip("no fork on this platform", allow_module_level=True)

M0 = ServiceID("p", "m0")


def _in_children(state: RedisState, work: Any, children: int = 2) -> list[dict[str, Any]]:
    """Fork ``children`` processes that each run ``work()`` on the store built here, then
    report (through a pipe) whether their outcomes were sent and their replica's name."""
    reports: list[dict[str, Any]] = []
    for _ in range(children):
        read_end, write_end = os.pipe()
        with warnings.catch_warnings():  # 3.12+ warns of fork in a process with threads
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # the child: report, and leave without running pytest's teardown
            code = 1
            try:
                work()
                report = {"flushed": state.flush(5), "replica": state.replica_id}
                os.write(write_end, json.dumps(report).encode())
                code = 0
            finally:
                os._exit(code)
        os.close(write_end)
        _, status = os.waitpid(pid, 0)
        with os.fdopen(read_end) as pipe:
            text = pipe.read()
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, text
        reports.append(json.loads(text))
    return reports


def test_a_store_built_before_a_fork_sends_each_childs_outcomes(
    stores: list[RedisState], namespace: str
) -> None:
    state = rs.store(namespace, sync_interval=0)
    stores.append(state)
    selector = ServiceSelector(state=state)
    rule = rs.make_rule(2)
    selector.execute(rule, None, rs.ok)  # the parent uses it first: its writer thread runs
    assert state.flush(2)

    def two_failures() -> None:
        result = selector.select(rule)
        for _ in range(2):
            selector.record(result, service=rule.services[0], error=FakeAPIError(500))

    reports = _in_children(state, two_failures)
    assert [r["flushed"] for r in reports] == [True, True]
    # each child is a replica of its own (their leases and outcome marks would collide)
    names = {r["replica"] for r in reports}
    assert len(names) == 2 and state.replica_id not in names
    # the children's four failures (threshold 3) ejected the service for the whole fleet
    other = rs.store(namespace, sync_interval=0)
    stores.append(other)
    assert not other.read(StateQuery(rule="r", services=(M0,))).healthy(M0)


def test_a_named_replica_forked_is_named_apart_in_each_child(
    stores: list[RedisState], namespace: str
) -> None:
    state = rs.store(namespace, sync_interval=0, replica_id="web")
    stores.append(state)
    reports = _in_children(state, lambda: None)
    names = [r["replica"] for r in reports]
    assert state.replica_id == "web"
    assert len(set(names)) == 2 and all(name.startswith("web-") for name in names)
