"""What the mirror holds (``lore status``): per-project counts, sync history, cursor
ages, database size and embedding coverage."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lore.core.clock import ms_from_iso
from lore.query.store import (
    NOTHING_SYNCED_HINT,
    has_issue_status,
    latest_schema_version,
    schema_version,
)

if TYPE_CHECKING:
    from lore.core.config import Config

ISSUE_STATES: tuple[str, ...] = ("opened", "closed")
MR_STATES: tuple[str, ...] = ("opened", "merged", "closed", "locked")
WORKITEM_STATUS_KV_PREFIX = "workitem_status:"
#: kv ``resource_unavailable:{project_id}:{resource}`` → JSON ``{"reason", "http_status",
#: "checked_at"}``: a resource list GitLab refused for one project (e.g. MRs disabled, 403).
RESOURCE_UNAVAILABLE_KV_PREFIX = "resource_unavailable:"


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _age_seconds(iso: str | None, now_ms: int) -> int | None:
    if not iso:
        return None
    try:
        return max(0, (now_ms - ms_from_iso(iso)) // 1000)
    except ValueError:
        return None


def _duration_ms(started: str | None, finished: str | None) -> int | None:
    if not started or not finished:
        return None
    try:
        return max(0, ms_from_iso(finished) - ms_from_iso(started))
    except ValueError:
        return None


def _db_info(conn: sqlite3.Connection | None, db_path: Path) -> dict[str, Any]:
    wal = Path(f"{db_path}-wal")
    size, wal_size = _file_size(db_path), _file_size(wal)
    version = schema_version(conn) if conn is not None else None
    latest = latest_schema_version()
    return {
        "path": str(db_path),
        "exists": db_path.is_file(),
        "size_bytes": size,
        "wal_bytes": wal_size,
        "total_bytes": size + wal_size,
        "schema_version": version,
        "latest_schema_version": latest,
        "pending_migrations": max(0, latest - version) if version is not None else None,
    }


def _counts_by(conn: sqlite3.Connection, sql: str) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {}
    for project_id, key, n in conn.execute(sql):
        out.setdefault(int(project_id), {})[str(key)] = int(n)
    return out


def _has_row_counts(conn: sqlite3.Connection) -> bool:
    return (
        conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'row_counts'"
        ).fetchone()
        is not None
    )


def _simple_counts(conn: sqlite3.Connection, sql: str) -> dict[int, int]:
    return {int(pid): int(n) for pid, n in conn.execute(sql)}


def _project_rows(conn: sqlite3.Connection, now_ms: int) -> list[dict[str, Any]]:
    issues = _counts_by(conn, "SELECT project_id, state, COUNT(*) FROM issues GROUP BY 1, 2")
    mrs = _counts_by(conn, "SELECT project_id, state, COUNT(*) FROM merge_requests GROUP BY 1, 2")
    if _has_row_counts(conn):
        # Kept exact by triggers (migration 7): counting 100k+ notes takes tens of ms.
        notes = _simple_counts(conn, "SELECT project_id, n FROM row_counts WHERE name = 'notes'")
        discussions = _simple_counts(
            conn, "SELECT project_id, n FROM row_counts WHERE name = 'discussions'"
        )
    else:  # a mirror from before migration 7 (reading never migrates)
        notes = _simple_counts(conn, "SELECT project_id, COUNT(*) FROM notes GROUP BY 1")
        discussions = _simple_counts(
            conn, "SELECT project_id, COUNT(*) FROM discussions GROUP BY 1"
        )
    documents = _simple_counts(conn, "SELECT project_id, COUNT(*) FROM documents GROUP BY 1")
    embedded = _simple_counts(
        conn,
        "SELECT d.project_id, COUNT(*) FROM documents d "
        "WHERE EXISTS (SELECT 1 FROM embeddings e WHERE e.document_id = d.id) GROUP BY 1",
    )
    cursors: dict[int, list[dict[str, Any]]] = {}
    for row in conn.execute("SELECT * FROM sync_cursors ORDER BY project_id, resource"):
        cursors.setdefault(int(row["project_id"]), []).append(
            {
                "resource": row["resource"],
                "updated_after": row["updated_after"],
                "advanced_at": row["advanced_at"],
                "age_seconds": _age_seconds(row["advanced_at"], now_ms),
            }
        )
    unavailable = _unavailable_resources(conn)
    out: list[dict[str, Any]] = []
    for row in conn.execute("SELECT id, path, web_url, last_synced_at FROM projects ORDER BY path"):
        pid = int(row["id"])
        issue_counts = {s: issues.get(pid, {}).get(s, 0) for s in ISSUE_STATES}
        mr_counts = {s: mrs.get(pid, {}).get(s, 0) for s in MR_STATES}
        out.append(
            {
                "path": row["path"],
                "id": pid,
                "web_url": row["web_url"],
                "mirrored": True,
                "configured": None,
                "last_synced_at": row["last_synced_at"],
                "last_synced_age_seconds": _age_seconds(row["last_synced_at"], now_ms),
                "issues": {**issue_counts, "total": sum(issues.get(pid, {}).values())},
                "mrs": {**mr_counts, "total": sum(mrs.get(pid, {}).values())},
                "discussions": discussions.get(pid, 0),
                "notes": notes.get(pid, 0),
                "documents": documents.get(pid, 0),
                "embedded_documents": embedded.get(pid, 0),
                "cursors": cursors.get(pid, []),
                "unavailable": unavailable.get(pid, []),
                "status_error": None,
            }
        )
    return out


def _unavailable_resources(conn: sqlite3.Connection) -> dict[int, list[dict[str, Any]]]:
    """Per project id, the resources the sync recorded as not available (kv, JSON)."""
    out: dict[int, list[dict[str, Any]]] = {}
    for key, value in conn.execute(
        "SELECT key, value FROM kv WHERE key LIKE ? ORDER BY key",
        (RESOURCE_UNAVAILABLE_KV_PREFIX + "%",),
    ):
        parts = str(key)[len(RESOURCE_UNAVAILABLE_KV_PREFIX) :].split(":", 1)
        if len(parts) != 2 or not parts[0].isdigit():
            continue
        try:
            parsed: Any = json.loads(value)
        except ValueError:
            parsed = {"reason": str(value)}
        if not isinstance(parsed, dict):
            parsed = {"reason": str(parsed)}
        status = parsed.get("http_status")
        out.setdefault(int(parts[0]), []).append(
            {
                "resource": parts[1],
                "reason": str(parsed.get("reason") or "not available"),
                "http_status": int(status) if isinstance(status, int) else None,
                "checked_at": parsed.get("checked_at")
                if isinstance(parsed.get("checked_at"), str)
                else None,
            }
        )
    return out


def _unmirrored_project(path: str) -> dict[str, Any]:
    return {
        "path": path,
        "id": None,
        "web_url": None,
        "mirrored": False,
        "configured": True,
        "last_synced_at": None,
        "last_synced_age_seconds": None,
        "issues": {**dict.fromkeys(ISSUE_STATES, 0), "total": 0},
        "mrs": {**dict.fromkeys(MR_STATES, 0), "total": 0},
        "discussions": 0,
        "notes": 0,
        "documents": 0,
        "embedded_documents": 0,
        "cursors": [],
        "unavailable": [],
        "status_error": None,
    }


def _run_dict(row: sqlite3.Row | None, now_ms: int) -> dict[str, Any] | None:
    if row is None:
        return None
    try:
        stages = json.loads(row["stage_results"]) if row["stage_results"] else []
    except ValueError:
        stages = []
    if not isinstance(stages, list):
        stages = []
    return {
        "id": int(row["id"]),
        "started_at": row["started_at"],
        "finished_at": row["finished_at"],
        "age_seconds": _age_seconds(row["finished_at"] or row["started_at"], now_ms),
        "duration_ms": _duration_ms(row["started_at"], row["finished_at"]),
        "full": bool(row["full"]),
        "outcome": row["outcome"],
        "requests": int(row["requests"] or 0),
        "stages": [s for s in stages if isinstance(s, dict)],
    }


def _configured_embedding(config: Config | None) -> dict[str, Any]:
    if config is None:
        return {"configured_provider": None, "configured_model": None}
    provider = config.embedding.provider
    return {
        "configured_provider": provider,
        "configured_model": config.embedding.model if provider != "none" else None,
    }


def _embeddings(
    conn: sqlite3.Connection, config: Config | None, projects: list[dict[str, Any]]
) -> dict[str, Any]:
    # Totals from the per-project counts already taken: documents belong to projects.
    documents = sum(p["documents"] for p in projects)
    embedded = sum(p["embedded_documents"] for p in projects)
    models = [
        {"model": r[0], "dimension": int(r[1]), "documents": int(r[2]), "chunks": int(r[3])}
        for r in conn.execute(
            "SELECT model, dimension, COUNT(DISTINCT document_id), COUNT(*) FROM embeddings "
            "GROUP BY model, dimension ORDER BY COUNT(*) DESC, model"
        )
    ]
    return {
        "documents": documents,
        "embedded_documents": embedded,
        "coverage": round(embedded / documents, 4) if documents else None,
        "chunks": sum(m["chunks"] for m in models),
        "models": models,
        **_configured_embedding(config),
    }


def _workitem_status(conn: sqlite3.Connection) -> dict[str, Any]:
    """Whether work-item status is mirrored, and what the sync recorded about each
    instance's support for it (kv ``workitem_status:{instance}``, JSON, may be absent)."""
    columns = has_issue_status(conn)
    with_status = None
    if columns:
        with_status = int(
            conn.execute("SELECT COUNT(*) FROM issues WHERE status_name IS NOT NULL").fetchone()[0]
        )
    instances: list[dict[str, Any]] = []
    for key, value in conn.execute(
        "SELECT key, value FROM kv WHERE key LIKE ? ORDER BY key",
        (WORKITEM_STATUS_KV_PREFIX + "%",),
    ):
        try:
            parsed: Any = json.loads(value)
        except ValueError:
            parsed = value
        entry: dict[str, Any] = {"instance": str(key)[len(WORKITEM_STATUS_KV_PREFIX) :]}
        if isinstance(parsed, dict):
            entry.update(parsed)
        else:
            entry["value"] = parsed
        instances.append(entry)
    return {"columns": columns, "issues_with_status": with_status, "instances": instances}


def _attach_status_errors(data: dict[str, Any]) -> None:
    """Each project's last work-item status error (kept per project path in the
    instance's capability, see ``lore.sync.work_item_status``)."""
    info = data.get("workitem_status")
    if not info:
        return
    by_path: dict[str, dict[str, Any]] = {}
    for entry in info["instances"]:
        errors = entry.get("errors")
        if not isinstance(errors, dict):
            continue
        for path, err in errors.items():
            if isinstance(err, dict):
                by_path[str(path)] = {
                    "message": str(err.get("message") or ""),
                    "code": err.get("code"),
                    "at": err.get("at"),
                    "instance": entry["instance"],
                }
    for project in data["projects"]:
        project["status_error"] = by_path.get(project["path"])


def _hints(data: dict[str, Any]) -> list[str]:
    hints: list[str] = []
    projects = data["projects"]
    if not any(p["mirrored"] for p in projects):
        hints.append(NOTHING_SYNCED_HINT)
    else:
        unsynced = [p["path"] for p in projects if not p["mirrored"]]
        if unsynced:
            hints.append(
                f"{len(unsynced)} configured project(s) not mirrored yet ({', '.join(unsynced)}): "
                "run `lore sync`"
            )
    pending = data["db"]["pending_migrations"]
    if pending:
        hints.append(
            f"the database schema is v{data['db']['schema_version']}, this lore uses "
            f"v{data['db']['latest_schema_version']}: the next `lore sync` upgrades it"
        )
    version, latest = data["db"]["schema_version"], data["db"]["latest_schema_version"]
    if version is not None and version > latest:
        hints.append(
            f"the database schema is v{version}, newer than this lore knows (v{latest}): "
            "upgrade lore"
        )
    run = data["last_sync"]
    if run is not None and run["outcome"] in ("failed", "degraded"):
        failed = [
            f"{s.get('stage')} ({s.get('error_code') or 'error'})"
            for s in run["stages"]
            if not s.get("success", True)
        ]
        what = f": {', '.join(failed)}" if failed else ""
        hints.append(f"the last sync was {run['outcome']}{what}; `lore sync` retries")
    emb = data["embeddings"]
    missing = emb["documents"] - emb["embedded_documents"]
    if missing > 0 and emb["configured_provider"] != "none":
        hints.append(
            f"{missing} document(s) have no embeddings, so semantic search skips them: "
            "`lore sync` embeds them when the embedding provider is reachable"
        )
    return hints


def store_status(
    conn: sqlite3.Connection | None,
    db_path: Path,
    config: Config | None = None,
    *,
    now_ms: int,
) -> dict[str, Any]:
    """Everything ``lore status`` reports, as one JSON-ready dict.

    ``conn=None`` means no database yet: the report still lists the DB path and the
    configured projects (all unmirrored). ``config`` is optional and only adds the
    configured-but-never-synced projects and the configured embedding model.

    Shape: ``{"synced", "db": {path, exists, size_bytes, wal_bytes, total_bytes,
    schema_version, latest_schema_version, pending_migrations}, "projects": [{path, id,
    web_url, mirrored, configured, last_synced_at, last_synced_age_seconds, issues:
    {opened, closed, total}, mrs: {opened, merged, closed, locked, total}, discussions,
    notes, documents, embedded_documents, cursors: [{resource, updated_after,
    advanced_at, age_seconds}]}], "totals", "last_sync", "last_success", "embeddings",
    "workitem_status", "hints"}``.
    """
    configured = list(config.project_paths) if config is not None else None
    projects = _project_rows(conn, now_ms) if conn is not None else []
    if configured is not None:
        wanted = {p.lower() for p in configured}
        mirrored = {p["path"].lower() for p in projects}
        for project in projects:
            project["configured"] = project["path"].lower() in wanted
        projects.extend(_unmirrored_project(p) for p in configured if p.lower() not in mirrored)
    totals = {
        "projects": sum(1 for p in projects if p["mirrored"]),
        "issues": sum(p["issues"]["total"] for p in projects),
        "open_issues": sum(p["issues"]["opened"] for p in projects),
        "mrs": sum(p["mrs"]["total"] for p in projects),
        "open_mrs": sum(p["mrs"]["opened"] for p in projects),
        "discussions": sum(p["discussions"] for p in projects),
        "notes": sum(p["notes"] for p in projects),
        "documents": sum(p["documents"] for p in projects),
    }
    last_sync = last_success = None
    if conn is not None:
        last_sync = _run_dict(
            conn.execute("SELECT * FROM sync_runs ORDER BY id DESC LIMIT 1").fetchone(), now_ms
        )
        last_success = _run_dict(
            conn.execute(
                "SELECT * FROM sync_runs WHERE outcome IN ('success', 'degraded') "
                "ORDER BY id DESC LIMIT 1"
            ).fetchone(),
            now_ms,
        )
    empty_embeddings: dict[str, Any] = {
        "documents": 0,
        "embedded_documents": 0,
        "coverage": None,
        "chunks": 0,
        "models": [],
        **_configured_embedding(config),
    }
    data: dict[str, Any] = {
        "synced": any(p["mirrored"] for p in projects),
        "db": _db_info(conn, db_path),
        "projects": projects,
        "totals": totals,
        "last_sync": last_sync,
        "last_success": last_success,
        "embeddings": (
            _embeddings(conn, config, projects) if conn is not None else empty_embeddings
        ),
        "workitem_status": _workitem_status(conn) if conn is not None else None,
    }
    _attach_status_errors(data)
    data["hints"] = _hints(data)
    return data
