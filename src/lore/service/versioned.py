"""Reading and writing the service's versioned JSON files (manifest and status).

- missing and corrupt are different answers: ``None`` versus SERVICE_CORRUPT_STATE;
- an older ``schema_version`` is migrated in memory, step by step, and the caller
  rewrites the file atomically;
- a newer ``schema_version`` (written by a newer lore) is refused, never overwritten;
- writes are atomic (tmp + fsync + rename + fsync dir), so a reader sees the old file
  or the new one, never a torn one.

Hand-written field checks instead of a validation library keep the scheduler's cold
path (every few minutes, for years) cheap to import.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from lore.core.errors import ErrorCode, LoreError

T = TypeVar("T")
Migration = Callable[[dict[str, Any], Path], dict[str, Any]]
Migrations = Mapping[int, Migration]


class FieldError(ValueError):
    """A field of a state file has the wrong type or is missing."""


def corrupt(path: Path, reason: str, *, newer: bool = False) -> LoreError:
    """SERVICE_CORRUPT_STATE for ``path``; a newer file asks for an update, not a repair."""
    if newer:
        return LoreError(
            ErrorCode.SERVICE_CORRUPT_STATE,
            f"service state file {path} was written by a newer lore: {reason}",
            suggestion="Update lore to the version that wrote it (this one will not "
            "overwrite it), or move the file aside with: lore service repair",
            actions=["lore service repair"],
            details={"path": str(path), "reason": reason},
        )
    return LoreError(
        ErrorCode.SERVICE_CORRUPT_STATE,
        f"service state file {path} is corrupt: {reason}",
        suggestion="Run: lore service repair (it backs the file up, never deletes it); "
        "then reinstall if needed: lore service install",
        actions=["lore service repair", "lore service install"],
        details={"path": str(path), "reason": reason},
    )


def read_versioned(
    path: Path, current_version: int, migrations: Migrations
) -> tuple[dict[str, Any], int] | None:
    """The file's JSON object migrated to ``current_version``, and the version it had.

    ``migrations[n]`` turns a version-``n`` object into a version-``n+1`` object.
    Returns ``None`` when the file does not exist.
    """
    try:
        raw_bytes = path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise corrupt(path, "it is a directory") from None
    except OSError as exc:
        raise corrupt(path, f"cannot read it ({exc.strerror or exc})") from None
    try:
        raw = json.loads(raw_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        where = (
            f" at line {exc.lineno}, column {exc.colno}"
            if isinstance(exc, json.JSONDecodeError)
            else ""
        )
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
        raise corrupt(path, f"not valid JSON ({reason}{where})") from None
    if not isinstance(raw, dict):
        raise corrupt(path, "it is not a JSON object")
    version = raw.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise corrupt(path, f"schema_version is {version!r}, expected a positive integer")
    if version > current_version:
        raise corrupt(
            path,
            f"schema_version {version} is newer than this lore understands ({current_version})",
            newer=True,
        )
    original = version
    while version < current_version:
        step = migrations.get(version)
        if step is None:  # a gap in the migration list is a bug, not user data
            raise corrupt(path, f"no migration from schema_version {version}")
        try:
            raw = step(raw, path)
        except FieldError as exc:
            raise corrupt(path, f"cannot migrate from schema_version {version}: {exc}") from None
        version += 1
        raw["schema_version"] = version
    return raw, original


def write_versioned(path: Path, value: dict[str, Any]) -> None:
    """Atomically replace ``path`` with ``value`` as indented JSON (mode 0600)."""
    from lore.core.atomic import write_atomic  # not needed by read-only cold paths

    write_atomic(path, json.dumps(value, indent=2, ensure_ascii=False) + "\n", mode=0o600)


# -- field checks ------------------------------------------------------------------------

_MISSING: Any = object()


def field(
    raw: dict[str, Any], key: str, kind: type[T] | tuple[type, ...], default: Any = _MISSING
) -> T:
    """``raw[key]`` checked against ``kind``; ``default`` when absent (or null, if allowed)."""
    if key not in raw or raw[key] is None:
        if default is not _MISSING:
            return default  # type: ignore[no-any-return,unused-ignore]
        raise FieldError(f"field {key!r} is missing")
    value = raw[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    # bool is an int in Python; a JSON true must not pass for a count.
    if isinstance(value, bool) and bool not in kinds:
        raise FieldError(f"field {key!r} must be {_kind_name(kinds)}, not a boolean")
    if float in kinds and isinstance(value, int) and not isinstance(value, bool):
        return float(value)  # type: ignore[return-value,unused-ignore]
    if not isinstance(value, kinds):
        raise FieldError(f"field {key!r} must be {_kind_name(kinds)}, not {type(value).__name__}")
    return value  # type: ignore[return-value]


def str_list(raw: dict[str, Any], key: str) -> list[str]:
    value = field(raw, key, list, [])
    if not all(isinstance(item, str) for item in value):
        raise FieldError(f"field {key!r} must be a list of strings")
    return list(value)


def _kind_name(kinds: tuple[type, ...]) -> str:
    names = {
        int: "an integer",
        str: "a string",
        float: "a number",
        bool: "a boolean",
        list: "a list",
        dict: "an object",
    }
    return " or ".join(names.get(k, k.__name__) for k in kinds)
