"""Opening the SQLite database: WAL mode, busy timeout, foreign keys, migrations."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lore.core.paths import ensure_dir

BUSY_TIMEOUT_MS = 10_000
#: Page cache per connection (KiB): a sync transaction of several pages of items touches
#: index pages over and over; spilling them to the WAL mid-transaction multiplies writes.
CACHE_KIB = 16_384


def connect(path: Path, *, migrate: bool = True, readonly: bool = False) -> sqlite3.Connection:
    """Open (and by default create and migrate) the database at ``path``."""
    if readonly:
        conn = sqlite3.connect(
            f"file:{path}?mode=ro",
            uri=True,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
    else:
        ensure_dir(path.parent)
        conn = sqlite3.connect(
            str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    if not readonly:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    # The counters and queues of migration 7 are kept by triggers; an INSERT OR REPLACE
    # must fire the delete triggers of the row it replaces for them to stay exact.
    conn.execute("PRAGMA recursive_triggers = ON")
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    if migrate and not readonly:
        from lore.store.migrations import migrate as run_migrations

        run_migrations(conn)
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection, immediate: bool = True) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE … COMMIT, rolled back on any exception."""
    conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")
