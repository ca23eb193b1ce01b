"""lore.query.status.store_status: counts, sync history, cursor ages, sizes, coverage."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from lore.core.config import build
from lore.query.status import store_status
from lore.query.store import latest_schema_version

from .conftest import NOW_MS, StoreBuilder

Std = tuple[sqlite3.Connection, dict[str, int]]


def test_per_project_counts(standard: Std, tmp_path: Path) -> None:
    conn, _ = standard
    data = store_status(conn, tmp_path / "lore.db", now_ms=NOW_MS)
    assert data["synced"] is True
    platform, web = data["projects"]
    assert platform["path"] == "acme/platform" and platform["mirrored"] is True
    assert platform["configured"] is None  # no config given
    assert platform["issues"] == {"opened": 3, "closed": 1, "total": 4}
    assert platform["mrs"] == {"opened": 1, "merged": 1, "closed": 0, "locked": 0, "total": 2}
    assert web["mrs"] == {"opened": 0, "merged": 0, "closed": 1, "locked": 1, "total": 2}
    assert platform["notes"] == 8 and web["notes"] == 0
    assert platform["discussions"] == 6
    assert platform["documents"] == 6 and platform["embedded_documents"] == 6
    assert web["documents"] == 4 and web["embedded_documents"] == 0
    assert platform["last_synced_age_seconds"] == 2 * 3600
    assert data["totals"] == {
        "projects": 2,
        "issues": 6,
        "open_issues": 5,
        "mrs": 4,
        "open_mrs": 1,
        "discussions": 6,
        "notes": 8,
        "documents": 10,
    }


def test_cursor_ages(standard: Std, tmp_path: Path) -> None:
    conn, _ = standard
    platform, web = store_status(conn, tmp_path / "lore.db", now_ms=NOW_MS)["projects"]
    assert [(c["resource"], c["age_seconds"]) for c in platform["cursors"]] == [
        ("issues", 7200),
        ("mrs", 10800),
    ]
    assert [(c["resource"], c["age_seconds"]) for c in web["cursors"]] == [("issues", 2 * 86400)]


def test_last_sync_and_last_success(standard: Std, tmp_path: Path) -> None:
    conn, _ = standard
    data = store_status(conn, tmp_path / "lore.db", now_ms=NOW_MS)
    run = data["last_sync"]
    assert run["outcome"] == "degraded" and run["requests"] == 12
    assert run["duration_ms"] == 60_000 and run["age_seconds"] == 7200
    assert [s["stage"] for s in run["stages"]] == ["issues", "mrs", "docs", "embeddings"]
    assert data["last_success"]["id"] == run["id"]  # degraded still counts as a sync
    assert any("degraded" in h and "embeddings (EMBEDDING_UNAVAILABLE)" in h for h in data["hints"])


def test_running_and_failed_runs(builder: StoreBuilder, tmp_path: Path) -> None:
    builder.project("acme/platform")
    builder.sync_run(
        started_at="2025-05-01T00:00:00.000Z",
        finished_at="2025-05-01T00:01:00.000Z",
        outcome="success",
        stages=[],
    )
    builder.sync_run(
        started_at="2025-05-02T00:00:00.000Z",
        finished_at="2025-05-02T00:00:05.000Z",
        outcome="failed",
        stages=[{"stage": "issues", "success": False, "error_code": "AUTH_FAILED"}],
    )
    builder.conn.execute(
        "INSERT INTO sync_runs(started_at, outcome, stage_results) "
        "VALUES ('2025-06-01T11:59:00.000Z', 'running', 'not json')"
    )
    data = store_status(builder.conn, tmp_path / "lore.db", now_ms=NOW_MS)
    assert data["last_sync"]["outcome"] == "running"
    assert data["last_sync"]["finished_at"] is None and data["last_sync"]["stages"] == []
    assert data["last_sync"]["age_seconds"] == 60
    assert data["last_success"]["started_at"].startswith("2025-05-01")


def test_embedding_coverage_and_models(standard: Std, tmp_path: Path) -> None:
    conn, ids = standard
    # A second model on one document: counted per model, the document once.
    conn.execute(
        "INSERT INTO embeddings(document_id, chunk_index, model, dimension, content_hash,"
        " vector, embedded_at) SELECT id, 9, 'other', 8, 'x', x'00', 'now' FROM documents"
        " WHERE item_kind = 'issue' AND item_id = ?",
        (ids["acme/web#5"],),
    )
    emb = store_status(conn, tmp_path / "lore.db", now_ms=NOW_MS)["embeddings"]
    assert emb["documents"] == 10 and emb["embedded_documents"] == 7
    assert emb["coverage"] == 0.7
    assert emb["models"] == [
        {"model": "nomic-embed-text", "dimension": 4, "documents": 6, "chunks": 8},
        {"model": "other", "dimension": 8, "documents": 1, "chunks": 1},
    ]
    assert emb["chunks"] == 9
    assert emb["configured_model"] is None


def test_config_adds_unsynced_projects_and_model(standard: Std, tmp_path: Path) -> None:
    conn, _ = standard
    config = build(
        "https://gitlab.example.com",
        ["acme/platform", "acme/new"],
        extra={"embedding": {"model": "mxbai-embed-large"}},
    )
    data = store_status(conn, tmp_path / "lore.db", config, now_ms=NOW_MS)
    by_path = {p["path"]: p for p in data["projects"]}
    assert by_path["acme/platform"]["configured"] is True
    assert by_path["acme/web"]["configured"] is False  # mirrored, no longer configured
    assert by_path["acme/new"]["mirrored"] is False and by_path["acme/new"]["issues"]["total"] == 0
    assert data["totals"]["projects"] == 2
    assert data["embeddings"]["configured_model"] == "mxbai-embed-large"
    assert any("acme/new" in h and "lore sync" in h for h in data["hints"])


def test_workitem_status_from_kv(standard: Std, tmp_path: Path) -> None:
    conn, _ = standard
    info = store_status(conn, tmp_path / "lore.db", now_ms=NOW_MS)["workitem_status"]
    assert info["columns"] is True and info["issues_with_status"] == 3
    [instance] = info["instances"]
    assert instance["instance"] == "https://gitlab.example.com"
    assert instance["available"] is True


def test_schema_without_status_and_pending_migrations(tmp_path: Path) -> None:
    b = StoreBuilder(tmp_path / "lore.db", schema=1)
    b.project("acme/platform")
    data = store_status(b.conn, tmp_path / "lore.db", now_ms=NOW_MS)
    assert data["workitem_status"] == {
        "columns": False,
        "issues_with_status": None,
        "instances": [],
    }
    assert data["db"]["schema_version"] == 1
    assert data["db"]["pending_migrations"] == latest_schema_version() - 1
    assert any("upgrades it" in h for h in data["hints"])
    b.close()


def test_db_sizes(standard: Std, tmp_path: Path) -> None:
    conn, _ = standard
    db = store_status(conn, tmp_path / "lore.db", now_ms=NOW_MS)["db"]
    assert db["exists"] is True and db["size_bytes"] > 0
    wal = tmp_path / "lore.db-wal"
    expected_wal = wal.stat().st_size if wal.exists() else 0
    assert db["wal_bytes"] == expected_wal
    assert db["total_bytes"] == db["size_bytes"] + db["wal_bytes"]
    assert db["schema_version"] == latest_schema_version() and db["pending_migrations"] == 0


def test_nothing_synced_yet(tmp_path: Path) -> None:
    config = build("https://gitlab.example.com", ["acme/platform"])
    data = store_status(None, tmp_path / "lore.db", config, now_ms=NOW_MS)
    assert data["synced"] is False
    assert data["db"]["exists"] is False and data["db"]["schema_version"] is None
    assert [p["path"] for p in data["projects"]] == ["acme/platform"]
    assert data["last_sync"] is None and data["workitem_status"] is None
    assert data["embeddings"]["configured_model"] == "nomic-embed-text"
    assert any("lore sync" in h for h in data["hints"])
    assert not (tmp_path / "lore.db").exists()


def test_database_from_a_newer_lore(standard: Std, tmp_path: Path) -> None:
    conn, _ = standard
    conn.execute(
        "INSERT INTO schema_migrations(version, name, applied_at) VALUES (999, 'future', 'now')"
    )
    data = store_status(conn, tmp_path / "lore.db", now_ms=NOW_MS)
    assert data["db"]["schema_version"] == 999 and data["db"]["pending_migrations"] == 0
    assert any("newer than this lore" in h for h in data["hints"])
