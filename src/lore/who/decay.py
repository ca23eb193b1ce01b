"""Decay curves: how much a contribution of a given age still counts (1.0 = fully)."""

from __future__ import annotations

MS_PER_DAY = 86_400_000


def age_days(now_ms: int, at_ms: int) -> float:
    """Age in days, never negative (a server clock slightly ahead must not boost a score)."""
    return max(0.0, (now_ms - at_ms) / MS_PER_DAY)


def decay(curve: str, age: float, half_life_days: float, window_days: float) -> float:
    """``exponential``: 0.5^(age/half_life); ``linear``: max(0, 1 - age/window); ``none``: 1."""
    if curve == "exponential":
        return float(0.5 ** (age / half_life_days))
    if curve == "linear":
        return max(0.0, 1.0 - age / window_days)
    if curve == "none":
        return 1.0
    raise ValueError(f"unknown decay curve {curve!r}")
