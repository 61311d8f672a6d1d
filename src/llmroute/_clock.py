"""The clock type every stateful component takes: seconds as a float, wall time by default."""

from __future__ import annotations

import time
from collections.abc import Callable

#: A zero-argument callable returning the current time in seconds (``time.time`` by default).
Clock = Callable[[], float]

system_clock: Clock = time.time
