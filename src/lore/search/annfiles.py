"""Where the approximate nearest-neighbour index lives and how its description is read:
cheap (no numpy, no usearch), so the embeddings stage can tell on every run whether the
index (:mod:`lore.search.ann`) needs any work."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

#: Below this many chunks exact search is fast enough and exact; at and above it the HNSW
#: index is built and used. Exact search is one matrix-vector product over every chunk:
#: ~4 ms at 50k chunks of 384 dimensions on a 2-core machine, ~17 ms at 120k (idle; about
#: twice that under load), linear beyond; an HNSW search stays under 1 ms. 50k keeps small
#: and medium mirrors (tens of thousands of chunks) exact, with nothing to build or store.
ANN_MIN_VECTORS = 50_000
INDEX_VERSION = 1


def min_vectors() -> int:
    """:data:`ANN_MIN_VECTORS`, or ``LORE_ANN_MIN_VECTORS`` when set (tests use a small
    store; 0 forces the index for any store)."""
    raw = os.environ.get("LORE_ANN_MIN_VECTORS", "").strip()
    return int(raw) if raw.isdigit() else ANN_MIN_VECTORS


def db_file(conn: sqlite3.Connection) -> Path | None:
    """The main database file of ``conn`` (None for an in-memory or temporary database)."""
    for row in conn.execute("PRAGMA database_list"):
        if row[1] == "main":
            return Path(row[2]) if row[2] else None
    return None


def paths(db: Path, model: str) -> tuple[Path, str]:
    """(description path, data file stem) of ``model``'s index beside ``db``."""
    key = hashlib.sha1(model.encode("utf-8")).hexdigest()[:12]
    stem = f"{db.name}.ann-{key}"
    return db.parent / f"{stem}.json", stem


def read_meta(meta_path: Path) -> dict[str, Any] | None:
    """The index description, or None when missing, unreadable or of another version."""
    with contextlib.suppress(OSError, ValueError):
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if isinstance(meta, dict) and meta.get("version") == INDEX_VERSION:
            return meta
    return None


def needs_refresh(conn: sqlite3.Connection, model: str, fingerprint: list[int]) -> bool:
    """Whether :func:`lore.search.ann.refresh` has anything to do: the store is large
    enough for an index, or an index (possibly to delete) exists; and it is not current."""
    db = db_file(conn)
    if db is None:
        return False
    meta = read_meta(paths(db, model)[0])
    if meta is None:
        return fingerprint[1] >= max(1, min_vectors())
    return meta.get("fingerprint") != fingerprint or meta.get("model") != model
