"""The install manifest: `{data_dir}/service-manifest-{id}.json`.

It records what `lore service install` did, so status, run and uninstall never parse a
plist or a unit file to find out. Version history:

- 1: the plan's shape.
- 2: adds ``identity_hash`` (the project fingerprint, kept even when ``--name`` chose the
  id, so a name collision can be told from a re-install), ``data_dir`` (the directory
  the scheduler files were rendered for) and ``sandboxed`` (whether the systemd unit
  carries the namespace-based hardening; see doctor's sandboxing check).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lore.core.paths import service_manifest_path
from lore.service.versioned import FieldError, corrupt, read_versioned, str_list, write_versioned
from lore.service.versioned import field as get

CURRENT_VERSION = 2
DEFAULT_MAX_TRANSIENT_FAILURES = 10
DEFAULT_CIRCUIT_BREAKER_COOLDOWN_SECONDS = 1800

_HASH_ID = re.compile(r"^[0-9a-f]{12}$")


@dataclass
class ServiceManifest:
    service_id: str
    identity_hash: str
    workspace_root: str
    installed_at_iso: str
    updated_at_iso: str
    platform: str
    interval_seconds: int
    profile: str
    binary_path: str
    config_path: str | None
    token_source: str
    token_env_var: str
    service_files: list[str]
    sync_command: str
    spec_hash: str
    data_dir: str
    sandboxed: bool = False
    max_transient_failures: int = DEFAULT_MAX_TRANSIENT_FAILURES
    circuit_breaker_cooldown_seconds: int = DEFAULT_CIRCUIT_BREAKER_COOLDOWN_SECONDS
    schema_version: int = field(default=CURRENT_VERSION)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out = {"schema_version": out.pop("schema_version"), **out}
        if out["config_path"] is None:  # the plan omits an absent override
            del out["config_path"]
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ServiceManifest:
        return cls(
            schema_version=get(raw, "schema_version", int),
            service_id=get(raw, "service_id", str),
            identity_hash=get(raw, "identity_hash", str),
            workspace_root=get(raw, "workspace_root", str),
            installed_at_iso=get(raw, "installed_at_iso", str),
            updated_at_iso=get(raw, "updated_at_iso", str),
            platform=get(raw, "platform", str),
            interval_seconds=get(raw, "interval_seconds", int),
            profile=get(raw, "profile", str),
            binary_path=get(raw, "binary_path", str),
            config_path=get(raw, "config_path", str, None),
            token_source=get(raw, "token_source", str),
            token_env_var=get(raw, "token_env_var", str),
            service_files=str_list(raw, "service_files"),
            sync_command=get(raw, "sync_command", str),
            spec_hash=get(raw, "spec_hash", str),
            data_dir=get(raw, "data_dir", str),
            sandboxed=get(raw, "sandboxed", bool, False),
            max_transient_failures=get(
                raw, "max_transient_failures", int, DEFAULT_MAX_TRANSIENT_FAILURES
            ),
            circuit_breaker_cooldown_seconds=get(
                raw,
                "circuit_breaker_cooldown_seconds",
                int,
                DEFAULT_CIRCUIT_BREAKER_COOLDOWN_SECONDS,
            ),
        )

    def comparable(self) -> dict[str, Any]:
        """The fields a re-install compares to decide ``no_change`` (no timestamps)."""
        out = self.to_dict()
        for key in ("schema_version", "installed_at_iso", "updated_at_iso"):
            out.pop(key, None)
        out.setdefault("config_path", None)
        return out


def _migrate_1_to_2(raw: dict[str, Any], path: Path) -> dict[str, Any]:
    out = dict(raw)
    service_id = get(raw, "service_id", str)
    # A v1 id that looks like a fingerprint *is* the fingerprint; a --name'd v1 service has
    # an unknown one, and the collision check falls back to workspace + config path.
    out.setdefault("identity_hash", service_id if _HASH_ID.match(service_id) else "")
    out.setdefault("data_dir", str(path.parent))
    # The plan's systemd unit was always hardened.
    out.setdefault("sandboxed", raw.get("platform") == "systemd")
    return out


MIGRATIONS = {1: _migrate_1_to_2}


def read_manifest(path: Path, *, persist_migration: bool = True) -> ServiceManifest | None:
    """The manifest at ``path``; ``None`` if missing; SERVICE_CORRUPT_STATE if unreadable.

    An older schema is migrated and (by default) written back atomically.
    """
    loaded = read_versioned(path, CURRENT_VERSION, MIGRATIONS)
    if loaded is None:
        return None
    raw, original_version = loaded
    try:
        manifest = ManifestFields.check(ServiceManifest.from_dict(raw))
    except FieldError as exc:
        raise corrupt(path, str(exc)) from None
    if original_version < CURRENT_VERSION and persist_migration:
        write_manifest(path, manifest)
    return manifest


def load_manifest(service_id: str, data_dir: Path) -> ServiceManifest | None:
    return read_manifest(service_manifest_path(service_id, data_dir))


def write_manifest(path: Path, manifest: ServiceManifest) -> None:
    manifest.schema_version = CURRENT_VERSION
    write_versioned(path, manifest.to_dict())


class ManifestFields:
    """Checks beyond types: values a hand edit or a bug could break."""

    _ID = re.compile(r"^[a-z0-9-]{1,32}$")

    @classmethod
    def check(cls, manifest: ServiceManifest) -> ServiceManifest:
        if not cls._ID.match(manifest.service_id):
            raise FieldError(
                f"field 'service_id' is not a valid service id: {manifest.service_id!r}"
            )
        if manifest.interval_seconds <= 0:
            raise FieldError("field 'interval_seconds' must be positive")
        if manifest.max_transient_failures < 1:
            raise FieldError("field 'max_transient_failures' must be at least 1")
        if manifest.circuit_breaker_cooldown_seconds < 0:
            raise FieldError("field 'circuit_breaker_cooldown_seconds' must not be negative")
        if manifest.profile not in ("fast", "balanced", "full"):
            raise FieldError(f"field 'profile' is not a known profile: {manifest.profile!r}")
        return manifest
