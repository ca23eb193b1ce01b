"""`service install` and `service uninstall`.

Install is transactional: the files are written and the scheduler's enable command
run first; only when that succeeds is the manifest written (atomically). If enabling
fails, every file is put back as it was (removed if it is new) and no manifest claims
an install that the scheduler rejected. A re-install with nothing different reports
``no_change``; otherwise it says what changed.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lore.core.atomic import write_atomic
from lore.core.clock import Clock, iso_from_ms
from lore.core.errors import ErrorCode, LoreError
from lore.core.paths import (
    ensure_dir,
    service_env_path,
    service_manifest_path,
    service_status_path,
    service_wrapper_path,
)
from lore.service.backends import NAMES, choose_backend, get_backend
from lore.service.backends.base import (
    Artifact,
    Backend,
    InstallSpec,
    Rendered,
    capture_network_env,
)
from lore.service.identity import ProjectIdentity, current_identity, sanitize_service_name
from lore.service.manifest import ServiceManifest, read_manifest, write_manifest
from lore.service.targets import Target, admin_lock
from lore.service.tokens import check_path_text, check_token, read_env_file

EMBEDDED_WARNING = (
    "--token-source embedded writes the token into the scheduler's own file "
    "({files}); anyone who can read that file can use the token. The default "
    "env-file keeps it in a 0600 file instead."
)
REDACTED = "<redacted>"


@dataclass
class InstallRequest:
    interval_seconds: int
    profile: str
    token_source: str  # env_file | embedded
    name: str | None = None
    backend: str = "auto"
    dry_run: bool = False


def _home() -> Path:
    return Path(os.environ.get("HOME") or Path.home())


def _canonical(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path.absolute()


def _override(actual: Path, default: Path) -> str | None:
    """``actual`` as a string when the scheduler's plain environment would not find it."""
    return None if _canonical(actual) == _canonical(default) else str(_canonical(actual))


def install_service(
    req: InstallRequest, *, config_file: Path, data_dir: Path, workspace: Path, clock: Clock
) -> dict[str, Any]:
    """Install (or re-install) the scheduled sync for the current project."""
    from lore.core.config import load

    config = load(config_file)
    var = config.gitlab.token_env_var
    token = check_token(config.token(), var)
    identity = current_identity(config_file, config.base_url, config.project_paths, workspace)
    service_id = sanitize_service_name(req.name) if req.name is not None else identity.identity_hash
    data_dir = _canonical(data_dir)
    lock = contextlib.nullcontext() if req.dry_run else admin_lock(data_dir, service_id)
    with lock:
        return _install(req, config_file, data_dir, identity, service_id, token, var, clock)


def config_ca_bundle(config_file: Path) -> str | None:
    """``gitlab.caBundle`` of the config (None when unset or unreadable)."""
    from lore.core.config import load

    try:
        return load(config_file).gitlab.ca_bundle
    except LoreError:
        return None


def _collision(existing: ServiceManifest, identity: ProjectIdentity) -> LoreError | None:
    if existing.identity_hash:
        same = existing.identity_hash == identity.identity_hash
    else:  # a v1 named service: its fingerprint is unknown, compare where it came from
        same = existing.workspace_root == str(identity.workspace_root)
    if same:
        return None
    return LoreError(
        ErrorCode.SERVICE_ERROR,
        f"the service name {existing.service_id!r} is already used by another installation "
        f"(workspace {existing.workspace_root}, config {existing.config_path or 'default'})",
        suggestion=f"Choose another --name, or remove the other one first: lore service "
        f"uninstall --service {existing.service_id}",
        actions=[
            f"lore service status --service {existing.service_id}",
            f"lore service uninstall --service {existing.service_id}",
        ],
        details={
            "service_id": existing.service_id,
            "workspace_root": existing.workspace_root,
            "identity_hash": existing.identity_hash,
        },
    )


def _preflight_error(failures: list[Any]) -> LoreError:
    first = failures[0]
    return LoreError(
        ErrorCode.SERVICE_ERROR,
        "install pre-flight failed: " + "; ".join(f"{c.name}: {c.message}" for c in failures),
        suggestion=(f"{first.action}" if first.action else "See: lore service doctor"),
        actions=[*(c.action for c in failures if c.action), "lore service doctor"],
        details={"preflight": [c.to_dict() for c in failures]},
    )


def _install(
    req: InstallRequest,
    config_file: Path,
    data_dir: Path,
    identity: ProjectIdentity,
    service_id: str,
    token: str,
    var: str,
    clock: Clock,
) -> dict[str, Any]:
    from lore.service.doctor import resolve_binary, run_doctor

    manifest_path = service_manifest_path(service_id, data_dir)
    existing = read_manifest(manifest_path, persist_migration=not req.dry_run)
    if existing is not None:
        collision = _collision(existing, identity)
        if collision is not None:
            raise collision
    requested = req.backend
    if requested == "auto" and existing is not None:
        requested = existing.platform  # keep the scheduler it was installed with
    backend = choose_backend(requested)
    report = run_doctor(config_file=config_file, data_dir=data_dir, backend=backend, preflight=True)
    failures = [c for c in report.checks if c.status == "fail"]
    if failures:
        raise _preflight_error(failures)
    binary = check_path_text(resolve_binary(), "lore executable")
    check_path_text(str(data_dir), "data directory")
    check_path_text(str(config_file), "config")
    sandbox_check = report.find("sandboxing")
    sandboxed = backend.name == "systemd" and (
        sandbox_check is None or sandbox_check.status == "pass"
    )
    # Whatever makes the interactive sync work (CA files, proxies) goes into the units.
    network_env, network_warnings = capture_network_env(sandboxed=sandboxed)
    if backend.name == "schtasks" and network_env:
        network_warnings.append(
            "scheduled tasks cannot carry environment variables: set "
            + ", ".join(k for k, _ in network_env)
            + " in your user environment too (setx)"
        )
    ca_bundle = config_ca_bundle(config_file)
    if sandboxed and ca_bundle and ca_bundle.startswith(("/tmp/", "/var/tmp/")):
        network_warnings.append(
            f"gitlab.caBundle ({ca_bundle}) is in a temporary directory "
            "the sandboxed service cannot see (PrivateTmp); move the CA file"
        )
    spec = InstallSpec(
        service_id=service_id,
        binary_path=binary,
        interval_seconds=req.interval_seconds,
        token_env_var=var,
        token_value=token,
        token_source=req.token_source,
        data_dir=data_dir,
        config_override=_override(config_file, _home() / ".config" / "lore" / "config.json"),
        data_dir_override=_override(data_dir, _home() / ".local" / "share" / "lore"),
        sandboxed=sandboxed,
        reinstall=existing is not None,
        network_env=network_env,
    )
    rendered = backend.render(spec)
    now_iso = iso_from_ms(clock.now_ms())
    manifest = ServiceManifest(
        service_id=service_id,
        identity_hash=identity.identity_hash,
        workspace_root=str(identity.workspace_root),
        installed_at_iso=existing.installed_at_iso if existing else now_iso,
        updated_at_iso=now_iso,
        platform=backend.name,
        interval_seconds=req.interval_seconds,
        profile=req.profile,
        binary_path=binary,
        config_path=spec.config_override,
        token_source=rendered.token_source,
        token_env_var=var,
        service_files=[a.location for a in rendered.artifacts if a.in_spec],
        sync_command=backend.format_command(backend.scheduled_argv(spec)),
        spec_hash=rendered.spec_hash(),
        data_dir=str(data_dir),
        sandboxed=spec.sandboxed,
    )
    changes = _changes(existing, manifest, rendered, backend, spec)
    no_change = existing is not None and not changes
    warnings = list(rendered.warnings) + network_warnings
    if rendered.token_source == "embedded":
        secret_files = [a.location for a in rendered.artifacts if a.secret]
        warnings.insert(0, EMBEDDED_WARNING.format(files=", ".join(secret_files)))
    warnings += [
        c.message or c.name for c in report.checks if c.status == "warn" and c.name != "sandboxing"
    ]
    result: dict[str, Any] = {
        "platform": backend.name,
        "service_id": service_id,
        "interval_seconds": req.interval_seconds,
        "profile": req.profile,
        "binary_path": binary,
        "config_path": spec.config_override,
        "service_files": manifest.service_files,
        "sync_command": manifest.sync_command,
        "token_env_var": var,
        "token_source": rendered.token_source,
        "env_file": str(spec.env_file) if rendered.token_source == "env_file" else None,
        "sandboxed": spec.sandboxed if backend.name == "systemd" else None,
        "no_change": no_change,
        "changes": changes,
        "dry_run": req.dry_run,
        "warnings": warnings,
    }
    if req.dry_run:
        result["rendered_files"] = [_shown(a, token) for a in rendered.artifacts]
        result["planned_commands"] = [backend.format_command(c) for c in rendered.commands]
        return result
    if no_change:
        return result
    _apply(backend, spec, rendered, existing)
    write_manifest(manifest_path, manifest)
    return result


def _shown(artifact: Artifact, token: str) -> dict[str, Any]:
    content = artifact.content.replace(token, REDACTED) if artifact.secret else artifact.content
    return {
        "path": artifact.location,
        "mode": f"{artifact.mode:04o}",
        "content": content,
        "contains_token": artifact.secret,
    }


def _changes(
    existing: ServiceManifest | None,
    new: ServiceManifest,
    rendered: Rendered,
    backend: Backend,
    spec: InstallSpec,
) -> list[dict[str, Any]]:
    """What a re-install changes: manifest fields, files edited on disk, the token, and
    a scheduler that lost the service. Never the token's value."""
    if existing is None:
        return []
    from lore.service.inspect import drift_of

    changes: list[dict[str, Any]] = []
    old, cur = existing.comparable(), new.comparable()
    for key in (
        "platform",
        "interval_seconds",
        "profile",
        "token_source",
        "token_env_var",
        "binary_path",
        "config_path",
        "sync_command",
        "data_dir",
        "sandboxed",
    ):
        if old.get(key) != cur.get(key):
            changes.append({"field": key, "old": old.get(key), "new": cur.get(key)})
    drift = drift_of(existing, get_backend(existing.platform))
    if not changes and (
        existing.spec_hash != new.spec_hash or drift["spec_drift"] or drift["command_drift"]
    ):
        changes.append({"field": "service_files", "old": None, "new": None})
    if drift["platform_drift"]:
        changes.append({"field": "platform_state", "old": "not_loaded", "new": "loaded"})
    if rendered.token_source == "env_file":
        stored = read_env_file(spec.env_file, spec.token_env_var)
        if stored != spec.token_value:
            changes.append({"field": "token", "old": None, "new": None})
    return changes


def _apply(
    backend: Backend, spec: InstallSpec, rendered: Rendered, existing: ServiceManifest | None
) -> None:
    """Write the files and enable; on failure put every file back as it was."""
    ensure_dir(spec.data_dir)
    ensure_dir(spec.log_dir)
    files = [a for a in rendered.artifacts if a.is_file]
    snapshots: dict[Path, tuple[bytes, int] | None] = {}
    for artifact in files:
        path = Path(artifact.location)
        try:
            snapshots[path] = (path.read_bytes(), path.stat().st_mode & 0o7777)
        except FileNotFoundError:
            snapshots[path] = None
    try:
        for artifact in files:
            write_atomic(
                Path(artifact.location),
                artifact.content.encode(artifact.encoding),
                mode=artifact.mode,
            )
        backend.enable(spec, rendered)
    except BaseException:
        for path, snapshot in snapshots.items():
            with contextlib.suppress(OSError):
                if snapshot is None:
                    path.unlink(missing_ok=True)
                else:
                    write_atomic(path, snapshot[0], mode=snapshot[1])
        backend.after_remove()
        raise
    if existing is not None:
        _remove_leftovers(existing, backend, rendered, spec.data_dir)


def _remove_leftovers(
    existing: ServiceManifest, backend: Backend, rendered: Rendered, data_dir: Path
) -> None:
    """After a successful re-install: drop what the previous install had and this one
    does not (another scheduler's files, a wrapper or env file no longer used)."""
    keep = {a.location for a in rendered.artifacts}
    old = set(existing.service_files)
    if existing.token_source == "env_file":
        old.add(str(service_env_path(existing.service_id, data_dir)))
    if existing.platform != backend.name:
        previous = get_backend(existing.platform)
        previous.disable(existing.service_id)
        with contextlib.suppress(LoreError):
            previous.remove_extra(existing.service_id)
        old.update(str(p) for p in previous.file_paths(existing.service_id, data_dir))
        previous.after_remove()
    for location in old - keep:
        if not location.startswith("crontab:"):
            with contextlib.suppress(OSError):
                Path(location).unlink(missing_ok=True)


# -- uninstall ----------------------------------------------------------------------------


def uninstall_service(data_dir: Path, target: Target, clock: Clock) -> dict[str, Any]:
    """Disable and remove one service's scheduler files, manifest and env file.

    Keeps the status file and the logs (run history is data, not config). Idempotent:
    nothing installed is an informational success.
    """
    from lore.service.backends import detect_backend_name

    sid = target.service_id
    if sid is None:
        return {
            "was_installed": False,
            "service_id": None,
            "platform": detect_backend_name(),
            "removed_files": [],
            "kept_files": [],
            "warnings": [],
        }
    with admin_lock(data_dir, sid):
        return _uninstall(data_dir, sid, clock)


def _uninstall(data_dir: Path, sid: str, clock: Clock) -> dict[str, Any]:
    from lore.service.admin import backup_corrupt

    manifest_path = service_manifest_path(sid, data_dir)
    warnings: list[str] = []
    corrupt = False
    try:
        manifest = read_manifest(manifest_path, persist_migration=False)
    except LoreError as err:
        manifest, corrupt = None, True
        warnings.append(err.message)
    if manifest is not None:
        backends = [get_backend(manifest.platform)]
    else:
        # Without a readable manifest, ask every scheduler whether it has this service.
        backends = [b for b in map(get_backend, NAMES) if b.is_installed(sid, data_dir)]
    if not backends:
        backends = [choose_backend("auto")]
    env_file = service_env_path(sid, data_dir)
    candidates: list[Path] = [env_file, service_wrapper_path(sid, data_dir)]
    for backend in backends:
        candidates += backend.file_paths(sid, data_dir)
    if manifest is not None:
        candidates += [Path(p) for p in manifest.service_files if not p.startswith("crontab:")]
    on_platform = any(b.is_installed(sid, data_dir) for b in backends)
    if (
        manifest is None
        and not corrupt
        and not on_platform
        and not any(p.exists() for p in candidates)
    ):
        return {
            "was_installed": False,
            "service_id": sid,
            "platform": backends[0].name,
            "removed_files": [],
            "kept_files": [],
            "warnings": [],
        }
    removed: list[str] = []
    for backend in backends:
        warnings += backend.disable(sid)
        try:
            removed += backend.remove_extra(sid)
        except LoreError as err:
            warnings.append(err.message)
    for path in dict.fromkeys(candidates):
        try:
            path.unlink()
            removed.append(str(path))
        except FileNotFoundError:
            continue
        except OSError as exc:
            warnings.append(f"could not remove {path}: {exc}")
    for backend in backends:
        backend.after_remove()
    if corrupt:
        backup = backup_corrupt(manifest_path, clock.now_ms())
        warnings.append(f"the corrupt manifest was kept as {backup.name}")
    elif manifest is not None:
        manifest_path.unlink(missing_ok=True)
        removed.append(str(manifest_path))
    kept = [str(p) for p in (service_status_path(sid, data_dir), data_dir / "logs") if p.exists()]
    return {
        "was_installed": True,
        "service_id": sid,
        "platform": backends[0].name,
        "removed_files": removed,
        "kept_files": kept,
        "warnings": warnings,
    }
