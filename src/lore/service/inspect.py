"""`service list` and `service status`: read the manifest and status file, ask the
scheduler what it thinks, and say where they disagree (drift).

Drift has three levels: *platform* (the manifest says installed, the scheduler has
nothing loaded), *spec* (the files on disk no longer hash to the manifest's
``spec_hash``: someone edited them) and *command* (the command the files run is not the
manifest's ``sync_command``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from lore.core.clock import Clock, iso_from_ms
from lore.core.errors import LoreError
from lore.core.paths import service_manifest_path
from lore.service.backends import get_backend
from lore.service.backends.base import Backend, spec_hash
from lore.service.identity import installed_service_ids
from lore.service.manifest import ServiceManifest, load_manifest
from lore.service.policy import (
    cooldown_expired,
    display_state,
    pause_reason_code,
    pause_reason_text,
)
from lore.service.status import SyncStatusFile, read_status, status_path

RECENT_SHOWN = 5


def drift_of(
    manifest: ServiceManifest, backend: Backend | None = None, state: str | None = None
) -> dict[str, bool]:
    """Platform, spec and command drift of an installed service."""
    backend = backend or get_backend(manifest.platform)
    state = state if state is not None else backend.state(manifest.service_id)
    contents: list[tuple[str, str]] = []
    spec_missing = False
    for location in manifest.service_files:
        text = backend.read_artifact(location)
        if text is None:
            spec_missing = True
            continue
        contents.append((location, text))
    spec_drift = spec_missing or spec_hash(contents) != manifest.spec_hash
    command = backend.installed_command(manifest.service_id, manifest.service_files)
    return {
        "platform_drift": state == "not_loaded",
        "spec_drift": spec_drift,
        "command_drift": command != manifest.sync_command,
    }


def list_services(data_dir: Path) -> dict[str, Any]:
    """Every installed service with its scheduler state and whether anything drifted."""
    services: list[dict[str, Any]] = []
    unreadable: list[dict[str, str]] = []
    for sid in installed_service_ids(data_dir):
        try:
            manifest = load_manifest(sid, data_dir)
        except LoreError as err:
            unreadable.append(
                {
                    "service_id": sid,
                    "path": str(service_manifest_path(sid, data_dir)),
                    "error": err.message,
                }
            )
            continue
        if manifest is None:  # removed while we were listing
            continue
        backend = get_backend(manifest.platform)
        state = backend.state(sid)
        drift = drift_of(manifest, backend, state)
        services.append(
            {
                "service_id": sid,
                "platform": manifest.platform,
                "interval_seconds": manifest.interval_seconds,
                "profile": manifest.profile,
                "installed_at_iso": manifest.installed_at_iso,
                "platform_state": state,
                "drift": any(drift.values()),
            }
        )
    return {"services": services, "unreadable": unreadable}


def _run_summary(run: Any) -> dict[str, Any]:
    out = {
        "timestamp_iso": run.timestamp_iso,
        "outcome": run.outcome,
        "duration_seconds": run.duration_seconds,
    }
    if run.error_message is not None:
        out["error_message"] = run.error_message
    return out


def _backoff_view(
    status: SyncStatusFile, state: str, manifest: ServiceManifest, now_ms: int
) -> dict[str, Any] | None:
    if state == "backoff" and status.next_retry_at_ms is not None:
        return {
            "consecutive_failures": status.consecutive_failures,
            "next_retry_iso": iso_from_ms(status.next_retry_at_ms),
            "remaining_seconds": max((status.next_retry_at_ms - now_ms) // 1000, 0),
            "reason": status.backoff_reason or "computed",
        }
    if state == "half_open":
        return {
            "consecutive_failures": status.consecutive_failures,
            "circuit_breaker_cooldown_expired": True,
            "message": "Circuit breaker cooldown expired. Next run will be a probe attempt.",
        }
    if state == "paused" and status.is_circuit_breaker and status.circuit_breaker_paused_at_ms:
        end = status.circuit_breaker_paused_at_ms + manifest.circuit_breaker_cooldown_seconds * 1000
        return {
            "consecutive_failures": status.consecutive_failures,
            "circuit_breaker_cooldown_expired": cooldown_expired(
                status, manifest.circuit_breaker_cooldown_seconds, now_ms
            ),
            "cooldown_remaining_seconds": max((end - now_ms + 999) // 1000, 0),
            "message": "Circuit breaker open; the next run after the cooldown is a probe.",
        }
    return None


def service_status(
    data_dir: Path,
    service_id: str | None,
    installed: bool,
    clock: Clock,
    pid_alive: Callable[[int], bool],
    platform_hint: Callable[[], str],
) -> dict[str, Any]:
    """The combined view `service status` prints (both languages render this dict)."""
    if not installed or service_id is None:
        return {
            "installed": False,
            "service_id": service_id,
            "platform": platform_hint(),
            "interval_seconds": None,
            "profile": None,
            "service_state": None,
            "scheduler_state": "not_installed",
            "last_sync": None,
            "recent_runs": [],
            "backoff": None,
            "paused_reason": None,
            "paused_code": None,
            "paused_message": None,
            "current_run": None,
            "next_run_iso": None,
            "drift": None,
        }
    manifest = load_manifest(service_id, data_dir)
    if manifest is None:  # uninstalled between resolving and reading
        return service_status(data_dir, service_id, False, clock, pid_alive, platform_hint)
    status = read_status(status_path(service_id, data_dir))
    now_ms = clock.now_ms()
    backend = get_backend(manifest.platform)
    service_state = backend.state(service_id)
    drift = drift_of(manifest, backend, service_state)
    state = display_state(status, manifest.circuit_breaker_cooldown_seconds, now_ms, pid_alive)
    last = status.last_run if status else None
    last_sync = None
    if last is not None and status is not None:
        last_sync = {
            "timestamp_iso": last.timestamp_iso,
            "duration_seconds": last.duration_seconds,
            "outcome": last.outcome,
            "stage_results": [s.to_dict() for s in last.stage_results],
            "consecutive_failures": status.consecutive_failures,
            "error_message": last.error_message,
        }
    current = None
    if status is not None and status.current_run is not None:
        run = status.current_run
        current = {
            "pid": run.pid,
            "started_at_iso": iso_from_ms(run.started_at_ms),
            "probe": run.probe,
            "stale": state == "running_stale",
        }
    next_ms = backend.next_run_ms(service_id, manifest.interval_seconds, now_ms)
    return {
        "installed": True,
        "service_id": service_id,
        "platform": manifest.platform,
        "interval_seconds": manifest.interval_seconds,
        "profile": manifest.profile,
        "service_state": service_state,
        "scheduler_state": state,
        "last_sync": last_sync,
        "recent_runs": [_run_summary(r) for r in (status.recent_runs if status else [])][
            :RECENT_SHOWN
        ],
        "backoff": _backoff_view(status, state, manifest, now_ms) if status else None,
        "paused_reason": status.paused_reason if status else None,
        "paused_code": pause_reason_code(status.paused_reason) if status else None,
        "paused_message": pause_reason_text(status.paused_reason) if status else None,
        "current_run": current,
        "next_run_iso": iso_from_ms(next_ms) if next_ms is not None else None,
        "drift": drift,
    }
