"""The knobs of expert scoring: defaults from the config's ``who`` section, overridden by
flags, validated in one place so every malformed value is a USAGE_ERROR naming it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from lore.core.errors import ErrorCode, LoreError

#: Every contribution kind, in the order breakdowns are shown.
KINDS: tuple[str, ...] = (
    "authored_merged",
    "authored_unmerged",
    "reviewed",
    "approved",
    "discussed",
)
CURVES: tuple[str, ...] = ("exponential", "linear", "none")

DEFAULT_LIMIT = 10
DEFAULT_DEPTH = 2
EVIDENCE_LIMIT = 3

_RELATIVE_RE = re.compile(r"^(\d+)\s*([dwmy])$", re.I)
_DAYS_PER_UNIT = {"d": 1, "w": 7, "m": 30, "y": 365}


def _usage(message: str, suggestion: str | None = None) -> LoreError:
    return LoreError(
        ErrorCode.USAGE_ERROR,
        message,
        suggestion=suggestion or "See: lore who --help",
        actions=["lore who --help"],
    )


@dataclass(frozen=True)
class WhoParams:
    """Everything that shapes a `lore who` answer; echoed back in robot output."""

    curve: str = "exponential"
    half_life_days: float = 180.0
    window_days: float = 730.0
    stale_days: float = 365.0
    weights: dict[str, float] = field(
        default_factory=lambda: {
            "authored_merged": 1.0,
            "authored_unmerged": 0.4,
            "reviewed": 0.6,
            "discussed": 0.2,
            "approved": 0.5,
        }
    )
    now_ms: int = 0
    since_ms: int | None = None
    project: str | None = None
    limit: int = DEFAULT_LIMIT
    exclude_bots: bool = False
    excluded_users: tuple[str, ...] = ()
    bot_patterns: tuple[str, ...] = ()
    hide_stale: bool = False
    depth: int = DEFAULT_DEPTH

    def to_dict(self) -> dict[str, Any]:
        from lore.core.clock import iso_from_ms

        return {
            "curve": self.curve,
            "half_life_days": self.half_life_days,
            "window_days": self.window_days,
            "stale_days": self.stale_days,
            "weights": dict(self.weights),
            "now": iso_from_ms(self.now_ms),
            "since": iso_from_ms(self.since_ms) if self.since_ms is not None else None,
            "project": self.project,
            "limit": self.limit,
            "exclude_bots": self.exclude_bots,
            "excluded_users": list(self.excluded_users),
            "hide_stale": self.hide_stale,
            "depth": self.depth,
        }


def params_from_config(who_config: Any, now_ms: int) -> WhoParams:
    """Defaults from a :class:`lore.core.config.WhoConfig` (already validated on load)."""
    weights = {kind: float(getattr(who_config.weights, kind)) for kind in KINDS}
    return WhoParams(
        curve=str(who_config.curve),
        half_life_days=float(who_config.half_life_days),
        window_days=float(who_config.window_days),
        stale_days=float(who_config.stale_days),
        weights=weights,
        now_ms=now_ms,
        bot_patterns=tuple(who_config.bot_patterns),
    )


def parse_weight(text: str) -> tuple[str, float]:
    """``KIND=VALUE`` → (kind, value); USAGE_ERROR naming what is wrong."""
    kind, sep, value = text.partition("=")
    kind = kind.strip().replace("-", "_")
    if not sep or not kind or not value.strip():
        raise _usage(
            f"--weight {text!r}: expected KIND=VALUE, e.g. reviewed=0.8",
            f"KIND is one of: {', '.join(KINDS)}",
        )
    if kind not in KINDS:
        raise _usage(
            f"--weight {text!r}: unknown kind {kind!r}",
            f"KIND is one of: {', '.join(KINDS)}",
        )
    try:
        number = float(value)
    except ValueError:
        raise _usage(f"--weight {text!r}: {value.strip()!r} is not a number") from None
    if not number >= 0 or number == float("inf"):  # also rejects NaN
        raise _usage(f"--weight {text!r}: a weight must be a finite number >= 0")
    return kind, number


def parse_instant(text: str, flag: str, now_ms: int) -> int:
    """An ISO date/datetime, or a relative age like ``30d``, ``6w``, ``6m``, ``2y`` → epoch ms."""
    value = text.strip()
    rel = _RELATIVE_RE.match(value)
    if rel:
        days = int(rel.group(1)) * _DAYS_PER_UNIT[rel.group(2).lower()]
        return now_ms - days * 86_400_000
    try:
        iso = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
        dt = datetime.fromisoformat(iso)
    except ValueError:
        raise _usage(
            f"{flag} {text!r}: not a date",
            "Use an ISO date (2024-05-01), a datetime (2024-05-01T12:00:00Z) or an age (30d, 6m, 1y)",
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def _positive(name: str, value: float | None) -> None:
    if value is not None and not value > 0:  # NaN fails too
        raise _usage(f"{name} must be a positive number of days, got {value:g}")


def apply_overrides(
    base: WhoParams,
    *,
    curve: str | None = None,
    half_life_days: float | None = None,
    window_days: float | None = None,
    stale_days: float | None = None,
    weights: list[str] | tuple[str, ...] = (),
    since: str | None = None,
    project: str | None = None,
    limit: int | None = None,
    exclude_bots: bool | None = None,
    exclude: list[str] | tuple[str, ...] = (),
    hide_stale: bool | None = None,
    depth: int | None = None,
    now: str | None = None,
) -> WhoParams:
    """Flags over config; every malformed value raises USAGE_ERROR naming the flag."""
    if curve is not None and curve not in CURVES:
        raise _usage(f"--curve {curve!r}: unknown curve", f"Use one of: {', '.join(CURVES)}")
    _positive("--half-life", half_life_days)
    _positive("--window", window_days)
    if stale_days is not None and not stale_days >= 0:
        raise _usage(f"--stale-days must be a number of days >= 0, got {stale_days:g}")
    if limit is not None and limit < 1:
        raise _usage(f"--limit must be at least 1, got {limit}")
    if depth is not None and depth < 1:
        raise _usage(f"--depth must be at least 1, got {depth}")
    now_ms = parse_instant(now, "--now", base.now_ms) if now else base.now_ms
    new_weights = dict(base.weights)
    for text in weights:
        kind, number = parse_weight(text)
        new_weights[kind] = number
    users: list[str] = list(base.excluded_users)
    for item in exclude:
        for name in item.split(","):
            name = name.strip().lstrip("@")
            if name and name not in users:
                users.append(name)
    return replace(
        base,
        curve=curve if curve is not None else base.curve,
        half_life_days=half_life_days if half_life_days is not None else base.half_life_days,
        window_days=window_days if window_days is not None else base.window_days,
        stale_days=stale_days if stale_days is not None else base.stale_days,
        weights=new_weights,
        now_ms=now_ms,
        since_ms=parse_instant(since, "--since", now_ms) if since else base.since_ms,
        project=project.strip().strip("/") if project else base.project,
        limit=limit if limit is not None else base.limit,
        exclude_bots=exclude_bots if exclude_bots is not None else base.exclude_bots,
        excluded_users=tuple(users),
        hide_stale=hide_stale if hide_stale is not None else base.hide_stale,
        depth=depth if depth is not None else base.depth,
    )
