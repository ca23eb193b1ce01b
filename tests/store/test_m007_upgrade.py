"""Migration 7 on a mirror written by the schema before it: notes keep every row (now in
arrival order), the counters start exact, the docs queue holds what the old full scan
would have found (plus orphans), and documents_fts becomes external content with the
same rowids, MATCH and snippets."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from lore.store import migrations
from lore.store.db import connect

NOW = "2024-05-01T00:00:00.000Z"


def _old_mirror(db: Path) -> sqlite3.Connection:
    conn = connect(db, migrate=False)
    conn.row_factory = None
    migrations.migrate(conn, migrations.MIGRATIONS[:6])
    conn.execute("INSERT INTO projects(id, path) VALUES (1, 'g/a'), (2, 'g/b')")
    for item_id, project in ((10, 1), (11, 1), (12, 2)):
        conn.execute(
            "INSERT INTO issues(id, project_id, iid, title, state, created_at, "
            "updated_at, synced_at) VALUES (?, ?, ?, ?, 'opened', ?, ?, ?)",
            (item_id, project, item_id, f"issue {item_id}", NOW, NOW, NOW),
        )
    note_id = 900
    for item_id, project in ((10, 1), (11, 1), (12, 2)):
        for d in range(2):
            disc = f"d{item_id}{d}"
            conn.execute(
                "INSERT INTO discussions(id, project_id, item_kind, item_id) "
                "VALUES (?, ?, 'issue', ?)",
                (disc, project, item_id),
            )
            for _ in range(3):
                note_id -= 7  # ids not in arrival order
                conn.execute(
                    "INSERT INTO notes(id, discussion_id, project_id, item_kind, item_id, "
                    "body, created_at, updated_at) VALUES (?, ?, ?, 'issue', ?, ?, ?, ?)",
                    (note_id, disc, project, item_id, f"note {note_id}", NOW, NOW),
                )
    # issue 10 has a fresh document, issue 11 a stale one, issue 12 none; 99 is an orphan
    for item_id, updated in ((10, NOW), (11, "2023-01-01T00:00:00.000Z"), (99, NOW)):
        cur = conn.execute(
            "INSERT INTO documents(item_kind, item_id, project_id, title, body, "
            "content_hash, item_updated_at, rendered_at) "
            "VALUES ('issue', ?, 1, ?, ?, 'h', ?, ?)",
            (item_id, f"title {item_id}", f"walrus body {item_id}", updated, NOW),
        )
        conn.execute(
            "INSERT INTO documents_fts(rowid, title, body) VALUES (?, ?, ?)",
            (cur.lastrowid, f"title {item_id}", f"walrus body {item_id}"),
        )
    return conn


def test_m007_upgrades_an_old_mirror(tmp_path: Path) -> None:
    db = tmp_path / "lore.db"
    conn = _old_mirror(db)
    notes_before = conn.execute("SELECT * FROM notes ORDER BY id").fetchall()
    fts_before = conn.execute(
        "SELECT rowid, snippet(documents_fts, 1, '[', ']', '…', 5) FROM "
        "documents_fts WHERE documents_fts MATCH 'walrus' ORDER BY rowid"
    ).fetchall()
    migrations.migrate(conn)
    assert migrations.current_version(conn) == migrations.MIGRATIONS[-1][0]
    assert conn.execute("SELECT * FROM notes ORDER BY id").fetchall() == notes_before
    assert dict(conn.execute("SELECT project_id, n FROM row_counts WHERE name = 'notes'")) == {
        1: 12,
        2: 6,
    }
    assert dict(
        conn.execute("SELECT project_id, n FROM row_counts WHERE name = 'discussions'")
    ) == {1: 4, 2: 2}
    assert sorted(conn.execute("SELECT item_id FROM docs_dirty")) == [(11,), (12,), (99,)]
    assert (
        conn.execute(
            "SELECT rowid, snippet(documents_fts, 1, '[', ']', '…', 5) FROM "
            "documents_fts WHERE documents_fts MATCH 'walrus' ORDER BY rowid"
        ).fetchall()
        == fts_before
    )
    conn.execute("INSERT INTO documents_fts(documents_fts, rank) VALUES ('integrity-check', 1)")
    # the triggers work from here on
    conn.execute(
        "INSERT INTO notes(id, discussion_id, project_id, item_kind, item_id, body, "
        "created_at, updated_at) VALUES (5, 'd120', 2, 'issue', 12, 'x', ?, ?)",
        (NOW, NOW),
    )
    conn.execute("DELETE FROM discussions WHERE id = 'd100'")
    assert dict(conn.execute("SELECT project_id, n FROM row_counts WHERE name = 'notes'")) == {
        1: 9,
        2: 7,
    }
    conn.execute("UPDATE documents SET body = 'otter body' WHERE item_id = 10")
    conn.execute("DELETE FROM documents WHERE item_id = 99")
    assert (
        conn.execute(
            "SELECT COUNT(*) FROM documents_fts WHERE documents_fts MATCH 'walrus'"
        ).fetchone()[0]
        == 1
    )
    assert (
        conn.execute(
            "SELECT COUNT(*) FROM documents_fts WHERE documents_fts MATCH 'otter'"
        ).fetchone()[0]
        == 1
    )
    conn.execute("INSERT INTO documents_fts(documents_fts, rank) VALUES ('integrity-check', 1)")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn.close()
