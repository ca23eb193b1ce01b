"""Migrations: numbered, recorded, transactional; a failure leaves the DB as it was."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from lore.core.errors import ErrorCode, LoreError
from lore.store import migrations
from lore.store.db import connect


def _schema(db: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(db)
    try:
        return sorted(conn.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL"))
    finally:
        conn.close()


def test_fresh_database_gets_every_migration_recorded(tmp_path: Path) -> None:
    conn = connect(tmp_path / "lore.db")
    rows = conn.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()
    assert [r[0] for r in rows] == [m[0] for m in migrations.MIGRATIONS]
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    # reopening applies nothing twice
    conn = connect(tmp_path / "lore.db")
    assert migrations.current_version(conn) == migrations.MIGRATIONS[-1][0]


def test_migration_numbers_are_strictly_increasing() -> None:
    numbers = [m[0] for m in migrations.MIGRATIONS]
    assert numbers == sorted(set(numbers))


def test_failing_migration_rolls_back_and_reports(tmp_path: Path) -> None:
    db = tmp_path / "lore.db"
    conn = connect(db)
    conn.execute("INSERT INTO kv(key, value) VALUES ('keep', 'me')")
    version = migrations.current_version(conn)
    before = _schema(db)

    def m_bad(c: sqlite3.Connection) -> None:
        c.execute("CREATE TABLE half_done (x INTEGER)")
        c.execute("ALTER TABLE issues ADD COLUMN extra TEXT")
        c.execute("THIS IS NOT SQL")

    with pytest.raises(LoreError) as info:
        migrations.migrate(conn, [*migrations.MIGRATIONS, (version + 1, "bad", m_bad)])
    assert info.value.code is ErrorCode.MIGRATION_FAILED
    assert f"{version + 1:03d}_bad" in info.value.message
    assert info.value.suggestion
    conn.close()
    assert _schema(db) == before
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT value FROM kv WHERE key = 'keep'").fetchone()[0] == "me"
    assert conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0] == version
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_migration_failure_through_the_pipeline_is_a_stage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lore.core import config as cfgmod
    from lore.sync.pipeline import run_pipeline
    from lore.sync.types import SyncOptions

    def m_bad(c: sqlite3.Connection) -> None:
        raise sqlite3.OperationalError("disk I/O error (simulated)")

    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, (999, "bad", m_bad)])
    monkeypatch.setenv("LORE_MIG_TOKEN", "x")
    cfg = cfgmod.build("http://127.0.0.1:9", ["a/b"], "LORE_MIG_TOKEN")
    report = run_pipeline(cfg, tmp_path, SyncOptions())
    assert report.outcome == "failed"
    assert {s.error_code for s in report.stages} == {"MIGRATION_FAILED"}


def test_m006_backfills_paths_known_only_from_diff_notes(tmp_path: Path) -> None:
    """A store synced before m006 gains the paths its MRs' diff notes point at."""
    conn = sqlite3.connect(tmp_path / "old.db")
    conn.execute("PRAGMA foreign_keys = ON")
    migrations.migrate(conn, [m for m in migrations.MIGRATIONS if m[0] <= 5])
    conn.execute("INSERT INTO projects(id, path) VALUES (1, 'g/r')")
    conn.execute(
        "INSERT INTO merge_requests(id, project_id, iid, title, state, created_at, "
        "updated_at, synced_at) VALUES (7, 1, 1, 't', 'merged', 'x', 'x', 'x')"
    )
    conn.execute("INSERT INTO mr_paths(mr_id, new_path, old_path) VALUES (7, 'a.py', 'a.py')")
    conn.execute(
        "INSERT INTO discussions(id, project_id, item_kind, item_id) VALUES ('d', 1, 'mr', 7)"
    )
    for note_id, path in ((1, "a.py"), (2, "dropped.py"), (3, "dropped.py")):
        conn.execute(
            "INSERT INTO notes(id, discussion_id, project_id, item_kind, item_id, body, "
            "created_at, updated_at, position_new_path, position_old_path) "
            "VALUES (?, 'd', 1, 'mr', 7, 'b', 'x', 'x', ?, ?)",
            (note_id, path, path),
        )
    conn.commit()
    assert migrations.migrate(conn) == migrations.MIGRATIONS[-1][0]
    rows = conn.execute("SELECT new_path, source FROM mr_paths ORDER BY new_path").fetchall()
    assert rows == [("a.py", "diff"), ("dropped.py", "diff_note")]
    conn.close()
