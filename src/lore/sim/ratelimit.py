"""GitLab's request throttle (Rack::Attack ``throttle_authenticated_api``), simulated.

A fixed window aligned on the epoch (``now - now % period``), counted per simulator
(one token, one bucket; REST and GraphQL share it, as on GitLab.com). Like GitLab:

- every API response, 2xx included, carries ``RateLimit-Name``, ``RateLimit-Limit``
  (the quota normalised to 60 s, rounded up), ``RateLimit-Observed`` (requests counted in
  this window, the current one included), ``RateLimit-Remaining`` (``limit - observed``,
  at least 0) and ``RateLimit-Reset`` (epoch seconds at the end of the window);
- once ``observed`` passes ``limit`` the request is refused: 429, plain-text body
  ``Retry later``, the same headers plus ``Retry-After`` (seconds to the window's end) and
  ``RateLimit-ResetTime`` (HTTP date). Refused requests still count, as in Rack::Attack.

Wall-clock time, not the simulator clock: clients compare the reset with their own clock.
"""

from __future__ import annotations

import email.utils
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

THROTTLE_NAME = "throttle_authenticated_api"


@dataclass(frozen=True, slots=True)
class Decision:
    throttled: bool
    headers: list[tuple[str, str]]


class RateLimiter:
    """``limit`` requests per ``period_seconds`` fixed window; thread-safe."""

    def __init__(
        self, limit: int, period_seconds: int, clock: Callable[[], float] = time.time
    ) -> None:
        if limit < 1 or period_seconds < 1:
            raise ValueError("rate_limit needs limit >= 1 and period_seconds >= 1")
        self.limit = int(limit)
        self.period = int(period_seconds)
        self._clock = clock
        self._lock = threading.Lock()
        self._window_start = -1
        self._observed = 0
        self.throttled_total = 0

    def hit(self) -> Decision:
        """Count one request and say whether it is refused, with the headers to send."""
        now = int(self._clock())
        with self._lock:
            start = now - now % self.period
            if start != self._window_start:
                self._window_start, self._observed = start, 0
            self._observed += 1
            observed = self._observed
            throttled = observed > self.limit
            if throttled:
                self.throttled_total += 1
        retry_after = self.period - now % self.period
        reset = now + retry_after
        headers = [
            ("RateLimit-Name", THROTTLE_NAME),
            ("RateLimit-Limit", str(math.ceil(self.limit * 60 / self.period))),
            ("RateLimit-Observed", str(observed)),
            ("RateLimit-Remaining", str(max(0, self.limit - observed))),
            ("RateLimit-Reset", str(reset)),
        ]
        if throttled:
            headers += [
                ("Retry-After", str(retry_after)),
                ("RateLimit-ResetTime", email.utils.formatdate(reset, usegmt=True)),
            ]
        return Decision(throttled, headers)

    def describe(self) -> dict[str, int]:
        with self._lock:
            return {
                "limit": self.limit,
                "period_seconds": self.period,
                "observed": self._observed,
                "throttled": self.throttled_total,
            }
