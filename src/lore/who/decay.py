"""Decay curves: how much a contribution of a given age still counts (1.0 = fully)."""

from __future__ import annotations

from collections.abc import Callable

MS_PER_DAY = 86_400_000


def age_days(now_ms: int, at_ms: int) -> float:
    """Age in days, never negative (a server clock slightly ahead must not boost a score)."""
    return max(0.0, (now_ms - at_ms) / MS_PER_DAY)


def decay_function(
    curve: str, half_life_days: float, window_days: float
) -> Callable[[float], float]:
    """The curve as a function of age in days (hot loop: no per-call dispatch)."""
    if curve == "exponential":
        return lambda age: float(0.5 ** (age / half_life_days))
    if curve == "linear":
        return lambda age: max(0.0, 1.0 - age / window_days)
    if curve == "none":
        return lambda age: 1.0
    raise ValueError(f"unknown decay curve {curve!r}")


def decay(curve: str, age: float, half_life_days: float, window_days: float) -> float:
    """``exponential``: 0.5^(age/half_life); ``linear``: max(0, 1 - age/window); ``none``: 1."""
    return decay_function(curve, half_life_days, window_days)(age)
