"""The run policy as pure functions: backoff, classification, the gate before a run,
applying outcomes, the breaker and half-open, and the transition table."""

from __future__ import annotations

import pytest

from lore.core.errors import ErrorCode, LoreError
from lore.service import policy
from lore.service.status import CurrentRun, StageRecord, SyncStatusFile

T0 = 100_000_000
MAX = 10
COOLDOWN = 1800


def backing_off(failures: int, next_retry: int | None) -> SyncStatusFile:
    return SyncStatusFile(
        state="backoff", consecutive_failures=failures, next_retry_at_ms=next_retry
    )


def const(value: float) -> policy.Rng:
    return lambda: value


# -- backoff ------------------------------------------------------------------------------------


def test_backoff_remaining_reads_the_persisted_time() -> None:
    assert policy.backoff_remaining(SyncStatusFile(state="success"), T0) is None
    assert policy.backoff_remaining(backing_off(1, None), T0) is None
    status = backing_off(1, T0 + 1_800_000)
    assert policy.backoff_remaining(status, T0 + 1000) == 1799
    assert policy.backoff_remaining(status, T0 + 2_000_000) is None  # expired
    assert policy.backoff_remaining(status, T0 + 1_800_000) is None  # exactly at the time
    status.paused_reason = "AUTH_FAILED: x"
    assert policy.backoff_remaining(status, T0) is None  # paused is checked separately


@pytest.mark.parametrize(
    ("failures", "jitter", "expected"),
    [
        (1, 0.0, 1800),
        (1, 1.0, 1800),
        (2, 0.0, 1800),
        (2, 1.0, 3600),
        (2, 0.5, 2700),
        (3, 1.0, 7200),
        (4, 1.0, 14400),
        (5, 1.0, 14400),
        (9, 1.0, 14400),
        (30, 1.0, 14400),
        (9, 0.0, 1800),
    ],
)
def test_backoff_is_full_jitter_between_interval_and_capped_exponential(
    failures: int, jitter: float, expected: int
) -> None:
    assert policy.backoff_seconds(1800, failures, jitter) == expected


def test_backoff_base_is_the_configured_interval() -> None:
    assert policy.backoff_seconds(300, 1, 0.5) < policy.backoff_seconds(3600, 1, 0.5)
    assert policy.backoff_seconds(300, 3, 1.0) == 1200
    # an interval above the 4 h cap backs off by the interval itself
    assert policy.backoff_seconds(86400, 5, 1.0) == 86400


def test_set_backoff_persists_next_retry_and_respects_the_server_hint() -> None:
    status = backing_off(1, None)
    policy.set_backoff(status, 1800, T0, const(0.0), None)
    assert status.next_retry_at_ms == T0 + 1_800_000 and status.backoff_reason == "computed"
    policy.set_backoff(status, 1800, T0, const(0.0), 3_600_000)  # Retry-After 1 h wins
    assert status.next_retry_at_ms == T0 + 3_600_000 and status.backoff_reason == "server_hint"
    policy.set_backoff(status, 1800, T0, const(0.0), 60_000)  # 1 min hint loses
    assert status.next_retry_at_ms == T0 + 1_800_000 and status.backoff_reason == "computed"


# -- classification -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    ["TOKEN_NOT_SET", "AUTH_FAILED", "CONFIG_NOT_FOUND", "CONFIG_INVALID", "MIGRATION_FAILED"],
)
def test_permanent_codes(code: str) -> None:
    assert policy.is_permanent_code(code)
    assert policy.is_permanent_stage_error(StageRecord("issues", False, error_code=code))


@pytest.mark.parametrize(
    "code",
    [
        "NETWORK_ERROR",
        "RATE_LIMITED",
        "DB_LOCKED",
        "DB_ERROR",
        "INTERNAL_ERROR",
        "NOT_FOUND",
        "EMBEDDING_UNAVAILABLE",
    ],
)
def test_transient_codes(code: str) -> None:
    assert not policy.is_permanent_stage_error(StageRecord("issues", False, error_code=code))


def test_classification_falls_back_to_the_message_only_without_a_code() -> None:
    assert policy.is_permanent_stage_error(StageRecord("mrs", False, error="401 Unauthorized"))
    assert not policy.is_permanent_stage_error(
        StageRecord("mrs", False, error="401 Unauthorized", error_code="NETWORK_ERROR")
    )
    assert not policy.is_permanent_stage_error(StageRecord("mrs", False, error="timeout"))


def test_outcome_is_stage_aware() -> None:
    ok = StageRecord("issues", True, 1)
    assert policy.classify_outcome([ok, StageRecord("mrs", True)]) == "success"
    assert (
        policy.classify_outcome([ok, StageRecord("mrs", True), StageRecord("embeddings", False)])
        == "degraded"
    )
    assert (
        policy.classify_outcome([ok, StageRecord("mrs", False), StageRecord("docs", False)])
        == "failed"
    )


def test_retry_delay_is_between_one_and_five_seconds() -> None:
    assert policy.retry_delay_seconds(const(0.0)) == 1.0
    assert policy.retry_delay_seconds(const(1.0)) == 5.0
    assert 1.0 <= policy.retry_delay_seconds(const(0.37)) <= 5.0


# -- the gate and finishing a run -----------------------------------------------------------------


def finish(
    status: SyncStatusFile,
    outcome: str,
    code: str | None = None,
    *,
    now: int = T0,
    jitter: float = 0.0,
    retry_after_ms: int | None = None,
) -> policy.Applied:
    failure = (
        StageRecord("issues", False, error="boom", error_code=code, retry_after_ms=retry_after_ms)
        if code
        else None
    )
    return policy.finish_run(
        status,
        outcome=outcome,
        core_failure=failure,
        interval_seconds=1800,
        max_transient_failures=MAX,
        now_ms=now,
        rng=const(jitter),
        pid=1,
    )


def started(status: SyncStatusFile, now: int = T0) -> SyncStatusFile:
    gate = policy.gate(status, COOLDOWN, now)
    assert gate.action == "run", gate
    policy.start_run(status, now, 1, gate.probe)
    return status


def test_success_and_degraded_reset_failures() -> None:
    status = started(backing_off(3, T0 - 1))
    assert finish(status, "degraded").action == "sync_completed"
    assert (
        status.state,
        status.consecutive_failures,
        status.next_retry_at_ms,
        status.current_run,
    ) == ("degraded", 0, None, None)


def test_transient_failure_backs_off_and_the_gate_skips() -> None:
    status = started(SyncStatusFile())
    finish(status, "failed", "NETWORK_ERROR", jitter=1.0)
    assert status.state == "backoff" and status.consecutive_failures == 1
    assert status.next_retry_at_ms == T0 + 1_800_000
    assert status.last_error_code == "NETWORK_ERROR"
    gate = policy.gate(status, COOLDOWN, T0 + 1000)
    assert (gate.action, gate.remaining_seconds) == ("backoff", 1799)
    assert policy.gate(status, COOLDOWN, T0 + 1000, ignore_backoff=True).action == "run"
    assert policy.gate(status, COOLDOWN, T0 + 1_800_000).action == "run"


def test_rate_limit_hint_sets_the_floor() -> None:
    status = started(SyncStatusFile())
    finish(status, "failed", "RATE_LIMITED", retry_after_ms=7_200_000)
    assert status.next_retry_at_ms == T0 + 7_200_000 and status.backoff_reason == "server_hint"


def test_permanent_failure_pauses_without_counting() -> None:
    status = started(backing_off(2, T0 - 1))
    applied = finish(status, "failed", "AUTH_FAILED")
    assert (applied.action, applied.reason) == ("paused", "AUTH_FAILED")
    assert status.state == "paused" and status.paused_reason == "AUTH_FAILED: boom"
    assert status.consecutive_failures == 2 and status.next_retry_at_ms is None
    assert policy.gate(status, COOLDOWN, T0 + 10 * 3_600_000).action == "paused"  # no half-open


def test_circuit_breaker_trips_at_ten_then_half_opens_after_the_cooldown() -> None:
    status = started(backing_off(9, T0 - 1))
    applied = finish(status, "failed", "NETWORK_ERROR")
    assert (applied.action, applied.reason) == ("paused", "CIRCUIT_BREAKER")
    assert status.paused_reason is not None and status.paused_reason.startswith(
        "CIRCUIT_BREAKER: 10 consecutive transient failures (last: NETWORK_ERROR: boom)"
    )
    assert status.circuit_breaker_paused_at_ms == T0 and status.next_retry_at_ms is None
    gate = policy.gate(status, COOLDOWN, T0 + 1_000_000)
    assert gate.action == "paused" and gate.cooldown_remaining_seconds == 800
    assert (
        policy.display_state(status, COOLDOWN, T0 + COOLDOWN * 1000, lambda _: True) == "half_open"
    )
    gate = policy.gate(status, COOLDOWN, T0 + COOLDOWN * 1000)
    assert (gate.action, gate.probe, status.state) == ("run", True, "half_open")


def test_failed_probe_repauses_with_a_fresh_cooldown() -> None:  # ERRATA 6
    status = started(backing_off(9, T0 - 1))
    finish(status, "failed", "NETWORK_ERROR")
    later = T0 + COOLDOWN * 1000 + 5
    started(status, later)
    assert status.current_run is not None and status.current_run.probe
    finish(status, "failed", "NETWORK_ERROR", now=later)
    assert status.state == "paused" and status.circuit_breaker_paused_at_ms == later
    assert status.consecutive_failures == 11
    assert policy.gate(status, COOLDOWN, later + 1000).action == "paused"


def test_permanently_failing_probe_pauses_as_permanent() -> None:  # ERRATA 6
    status = started(backing_off(9, T0 - 1))
    finish(status, "failed", "NETWORK_ERROR")
    started(status, T0 + COOLDOWN * 1000)
    finish(status, "failed", "AUTH_FAILED", now=T0 + COOLDOWN * 1000)
    assert status.paused_reason == "AUTH_FAILED: boom"
    assert status.circuit_breaker_paused_at_ms is None
    assert policy.gate(status, COOLDOWN, T0 + 100 * COOLDOWN * 1000).action == "paused"


def test_successful_probe_closes_the_breaker_completely() -> None:  # ERRATA 5
    status = started(backing_off(9, T0 - 1))
    finish(status, "failed", "NETWORK_ERROR")
    started(status, T0 + COOLDOWN * 1000)
    finish(status, "success")
    assert (
        status.state,
        status.paused_reason,
        status.circuit_breaker_paused_at_ms,
        status.consecutive_failures,
        status.last_error_code,
    ) == ("success", None, None, 0, None)


def test_manual_pause_never_half_opens() -> None:  # ERRATA 9
    status = SyncStatusFile()
    assert policy.pause(status, "CIRCUIT_BREAKER tricks") is False
    assert status.paused_reason == "MANUAL: CIRCUIT_BREAKER tricks"
    assert not status.is_circuit_breaker
    assert policy.gate(status, 0, T0 + 10**12).action == "paused"
    assert policy.pause(status, "again") is True
    assert policy.resume(status) is True and status.state == "idle"
    assert policy.resume(status) is False


def test_pause_during_a_run_is_kept_when_the_run_finishes() -> None:
    status = started(SyncStatusFile())
    policy.pause(status, "maintenance")
    applied = finish(status, "failed", "NETWORK_ERROR")
    assert applied.recorded_only
    assert status.state == "paused" and status.consecutive_failures == 0
    assert status.current_run is None


def test_a_crashed_run_is_superseded() -> None:
    status = SyncStatusFile(state="running", current_run=CurrentRun(T0 - 5, 999999))
    assert policy.display_state(status, COOLDOWN, T0, lambda _: False) == "running_stale"
    assert policy.display_state(status, COOLDOWN, T0, lambda _: True) == "running"
    assert (
        policy.display_state(status, COOLDOWN, T0 + policy.STALE_RUN_MS, lambda _: True)
        == "running_stale"
    )
    started(status)
    assert status.current_run == CurrentRun(T0, 1, False)


@pytest.mark.parametrize(
    ("src", "dst"),
    [
        ("idle", "success"),
        ("idle", "backoff"),
        ("backoff", "success"),
        ("success", "backoff"),
        ("paused", "running"),
        ("half_open", "success"),
        ("degraded", "idle"),
        ("running", "idle"),
    ],
)
def test_illegal_transitions_are_refused(src: str, dst: str) -> None:
    with pytest.raises(LoreError) as info:
        policy.transition(SyncStatusFile(state=src), dst)
    assert info.value.code is ErrorCode.SERVICE_CORRUPT_STATE
    assert f"{src} -> {dst}" in info.value.message
    assert "lore service repair" in str(info.value.suggestion)


def test_the_table_contains_the_plans_table() -> None:
    plan = {
        ("idle", "running"),
        ("running", "success"),
        ("running", "degraded"),
        ("running", "backoff"),
        ("running", "paused"),
        ("backoff", "running"),
        ("backoff", "paused"),
        ("paused", "half_open"),
        ("half_open", "running"),
        ("half_open", "paused"),
    }
    edges = {(s, d) for s, ds in policy.TRANSITIONS.items() for d in ds}
    assert plan <= edges
    # Resume is paused -> idle (then idle -> running); nothing jumps paused -> running.
    assert ("paused", "running") not in edges and ("paused", "idle") in edges
