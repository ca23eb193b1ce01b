"""The status file: `{data_dir}/sync-status-{id}.json`, one per service.

Written by `service run` (and the admin commands pause/resume/repair), read by
`service status`. Independent of the database on purpose: the service can report and
recover when the database is locked or broken. Version history:

- 1: the plan's shape.
- 2: adds ``state`` (the scheduler state of the transition table, persisted so the
  table is enforced on every write instead of re-guessed from counters),
  ``current_run.probe`` (a half-open probe is running) and ``backoff_reason``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lore.core.paths import service_status_path
from lore.service.versioned import FieldError, corrupt, read_versioned, write_versioned
from lore.service.versioned import field as get

CURRENT_VERSION = 2
RECENT_RUNS_KEPT = 10

STATES = ("idle", "running", "success", "degraded", "backoff", "paused", "half_open")


@dataclass
class StageRecord:
    stage: str
    success: bool
    items_updated: int = 0
    error: str | None = None
    error_code: str | None = None
    retry_after_ms: int | None = None
    retried: bool = False
    warning: str | None = None  # succeeded, but an enrichment failed (the run is degraded)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "stage": self.stage,
            "success": self.success,
            "items_updated": self.items_updated,
        }
        if self.error is not None:
            out["error"] = self.error
        if self.error_code is not None:
            out["error_code"] = self.error_code
        if self.retry_after_ms is not None:
            out["retry_after_ms"] = self.retry_after_ms
        if self.retried:
            out["retried"] = True
        if self.warning is not None:
            out["warning"] = self.warning
        return out

    @classmethod
    def from_dict(cls, raw: Any) -> StageRecord:
        if not isinstance(raw, dict):
            raise FieldError("a stage result is not an object")
        return cls(
            stage=get(raw, "stage", str),
            success=get(raw, "success", bool),
            items_updated=get(raw, "items_updated", int, 0),
            error=get(raw, "error", str, None),
            error_code=get(raw, "error_code", str, None),
            retry_after_ms=get(raw, "retry_after_ms", int, None),
            retried=get(raw, "retried", bool, False),
            warning=get(raw, "warning", str, None),
        )


@dataclass
class RunRecord:
    timestamp_iso: str
    timestamp_ms: int
    duration_seconds: float
    outcome: str  # success | degraded | failed
    stage_results: list[StageRecord] = field(default_factory=list)
    error_message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "timestamp_iso": self.timestamp_iso,
            "timestamp_ms": self.timestamp_ms,
            "duration_seconds": self.duration_seconds,
            "outcome": self.outcome,
        }
        if self.stage_results:
            out["stage_results"] = [s.to_dict() for s in self.stage_results]
        if self.error_message is not None:
            out["error_message"] = self.error_message
        return out

    def summary(self) -> RunRecord:
        """The record without per-stage detail, as kept in ``recent_runs``."""
        return RunRecord(
            self.timestamp_iso,
            self.timestamp_ms,
            self.duration_seconds,
            self.outcome,
            [],
            self.error_message,
        )

    @classmethod
    def from_dict(cls, raw: Any) -> RunRecord:
        if not isinstance(raw, dict):
            raise FieldError("a run record is not an object")
        outcome = get(raw, "outcome", str)
        if outcome not in ("success", "degraded", "failed"):
            raise FieldError(f"run outcome {outcome!r} is not success, degraded or failed")
        stages = get(raw, "stage_results", list, [])
        return cls(
            timestamp_iso=get(raw, "timestamp_iso", str),
            timestamp_ms=get(raw, "timestamp_ms", int),
            duration_seconds=get(raw, "duration_seconds", float),
            outcome=outcome,
            stage_results=[StageRecord.from_dict(s) for s in stages],
            error_message=get(raw, "error_message", str, None),
        )


@dataclass
class CurrentRun:
    started_at_ms: int
    pid: int
    probe: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"started_at_ms": self.started_at_ms, "pid": self.pid, "probe": self.probe}

    @classmethod
    def from_dict(cls, raw: Any) -> CurrentRun:
        if not isinstance(raw, dict):
            raise FieldError("field 'current_run' is not an object")
        return cls(
            started_at_ms=get(raw, "started_at_ms", int),
            pid=get(raw, "pid", int),
            probe=get(raw, "probe", bool, False),
        )


@dataclass
class SyncStatusFile:
    state: str = "idle"
    updated_at_iso: str = ""
    last_run: RunRecord | None = None
    recent_runs: list[RunRecord] = field(default_factory=list)
    consecutive_failures: int = 0
    next_retry_at_ms: int | None = None
    backoff_reason: str | None = None  # "computed" | "server_hint"
    paused_reason: str | None = None
    circuit_breaker_paused_at_ms: int | None = None
    last_error_code: str | None = None
    last_error_message: str | None = None
    current_run: CurrentRun | None = None
    schema_version: int = CURRENT_VERSION

    def record_run(self, run: RunRecord) -> None:
        """Make ``run`` the last run and push its summary onto ``recent_runs`` (newest first)."""
        self.last_run = run
        self.recent_runs.insert(0, run.summary())
        del self.recent_runs[RECENT_RUNS_KEPT:]

    def clear_paused(self) -> None:
        """Forget the pause, the breaker, the errors and the backoff (resume and close)."""
        self.paused_reason = None
        self.circuit_breaker_paused_at_ms = None
        self.last_error_code = None
        self.last_error_message = None
        self.next_retry_at_ms = None
        self.backoff_reason = None
        self.consecutive_failures = 0

    @property
    def is_circuit_breaker(self) -> bool:
        return self.paused_reason is not None and self.paused_reason.startswith("CIRCUIT_BREAKER")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schema_version": CURRENT_VERSION,
            "updated_at_iso": self.updated_at_iso,
            "state": self.state,
        }
        if self.last_run is not None:
            out["last_run"] = self.last_run.to_dict()
        out["recent_runs"] = [r.to_dict() for r in self.recent_runs]
        out["consecutive_failures"] = self.consecutive_failures
        optional = {
            "next_retry_at_ms": self.next_retry_at_ms,
            "backoff_reason": self.backoff_reason,
            "paused_reason": self.paused_reason,
            "circuit_breaker_paused_at_ms": self.circuit_breaker_paused_at_ms,
            "last_error_code": self.last_error_code,
            "last_error_message": self.last_error_message,
            "current_run": self.current_run.to_dict() if self.current_run else None,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> SyncStatusFile:
        state = get(raw, "state", str)
        if state not in STATES:
            raise FieldError(f"field 'state' is not a scheduler state: {state!r}")
        failures = get(raw, "consecutive_failures", int, 0)
        if failures < 0:
            raise FieldError("field 'consecutive_failures' must not be negative")
        last_run = raw.get("last_run")
        current = raw.get("current_run")
        return cls(
            schema_version=get(raw, "schema_version", int),
            updated_at_iso=get(raw, "updated_at_iso", str, ""),
            state=state,
            last_run=RunRecord.from_dict(last_run) if last_run is not None else None,
            recent_runs=[RunRecord.from_dict(r) for r in get(raw, "recent_runs", list, [])],
            consecutive_failures=failures,
            next_retry_at_ms=get(raw, "next_retry_at_ms", int, None),
            backoff_reason=get(raw, "backoff_reason", str, None),
            paused_reason=get(raw, "paused_reason", str, None),
            circuit_breaker_paused_at_ms=get(raw, "circuit_breaker_paused_at_ms", int, None),
            last_error_code=get(raw, "last_error_code", str, None),
            last_error_message=get(raw, "last_error_message", str, None),
            current_run=CurrentRun.from_dict(current) if current is not None else None,
        )


def _state_from_v1_fields(raw: dict[str, Any]) -> str:
    """The scheduler state a v1 file was in, read from the fields the plan persisted."""
    if raw.get("paused_reason"):
        return "paused"
    if raw.get("current_run"):
        return "running"
    failures = raw.get("consecutive_failures") or 0
    if isinstance(failures, int) and failures > 0 and raw.get("next_retry_at_ms") is not None:
        return "backoff"
    last = raw.get("last_run")
    outcome = last.get("outcome") if isinstance(last, dict) else None
    if outcome in ("success", "degraded"):
        return str(outcome)
    return "idle"


def _migrate_1_to_2(raw: dict[str, Any], path: Path) -> dict[str, Any]:
    out = dict(raw)
    out["state"] = _state_from_v1_fields(raw)
    if out["state"] != "backoff":
        # v1 could leave a stale retry time behind; v2 keeps it only while backing off.
        out["next_retry_at_ms"] = None if out["state"] != "paused" else raw.get("next_retry_at_ms")
    if out["state"] in ("idle", "success", "degraded"):
        out["consecutive_failures"] = 0
    if out.get("paused_reason") and not str(out["paused_reason"]).startswith("CIRCUIT_BREAKER"):
        out["circuit_breaker_paused_at_ms"] = None
    return out


MIGRATIONS = {1: _migrate_1_to_2}


def read_status(path: Path, *, persist_migration: bool = True) -> SyncStatusFile | None:
    """The status at ``path``; ``None`` if missing; SERVICE_CORRUPT_STATE if unreadable."""
    loaded = read_versioned(path, CURRENT_VERSION, MIGRATIONS)
    if loaded is None:
        return None
    raw, original_version = loaded
    try:
        status = SyncStatusFile.from_dict(raw)
    except FieldError as exc:
        raise corrupt(path, str(exc)) from None
    if original_version < CURRENT_VERSION and persist_migration:
        write_status(path, status)
    return status


def write_status(path: Path, status: SyncStatusFile, now_iso: str | None = None) -> None:
    """Atomically replace the status file (``updated_at_iso`` set to ``now_iso`` if given)."""
    if now_iso is not None:
        status.updated_at_iso = now_iso
    write_versioned(path, status.to_dict())


def status_path(service_id: str, data_dir: Path) -> Path:
    return service_status_path(service_id, data_dir)
