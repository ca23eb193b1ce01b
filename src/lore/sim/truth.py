"""Mirror equals upstream: compare a lore database with the simulator's truth.

Used by the end-to-end tests and ``bench/sync.py`` after syncs under churn. The truth is
``sim.admin.snapshot()`` (or ``GET /__sim/snapshot``); the comparison reads lore's SQLite
file directly, so it checks what was really committed.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any


def _norm_ts(value: str) -> str:
    """ISO timestamps compared at millisecond resolution in UTC."""
    from lore.core.clock import normalize_iso

    return normalize_iso(value) or ""


def compare_mirror(db: Path, snapshot: dict[str, Any]) -> dict[str, Any]:
    """Every difference between the mirror and the simulator's truth (``sim.admin.snapshot()``):
    items missing or extra, items whose ``updated_at`` or ``user_notes_count`` differ, and
    items whose set of note ids differs. An empty dict means the mirror equals upstream."""
    conn = sqlite3.connect(db)
    diffs: dict[str, Any] = {}
    try:
        for kind, table, truth in (
            ("issue", "issues", snapshot["issues"]),
            ("mr", "merge_requests", snapshot["merge_requests"]),
        ):
            rows = {
                int(r[0]): (r[1], int(r[2]))
                for r in conn.execute(f"SELECT id, updated_at, user_notes_count FROM {table}")
            }
            notes: dict[int, set[int]] = {}
            for item_id, note_id in conn.execute(
                "SELECT item_id, id FROM notes WHERE item_kind = ?", (kind,)
            ):
                notes.setdefault(int(item_id), set()).add(int(note_id))
            upstream = {int(k): v for k, v in truth.items()}
            missing = sorted(set(upstream) - set(rows))
            extra = sorted(set(rows) - set(upstream))
            stale = sorted(
                i
                for i in set(upstream) & set(rows)
                if _norm_ts(upstream[i]["updated_at"]) != _norm_ts(rows[i][0])
                or upstream[i]["user_notes_count"] != rows[i][1]
            )
            wrong_notes = sorted(
                i
                for i in set(upstream) & set(rows)
                if set(upstream[i]["note_ids"]) != notes.get(i, set())
            )
            for name, value in (
                ("missing", missing),
                ("extra", extra),
                ("stale", stale),
                ("notes", wrong_notes),
            ):
                if value:
                    diffs[f"{table}.{name}"] = value[:20] + (
                        [f"... {len(value)} in all"] if len(value) > 20 else []
                    )
    finally:
        conn.close()
    return diffs
