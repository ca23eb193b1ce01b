"""Every statement lore runs on a real workload reads large tables through an index.

The statements are not listed by hand: every connection lore opens is traced
(``set_trace_callback``) while the real code runs end to end in this process against the
simulator: initial sync with documents, edits, a note, a deletion, an incremental sync,
``--full``, and the reading commands (issues, mrs, an issue, who, status, search). Each
distinct statement then goes through ``EXPLAIN QUERY PLAN`` on the populated mirror and
the test fails on a plain ``SCAN`` of a large table, naming the statement. A new query
without an index is caught the day it is written.

A second test checks the schema itself: every foreign key has an index led by its child
columns, so a delete or cascade from the parent never scans the child table.
"""

from __future__ import annotations

import contextlib
import io
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from lore_testkit import LoreEnv

#: Tables that grow with the mirror: a full scan of one is a bug on a large mirror.
LARGE_TABLES = frozenset(
    {
        "issues",
        "merge_requests",
        "notes",
        "discussions",
        "mr_paths",
        "documents",
        "embeddings",
        "item_labels",
        "item_people",
        "mr_approvals",
        "item_children",
    }
)

#: Statements that read a whole table by design, with the reason. Matched as a prefix of
#: the normalised statement.
ALLOWED_SCANS: dict[str, str] = {
    # `--full` renders every document: reading every item id is the job.
    "SELECT i.id FROM issues i WHERE ? ORDER BY i.id": "docs --full renders every item",
    "SELECT i.id FROM merge_requests i WHERE ? ORDER BY i.id": "docs --full renders every item",
    # FTS5's own shadow tables and the 'rebuild' command.
    "INSERT INTO documents_fts(documents_fts) VALUES(?)": "FTS5 rebuild (migration)",
}

_SKIP_PREFIXES = (
    "--",
    "PRAGMA",
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "SAVEPOINT",
    "RELEASE",
    "CREATE",
    "DROP",
    "ALTER",
    "EXPLAIN",
    "ANALYZE",
    "VACUUM",
)
_LITERALS = re.compile(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b|x'[0-9a-fA-F]*'")
_ALIASES = re.compile(
    r"\b(?:FROM|JOIN|UPDATE|INTO)\s+(\w+)(?:\s+(?:AS\s+)?(?!WHERE|ON|LEFT|JOIN|INNER|CROSS"
    r"|GROUP|ORDER|LIMIT|SET|USING|NATURAL|VALUES|SELECT|WHERE|UNION|EXCEPT|INTERSECT)(\w+))?",
    re.I,
)


_DEBUG = False


def _normalise(sql: str) -> str:
    text = " ".join(sql.split())
    text = _LITERALS.sub("?", text)
    return re.sub(r"\?(?:\s*,\s*\?)+", "?", text)


def _tables_by_alias(sql: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for table, alias in _ALIASES.findall(sql):
        out[table] = table
        if alias:
            out[alias] = table
    return out


def _full_scans(conn: sqlite3.Connection, sql: str) -> list[str]:
    plan = conn.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall()
    aliases = _tables_by_alias(sql)
    out = []
    for row in plan:
        detail = str(row[3])
        match = re.fullmatch(r"SCAN (\w+)", detail)
        if match and aliases.get(match.group(1), match.group(1)) in LARGE_TABLES:
            out.append(detail)
    return out


def _lore(*argv: str) -> int:
    from lore.cli.app import main

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return main(["--robot", *argv])


def _first_note(sim: Any, project: str, iid: int) -> int:
    import json
    import urllib.request

    pid = next(p["id"] for p in sim.admin.projects() if p["path"] == project)
    req = urllib.request.Request(
        f"{sim.url}/api/v4/projects/{pid}/issues/{iid}/discussions",
        headers={"PRIVATE-TOKEN": sim.token},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        discussions = json.loads(resp.read())
    return int(next(n["id"] for d in discussions for n in d["notes"] if not n["system"]))


def _traced_workload(lore_env: LoreEnv, sim: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    import lore.store.db as db
    import lore.sync.pipeline as pipeline

    captured: list[str] = []
    real_connect = db.connect

    def traced(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = real_connect(*args, **kwargs)
        conn.set_trace_callback(captured.append)
        return conn

    monkeypatch.setattr(db, "connect", traced)
    monkeypatch.setattr(pipeline, "connect", traced)
    monkeypatch.setenv("LORE_PLAN_TOKEN", sim.token)
    projects = [p["path"] for p in sim.admin.projects()]
    lore_env.write_config(
        sim.url, projects, "LORE_PLAN_TOKEN", extra={"embedding": {"provider": "none"}}
    )
    assert _lore("sync") == 0
    project = projects[0]
    sim.admin.edit_issue(project, 1, title="edited for the plan test")
    sim.admin.add_note(project, "issue", 2, body="a new note for the plan test")
    sim.admin.add_note(
        project,
        "mr",
        1,
        body="a new diff note",
        position={"new_path": "src/plan.py", "new_line": 3},
    )
    sim.admin.delete(project, "issue", 3)
    sim.admin.delete_note(project, "issue", 4, _first_note(sim, project, 4))
    sim.admin.set_clock(advance_seconds=600)
    assert _lore("sync") == 0
    assert _lore("sync") == 0  # the no-op
    assert _lore("sync", "--full") == 0
    for argv in (
        ("issues",),
        ("issues", "--state", "all", "--label", "bug"),
        ("mrs",),
        ("mrs", "--state", "merged"),
        ("issues", f"{project}#2"),
        ("mrs", f"{project}!1"),
        ("who", "src/"),
        ("status",),
        ("search", "plan test"),
        ("issues", "--author", "root"),
    ):
        _lore(*argv)
    return captured


def test_no_hot_statement_scans_a_large_table(
    lore_env: LoreEnv, sim: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    captured = _traced_workload(lore_env, sim, monkeypatch)
    statements: dict[str, str] = {}
    for sql in captured:
        head = sql.lstrip().upper()
        if not head or head.startswith(_SKIP_PREFIXES):
            continue
        statements.setdefault(_normalise(sql), sql)
    assert len(statements) > 50, "the workload ran too little SQL to mean anything"
    conn = sqlite3.connect(lore_env.data_dir / "lore.db")
    try:
        # The tables the assertion is about were really filled.
        for table in ("issues", "merge_requests", "notes", "discussions", "mr_paths", "documents"):
            assert conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] > 0, table
        bad: list[str] = []
        for shape, sql in sorted(statements.items()):
            if any(shape.startswith(prefix) for prefix in ALLOWED_SCANS):
                continue
            scans = _full_scans(conn, sql)
            if _DEBUG:
                print(shape[:200], [r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}")])
            if scans:
                bad.append(f"{', '.join(scans)}  <-  {shape[:300]}")
    finally:
        conn.close()
    assert not bad, "statements that scan a large table:\n" + "\n".join(bad)


def test_the_check_sees_a_scan(tmp_path: Path) -> None:
    from lore.store.db import connect

    conn = connect(tmp_path / "lore.db")
    try:
        assert _full_scans(conn, "SELECT n.id FROM notes n WHERE n.body = 'x'") == ["SCAN n"]
        assert _full_scans(conn, "DELETE FROM discussions WHERE individual_note = 1") == [
            "SCAN discussions"
        ]
        assert (
            _full_scans(conn, "SELECT id FROM notes WHERE item_kind = 'mr' AND item_id = 1") == []
        )
    finally:
        conn.close()


def test_every_foreign_key_has_an_index(tmp_path: Path) -> None:
    from lore.store.db import connect

    conn = connect(tmp_path / "lore.db")
    try:
        tables = [
            str(r[0])
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%'"
            )
        ]
        missing: list[str] = []
        for table in tables:
            indexed: list[list[str]] = []
            for idx in conn.execute(f"PRAGMA index_list({table})").fetchall():
                if idx[4]:  # partial index: not usable for every parent row
                    continue
                indexed.append([str(c[2]) for c in conn.execute(f"PRAGMA index_info({idx[1]})")])
            pk = [
                str(r[1])
                for r in sorted(conn.execute(f"PRAGMA table_info({table})"), key=lambda r: r[5])
                if r[5]
            ]
            if pk:
                indexed.append(pk)
            fks: dict[int, list[str]] = {}
            parents: dict[int, str] = {}
            for fk in conn.execute(f"PRAGMA foreign_key_list({table})"):
                fks.setdefault(int(fk[0]), []).append(str(fk[3]))
                parents[int(fk[0])] = str(fk[2])
            for fk_id, columns in fks.items():
                if not any(cols[: len(columns)] == columns for cols in indexed):
                    missing.append(f"{table}({', '.join(columns)}) -> {parents[fk_id]}")
    finally:
        conn.close()
    assert not missing, "foreign keys without an index: " + "; ".join(missing)
