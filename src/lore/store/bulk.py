"""The first sync of an empty mirror loads every note at once: building the secondary
indexes of ``notes`` and ``discussions`` afterwards (one sort each) writes far less than
keeping them up to date row by row across transactions (every transaction rewrote most
of their pages).

:func:`begin` drops them, but only on a mirror with no issues, merge requests or notes,
and keeps their SQL in ``kv`` in the same transaction; :func:`restore` builds them again.
The sync calls :func:`restore` when the items stages end (whatever happened), before any
repair that deletes rows, and at the start of every run, so a sync killed half-way leaves
correct (only slower) reads until the next one. Lookups the sync itself makes by item
(``notes_item``, ``discussions_item``) and every primary key or unique index stay.
"""

from __future__ import annotations

import json
import sqlite3

from lore.store.db import transaction

KV_KEY = "bulk_load:dropped_indexes"
#: Indexes nothing reads while an empty mirror is first filled.
DEFERRED_INDEXES: tuple[str, ...] = (
    "notes_author",
    "notes_new_path",
    "who_notes_mr",
    "query_notes_project",
    "notes_discussion",
    "query_discussions_project",
)


def begin(conn: sqlite3.Connection) -> bool:
    """Drop the deferred indexes if the mirror holds no items or notes; True if it did."""
    with transaction(conn):
        for table in ("issues", "merge_requests", "notes", "discussions"):
            if conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is not None:
                return False
        if conn.execute("SELECT 1 FROM kv WHERE key = ?", (KV_KEY,)).fetchone() is not None:
            return True
        sqls: list[str] = []
        for name in DEFERRED_INDEXES:
            row = conn.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", (name,)
            ).fetchone()
            if row is not None and row[0]:
                sqls.append(str(row[0]))
                conn.execute(f"DROP INDEX {name}")
        conn.execute("INSERT INTO kv(key, value) VALUES (?, ?)", (KV_KEY, json.dumps(sqls)))
    return True


def pending(conn: sqlite3.Connection) -> bool:
    """Whether deferred indexes are waiting to be built."""
    return conn.execute("SELECT 1 FROM kv WHERE key = ?", (KV_KEY,)).fetchone() is not None


def restore(conn: sqlite3.Connection) -> None:
    """Build the indexes :func:`begin` dropped (no-op when none are pending)."""
    row = conn.execute("SELECT value FROM kv WHERE key = ?", (KV_KEY,)).fetchone()
    if row is None:
        return
    with transaction(conn):
        for sql in json.loads(row[0]):
            conn.execute(str(sql).replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1))
        conn.execute("DELETE FROM kv WHERE key = ?", (KV_KEY,))
