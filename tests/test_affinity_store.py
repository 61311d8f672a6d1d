"""Affinity locks: AffinityEntry, and InMemoryAffinityStore's TTL, LRU bound and counts."""

from __future__ import annotations

import random
import threading
from collections import Counter, OrderedDict
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

from llmroute import ServiceID
from llmroute.affinity import AffinityEntry, AffinityStore, InMemoryAffinityStore
from llmroute.tactics import SessionCounts
from llmroute.testing import FakeClock

A = ServiceID("openai", "gpt-4o")
B = ServiceID("anthropic", "claude-sonnet-4")
C = ServiceID("local", "llama:70b")
RULE = "rule-1"


def lock(clock: FakeClock, service: ServiceID = A, ttl: float = 60.0) -> AffinityEntry:
    now = clock()
    return AffinityEntry(service, "", now, now + ttl)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> InMemoryAffinityStore:
    return InMemoryAffinityStore(clock=clock)


# --- AffinityEntry -------------------------------------------------------------------------


def test_an_entry_holds_its_fields() -> None:
    entry = AffinityEntry(A, "msg_1", 10.0, 70.0)
    assert (entry.service, entry.message_id, entry.locked_at, entry.expires_at) == (
        A,
        "msg_1",
        10.0,
        70.0,
    )


def test_an_entry_is_immutable() -> None:
    entry = AffinityEntry(A, "", 10.0, 70.0)
    with pytest.raises(AttributeError):
        entry.service = B  # type: ignore[misc]


def test_an_entry_takes_a_service_id_string_and_integer_times() -> None:
    entry = AffinityEntry("openai:gpt-4o", "", 10, 70)  # type: ignore[arg-type]
    assert type(entry.service) is ServiceID
    assert entry == AffinityEntry(A, "", 10.0, 70.0)
    assert type(entry.expires_at) is float


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((42, "", 1.0, 2.0), TypeError, "service must be a ServiceID"),
        (("no-colon", "", 1.0, 2.0), ValueError, "provider:model"),
        ((A, None, 1.0, 2.0), TypeError, "message_id must be a str"),
        ((A, "", "1", 2.0), TypeError, "locked_at must be a number"),
        ((A, "", 1.0, True), TypeError, "expires_at must be a number"),
        ((A, "", 1.0, float("inf")), ValueError, "expires_at must be finite"),
        ((A, "", float("nan"), 2.0), ValueError, "locked_at must be finite"),
        ((A, "", 5.0, 2.0), ValueError, "cannot expire"),
    ],
)
def test_an_invalid_entry_is_refused(
    args: tuple[Any, ...], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        AffinityEntry(*args)


# --- the store's contract ------------------------------------------------------------------


def test_the_in_memory_store_is_an_affinity_store_and_session_counts() -> None:
    store = InMemoryAffinityStore()
    assert isinstance(store, AffinityStore)
    assert isinstance(store, SessionCounts)


def test_get_returns_what_set_stored(store: InMemoryAffinityStore, clock: FakeClock) -> None:
    entry = lock(clock)
    store.set(RULE, "s1", entry)
    assert store.get(RULE, "s1") is entry


def test_get_is_none_for_an_unknown_session(store: InMemoryAffinityStore) -> None:
    assert store.get(RULE, "nobody") is None
    assert store.get("unknown-rule", "nobody") is None


def test_locks_are_per_rule(store: InMemoryAffinityStore, clock: FakeClock) -> None:
    store.set("rule-a", "s1", lock(clock, A))
    store.set("rule-b", "s1", lock(clock, B))
    assert store.get("rule-a", "s1").service == A  # type: ignore[union-attr]
    assert store.get("rule-b", "s1").service == B  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("rule_a", "key_a", "rule_b", "key_b"),
    [("r", "1s", "r1", "s"), ("r\x1fx", "s", "r", "x\x1fs"), ("", "ab", "a", "b")],
)
def test_rule_and_session_never_run_together_into_one_key(
    store: InMemoryAffinityStore, clock: FakeClock, rule_a: str, key_a: str, rule_b: str, key_b: str
) -> None:
    store.set(rule_a, key_a, lock(clock, A))
    assert store.get(rule_b, key_b) is None


def test_delete_releases_a_lock(store: InMemoryAffinityStore, clock: FakeClock) -> None:
    store.set(RULE, "s1", lock(clock))
    assert store.delete(RULE, "s1") is True
    assert store.get(RULE, "s1") is None


def test_delete_of_an_absent_lock_is_false(store: InMemoryAffinityStore) -> None:
    assert store.delete(RULE, "s1") is False
    assert store.delete("unknown-rule", "s1") is False


def test_delete_of_an_expired_lock_is_false(store: InMemoryAffinityStore, clock: FakeClock) -> None:
    store.set(RULE, "s1", lock(clock, ttl=10))
    clock.advance(10)
    assert store.delete(RULE, "s1") is False


def test_clear_releases_every_lock(store: InMemoryAffinityStore, clock: FakeClock) -> None:
    store.set(RULE, "s1", lock(clock, A))
    store.set(RULE, "s2", lock(clock, B))
    store.clear()
    assert (len(store), store.count_by_service(A), store.get(RULE, "s1")) == (0, 0, None)


def test_repr_shows_size_and_bound(store: InMemoryAffinityStore, clock: FakeClock) -> None:
    store.set(RULE, "s1", lock(clock))
    assert repr(store) == "InMemoryAffinityStore(1 sessions, max_entries=100000)"


# --- strict TTL and lazy expiry ------------------------------------------------------------


def test_a_lock_is_live_until_just_before_it_expires(
    store: InMemoryAffinityStore, clock: FakeClock
) -> None:
    store.set(RULE, "s1", lock(clock, ttl=60))
    clock.advance(59.999)
    assert store.get(RULE, "s1") is not None
    clock.advance(0.001)
    assert store.get(RULE, "s1") is None


def test_a_hit_does_not_extend_the_lock(store: InMemoryAffinityStore, clock: FakeClock) -> None:
    store.set(RULE, "s1", lock(clock, ttl=60))
    for _ in range(5):
        clock.advance(10)
        assert store.get(RULE, "s1") is not None
    clock.advance(10)
    assert store.get(RULE, "s1") is None


def test_an_already_expired_entry_removes_the_lock(
    store: InMemoryAffinityStore, clock: FakeClock
) -> None:
    store.set(RULE, "s1", lock(clock, A))
    now = clock()
    store.set(RULE, "s1", AffinityEntry(B, "", now - 10, now))
    assert (store.get(RULE, "s1"), store.count_by_service(A), store.count_by_service(B)) == (
        None,
        0,
        0,
    )


def test_expired_locks_leave_the_counts_without_being_read(
    store: InMemoryAffinityStore, clock: FakeClock
) -> None:
    for i in range(10):
        store.set(RULE, f"s{i}", lock(clock, A, ttl=30 if i % 2 else 60))
    clock.advance(30)
    assert (store.count_by_service(A), len(store)) == (5, 5)
    clock.advance(30)
    assert (store.count_by_service(A), len(store)) == (0, 0)


def test_locks_with_many_different_ttls_expire_in_order(
    store: InMemoryAffinityStore, clock: FakeClock
) -> None:
    for ttl in range(1, 41):  # forty different durations
        store.set(RULE, f"s{ttl}", lock(clock, A, ttl=ttl))
    for passed in range(1, 41):
        clock.advance(1)
        assert store.count_by_service(A) == 40 - passed


def test_an_entry_expiring_before_earlier_ones_is_still_counted_out(
    store: InMemoryAffinityStore, clock: FakeClock
) -> None:
    now = clock()
    store.set(RULE, "late", AffinityEntry(A, "", now, now + 60))
    store.set(RULE, "early", AffinityEntry(A, "", now - 30, now + 30))  # set later, ends first
    clock.advance(30)
    assert store.count_by_service(A) == 1
    assert store.get(RULE, "late") is not None


# --- LRU bound -----------------------------------------------------------------------------


def test_the_least_recently_used_session_is_evicted_at_the_bound(clock: FakeClock) -> None:
    store = InMemoryAffinityStore(3, clock=clock)
    for key in ("a", "b", "c"):
        store.set(RULE, key, lock(clock))
    store.get(RULE, "a")  # a is now the most recently used
    store.set(RULE, "d", lock(clock))
    assert [k for k in "abcd" if store.get(RULE, k) is not None] == ["a", "c", "d"]


def test_overwriting_a_lock_refreshes_its_recency(clock: FakeClock) -> None:
    store = InMemoryAffinityStore(2, clock=clock)
    store.set(RULE, "a", lock(clock, A))
    store.set(RULE, "b", lock(clock, A))
    store.set(RULE, "a", lock(clock, B))
    store.set(RULE, "c", lock(clock, A))
    assert store.get(RULE, "b") is None
    assert store.get(RULE, "a") is not None


def test_a_miss_does_not_change_recency(clock: FakeClock) -> None:
    store = InMemoryAffinityStore(2, clock=clock)
    store.set(RULE, "a", lock(clock))
    store.set(RULE, "b", lock(clock))
    store.get(RULE, "zzz")
    store.set(RULE, "c", lock(clock))
    assert store.get(RULE, "a") is None


def test_expired_locks_go_before_live_ones_are_evicted(clock: FakeClock) -> None:
    store = InMemoryAffinityStore(2, clock=clock)
    store.set(RULE, "old", lock(clock, ttl=10))
    store.set(RULE, "live", lock(clock, ttl=100))
    clock.advance(10)
    store.set(RULE, "new", lock(clock, ttl=100))
    assert store.get(RULE, "live") is not None
    assert len(store) == 2


def test_a_million_random_sessions_keep_the_store_at_its_bound(clock: FakeClock) -> None:
    store = InMemoryAffinityStore(100_000, clock=clock)
    entry = lock(clock, A, ttl=3600)
    rng = random.Random(6)
    for _ in range(1_000_000):
        store.set(RULE, f"{rng.getrandbits(64):x}", entry)
    assert len(store) == 100_000
    assert store.count_by_service(A) == 100_000


# --- count_by_service ----------------------------------------------------------------------


def test_counts_follow_set_overwrite_and_delete(
    store: InMemoryAffinityStore, clock: FakeClock
) -> None:
    store.set(RULE, "s1", lock(clock, A))
    store.set(RULE, "s2", lock(clock, A))
    assert (store.count_by_service(A), store.count_by_service(B)) == (2, 0)
    store.set(RULE, "s1", lock(clock, B))  # the session moves from A to B
    assert (store.count_by_service(A), store.count_by_service(B)) == (1, 1)
    store.set(RULE, "s1", lock(clock, B))  # a new lock on the same service
    assert (store.count_by_service(A), store.count_by_service(B)) == (1, 1)
    store.delete(RULE, "s2")
    assert (store.count_by_service(A), store.count_by_service(B)) == (0, 1)


def test_counts_follow_evictions(clock: FakeClock) -> None:
    store = InMemoryAffinityStore(2, clock=clock)
    store.set(RULE, "s1", lock(clock, A))
    store.set(RULE, "s2", lock(clock, B))
    store.set(RULE, "s3", lock(clock, C))
    assert [store.count_by_service(s) for s in (A, B, C)] == [0, 1, 1]


def test_counts_follow_expiry_found_by_get(store: InMemoryAffinityStore, clock: FakeClock) -> None:
    store.set(RULE, "s1", lock(clock, A, ttl=10))
    clock.advance(10)
    assert store.get(RULE, "s1") is None
    assert store.count_by_service(A) == 0


def test_counts_answer_to_the_plain_service_string(
    store: InMemoryAffinityStore, clock: FakeClock
) -> None:
    store.set(RULE, "s1", lock(clock, A))
    assert store.count_by_service("openai:gpt-4o") == 1  # type: ignore[arg-type]


def test_setting_the_same_entry_again_counts_it_once(
    store: InMemoryAffinityStore, clock: FakeClock
) -> None:
    entry = lock(clock, A, ttl=10)
    for _ in range(3):
        store.set(RULE, "s1", entry)
    assert store.count_by_service(A) == 1
    clock.advance(10)
    assert store.count_by_service(A) == 0


def test_many_overwrites_of_a_few_sessions_count_each_session_once(clock: FakeClock) -> None:
    store = InMemoryAffinityStore(10, clock=clock)
    for i in range(50_000):
        if i and i % 10_000 == 0:
            clock.advance(1)  # the later locks outlive the ones they replace
        service = (A, B)[i // 10 % 2]  # each round of ten moves every session
        store.set(RULE, f"s{i % 10}", lock(clock, service, ttl=3600))
    assert (len(store), store.count_by_service(A), store.count_by_service(B)) == (10, 0, 10)
    assert store.counts() == {B: 10}
    clock.advance(3599.5)  # the replaced locks' expiries have passed, the live ones' not
    assert (len(store), store.counts()) == (10, {B: 10})
    clock.advance(0.5)
    assert (len(store), store.counts()) == (0, {})


def test_a_flood_of_new_sessions_keeps_only_the_most_recent_at_the_bound(
    clock: FakeClock,
) -> None:
    store = InMemoryAffinityStore(10, clock=clock)
    for i in range(5_000):
        store.set(RULE, f"s{i}", lock(clock, A, ttl=3600))
        assert len(store) <= 10
    assert [i for i in range(5_000) if store.get(RULE, f"s{i}") is not None] == list(
        range(4_990, 5_000)
    )
    assert store.counts() == {A: 10}
    clock.advance(3600)
    assert (len(store), store.counts()) == (0, {})


def test_evicted_locks_do_not_come_back_or_count_at_expiry(clock: FakeClock) -> None:
    store = InMemoryAffinityStore(2, clock=clock)
    store.set(RULE, "a", lock(clock, A, ttl=10))
    store.set(RULE, "b", lock(clock, B, ttl=100))
    store.set(RULE, "c", lock(clock, C, ttl=100))  # evicts a
    clock.advance(10)  # a's expiry comes due after its eviction
    assert (len(store), store.counts()) == (2, {B: 1, C: 1})
    assert store.get(RULE, "a") is None


# --- counts and get_many ---------------------------------------------------------------------


def test_counts_of_an_empty_store_are_empty(store: InMemoryAffinityStore) -> None:
    assert store.counts() == {}


def test_counts_follow_set_replace_delete_and_expiry(
    store: InMemoryAffinityStore, clock: FakeClock
) -> None:
    store.set(RULE, "s1", lock(clock, A, ttl=10))
    store.set(RULE, "s2", lock(clock, A, ttl=60))
    store.set("rule-2", "s1", lock(clock, B, ttl=60))
    assert store.counts() == {A: 2, B: 1}
    store.set(RULE, "s2", lock(clock, C, ttl=60))  # replaced: moves from A to C
    assert store.counts() == {A: 1, B: 1, C: 1}
    store.delete("rule-2", "s1")
    assert store.counts() == {A: 1, C: 1}  # a service without locks is absent
    clock.advance(10)  # s1 expires
    assert store.counts() == {C: 1}


def test_counts_are_a_copy(store: InMemoryAffinityStore, clock: FakeClock) -> None:
    store.set(RULE, "s1", lock(clock, A))
    counts = store.counts()
    store.set(RULE, "s2", lock(clock, A))
    assert (counts, store.counts()) == ({A: 1}, {A: 2})


def test_counts_answer_by_the_plain_service_string(
    store: InMemoryAffinityStore, clock: FakeClock
) -> None:
    store.set(RULE, "s1", lock(clock, A))
    assert store.counts()["openai:gpt-4o"] == 1


def test_get_many_returns_the_live_locks_by_session_key(
    store: InMemoryAffinityStore, clock: FakeClock
) -> None:
    a, b = lock(clock, A), lock(clock, B, ttl=10)
    store.set(RULE, "s1", a)
    store.set(RULE, "s2", b)
    store.set("rule-2", "s3", lock(clock, C))
    assert store.get_many(RULE, ("s1", "s2", "s3", "nobody")) == {"s1": a, "s2": b}
    assert store.get_many(RULE, ()) == {}
    clock.advance(10)
    assert store.get_many(RULE, ("s1", "s2")) == {"s1": a}


def test_get_many_hits_refresh_recency(clock: FakeClock) -> None:
    store = InMemoryAffinityStore(3, clock=clock)
    for key in ("a", "b", "c"):
        store.set(RULE, key, lock(clock))
    store.get_many(RULE, ("a", "zzz"))  # a is now the most recently used; the miss is nothing
    store.set(RULE, "d", lock(clock))
    assert [k for k in "abcd" if store.get(RULE, k) is not None] == ["a", "c", "d"]


def test_get_many_does_not_extend_a_lock(store: InMemoryAffinityStore, clock: FakeClock) -> None:
    store.set(RULE, "s1", lock(clock, ttl=60))
    for _ in range(5):
        clock.advance(10)
        assert "s1" in store.get_many(RULE, ("s1",))
    clock.advance(10)
    assert store.get_many(RULE, ("s1",)) == {}


@pytest.mark.parametrize(("rule_uuid", "keys"), [(1, ("s",)), ("r", (None,)), (b"r", ("s",))])
def test_get_many_keys_must_be_strings(
    store: InMemoryAffinityStore, rule_uuid: Any, keys: tuple[Any, ...]
) -> None:
    with pytest.raises(TypeError, match="must be strings"):
        store.get_many(rule_uuid, keys)


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"max_entries": 0}, ValueError, "max_entries must be >= 1"),
        ({"max_entries": -5}, ValueError, "max_entries must be >= 1"),
        ({"max_entries": 1.5}, TypeError, "max_entries must be an int"),
        ({"max_entries": True}, TypeError, "max_entries must be an int"),
        ({"clock": 12.0}, TypeError, "clock must be callable"),
    ],
)
def test_a_bad_store_configuration_is_refused(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        InMemoryAffinityStore(**kwargs)


@pytest.mark.parametrize("entry", [None, ("openai:gpt-4o", "", 1.0, 2.0), "openai:gpt-4o"])
def test_set_refuses_what_is_not_an_entry(store: InMemoryAffinityStore, entry: Any) -> None:
    with pytest.raises(TypeError, match="takes an AffinityEntry"):
        store.set(RULE, "s1", entry)


def test_set_refuses_an_empty_session_key(store: InMemoryAffinityStore, clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="empty session key"):
        store.set(RULE, "", lock(clock))


@pytest.mark.parametrize("method", ["get", "delete"])
@pytest.mark.parametrize(("rule_uuid", "key"), [(1, "s"), ("r", None), (b"r", "s")])
def test_keys_must_be_strings(
    store: InMemoryAffinityStore, method: str, rule_uuid: Any, key: Any
) -> None:
    with pytest.raises(TypeError, match="must be strings"):
        getattr(store, method)(rule_uuid, key)


# --- many rules ----------------------------------------------------------------------------


def test_many_rules_keep_their_locks_apart(clock: FakeClock) -> None:
    store = InMemoryAffinityStore(20_000, clock=clock)
    for i in range(5_000):
        store.set(f"rule-{i}", "s", lock(clock, A if i % 2 else B))
    assert store.get("rule-4999", "s").service == A  # type: ignore[union-attr]
    assert store.get("rule-0", "s").service == B  # type: ignore[union-attr]
    assert store.delete("rule-4998", "s") is True
    assert (store.count_by_service(A), store.count_by_service(B)) == (2_500, 2_499)


# --- threads -------------------------------------------------------------------------------


def test_concurrent_use_keeps_the_counts_equal_to_a_recount(clock: FakeClock) -> None:
    store = InMemoryAffinityStore(300, clock=clock)
    services = (A, B, C)
    keys = [(f"rule-{r}", f"s{i}") for r in range(2) for i in range(250)]
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def hammer(seed: int) -> None:
        rng = random.Random(seed)
        try:
            start.wait()
            for _ in range(4_000):
                rule_uuid, key = rng.choice(keys)
                op = rng.random()
                if op < 0.45:
                    store.set(
                        rule_uuid, key, lock(clock, rng.choice(services), rng.choice((5, 50)))
                    )
                elif op < 0.75:
                    store.get(rule_uuid, key)
                elif op < 0.9:
                    store.delete(rule_uuid, key)
                elif op < 0.97:
                    store.count_by_service(rng.choice(services))
                else:
                    clock.advance(1)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    recount = dict.fromkeys(services, 0)
    for rule_uuid, key in keys:
        entry = store.get(rule_uuid, key)
        if entry is not None:
            recount[entry.service] += 1
    assert {s: store.count_by_service(s) for s in services} == recount
    assert len(store) == sum(recount.values())


# --- against a reference model -------------------------------------------------------------

RULES = st.sampled_from(["r1", "r2"])
KEYS = st.sampled_from(["a", "b", "c", "d", "e"])
SERVICES = st.sampled_from([A, B, C])
TTLS = st.sampled_from([0, 1, 2.5, 5, 10]) | st.floats(0, 12)


class StoreMachine(RuleBasedStateMachine):
    """Random operations against the store and a plain model of what it should hold."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.store = InMemoryAffinityStore(3, clock=self.clock)
        # (rule, key) -> (service, expires_at), least recently used first
        self.model: OrderedDict[tuple[str, str], tuple[ServiceID, float]] = OrderedDict()

    def _expire(self) -> None:
        now = self.clock()
        for k in [k for k, (_, expires_at) in self.model.items() if expires_at <= now]:
            del self.model[k]

    @rule(rule_uuid=RULES, key=KEYS, service=SERVICES, ttl=TTLS, backdate=st.sampled_from([0, 3]))
    def set(self, rule_uuid: str, key: str, service: ServiceID, ttl: float, backdate: int) -> None:
        now = self.clock()
        entry = AffinityEntry(service, "", now - backdate, now - backdate + ttl)
        self.store.set(rule_uuid, key, entry)
        self._expire()
        k = (rule_uuid, key)
        if entry.expires_at <= now:
            self.model.pop(k, None)
            return
        if k not in self.model and len(self.model) >= 3:
            self.model.popitem(last=False)
        self.model[k] = (service, entry.expires_at)
        self.model.move_to_end(k)

    @rule(rule_uuid=RULES, key=KEYS)
    def get(self, rule_uuid: str, key: str) -> None:
        entry = self.store.get(rule_uuid, key)
        self._expire()
        k = (rule_uuid, key)
        expected = self.model.get(k)
        assert (None if entry is None else (entry.service, entry.expires_at)) == expected
        if expected is not None:
            self.model.move_to_end(k)

    @rule(rule_uuid=RULES, keys=st.lists(KEYS, max_size=3, unique=True))
    def get_many(self, rule_uuid: str, keys: list[str]) -> None:
        found = self.store.get_many(rule_uuid, tuple(keys))
        self._expire()
        expected = {k: self.model[(rule_uuid, k)] for k in keys if (rule_uuid, k) in self.model}
        assert {k: (e.service, e.expires_at) for k, e in found.items()} == expected
        for k in keys:
            if (rule_uuid, k) in self.model:
                self.model.move_to_end((rule_uuid, k))

    @rule(rule_uuid=RULES, key=KEYS)
    def delete(self, rule_uuid: str, key: str) -> None:
        removed = self.store.delete(rule_uuid, key)
        self._expire()
        assert removed == (self.model.pop((rule_uuid, key), None) is not None)

    @rule(seconds=st.sampled_from([0.5, 1, 2.5, 4]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @invariant()
    def counts_and_size_agree(self) -> None:
        self._expire()
        for service in (A, B, C):
            expected = sum(1 for s, _ in self.model.values() if s == service)
            assert self.store.count_by_service(service) == expected
        assert self.store.counts() == dict(Counter(s for s, _ in self.model.values()))
        assert len(self.store) == len(self.model) <= self.store.max_entries


MACHINE_SETTINGS = settings(max_examples=200, stateful_step_count=40)


def test_the_store_agrees_with_a_reference_model() -> None:
    run_state_machine_as_test(StoreMachine, settings=MACHINE_SETTINGS)


def test_an_expired_lock_found_by_get_leaves_a_newer_lock_alone(clock: FakeClock) -> None:
    store = InMemoryAffinityStore(clock=clock)
    store.set(RULE, "s1", lock(clock, ttl=1.0))
    clock.advance(2.0)
    assert store.get(RULE, "s1") is None
    fresh = lock(clock)
    store.set(RULE, "s1", fresh)
    assert store.get(RULE, "s1") is fresh
    assert store.count_by_service(A) == 1
