"""Deferred indexes of a first sync: dropped only on an empty mirror, recorded in the same
transaction, rebuilt exactly as they were, and rebuilt by the next run after a kill."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from lore.store import bulk
from lore.store.db import connect


def _indexes(conn: sqlite3.Connection) -> dict[str, str]:
    return {
        str(r[0]): str(r[1])
        for r in conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        )
    }


def test_begin_and_restore_round_trip(tmp_path: Path) -> None:
    conn = connect(tmp_path / "lore.db")
    before = _indexes(conn)
    assert bulk.begin(conn) is True and bulk.pending(conn)
    assert set(before) - set(_indexes(conn)) == set(bulk.DEFERRED_INDEXES)
    assert bulk.begin(conn) is True  # idempotent while pending
    bulk.restore(conn)
    assert not bulk.pending(conn)
    assert {k: v.replace(" IF NOT EXISTS", "") for k, v in _indexes(conn).items()} == {
        k: v.replace(" IF NOT EXISTS", "") for k, v in before.items()
    }
    conn.close()


def test_a_mirror_with_items_keeps_its_indexes(tmp_path: Path) -> None:
    conn = connect(tmp_path / "lore.db")
    conn.execute("INSERT INTO projects(id, path) VALUES (1, 'g/p')")
    conn.execute(
        "INSERT INTO issues(id, project_id, iid, title, state, created_at, updated_at, "
        "synced_at) VALUES (1, 1, 1, 't', 'opened', 'x', 'x', 'x')"
    )
    assert bulk.begin(conn) is False and not bulk.pending(conn)
    conn.close()


def test_the_next_run_rebuilds_what_a_killed_first_sync_deferred(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lore.core import config as cfgmod
    from lore.sync.pipeline import run_pipeline
    from lore.sync.types import SyncOptions

    conn = connect(tmp_path / "lore.db")
    before = set(_indexes(conn))
    bulk.begin(conn)  # ... and the process dies here
    conn.close()
    monkeypatch.setenv("LORE_BULK_TOKEN", "x")
    cfg = cfgmod.build("http://127.0.0.1:9", ["a/b"], "LORE_BULK_TOKEN")
    run_pipeline(cfg, tmp_path, SyncOptions(embed=False))  # GitLab unreachable: fails
    conn = connect(tmp_path / "lore.db")
    assert set(_indexes(conn)) == before and not bulk.pending(conn)
    conn.close()
