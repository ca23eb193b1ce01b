"""Fault injection rules for the simulator's API routes.

A rule (JSON, as accepted by ``POST /__sim/faults`` and ``Simulator.start(faults=...)``)::

    {"route": "issues",          # route name, "*" for all (see below); default "*"
     "kind": "500",              # or "kinds": ["500", "502"] (one picked at random)
     "count": 3,                 # fire at most N times (omit: unlimited)
     "rate": 0.1,                # fire with this seeded probability (omit: always)
     "after": 0,                 # let the first N matching requests through first
     "method": "GET",            # optional method filter
     "retry_after": 2,           # 429: seconds in Retry-After (RateLimit-Reset = now + it)
     "delay_ms": 1500}           # slow: sleep before answering normally

Kinds: ``500``, ``502``, ``503``, ``429``, ``401``, ``drop`` (close the connection
without any response), ``slow`` and ``graphql_complexity`` (a GraphQL complexity error,
only fires on the GraphQL route); ``429_bare`` (HTML body, no Retry-After or RateLimit-*
headers, as GitLab's GraphQL endpoint sometimes answers), ``401_expired`` (GitLab's OAuth
error body ``invalid_token`` with an ``error_description`` and a ``WWW-Authenticate``
challenge) and ``403_scope`` (``insufficient_scope`` with the accepted ``scope`` list).

Route names: ``version``, ``user`` (``/user`` and ``/users/:id``), ``project`` (``/projects`` and ``/projects/:id``),
``issues`` (list and single issue), ``merge_requests`` (list and single MR; alias
``mrs``), ``discussions`` (issue and MR discussions; also ``issue_discussions`` /
``mr_discussions``), ``notes``, ``diffs`` (``/diffs`` and ``/changes``), ``graphql``,
``*``; a full route key such as ``GET /api/v4/projects/:id/issues`` works too.

Rules are tried in order; the first one that matches and fires decides the fault.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Any

KINDS = (
    "500",
    "502",
    "503",
    "429",
    "401",
    "drop",
    "slow",
    "graphql_complexity",
    "429_bare",
    "401_expired",
    "403_scope",
)


class FaultSpecError(ValueError):
    """A fault rule that cannot be understood."""


@dataclass(slots=True)
class FaultRule:
    route: str = "*"
    kinds: tuple[str, ...] = ("500",)
    count: int | None = None
    rate: float | None = None
    after: int = 0
    method: str | None = None
    retry_after: int = 1
    delay_ms: int = 1000
    seen: int = 0  # matching requests so far
    fired: int = 0

    @classmethod
    def from_json(cls, obj: Any) -> FaultRule:
        if not isinstance(obj, dict):
            raise FaultSpecError("each rule must be a JSON object")
        unknown = set(obj) - {
            "route",
            "kind",
            "kinds",
            "count",
            "rate",
            "after",
            "method",
            "retry_after",
            "delay_ms",
        }
        if unknown:
            raise FaultSpecError(f"unknown rule keys: {', '.join(sorted(unknown))}")
        raw = obj.get("kinds", obj.get("kind", "500"))
        kinds = tuple(
            str(k).strip()
            for k in (raw if isinstance(raw, list) else str(raw).split(","))
            if str(k).strip()
        )
        bad = [k for k in kinds if k not in KINDS]
        if bad or not kinds:
            raise FaultSpecError(f"unknown fault kind(s) {bad or raw!r}; known: {', '.join(KINDS)}")
        try:
            count = None if obj.get("count") is None else int(obj["count"])
            rate = None if obj.get("rate") is None else float(obj["rate"])
            rule = cls(
                route=str(obj.get("route") or "*"),
                kinds=kinds,
                count=count,
                rate=rate,
                after=int(obj.get("after", 0)),
                method=str(obj["method"]).upper() if obj.get("method") else None,
                retry_after=int(obj.get("retry_after", 1)),
                delay_ms=int(obj.get("delay_ms", 1000)),
            )
        except (TypeError, ValueError) as exc:
            raise FaultSpecError(f"bad rule value: {exc}") from exc
        if rate is not None and not 0.0 <= rate <= 1.0:
            raise FaultSpecError("rate must be between 0 and 1")
        return rule

    def as_json(self) -> dict[str, Any]:
        return {
            "route": self.route,
            "kinds": list(self.kinds),
            "count": self.count,
            "rate": self.rate,
            "after": self.after,
            "method": self.method,
            "retry_after": self.retry_after,
            "delay_ms": self.delay_ms,
            "seen": self.seen,
            "fired": self.fired,
            "remaining": None if self.count is None else max(0, self.count - self.fired),
        }


@dataclass(frozen=True, slots=True)
class Fault:
    kind: str
    retry_after: int
    delay_ms: int


class FaultInjector:
    """Thread-safe holder of the active rules and their seeded random generator."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._rng = random.Random(0)
        self._seed = 0
        self.total_fired = 0

    def configure(self, spec: Any, append: bool = False) -> None:
        """Install rules from ``{"rules": [...], "seed": N}`` or a bare list of rules."""
        seed = None
        if spec is None:
            rules_json: list[Any] = []
        elif isinstance(spec, list):
            rules_json = spec
        elif isinstance(spec, dict):
            if "rules" not in spec and ("kind" in spec or "kinds" in spec):
                rules_json = [spec]  # a single rule is accepted as a convenience
            else:
                rules_json = spec.get("rules") or []
                if not isinstance(rules_json, list):
                    raise FaultSpecError("'rules' must be a list")
            seed = spec.get("seed")
            append = bool(spec.get("append", append))
        else:
            raise FaultSpecError('faults must be a list of rules or {"rules": [...]}')
        rules = [FaultRule.from_json(r) for r in rules_json]
        with self._lock:
            if seed is not None:
                self._seed = int(seed)
                self._rng = random.Random(self._seed)
            self._rules = (self._rules + rules) if append else rules

    def clear(self) -> None:
        with self._lock:
            self._rules = []

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {
                "rules": [r.as_json() for r in self._rules],
                "seed": self._seed,
                "fired": self.total_fired,
            }

    def pick(self, names: frozenset[str], method: str, is_graphql: bool) -> Fault | None:
        """The fault to inject for a request to a route with these names, if any."""
        with self._lock:
            for rule in self._rules:
                if rule.route not in names:
                    continue
                if rule.method and rule.method != method:
                    continue
                kinds = [k for k in rule.kinds if is_graphql or k != "graphql_complexity"]
                if not kinds:
                    continue
                rule.seen += 1
                if rule.seen <= rule.after:
                    continue
                if rule.count is not None and rule.fired >= rule.count:
                    continue
                if rule.rate is not None and self._rng.random() >= rule.rate:
                    continue
                rule.fired += 1
                self.total_fired += 1
                kind = kinds[0] if len(kinds) == 1 else self._rng.choice(kinds)
                return Fault(kind, rule.retry_after, rule.delay_ms)
        return None
