"""A counter in the ``kv`` table that moves whenever stored vectors change, so readers
(the search vector cache) can tell cheaply whether what they hold is current."""

from __future__ import annotations

import sqlite3

GENERATION_KEY = "embeddings.generation"


def bump_generation(conn: sqlite3.Connection) -> None:
    """Mark stored vectors as changed (call inside the writing transaction)."""
    conn.execute(
        "INSERT INTO kv(key, value) VALUES (?, '1') "
        "ON CONFLICT(key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)",
        (GENERATION_KEY,),
    )


def vectors_fingerprint(conn: sqlite3.Connection) -> tuple[int, int, int]:
    """(generation, row count, highest rowid) of ``embeddings``: changes with any write by
    the embeddings stage (generation) and with any deletion elsewhere (count). All three
    are index look-ups, cheap even for a large table."""
    row = conn.execute("SELECT value FROM kv WHERE key = ?", (GENERATION_KEY,)).fetchone()
    generation = int(row[0]) if row and str(row[0]).isdigit() else 0
    # Two statements: together SQLite would scan the table instead of using its shortcuts.
    count = conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
    highest = conn.execute("SELECT MAX(rowid) FROM embeddings").fetchone()[0]
    return generation, int(count), int(highest or 0)
