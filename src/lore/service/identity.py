"""Who a service is: its id, how a `--name` is sanitised, and which installed service a
command means when the user does not say.

The default id is a fingerprint of *what* is synced and *from where* (workspace root,
config path, sorted project URLs), so two workspaces sharing one global config get two
services instead of silently overwriting each other.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from lore.core.errors import ErrorCode, LoreError

_NAME_MAX = 32
_NOT_ALLOWED = re.compile(r"[^a-z0-9-]")
_MANIFEST_RE = re.compile(r"^service-manifest-([a-z0-9-]{1,32})\.json$")


def _canonical(path: Path) -> Path:
    try:
        return path.resolve(strict=True)
    except OSError:
        return path.absolute()


def compute_service_id(workspace_root: Path, config_path: Path, project_urls: list[str]) -> str:
    """First 12 hex chars of SHA-256 over workspace root, config path and sorted URLs.

    NUL separators keep ``("ab", "c")`` and ``("a", "bc")`` apart.
    """
    digest = hashlib.sha256()
    digest.update(str(_canonical(workspace_root)).encode("utf-8"))
    digest.update(b"\0")
    digest.update(str(_canonical(config_path)).encode("utf-8"))
    for url in sorted(project_urls):
        digest.update(b"\0")
        digest.update(url.encode("utf-8"))
    return digest.hexdigest()[:12]


def sanitize_service_name(name: str) -> str:
    """Lower-case, map everything outside ``[a-z0-9-]`` to ``-``, trim ``-`` at both ends.

    ``"my project!"`` -> ``"my-project"``. Raises USAGE_ERROR when nothing is left or the
    result is longer than 32 characters. The result can never contain a path separator,
    a dot, a quote or a shell metacharacter, so it is safe in file names, unit names,
    plist labels, task names and crontab lines.
    """
    sanitized = _NOT_ALLOWED.sub("-", name.lower()).strip("-")
    if not sanitized:
        raise LoreError(
            ErrorCode.USAGE_ERROR,
            f"service name {name!r} must contain at least one letter or digit",
            suggestion="Use letters, digits and dashes, e.g. --name my-project",
        )
    if len(sanitized) > _NAME_MAX:
        raise LoreError(
            ErrorCode.USAGE_ERROR,
            f"service name {name!r} is too long: at most {_NAME_MAX} characters after "
            f"sanitising (got {len(sanitized)})",
            suggestion="Use a shorter --name",
        )
    return sanitized


def project_urls(base_url: str, project_paths: list[str]) -> list[str]:
    base = base_url.rstrip("/")
    return [f"{base}/{path}" for path in project_paths]


def installed_service_ids(data_dir: Path) -> list[str]:
    """Ids of every `service-manifest-{id}.json` in the data dir, sorted."""
    try:
        names = [entry.name for entry in data_dir.iterdir()]
    except OSError:
        return []
    ids = [m.group(1) for m in map(_MANIFEST_RE.match, names) if m]
    return sorted(ids)


@dataclass(frozen=True)
class ProjectIdentity:
    """The current project's identity, derived from the config and the workspace."""

    identity_hash: str
    workspace_root: Path
    config_path: Path


def current_identity(
    config_path: Path, base_url: str, project_paths: list[str], workspace: Path
) -> ProjectIdentity:
    return ProjectIdentity(
        identity_hash=compute_service_id(
            workspace, config_path, project_urls(base_url, project_paths)
        ),
        workspace_root=_canonical(workspace),
        config_path=_canonical(config_path),
    )


def not_found(selector: str, installed: list[str]) -> LoreError:
    listing = ", ".join(installed) if installed else "none"
    return LoreError(
        ErrorCode.NOT_FOUND,
        f"no installed service {selector!r} (installed: {listing})",
        suggestion="See the installed services with: lore service list",
        actions=["lore service list"],
        details={"candidates": installed},
    )


def ambiguous(installed: list[str], why: str) -> LoreError:
    return LoreError(
        ErrorCode.AMBIGUOUS,
        f"several services are installed and {why}; choose one with --service",
        suggestion="See them with: lore service list; then pass --service ID",
        actions=[
            "lore service list",
            *(f"lore service status --service {sid}" for sid in installed),
        ],
        details={"candidates": installed},
    )
