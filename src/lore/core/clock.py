"""Time as a dependency. Production uses the wall clock; tests inject a fixed one.

``LORE_TEST_NOW_MS`` (honoured only when ``LORE_TEST_HOOKS=1``) pins "now" for
subprocess tests of time-dependent behaviour such as service backoff.
"""

from __future__ import annotations

import os
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int: ...


class SystemClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


class FixedClock:
    def __init__(self, now_ms: int) -> None:
        self._now = now_ms

    def now_ms(self) -> int:
        return self._now

    def advance(self, ms: int) -> None:
        self._now += ms


def default_clock() -> Clock:
    if os.environ.get("LORE_TEST_HOOKS") == "1" and os.environ.get("LORE_TEST_NOW_MS"):
        return FixedClock(int(os.environ["LORE_TEST_NOW_MS"]))
    return SystemClock()


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def iso_from_ms(ms: int) -> str:
    """Milliseconds since the epoch as ISO-8601 UTC with milliseconds (``...123Z``)."""
    dt = _EPOCH + timedelta(milliseconds=ms)  # exact: no float seconds in between
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def ms_from_iso(text: str) -> int:
    """Parse GitLab's ISO-8601 timestamps (``Z`` or offsets) into epoch milliseconds."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    # Integer arithmetic: timestamp() * 1000 is a float and loses a millisecond now and
    # then (…41.945Z came back as …41.944Z).
    return (dt - _EPOCH) // _MS


#: The store's canonical form, which is also what GitLab sends: ``2024-01-02T03:04:05.678Z``.
_CANONICAL_RE = re.compile(
    r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z"
)


def normalize_iso(text: str | None) -> str | None:
    """Any ISO-8601 timestamp to the canonical UTC millisecond form used in the store."""
    if text is None or text == "":
        return None
    # Fast path: already canonical (days 29-31 and years before 1000 take the slow path).
    if len(text) == 24 and _CANONICAL_RE.fullmatch(text) and text[0] != "0":
        return text
    return iso_from_ms(ms_from_iso(text))
