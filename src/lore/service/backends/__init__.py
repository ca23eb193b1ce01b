"""Scheduler backends behind one interface (:class:`~lore.service.backends.base.Backend`):
systemd user units, launchd agents, Windows Task Scheduler and cron.

Imported lazily by name so a command pays only for the backend it uses.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING

from lore.core.errors import ErrorCode, LoreError

if TYPE_CHECKING:
    from lore.service.backends.base import Backend

_CLASSES = {
    "systemd": "lore.service.backends.systemd:SystemdBackend",
    "launchd": "lore.service.backends.launchd:LaunchdBackend",
    "schtasks": "lore.service.backends.schtasks:SchtasksBackend",
    "cron": "lore.service.backends.cron:CronBackend",
}
NAMES: tuple[str, ...] = tuple(_CLASSES)


def get_backend(name: str) -> Backend:
    """The backend called ``name`` (as stored in a manifest's ``platform``)."""
    target = _CLASSES.get(name)
    if target is None:
        raise LoreError(
            ErrorCode.SERVICE_ERROR,
            f"unknown scheduler backend {name!r}",
            suggestion="Use one of: " + ", ".join(NAMES) + "; or reinstall: lore service install",
            actions=["lore service install"],
        )
    module_name, attr = target.split(":")
    backend: Backend = getattr(importlib.import_module(module_name), attr)()
    return backend


def systemd_user_manager_available() -> bool:
    from lore.service.runner import run_command, which

    if not which("systemctl"):
        return False
    return run_command(["systemctl", "--user", "show-environment"], timeout_seconds=10).ok


def detect_backend_name() -> str:
    """The scheduler of this machine: launchd on macOS, schtasks on Windows; on Linux
    systemd when a user manager answers, else cron when crontab exists."""
    if sys.platform == "darwin":
        return "launchd"
    if sys.platform == "win32":
        return "schtasks"
    if systemd_user_manager_available():
        return "systemd"
    from lore.service.runner import which

    return "cron" if which("crontab") else "systemd"


def choose_backend(requested: str = "auto") -> Backend:
    return get_backend(detect_backend_name() if requested == "auto" else requested)
