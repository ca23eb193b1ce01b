"""The user-facing install options: interval, sync profile, token source, backend.

Pure parsing and tables; every failure is a USAGE_ERROR that names the bad value and
says what would be accepted.
"""

from __future__ import annotations

from lore.core.errors import ErrorCode, LoreError

MIN_INTERVAL_SECONDS = 5 * 60
MAX_INTERVAL_SECONDS = 24 * 3600
DEFAULT_INTERVAL = "30m"

#: profile -> the `lore sync` flags it stands for (shown to people, mapped to SyncOptions).
PROFILES: dict[str, tuple[str, ...]] = {
    "fast": ("--no-docs", "--no-embed"),
    "balanced": ("--no-embed",),
    "full": (),
}
PROFILE_HELP: dict[str, str] = {
    "fast": "issues + MRs",
    "balanced": "issues + MRs + search documents",
    "full": "issues + MRs + documents + embeddings",
}
DEFAULT_PROFILE = "balanced"

#: CLI spelling -> the value stored in the manifest and shown in output.
TOKEN_SOURCES: dict[str, str] = {"env-file": "env_file", "embedded": "embedded"}
DEFAULT_TOKEN_SOURCE = "env-file"

BACKEND_CHOICES: tuple[str, ...] = ("auto", "systemd", "launchd", "schtasks", "cron")

_INTERVAL_HINT = "Use minutes or hours between 5m and 24h, e.g. 15m, 30m, 1h, 2h"


def _bad_interval(message: str) -> LoreError:
    return LoreError(
        ErrorCode.USAGE_ERROR,
        message,
        suggestion=_INTERVAL_HINT,
        actions=["lore service install --interval 30m"],
    )


def parse_interval(text: str) -> int:
    """Parse ``15m`` / ``2h`` into seconds, between 5 minutes and 24 hours.

    Only minutes and hours are accepted: seconds would suggest a precision a scheduled
    sync does not have.
    """
    value = text.strip()
    if not value:
        raise _bad_interval("invalid interval '': it is empty")
    unit = value[-1]
    if unit not in ("m", "h"):
        raise _bad_interval(f"invalid interval {text!r}: it must end in m (minutes) or h (hours)")
    digits = value[:-1]
    # isdigit() alone accepts '²' and other Unicode digits; int() must parse it as ASCII.
    if not digits or not (digits.isascii() and digits.isdigit()):
        raise _bad_interval(
            f"invalid number in interval {text!r}: {digits!r} is not a whole number"
        )
    number = int(digits)
    if number == 0:
        raise _bad_interval(f"invalid interval {text!r}: it must be greater than 0")
    seconds = number * (60 if unit == "m" else 3600)
    if seconds < MIN_INTERVAL_SECONDS:
        raise _bad_interval(f"interval {text!r} is too short: the minimum is 5m (got {seconds}s)")
    if seconds > MAX_INTERVAL_SECONDS:
        raise _bad_interval(f"interval {text!r} is too long: the maximum is 24h (got {seconds}s)")
    return seconds


def format_interval(seconds: int) -> str:
    """The shortest ``Nh`` / ``Nm`` spelling of an interval (``5400`` -> ``90m``)."""
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise LoreError(
            ErrorCode.USAGE_ERROR,
            f"unknown profile {profile!r}",
            suggestion="Use one of: "
            + ", ".join(f"{name} ({PROFILE_HELP[name]})" for name in PROFILES),
            actions=["lore service install --profile balanced"],
        )
    return profile


def check_token_source(source: str) -> str:
    """Validate the CLI spelling and return the stored spelling (``env_file``/``embedded``)."""
    if source not in TOKEN_SOURCES:
        raise LoreError(
            ErrorCode.USAGE_ERROR,
            f"unknown token source {source!r}",
            suggestion="Use env-file (default: a 0600 file the scheduler reads) or embedded "
            "(the token is written into the scheduler's own file)",
            actions=["lore service install --token-source env-file"],
        )
    return TOKEN_SOURCES[source]


def check_backend(name: str) -> str:
    if name not in BACKEND_CHOICES:
        raise LoreError(
            ErrorCode.USAGE_ERROR,
            f"unknown backend {name!r}",
            suggestion="Use one of: " + ", ".join(BACKEND_CHOICES),
            actions=["lore service install --backend auto"],
        )
    return name


def profile_sync_flags(profile: str) -> tuple[str, ...]:
    """The `lore sync` flags a profile stands for (``fast`` -> ``--no-docs --no-embed``)."""
    return PROFILES[check_profile(profile)]
