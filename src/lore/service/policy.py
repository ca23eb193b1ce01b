"""The run policy: the scheduler state machine, error classification, backoff and the
circuit breaker. Pure functions over a :class:`SyncStatusFile`, a clock value and a
random number, so every rule is testable without processes or sleeps.

Every change of ``status.state`` goes through :func:`transition`, which enforces the
transition table; an illegal move raises SERVICE_CORRUPT_STATE (ERRATA 10).

The plan's table (Key Design Principles §6)::

    idle      -> running
    running   -> success | degraded | backoff | paused
    backoff   -> running | paused
    paused    -> half_open | running (via resume)
    half_open -> running | paused

How the rest of the plan maps onto it, each an explicit edge below:

- ``success``/``degraded`` -> ``running``: the next scheduled run.
- ``idle``/``success``/``degraded`` -> ``paused``: `service pause` (the plan's pause
  command works from any state; backoff -> paused is already in the table).
- ``paused -> running (via resume)`` is two steps: resume moves ``paused`` (or
  ``half_open``) to ``idle`` -- nothing pending, the next run proceeds -- and that run
  moves ``idle -> running``. Resume itself never runs a sync.
- ``paused -> paused``: pausing again updates the reason (``already_paused``).
- ``running -> running``: a run killed mid-way leaves ``running`` behind; the next run
  holds the pipeline lock, which proves the old one is dead, and supersedes it.

A run that finds its state changed by an admin command when it finishes (paused or
resumed mid-run) records its result in the history and leaves the state alone: that
is no transition at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lore.core.errors import PERMANENT_CODES, ErrorCode, LoreError
from lore.service.status import CurrentRun, StageRecord, SyncStatusFile

CORE_STAGES = ("issues", "mrs")
OPTIONAL_STAGES = ("docs", "embeddings")
BACKOFF_CAP_SECONDS = 4 * 3600
STALE_RUN_MS = 30 * 60 * 1000
MANUAL_PREFIX = "MANUAL"
CIRCUIT_BREAKER = "CIRCUIT_BREAKER"

PLAN_TRANSITIONS: dict[str, frozenset[str]] = {
    "idle": frozenset({"running"}),
    "running": frozenset({"success", "degraded", "backoff", "paused"}),
    "backoff": frozenset({"running", "paused"}),
    "paused": frozenset({"half_open", "idle"}),
    "half_open": frozenset({"running", "paused"}),
    "success": frozenset(),
    "degraded": frozenset(),
}
#: The edges the plan implies but its table leaves out (see the module docstring).
IMPLIED_TRANSITIONS: dict[str, frozenset[str]] = {
    "idle": frozenset({"paused"}),
    "running": frozenset({"running"}),
    "success": frozenset({"running", "paused"}),
    "degraded": frozenset({"running", "paused"}),
    "paused": frozenset({"paused"}),
    "half_open": frozenset({"idle"}),
    "backoff": frozenset(),
}
TRANSITIONS: dict[str, frozenset[str]] = {
    state: PLAN_TRANSITIONS[state] | IMPLIED_TRANSITIONS[state] for state in PLAN_TRANSITIONS
}

Rng = Callable[[], float]


def illegal(src: str, dst: str) -> LoreError:
    return LoreError(
        ErrorCode.SERVICE_CORRUPT_STATE,
        f"illegal scheduler transition {src} -> {dst}",
        suggestion="The status file is inconsistent. Run: lore service repair",
        actions=["lore service repair"],
        details={"from": src, "to": dst},
    )


def transition(status: SyncStatusFile, dst: str) -> None:
    """Move ``status`` to ``dst`` or raise SERVICE_CORRUPT_STATE if the table forbids it."""
    src = status.state
    if dst not in TRANSITIONS.get(src, frozenset()):
        raise illegal(src, dst)
    status.state = dst


# -- classification ------------------------------------------------------------------------

_PERMANENT_NAMES = {code.value for code in PERMANENT_CODES}
_PERMANENT_TEXT = (
    "401 Unauthorized",
    "TokenNotSet",
    "ConfigNotFound",
    "ConfigInvalid",
    "MigrationFailed",
)


def is_permanent_code(code: ErrorCode | str | None) -> bool:
    return code is not None and str(code) in _PERMANENT_NAMES


def is_permanent_stage_error(stage: StageRecord) -> bool:
    """By error code first; by message only for a stage that did not say its code."""
    if stage.error_code is not None:
        return is_permanent_code(stage.error_code)
    return any(marker in (stage.error or "") for marker in _PERMANENT_TEXT)


def classify_outcome(stages: list[StageRecord]) -> str:
    """``success`` | ``degraded`` (only optional stages failed, or a stage warned) |
    ``failed`` (a core stage)."""
    if any(s.stage in CORE_STAGES and not s.success for s in stages):
        return "failed"
    if all(s.success and not s.warning for s in stages):
        return "success"
    return "degraded"


def first_core_failure(stages: list[StageRecord]) -> StageRecord | None:
    return next((s for s in stages if s.stage in CORE_STAGES and not s.success), None)


def retry_delay_seconds(rng: Rng) -> float:
    """The in-run retry delay for a transient core failure: uniform in [1, 5] seconds."""
    return 1.0 + 4.0 * rng()


# -- backoff ------------------------------------------------------------------------------


def backoff_remaining(status: SyncStatusFile, now_ms: int) -> int | None:
    """Whole seconds left in the backoff window, or ``None`` if a run may proceed.

    Reads the persisted ``next_retry_at_ms``: no jitter is computed on the read path.
    Paused is checked separately, so a paused status has no backoff here.
    """
    if status.paused_reason is not None or status.consecutive_failures == 0:
        return None
    if status.next_retry_at_ms is None or now_ms >= status.next_retry_at_ms:
        return None
    return (status.next_retry_at_ms - now_ms) // 1000


def backoff_seconds(interval_seconds: int, consecutive_failures: int, jitter: float) -> int:
    """Full jitter in ``[interval, min(interval * 2^(n-1), 4h)]`` for the n-th failure."""
    exponent = min(max(consecutive_failures - 1, 0), 20)
    cap = min(interval_seconds * (1 << exponent), BACKOFF_CAP_SECONDS)
    span = max(cap - interval_seconds, 0)
    return interval_seconds + int(span * min(max(jitter, 0.0), 1.0))


def set_backoff(
    status: SyncStatusFile, interval_seconds: int, now_ms: int, rng: Rng, retry_after_ms: int | None
) -> None:
    """Compute and persist ``next_retry_at_ms`` once, at failure time.

    ``retry_after_ms`` is the server's hint as a duration from now (Retry-After,
    RateLimit-Reset); it is a floor: the later of the two times wins.
    """
    computed = now_ms + backoff_seconds(interval_seconds, status.consecutive_failures, rng()) * 1000
    hinted = now_ms + retry_after_ms if retry_after_ms is not None and retry_after_ms > 0 else None
    if hinted is not None and hinted > computed:
        status.next_retry_at_ms, status.backoff_reason = hinted, "server_hint"
    else:
        status.next_retry_at_ms, status.backoff_reason = computed, "computed"


# -- the gate before a run ----------------------------------------------------------------


@dataclass
class Gate:
    """What a run may do: ``run`` (maybe as a half-open probe), or skip and why."""

    action: str  # run | paused | backoff
    probe: bool = False
    remaining_seconds: int = 0
    cooldown_remaining_seconds: int | None = None


def cooldown_expired(status: SyncStatusFile, cooldown_seconds: int, now_ms: int) -> bool:
    paused_at = status.circuit_breaker_paused_at_ms
    return (
        status.is_circuit_breaker
        and paused_at is not None
        and now_ms >= paused_at + cooldown_seconds * 1000
    )


def gate(
    status: SyncStatusFile, cooldown_seconds: int, now_ms: int, *, ignore_backoff: bool = False
) -> Gate:
    """Paused first (half-open once the breaker's cooldown is over), then backoff.

    Moves ``paused -> half_open`` in ``status`` when the probe is allowed; the caller
    persists it together with the run's start.
    """
    if status.state == "half_open":
        return Gate("run", probe=True)
    if status.state == "paused" or status.paused_reason is not None:
        if cooldown_expired(status, cooldown_seconds, now_ms):
            transition(status, "half_open")
            return Gate("run", probe=True)
        remaining = None
        if status.is_circuit_breaker and status.circuit_breaker_paused_at_ms is not None:
            end = status.circuit_breaker_paused_at_ms + cooldown_seconds * 1000
            remaining = max((end - now_ms + 999) // 1000, 0)
        return Gate("paused", cooldown_remaining_seconds=remaining)
    if not ignore_backoff:
        remaining_s = backoff_remaining(status, now_ms)
        if remaining_s is not None:
            return Gate("backoff", remaining_seconds=remaining_s)
    return Gate("run")


def start_run(status: SyncStatusFile, now_ms: int, pid: int, probe: bool) -> None:
    """Mark a run as started (``current_run``). A half-open probe lifts the breaker's
    pause for its duration; :func:`finish_run` puts it back if the probe fails, and a
    probe that dies half-way leaves a count at the threshold, so the next failure trips
    the breaker again at once."""
    transition(status, "running")
    if probe:
        status.paused_reason = None
        status.circuit_breaker_paused_at_ms = None
    status.current_run = CurrentRun(started_at_ms=now_ms, pid=pid, probe=probe)


# -- applying a finished run ---------------------------------------------------------------


@dataclass
class Applied:
    """What :func:`finish_run` decided, for the run's output and log line."""

    action: str  # sync_completed | paused
    reason: str | None = None  # the pause's code: AUTH_FAILED, CIRCUIT_BREAKER, ...
    message: str | None = None
    recorded_only: bool = False


def pause_reason_code(reason: str | None) -> str | None:
    if reason is None:
        return None
    return reason.split(":", 1)[0].strip() or None


def pause_reason_text(reason: str | None) -> str | None:
    if reason is None:
        return None
    return reason.split(":", 1)[1].strip() if ":" in reason else reason


def finish_run(
    status: SyncStatusFile,
    *,
    outcome: str,
    core_failure: StageRecord | None,
    interval_seconds: int,
    max_transient_failures: int,
    now_ms: int,
    rng: Rng,
    pid: int,
) -> Applied:
    """Apply a finished run's outcome to ``status`` (counters, backoff, pause, breaker)."""
    probe = status.current_run is not None and status.current_run.probe
    if status.current_run is not None and status.current_run.pid == pid:
        status.current_run = None
    if status.state != "running":
        # An admin command (pause, resume) changed the state while this run was going:
        # the result goes into the history, the admin's decision stands.
        return Applied("sync_completed", recorded_only=True)
    if outcome in ("success", "degraded"):
        status.clear_paused()  # closes the breaker too (ERRATA 5)
        transition(status, outcome)
        return Applied("sync_completed")
    failure = core_failure or StageRecord(
        stage="issues",
        success=False,
        error="unknown error",
        error_code=ErrorCode.INTERNAL_ERROR.value,
    )
    code = failure.error_code or ErrorCode.INTERNAL_ERROR.value
    message = failure.error or "unknown error"
    status.last_error_code, status.last_error_message = code, message
    if is_permanent_stage_error(failure):
        # Permanent: pause for a person; no half-open, even after a probe (ERRATA 6).
        status.paused_reason = f"{code}: {message}"
        status.circuit_breaker_paused_at_ms = None
        status.next_retry_at_ms, status.backoff_reason = None, None
        transition(status, "paused")
        return Applied("paused", reason=code, message=message)
    status.consecutive_failures += 1
    if probe or status.consecutive_failures >= max_transient_failures:
        # A failed probe re-pauses with a fresh cooldown (ERRATA 6); the n-th failure trips.
        status.paused_reason = (
            f"{CIRCUIT_BREAKER}: {status.consecutive_failures} consecutive "
            f"transient failures (last: {code}: {message})"
        )
        status.circuit_breaker_paused_at_ms = now_ms
        status.next_retry_at_ms, status.backoff_reason = None, None
        transition(status, "paused")
        return Applied(
            "paused",
            reason=CIRCUIT_BREAKER,
            message=f"{status.consecutive_failures} consecutive transient failures "
            f"(last: {code}: {message})",
        )
    set_backoff(status, interval_seconds, now_ms, rng, failure.retry_after_ms)
    transition(status, "backoff")
    return Applied("sync_completed")


# -- admin mutations ------------------------------------------------------------------------


def pause(status: SyncStatusFile, reason: str) -> bool:
    """Pause with a manual reason; returns whether it was already paused.

    The stored reason starts with ``MANUAL:`` so it can never pass for the circuit
    breaker and half-open by itself (ERRATA 9).
    """
    already = status.state == "paused"
    if status.state == "half_open":
        already = True
    transition(status, "paused")
    status.paused_reason = f"{MANUAL_PREFIX}: {reason}"
    status.circuit_breaker_paused_at_ms = None
    return already


def resume(status: SyncStatusFile) -> bool:
    """Clear any pause (manual, permanent error or breaker); returns whether it was paused."""
    if status.state not in ("paused", "half_open") and status.paused_reason is None:
        return False
    transition(status, "idle")
    status.clear_paused()
    return True


# -- reading the state for display --------------------------------------------------------


def display_state(
    status: SyncStatusFile | None,
    cooldown_seconds: int,
    now_ms: int,
    pid_alive: Callable[[int], bool],
) -> str:
    """The scheduler state `service status` shows, including the derived ``half_open``
    (cooldown over, probe pending) and ``running_stale`` (the run's process is gone or it
    started more than 30 minutes ago)."""
    if status is None:
        return "idle"
    if status.state == "paused":
        return "half_open" if cooldown_expired(status, cooldown_seconds, now_ms) else "paused"
    if status.state == "half_open":
        return "half_open"
    if status.current_run is not None:
        run = status.current_run
        fresh = now_ms - run.started_at_ms < STALE_RUN_MS
        return "running" if fresh and pid_alive(run.pid) else "running_stale"
    return status.state


def invariant_violations(status: SyncStatusFile, max_transient_failures: int) -> list[str]:
    """Consistency rules between the state and the counters (empty when consistent)."""
    problems: list[str] = []
    state = status.state
    if state == "running" and status.current_run is None:
        problems.append("running without current_run")
    if (state == "paused") != (status.paused_reason is not None):
        problems.append("paused_reason set iff state is paused")
    if (status.circuit_breaker_paused_at_ms is not None) != status.is_circuit_breaker:
        problems.append("circuit_breaker_paused_at_ms set iff paused by the circuit breaker")
    if status.is_circuit_breaker and status.consecutive_failures < max_transient_failures:
        problems.append("circuit breaker tripped below the threshold")
    if state == "backoff" and not (
        0 < status.consecutive_failures < max_transient_failures
        and status.next_retry_at_ms is not None
    ):
        problems.append("backoff needs 0 < failures < threshold and next_retry_at_ms")
    if state in ("idle", "success", "degraded") and (
        status.consecutive_failures or status.next_retry_at_ms is not None
    ):
        problems.append(f"{state} with failures or a retry time left over")
    if status.next_retry_at_ms is not None and status.consecutive_failures == 0:
        problems.append("next_retry_at_ms without failures")
    if status.consecutive_failures < 0:
        problems.append("negative failure count")
    return problems
