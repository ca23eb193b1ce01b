"""Migration 7's bookkeeping against real syncs of the simulator: the per-project note and
discussion counters equal COUNT(*) after syncs, edits, deletions and --full; a no-op sync
leaves the docs stage nothing to read; --full rewrites no discussion or note whose rows
are unchanged and leaves the mirror exactly as it was; the external-content FTS index
stays consistent with the documents."""

from __future__ import annotations

import json
import sqlite3
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from lore_testkit import LoreEnv

_TABLES = (
    "issues",
    "merge_requests",
    "item_labels",
    "item_people",
    "discussions",
    "notes",
    "mr_paths",
    "people",
)
#: lore's own bookkeeping: when it read something, and the GraphQL path's fingerprint of
#: an MR's file list (recorded when a --full first reads the list it already held).
_VOLATILE = {"synced_at", "children_fetched_at", "last_synced_at", "diffstats_fingerprint"}


def _sync(lore_env: LoreEnv, token: str, *args: str) -> dict[str, Any]:
    proc = lore_env.run("--robot", "sync", "--no-embed", *args, extra_env={"LORE_BK_TOKEN": token})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc["data"]


def _db(lore_env: LoreEnv) -> sqlite3.Connection:
    return sqlite3.connect(lore_env.data_dir / "lore.db")


def _counters_match(conn: sqlite3.Connection) -> None:
    for table in ("notes", "discussions"):
        counted = dict(conn.execute(f"SELECT project_id, COUNT(*) FROM {table} GROUP BY 1"))
        kept = {
            pid: n
            for pid, n in conn.execute(
                "SELECT project_id, n FROM row_counts WHERE name = ?", (table,)
            )
            if n
        }
        assert kept == counted, table


def _dump(conn: sqlite3.Connection) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    for table in _TABLES:
        cur = conn.execute(f"SELECT * FROM {table}")
        keep = [i for i, d in enumerate(cur.description) if d[0] not in _VOLATILE]
        out[table] = sorted((tuple(r[i] for i in keep) for r in cur.fetchall()), key=repr)
    return out


def _first_user_note(sim: Any, project_id: int, iid: int) -> int:
    req = urllib.request.Request(
        f"{sim.url}/api/v4/projects/{project_id}/issues/{iid}/discussions",
        headers={"PRIVATE-TOKEN": sim.token},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        discussions = json.loads(resp.read())
    return int(next(n["id"] for d in discussions for n in d["notes"] if not n["system"]))


@pytest.fixture
def synced(lore_env: LoreEnv, sim: Any) -> tuple[LoreEnv, Any, list[dict[str, Any]]]:
    projects = sim.admin.projects()
    lore_env.write_config(
        sim.url,
        [p["path"] for p in projects],
        "LORE_BK_TOKEN",
        extra={"embedding": {"provider": "none"}},
    )
    _sync(lore_env, sim.token)
    return lore_env, sim, projects


def test_counters_stay_exact_through_edits_deletions_and_full(
    synced: tuple[LoreEnv, Any, list[dict[str, Any]]],
) -> None:
    lore_env, sim, projects = synced
    conn = _db(lore_env)
    _counters_match(conn)
    first, second = projects[0], projects[1]
    sim.admin.add_note(first["path"], "issue", 1, body="one more note")
    sim.admin.delete_note(first["path"], "issue", 2, _first_user_note(sim, first["id"], 2))
    sim.admin.delete(second["path"], "issue", 1)
    sim.admin.delete(first["path"], "mr", 1)
    sim.admin.set_clock(advance_seconds=600)
    # the daily reconciliation is due, so deleted notes and items are found
    with conn:
        conn.execute(
            "UPDATE kv SET value = json_set(value, '$.at', "
            "'2000-01-01T00:00:00.000Z') WHERE key LIKE 'reconcile:%'"
        )
    _sync(lore_env, sim.token)
    _counters_match(conn)
    assert (
        conn.execute(
            "SELECT COUNT(*) FROM issues WHERE project_id = ? AND iid = 1", (second["id"],)
        ).fetchone()[0]
        == 0
    )
    _sync(lore_env, sim.token, "--full")
    _counters_match(conn)
    code = lore_env.robot("status")
    status = code[1]["data"]
    for project in status["projects"]:
        pid = project["id"]
        assert (
            project["notes"]
            == conn.execute("SELECT COUNT(*) FROM notes WHERE project_id = ?", (pid,)).fetchone()[0]
        )
        assert (
            project["discussions"]
            == conn.execute(
                "SELECT COUNT(*) FROM discussions WHERE project_id = ?", (pid,)
            ).fetchone()[0]
        )
    conn.close()


def test_a_noop_sync_gives_the_docs_stage_nothing_to_read(
    synced: tuple[LoreEnv, Any, list[dict[str, Any]]],
) -> None:
    lore_env, sim, projects = synced
    conn = _db(lore_env)
    assert conn.execute("SELECT COUNT(*) FROM docs_dirty").fetchone()[0] == 0
    items = conn.execute(
        "SELECT (SELECT COUNT(*) FROM issues) + (SELECT COUNT(*) FROM merge_requests)"
    ).fetchone()[0]
    assert conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0] == items
    sim.admin.set_clock(advance_seconds=600)
    _sync(lore_env, sim.token)  # re-reads the items read within a minute of their update
    report = _sync(lore_env, sim.token)
    docs = next(s for s in report["stages"] if s["stage"] == "docs")
    assert docs["details"]["checked"] == 0 and docs["items_updated"] == 0
    # an edit queues exactly that item, and its document follows
    sim.admin.edit_issue(projects[0]["path"], 3, title="zebrafish migration plan")
    sim.admin.set_clock(advance_seconds=600)
    report = _sync(lore_env, sim.token)
    docs = next(s for s in report["stages"] if s["stage"] == "docs")
    assert docs["details"]["checked"] >= 1 and docs["items_updated"] >= 1
    issue_id = conn.execute(
        "SELECT id FROM issues WHERE project_id = ? AND iid = 3", (projects[0]["id"],)
    ).fetchone()[0]
    hits = conn.execute(
        "SELECT d.item_id FROM documents_fts f JOIN documents d ON d.id = f.rowid "
        "WHERE documents_fts MATCH 'zebrafish'"
    ).fetchall()
    assert hits == [(issue_id,)]
    conn.close()


def test_full_rewrites_no_unchanged_children_and_changes_nothing(
    synced: tuple[LoreEnv, Any, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    lore_env, sim, projects = synced
    sim.admin.set_clock(advance_seconds=600)
    _sync(lore_env, sim.token)
    conn = _db(lore_env)
    before = _dump(conn)
    note_rowids = conn.execute("SELECT MAX(rowid) FROM notes").fetchone()[0]
    report = _sync(lore_env, sim.token, "--full")
    assert _dump(conn) == before
    # no note was deleted and inserted again: the arrival-order rowids did not move on
    assert conn.execute("SELECT MAX(rowid) FROM notes").fetchone()[0] == note_rowids
    issues = next(s for s in report["stages"] if s["stage"] == "issues")
    assert issues["items_updated"] == sum(p["issues"] for p in projects)
    conn.close()


def test_fts_index_follows_documents(synced: tuple[LoreEnv, Any, list[dict[str, Any]]]) -> None:
    lore_env, sim, projects = synced
    sim.admin.edit_issue(
        projects[0]["path"],
        4,
        title="quokka sighting",
        description="the quokka was seen near the build farm",
    )
    sim.admin.delete(projects[0]["path"], "issue", 5)
    sim.admin.set_clock(advance_seconds=600)
    conn = _db(lore_env)
    with conn:
        conn.execute(
            "UPDATE kv SET value = json_set(value, '$.at', "
            "'2000-01-01T00:00:00.000Z') WHERE key LIKE 'reconcile:%'"
        )
    _sync(lore_env, sim.token)
    conn.execute("INSERT INTO documents_fts(documents_fts, rank) VALUES ('integrity-check', 1)")
    assert (
        conn.execute(
            "SELECT COUNT(*) FROM documents_fts WHERE documents_fts MATCH 'quokka'"
        ).fetchone()[0]
        == 1
    )
    gone = conn.execute(
        "SELECT COUNT(*) FROM documents d WHERE d.item_kind = 'issue' AND NOT "
        "EXISTS (SELECT 1 FROM issues i WHERE i.id = d.item_id)"
    ).fetchone()[0]
    assert gone == 0
    # no second copy of the text: the FTS table has no content table of its own
    assert (
        conn.execute(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'documents_fts_content'"
        ).fetchone()[0]
        == 0
    )
    conn.close()


def test_db_path_is_where_the_tests_look(lore_env: LoreEnv) -> None:
    from lore.core.paths import db_path

    assert db_path(lore_env.data_dir) == Path(lore_env.data_dir) / "lore.db"
