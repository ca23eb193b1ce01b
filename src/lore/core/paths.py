"""Where lore keeps its config and data (see LORE.md "Files and places").

Pure functions of the environment: nothing here creates directories except
:func:`ensure_dir`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

_SERVICE_ID_RE = re.compile(r"^[a-z0-9-]{1,32}$")


def _home() -> Path:
    return Path(os.environ.get("HOME") or Path.home())


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """`--config PATH`, then `$LORE_CONFIG_PATH`, then `$XDG_CONFIG_HOME/lore/config.json`."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("LORE_CONFIG_PATH")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = Path(xdg).expanduser() if xdg else _home() / ".config"
    return base / "lore" / "config.json"


def data_dir() -> Path:
    """`$LORE_DATA_DIR`, then `$XDG_DATA_HOME/lore` (`~/.local/share/lore`)."""
    env = os.environ.get("LORE_DATA_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else _home() / ".local" / "share"
    return base / "lore"


def db_path(base: Path | None = None) -> Path:
    return (base or data_dir()) / "lore.db"


def locks_dir(base: Path | None = None) -> Path:
    return (base or data_dir()) / "locks"


def logs_dir(base: Path | None = None) -> Path:
    return (base or data_dir()) / "logs"


def _checked_service_id(service_id: str) -> str:
    # Service ids end up in file names; refuse anything that could escape the data dir.
    if not _SERVICE_ID_RE.match(service_id):
        raise ValueError(f"invalid service id {service_id!r}")
    return service_id


def service_manifest_path(service_id: str, base: Path | None = None) -> Path:
    return (base or data_dir()) / f"service-manifest-{_checked_service_id(service_id)}.json"


def service_status_path(service_id: str, base: Path | None = None) -> Path:
    return (base or data_dir()) / f"sync-status-{_checked_service_id(service_id)}.json"


def service_env_path(service_id: str, base: Path | None = None) -> Path:
    return (base or data_dir()) / f"service-env-{_checked_service_id(service_id)}"


def service_wrapper_path(service_id: str, base: Path | None = None) -> Path:
    return (base or data_dir()) / f"service-run-{_checked_service_id(service_id)}.sh"


def service_log_path(service_id: str, stream: str, base: Path | None = None) -> Path:
    return logs_dir(base) / f"service-{_checked_service_id(service_id)}-{stream}.log"


def workspace_root(cwd: Path | None = None) -> Path:
    """The git top-level of the current directory, else the current directory."""
    here = (cwd or Path.cwd()).resolve()
    probe = here
    # Walk up looking for .git without spawning git (cheap and works without git installed).
    while True:
        if (probe / ".git").exists():
            return probe
        if probe.parent == probe:
            break
        probe = probe.parent
    import subprocess  # here, not at the top: every command imports this module

    try:
        out = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        if out.returncode == 0 and out.stdout.strip():
            return Path(out.stdout.strip()).resolve()
    except (OSError, subprocess.SubprocessError):
        pass
    return here


def ensure_dir(path: Path, mode: int = 0o700) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=mode)
    return path
