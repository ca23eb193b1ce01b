"""Which service a command acts on, and the admin lock that serialises changes to it.

Resolution (every command with ``--service``):

1. ``--service`` names an installed service by id (or by a name that sanitises to one);
   an unknown one is NOT_FOUND with the installed ids listed.
2. Without it: the only installed service; or, when several are installed, the one
   whose identity matches the current project (config + workspace). Several and none
   (or more than one) matching is AMBIGUOUS, listing them and `lore service list`.
3. Nothing installed: the command reports "not installed" for the current project's
   derived id (or no id at all when there is no usable config).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from lore.core.errors import ErrorCode, LoreError
from lore.core.paths import service_status_path
from lore.service.identity import (
    ProjectIdentity,
    ambiguous,
    installed_service_ids,
    not_found,
    sanitize_service_name,
)

ADMIN_LOCK_WAIT_SECONDS = 15.0


@dataclass
class Target:
    service_id: str | None  # None: nothing installed and no config to derive an id from
    installed: bool
    installed_ids: list[str]


def resolve(
    data_dir: Path,
    selector: str | None,
    identity: Callable[[], ProjectIdentity | None],
    *,
    accept_status_only: bool = False,
) -> Target:
    """Resolve ``--service`` (or its absence) to one service; see the module docstring."""
    installed = installed_service_ids(data_dir)
    if selector is not None:
        for candidate in _selector_candidates(selector):
            if candidate in installed:
                return Target(candidate, True, installed)
            if accept_status_only and service_status_path(candidate, data_dir).exists():
                return Target(candidate, False, installed)
        raise not_found(selector, installed)
    if len(installed) == 1:
        return Target(installed[0], True, installed)
    ident = identity()
    if not installed:
        return Target(ident.identity_hash if ident else None, False, installed)
    if ident is None:
        raise ambiguous(installed, "there is no usable config to tell which one is meant")
    if ident.identity_hash in installed:
        return Target(ident.identity_hash, True, installed)
    matches = [sid for sid in installed if _identity_of(data_dir, sid) == ident.identity_hash]
    if len(matches) == 1:
        return Target(matches[0], True, installed)
    if matches:
        raise ambiguous(matches, "more than one of them belongs to the current project")
    raise ambiguous(installed, "none of them belongs to the current project")


def _selector_candidates(selector: str) -> list[str]:
    out = [selector]
    with contextlib.suppress(LoreError):
        sanitized = sanitize_service_name(selector)
        if sanitized != selector:
            out.append(sanitized)
    return [c for c in out if _valid_id(c)]


def _valid_id(candidate: str) -> bool:
    import re

    return re.fullmatch(r"[a-z0-9-]{1,32}", candidate) is not None


def _identity_of(data_dir: Path, service_id: str) -> str | None:
    from lore.service.manifest import load_manifest

    try:
        manifest = load_manifest(service_id, data_dir)
    except LoreError:
        return None
    return manifest.identity_hash if manifest else None


def require_installed(target: Target) -> str:
    """The target's id, or NOT_FOUND saying nothing is installed for this project."""
    if target.installed and target.service_id is not None:
        return target.service_id
    what = f"service {target.service_id}" if target.service_id else "a service"
    raise LoreError(
        ErrorCode.NOT_FOUND,
        f"{what} is not installed"
        + (f" (installed: {', '.join(target.installed_ids)})" if target.installed_ids else ""),
        suggestion="Install it with: lore service install",
        actions=["lore service install", "lore service list"],
    )


@contextlib.contextmanager
def admin_lock(
    data_dir: Path, service_id: str, wait_seconds: float = ADMIN_LOCK_WAIT_SECONDS
) -> Iterator[None]:
    """Hold ``service-admin-{id}`` while reading and writing this service's files."""
    from lore.core.locks import LockHeld, NamedLock

    lock = NamedLock(data_dir, f"service-admin-{service_id}")
    try:
        lock.acquire(wait_seconds, command=f"lore service (admin {service_id})")
    except LockHeld as held:
        holder = held.holder or {}
        who = f"pid {holder.get('pid')}" if holder else "another process"
        raise LoreError(
            ErrorCode.SERVICE_ERROR,
            f"another lore service command ({who}) is changing service {service_id}",
            suggestion="Wait for it to finish and run the command again",
            actions=["lore service status"],
            details={"holder": holder} if holder else None,
        ) from None
    try:
        yield
    finally:
        lock.release()


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (zombies count as alive until reaped)."""
    if pid <= 0:
        return False
    if os.name == "nt":  # os.kill(pid, 0) would send CTRL_C_EVENT on Windows
        import ctypes

        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined,unused-ignore]
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        kernel32.CloseHandle(handle)
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
