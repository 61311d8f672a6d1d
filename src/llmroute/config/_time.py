"""The ``time_range`` op: a daily window such as ``"22:00-06:00"`` in an IANA time zone.

The window is read on the clock the selector was given (the snapshot's ``now``), converted
to the zone's local time with :mod:`zoneinfo`, so daylight-saving changes move the window
with the wall clock. Start is included, end excluded; a start after the end crosses
midnight.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["DailyWindow", "parse_window"]

_WINDOW = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])\s*-\s*([01][0-9]|2[0-3]):([0-5][0-9])")


@dataclass(frozen=True, slots=True)
class DailyWindow:
    """A daily window in minutes after local midnight, ``start`` included, ``end`` excluded,
    in ``zone`` (its name in ``zone_name``)."""

    start: int
    end: int
    zone: tzinfo
    zone_name: str

    def local_minute(self, now: float) -> int:
        """The minute of the local day at clock reading ``now`` (seconds since the epoch)."""
        local = datetime.fromtimestamp(now, self.zone)
        return local.hour * 60 + local.minute

    def contains(self, now: float) -> bool:
        """Whether ``now`` falls inside the window (on its local day)."""
        minute = self.local_minute(now)
        if self.start < self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end  # crosses midnight


def parse_window(value: str, zone_name: str) -> DailyWindow:
    """``"HH:MM-HH:MM"`` in ``zone_name`` (an IANA name; ``""`` means UTC).

    Raises ``ValueError`` naming what is wrong (the format, equal ends, an unknown zone).
    """
    found = _WINDOW.fullmatch(value.strip())
    if found is None:
        raise ValueError(f"value {value!r} is not a daily window 'HH:MM-HH:MM' (00:00 to 23:59)")
    h1, m1, h2, m2 = (int(part) for part in found.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start == end:
        raise ValueError(f"value {value!r}: the window's start and end must differ")
    return DailyWindow(start, end, _zone(zone_name), zone_name or "UTC")


def _zone(name: str) -> tzinfo:
    if not name or name == "UTC":
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r} (an IANA name such as 'Europe/Berlin'; where the "
            "system has no time zone database, pip install tzdata)"
        ) from None
