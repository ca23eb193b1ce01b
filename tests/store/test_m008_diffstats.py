"""Migration 8: the diffStats fingerprint of an MR's file list moves from kv
(``mr_diffstats:<id>``) into ``merge_requests.diffstats_fingerprint``, so deleting an MR
takes it along; other kv rows are left alone."""

from __future__ import annotations

from pathlib import Path

from lore.store import ingest, migrations
from lore.store.db import connect, transaction
from lore.sync.bulk_children import read_stored, record_diffstats

NOW = "2024-05-01T00:00:00.000Z"


def test_m008_moves_the_fingerprints_and_they_go_with_their_mr(tmp_path: Path) -> None:
    conn = connect(tmp_path / "lore.db", migrate=False)
    conn.row_factory = None
    migrations.migrate(conn, migrations.MIGRATIONS[:7])
    conn.execute("INSERT INTO projects(id, path) VALUES (1, 'g/a')")
    for mr_id in (20, 21, 22):
        conn.execute(
            "INSERT INTO merge_requests(id, project_id, iid, title, state, created_at, "
            "updated_at, synced_at) VALUES (?, 1, ?, 't', 'opened', ?, ?, ?)",
            (mr_id, mr_id, NOW, NOW, NOW),
        )
    conn.executemany(
        "INSERT INTO kv(key, value) VALUES (?, ?)",
        [
            ("mr_diffstats:20", "fp20"),
            ("mr_diffstats:21", "fp21"),
            ("mr_diffstats:999", "gone"),  # an MR deleted before: left behind in kv
            ("mr_diffstatsX", "keep"),
            ("reconcile:1", "keep"),
        ],
    )
    conn.commit()

    migrations.migrate(conn)

    assert dict(conn.execute("SELECT id, diffstats_fingerprint FROM merge_requests")) == {
        20: "fp20",
        21: "fp21",
        22: None,
    }
    assert dict(
        conn.execute("SELECT key, value FROM kv WHERE key LIKE 'mr%' OR key LIKE 'rec%'")
    ) == {"mr_diffstatsX": "keep", "reconcile:1": "keep"}
    stored = read_stored(conn, "mr", [20, 22])
    assert stored[20].diffstats_fp == "fp20" and stored[22].diffstats_fp is None
    with transaction(conn):
        record_diffstats(conn, 22, "fp22")
        record_diffstats(conn, 20, None)
    assert read_stored(conn, "mr", [20, 22])[22].diffstats_fp == "fp22"
    assert read_stored(conn, "mr", [20])[20].diffstats_fp is None
    with transaction(conn):
        ingest.delete_items(conn, "mr", [22])
    assert dict(conn.execute("SELECT id, diffstats_fingerprint FROM merge_requests")) == {
        20: None,
        21: "fp21",
    }
    conn.close()
