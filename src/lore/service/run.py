"""`service run` (what the scheduler starts) and `service trigger` (the same, on demand).

The order is the plan's: read the manifest and status; paused (half-open once the
breaker's cooldown is over) and backoff are decided from the files alone, before the
pipeline lock and before anything heavy is imported; then the lock (skip with
``reason: locked`` when another sync holds it), ``current_run`` written, the stages run
through :func:`execute_sync` (the service's one call into the sync pipeline), one
in-run retry of a transient core failure after a 1-5 s jittered delay, and the outcome
applied by :mod:`lore.service.policy`.

The status file is re-read just before the final write so that a pause or resume
made while the run was going is kept, not overwritten.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lore.core.clock import Clock, iso_from_ms
from lore.core.errors import ErrorCode, LoreError
from lore.service import policy
from lore.service.manifest import ServiceManifest, load_manifest
from lore.service.status import (
    RunRecord,
    StageRecord,
    SyncStatusFile,
    read_status,
    status_path,
    write_status,
)

if TYPE_CHECKING:
    import logging

Sleep = Callable[[float], None]


def _random() -> float:
    import random  # only a run that fails needs randomness; skips stay light

    return random.random()


@dataclass
class RunDeps:
    """The run's dependencies on the world: time, randomness, sleeping, this pid."""

    clock: Clock
    rng: Callable[[], float] = _random
    sleep: Sleep = time.sleep
    pid: int = field(default_factory=os.getpid)


def deps_from_env(clock: Clock) -> RunDeps:
    """Production dependencies, with the test hooks honoured only when
    ``LORE_TEST_HOOKS=1``: ``LORE_TEST_JITTER`` pins the random number and
    ``LORE_TEST_NO_SLEEP=1`` makes the in-run retry delay instant."""
    deps = RunDeps(clock=clock)
    if os.environ.get("LORE_TEST_HOOKS") == "1":
        jitter = os.environ.get("LORE_TEST_JITTER")
        if jitter is not None:
            value = float(jitter)
            deps.rng = lambda: value
        if os.environ.get("LORE_TEST_NO_SLEEP") == "1":
            deps.sleep = lambda _seconds: None
    return deps


# -- the one call into the sync pipeline -----------------------------------------------------


def _failed_core(err: LoreError) -> list[StageRecord]:
    return [
        StageRecord(
            stage=stage,
            success=False,
            error=err.message,
            error_code=err.code.value,
            retry_after_ms=err.retry_after_ms,
        )
        for stage in policy.CORE_STAGES
    ]


def execute_sync(
    config_file: Path, data_dir: Path, profile: str, logger: logging.Logger | None = None
) -> list[StageRecord]:
    """Run the sync pipeline once with the profile's stages; never raises.

    A setup failure (no config, no token, migration failed) becomes failed core-stage
    results carrying its error code, so the policy can classify it like any other.
    """
    from lore.service.options import PROFILES

    flags = PROFILES[profile]
    try:
        from lore.core.config import load
        from lore.sync.pipeline import run_pipeline
        from lore.sync.types import SyncOptions

        config = load(config_file)
        config.token()
        options = SyncOptions(docs="--no-docs" not in flags, embed="--no-embed" not in flags)
        report = run_pipeline(config, data_dir, options)
    except LoreError as err:
        return _failed_core(err)
    except Exception as exc:  # a bug must still leave a classified, recorded failure
        if logger is not None:
            logger.exception("sync pipeline crashed")
        return _failed_core(
            LoreError(ErrorCode.INTERNAL_ERROR, f"unexpected {type(exc).__name__}: {exc}")
        )
    return [
        StageRecord(
            stage=s.stage,
            success=s.success,
            items_updated=s.items_updated,
            error=s.error,
            error_code=s.error_code,
            retry_after_ms=s.retry_after_ms,
            warning=s.warning,
        )
        for s in report.stages
        if not s.skipped
    ]


SyncFn = Callable[[], list[StageRecord]]


def run_with_retry(
    sync: SyncFn, deps: RunDeps, logger: logging.Logger | None = None
) -> tuple[list[StageRecord], dict[str, Any] | None]:
    """Run once; on a transient core failure wait 1-5 s (jittered) and run once more.

    Permanent failures are never retried. The pipeline is re-run whole (its stages are
    incremental, so what already succeeded is cheap); a core stage that failed the first
    time and succeeded the second is marked ``retried``.
    """
    stages = sync()
    failure = policy.first_core_failure(stages)
    if failure is None or policy.is_permanent_stage_error(failure):
        return stages, None
    delay = policy.retry_delay_seconds(deps.rng)
    if logger is not None:
        logger.warning(
            "core stage %s failed (%s: %s); retrying once in %.1fs",
            failure.stage,
            failure.error_code,
            failure.error,
            delay,
        )
    deps.sleep(delay)
    first_failed = {s.stage for s in stages if s.stage in policy.CORE_STAGES and not s.success}
    second = sync()
    for stage in second:
        if stage.stage in first_failed:
            stage.retried = True
    recovered = policy.first_core_failure(second) is None
    return second, {
        "stage": failure.stage,
        "delay_seconds": round(delay, 3),
        "first_error_code": failure.error_code,
        "recovered": recovered,
    }


# -- the run ----------------------------------------------------------------------------------


def _read_status_for_run(path: Path, now_ms: int, logger: logging.Logger) -> SyncStatusFile:
    """The status to run from. A corrupt file is backed up (never deleted) and a fresh
    one started, so a broken file cannot stop the schedule; a file from a newer lore is
    left alone and the run refused (SERVICE_CORRUPT_STATE)."""
    try:
        return read_status(path) or SyncStatusFile()
    except LoreError as err:
        if "newer lore" in err.message:
            raise
        from lore.service.admin import backup_corrupt

        try:
            backup = backup_corrupt(path, now_ms)
            logger.warning(
                "corrupt status file moved to %s; starting fresh (%s)", backup.name, err.message
            )
        except OSError as exc:
            logger.warning(
                "corrupt status file could not be moved aside (%s): %s", exc, err.message
            )
        return SyncStatusFile()


def _write(path: Path, status: SyncStatusFile, now_ms: int, logger: logging.Logger) -> None:
    try:
        write_status(path, status, iso_from_ms(now_ms))
    except OSError as exc:  # recording the result must never fail the run itself
        logger.warning("could not write the status file %s: %s", path, exc)


def _skip_paused(
    manifest: ServiceManifest, status: SyncStatusFile, gate: policy.Gate
) -> dict[str, Any]:
    code = policy.pause_reason_code(status.paused_reason)
    if status.is_circuit_breaker:
        suggestion = (
            f"Waiting for the circuit breaker cooldown "
            f"({gate.cooldown_remaining_seconds}s left); or run: lore service resume"
        )
    elif code == policy.MANUAL_PREFIX:
        suggestion = "Paused by hand; run: lore service resume"
    else:
        suggestion = "Fix the cause, then run: lore service resume"
    out: dict[str, Any] = {
        "action": "paused",
        "service_id": manifest.service_id,
        "reason": code,
        "message": policy.pause_reason_text(status.paused_reason),
        "suggestion": suggestion,
        "consecutive_failures": status.consecutive_failures,
    }
    if gate.cooldown_remaining_seconds is not None:
        out["cooldown_remaining_seconds"] = gate.cooldown_remaining_seconds
    return out


def _skip_backoff(
    manifest: ServiceManifest, status: SyncStatusFile, gate: policy.Gate
) -> dict[str, Any]:
    assert status.next_retry_at_ms is not None
    return {
        "action": "skipped",
        "service_id": manifest.service_id,
        "reason": "backoff",
        "consecutive_failures": status.consecutive_failures,
        "next_retry_iso": iso_from_ms(status.next_retry_at_ms),
        "remaining_seconds": gate.remaining_seconds,
    }


def _gate_result(
    manifest: ServiceManifest, status: SyncStatusFile, gate: policy.Gate, logger: logging.Logger
) -> dict[str, Any] | None:
    if gate.action == "paused":
        logger.info("skipped: paused (%s)", status.paused_reason)
        return _skip_paused(manifest, status, gate)
    if gate.action == "backoff":
        logger.info(
            "skipped: backoff, %ss left after %s consecutive failures",
            gate.remaining_seconds,
            status.consecutive_failures,
        )
        return _skip_backoff(manifest, status, gate)
    return None


def load_token_from_env_file(manifest: ServiceManifest, data_dir: Path) -> str | None:
    """Put the env file's token into this process's environment (the env file is the
    canonical source in env-file mode; a shell running `trigger` may not have it)."""
    from lore.core.paths import service_env_path
    from lore.service.tokens import read_env_file

    if manifest.token_source != "env_file":
        return os.environ.get(manifest.token_env_var) or None
    token = read_env_file(service_env_path(manifest.service_id, data_dir), manifest.token_env_var)
    if token:
        os.environ[manifest.token_env_var] = token
        return token
    return os.environ.get(manifest.token_env_var) or None


def require_manifest(service_id: str, data_dir: Path) -> ServiceManifest:
    manifest = load_manifest(service_id, data_dir)
    if manifest is None:
        raise LoreError(
            ErrorCode.SERVICE_ERROR,
            f"service manifest not found for service id {service_id!r}; is the service installed?",
            suggestion="Check with: lore service list; reinstall with: lore service install",
            actions=["lore service list", "lore service install"],
        )
    return manifest


def run_service(
    service_id: str,
    data_dir: Path,
    deps: RunDeps,
    *,
    ignore_backoff: bool = False,
    sync: SyncFn | None = None,
    config_file: Path | None = None,
) -> dict[str, Any]:
    """One scheduled attempt under the service policy; returns the robot ``data``."""
    from lore.service.logs import close_logger, service_logger

    manifest = require_manifest(service_id, data_dir)
    token = load_token_from_env_file(manifest, data_dir)
    logger = service_logger(service_id, data_dir, [token] if token else [])
    try:
        return _run(manifest, data_dir, deps, logger, ignore_backoff, sync, config_file)
    except LoreError as err:
        logger.error("run refused: %s: %s", err.code.value, err.message)
        raise
    finally:
        close_logger(logger)


def _run(
    manifest: ServiceManifest,
    data_dir: Path,
    deps: RunDeps,
    logger: logging.Logger,
    ignore_backoff: bool,
    sync: SyncFn | None,
    config_file: Path | None,
) -> dict[str, Any]:
    path = status_path(manifest.service_id, data_dir)
    now_ms = deps.clock.now_ms()
    status = _read_status_for_run(path, now_ms, logger)
    cooldown = manifest.circuit_breaker_cooldown_seconds
    skipped = _gate_result(
        manifest,
        status,
        policy.gate(status, cooldown, now_ms, ignore_backoff=ignore_backoff),
        logger,
    )
    if skipped is not None:
        return skipped

    from lore.core.locks import PIPELINE_LOCK, LockHeld, NamedLock

    lock = NamedLock(data_dir, PIPELINE_LOCK)
    try:
        lock.acquire(0.0, command=f"lore service run --service-id {manifest.service_id}")
    except LockHeld as held:
        logger.info("skipped: another sync holds the pipeline lock (%s)", held.holder)
        holder = held.holder or None
        return {
            "action": "skipped",
            "service_id": manifest.service_id,
            "reason": "locked",
            "holder": {k: holder.get(k) for k in ("pid", "started_at", "command")}
            if holder
            else None,
        }
    try:
        return _locked_run(manifest, data_dir, deps, logger, ignore_backoff, sync, config_file)
    finally:
        lock.release()


def _locked_run(
    manifest: ServiceManifest,
    data_dir: Path,
    deps: RunDeps,
    logger: logging.Logger,
    ignore_backoff: bool,
    sync: SyncFn | None,
    config_file: Path | None,
) -> dict[str, Any]:
    from lore.core.paths import config_path, service_log_path
    from lore.service.logs import rotate_if_needed

    path = status_path(manifest.service_id, data_dir)
    # Decide again under the lock: a run that just finished may have changed the picture.
    now_ms = deps.clock.now_ms()
    status = _read_status_for_run(path, now_ms, logger)
    gate = policy.gate(
        status, manifest.circuit_breaker_cooldown_seconds, now_ms, ignore_backoff=ignore_backoff
    )
    skipped = _gate_result(manifest, status, gate, logger)
    if skipped is not None:
        return skipped
    if status.current_run is not None:
        logger.warning(
            "previous run (pid %s, started %s) did not finish; superseding it",
            status.current_run.pid,
            iso_from_ms(status.current_run.started_at_ms),
        )
    policy.start_run(status, now_ms, deps.pid, gate.probe)
    _write(path, status, now_ms, logger)
    rotate_if_needed(service_log_path(manifest.service_id, "stdout", data_dir))
    if gate.probe:
        logger.info("circuit breaker half-open: probe run")

    started = time.perf_counter()
    cfg = config_file or (Path(manifest.config_path) if manifest.config_path else config_path())
    run_sync = sync or (lambda: execute_sync(cfg, data_dir, manifest.profile, logger))
    stages, retry = run_with_retry(run_sync, deps, logger)
    duration = round(time.perf_counter() - started, 3)
    outcome = policy.classify_outcome(stages)
    failure = policy.first_core_failure(stages)
    record = RunRecord(
        timestamp_iso=iso_from_ms(now_ms),
        timestamp_ms=now_ms,
        duration_seconds=duration,
        outcome=outcome,
        stage_results=stages,
        error_message=(failure.error if failure else None) if outcome == "failed" else None,
    )
    end_ms = deps.clock.now_ms()
    # Re-read: an admin command may have paused or resumed while the stages ran.
    try:
        latest = read_status(path) or status
    except LoreError:
        latest = status
    applied = policy.finish_run(
        latest,
        outcome=outcome,
        core_failure=failure,
        interval_seconds=manifest.interval_seconds,
        max_transient_failures=manifest.max_transient_failures,
        now_ms=end_ms,
        rng=deps.rng,
        pid=deps.pid,
    )
    latest.record_run(record)
    _write(path, latest, end_ms, logger)

    logger.info(
        "run finished: outcome=%s duration=%.1fs state=%s failures=%s%s",
        outcome,
        duration,
        latest.state,
        latest.consecutive_failures,
        f" error={failure.error_code}: {failure.error}" if failure else "",
    )
    data: dict[str, Any] = {
        "action": applied.action,
        "service_id": manifest.service_id,
        "outcome": outcome,
        "profile": manifest.profile,
        "duration_seconds": duration,
        "stage_results": [s.to_dict() for s in stages],
        "consecutive_failures": latest.consecutive_failures,
        "scheduler_state": latest.state,
        "probe": gate.probe,
        "in_run_retry": retry,
        "next_retry_iso": iso_from_ms(latest.next_retry_at_ms)
        if latest.state == "backoff" and latest.next_retry_at_ms is not None
        else None,
    }
    if applied.action == "paused":
        data["reason"] = applied.reason
        data["message"] = applied.message
        data["suggestion"] = (
            "Check network/GitLab availability, then run: lore service resume"
            if applied.reason == policy.CIRCUIT_BREAKER
            else "Fix the cause (e.g. rotate the token), then run: lore service resume"
        )
    return data
