"""Helpers for end-to-end sync tests: comparing stores and driving the simulator."""

from __future__ import annotations

import json
import sqlite3
import urllib.request
from pathlib import Path
from typing import Any

# Columns that record *when* lore did something, not *what* GitLab holds.
_VOLATILE = {"synced_at", "rendered_at", "advanced_at", "embedded_at", "last_synced_at"}

_TABLES: dict[str, str] = {
    "projects": "SELECT * FROM projects",
    "people": "SELECT * FROM people",
    "issues": "SELECT * FROM issues",
    "merge_requests": "SELECT * FROM merge_requests",
    "item_labels": "SELECT * FROM item_labels",
    "item_people": "SELECT * FROM item_people",
    "discussions": "SELECT * FROM discussions",
    "notes": "SELECT * FROM notes",
    "mr_paths": "SELECT * FROM mr_paths",
    # document ids are autoincrement: compare by the item they render
    "documents": "SELECT item_kind, item_id, project_id, title, body, content_hash, "
    "item_updated_at FROM documents",
    "documents_fts": "SELECT d.item_kind, d.item_id, f.title, f.body FROM documents_fts f "
    "JOIN documents d ON d.id = f.rowid",
    "embeddings": "SELECT d.item_kind, d.item_id, e.chunk_index, e.model, e.dimension, "
    "e.content_hash, hex(e.vector) FROM embeddings e "
    "JOIN documents d ON d.id = e.document_id",
    "sync_cursors": "SELECT project_id, resource, updated_after FROM sync_cursors",
}


def dump_store(db: Path, tables: list[str] | None = None) -> dict[str, list[tuple[Any, ...]]]:
    """Every row GitLab's data produced, sorted, minus bookkeeping timestamps."""
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    out: dict[str, list[tuple[Any, ...]]] = {}
    try:
        for name, sql in _TABLES.items():
            if tables is not None and name not in tables:
                continue
            rows = conn.execute(sql).fetchall()
            keep = [k for k in (rows[0].keys() if rows else []) if k not in _VOLATILE]
            out[name] = sorted((tuple(r[k] for k in keep) for r in rows), key=repr)
    finally:
        conn.close()
    return out


def integrity_ok(db: Path) -> bool:
    conn = sqlite3.connect(db)
    try:
        return bool(conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok")
    finally:
        conn.close()


def sim_post(url: str, path: str, body: Any = None, method: str = "POST") -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        f"{url}{path}", data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else None


def sim_get(url: str, path: str) -> Any:
    with urllib.request.urlopen(f"{url}{path}", timeout=30) as resp:
        return json.loads(resp.read())


def mirror_vs_upstream(db: Path, snapshot: dict[str, Any]) -> dict[str, Any]:
    """See :func:`lore.sim.truth.compare_mirror` (shared with bench/sync.py)."""
    from lore.sim.truth import compare_mirror

    return compare_mirror(db, snapshot)
