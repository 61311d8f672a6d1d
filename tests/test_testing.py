"""The shipped test doubles."""

import pytest

from llmroute.testing import FakeClock


def test_fake_clock_starts_where_told_and_advances() -> None:
    clock = FakeClock(100.0)
    assert clock() == 100.0
    assert clock.advance(2.5) == 102.5
    assert clock() == 102.5


def test_fake_clock_never_goes_back() -> None:
    clock = FakeClock(10.0)
    with pytest.raises(ValueError, match="forward"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="forward"):
        clock.set(5.0)


def test_fake_clock_can_jump_forward() -> None:
    clock = FakeClock(10.0)
    clock.set(50.0)
    assert clock() == 50.0
