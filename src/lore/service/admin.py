"""The admin mutations: pause, resume, repair. Each holds the service's admin lock
(``service-admin-{id}``) from reading the status file to writing it, so two of them
racing (a person pausing while a script resumes) are serialised and none is lost.
They never touch the OS scheduler.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lore.core.clock import Clock, iso_from_ms
from lore.core.errors import LoreError
from lore.core.paths import service_manifest_path
from lore.service import policy
from lore.service.manifest import read_manifest
from lore.service.status import SyncStatusFile, read_status, status_path, write_status
from lore.service.targets import admin_lock

DEFAULT_PAUSE_REASON = "Manually paused"


def pause_service(
    data_dir: Path, service_id: str, reason: str | None, clock: Clock
) -> dict[str, Any]:
    """Pause without touching the scheduler: the next run sees it and does nothing."""
    text = (reason or "").strip() or DEFAULT_PAUSE_REASON
    with admin_lock(data_dir, service_id):
        path = status_path(service_id, data_dir)
        status = read_status(path) or SyncStatusFile()
        already = policy.pause(status, text)
        write_status(path, status, iso_from_ms(clock.now_ms()))
    return {"service_id": service_id, "paused": True, "reason": text, "already_paused": already}


def resume_service(
    data_dir: Path, service_id: str | None, installed: bool, clock: Clock
) -> dict[str, Any]:
    """Clear a pause (manual, permanent error or circuit breaker) and the failure count."""
    base: dict[str, Any] = {
        "service_id": service_id,
        "installed": installed,
        "was_paused": False,
        "previous_reason": None,
        "previous_message": None,
        "consecutive_failures_cleared": 0,
    }
    if not installed or service_id is None:
        return {**base, "message": "Service is not installed"}
    with admin_lock(data_dir, service_id):
        path = status_path(service_id, data_dir)
        status = read_status(path)
        if status is None or not (
            status.state in ("paused", "half_open") or status.paused_reason is not None
        ):
            return {**base, "message": "Service is not paused"}
        previous = status.paused_reason
        cleared = status.consecutive_failures
        policy.resume(status)
        write_status(path, status, iso_from_ms(clock.now_ms()))
    return {
        **base,
        "was_paused": True,
        "previous_reason": policy.pause_reason_code(previous),
        "previous_message": policy.pause_reason_text(previous),
        "consecutive_failures_cleared": cleared,
        "message": "Next sync will run at the scheduled interval.",
    }


def _backup_name(path: Path, now_ms: int) -> Path:
    stamp = now_ms // 1000
    candidate = path.with_name(f"{path.name}.corrupt.{stamp}")
    n = 1
    while candidate.exists():  # two repairs in one second must not overwrite a backup
        candidate = path.with_name(f"{path.name}.corrupt.{stamp}-{n}")
        n += 1
    return candidate


def backup_corrupt(path: Path, now_ms: int) -> Path:
    """Rename a corrupt file aside as ``{name}.corrupt.{timestamp}``; never deletes."""
    target = _backup_name(path, now_ms)
    os.replace(path, target)
    return target


def repair_service(
    data_dir: Path, service_id: str, clock: Clock, max_transient_failures: int | None = None
) -> dict[str, Any]:
    """Back up a corrupt (or future-version, or inconsistent) manifest/status file.

    A corrupt status file is reinitialised to the default state; a corrupt manifest is
    moved aside and a reinstall advised. Nothing is ever deleted.
    """
    actions: list[dict[str, str]] = []
    needs_reinstall = False
    now_ms = clock.now_ms()
    with admin_lock(data_dir, service_id):
        manifest_file = service_manifest_path(service_id, data_dir)
        threshold = max_transient_failures or 10
        try:
            manifest = read_manifest(manifest_file)
            if manifest is not None:
                threshold = manifest.max_transient_failures
        except LoreError:
            backup = backup_corrupt(manifest_file, now_ms)
            actions.append(
                {"file": manifest_file.name, "action": "backed_up", "backup": backup.name}
            )
            needs_reinstall = True
        status_file = status_path(service_id, data_dir)
        problem: str | None = None
        try:
            status = read_status(status_file)
            if status is not None:
                violations = policy.invariant_violations(status, threshold)
                if violations:
                    problem = "inconsistent: " + "; ".join(violations)
        except LoreError as err:
            problem = err.message
        if problem is not None:
            backup = backup_corrupt(status_file, now_ms)
            write_status(status_file, SyncStatusFile(), iso_from_ms(now_ms))
            actions.append(
                {
                    "file": status_file.name,
                    "action": "reinitialized",
                    "backup": backup.name,
                    "reason": problem,
                }
            )
    return {
        "service_id": service_id,
        "repaired": bool(actions),
        "actions": actions,
        "needs_reinstall": needs_reinstall,
        "message": (
            "Manifest was corrupt: reinstall with: lore service install"
            if needs_reinstall
            else "Service repaired"
            if actions
            else "No repair needed"
        ),
    }
