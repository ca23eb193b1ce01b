"""GraphQL bulk children vs REST (issue 10): the same dataset synced both ways, through the
real CLI and pipeline into two real SQLite files, gives the same rows in EVERY table.

Two simulators start from the same seed and get the same edits, so they serve the same
data at every step: one is mirrored with ``sync.graphqlChildren: "off"`` (REST per item),
the other with the default (GraphQL batches, REST only where GraphQL cannot give REST's
rows). The dataset has an issue with more than 100 discussions and a thread of more than
100 notes (GraphQL follow-up pages), MR diff notes with positions and multi-line ranges,
internal and system notes; between the syncs notes are added, replied to (an individual
note becomes a thread), deleted, items are edited without a note, and an issue and an MR
are deleted right after the list showed them.

Only bookkeeping is left out of the comparison, by name: :data:`BOOKKEEPING_COLUMNS` and
:data:`BOOKKEEPING_KV` (timestamps of lore's own runs, and the GraphQL path's own cache).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from lore.sim.server import Simulator
from lore_testkit import LoreEnv, make_env

SEED = 11
NOW = "2025-06-01T12:00:00Z"

#: Columns that record when lore did something, not what GitLab holds.
BOOKKEEPING_COLUMNS: dict[str, set[str]] = {
    "issues": {"synced_at", "children_fetched_at"},
    "merge_requests": {"synced_at", "children_fetched_at", "diffstats_fingerprint"},
    "projects": {"last_synced_at"},
    "sync_cursors": {"advanced_at"},
    "sync_runs": {"*"},  # one row per run: ids, start/end times, its report
    "schema_migrations": {"applied_at"},
}
#: kv keys (prefixes) that are lore's own bookkeeping: the GraphQL path's capability and
#: file-list fingerprints (a merge_requests column) exist only where it ran; the others hold run times.
BOOKKEEPING_KV = (
    "graphql_children:",
    "graphql_children_lossy:",
    "reconcile:",
    "workitem_status:",
    "unavailable:",
)


def dump_everything(db: Path, base_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (sorted), minus the named bookkeeping; the simulator's
    address (each side has its own port) reads as ``SIM``."""
    conn = sqlite3.connect(db)
    try:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                "ORDER BY name"
            )
        ]
        out: dict[str, list[tuple[Any, ...]]] = {}
        for table in tables:
            skip = BOOKKEEPING_COLUMNS.get(table, set())
            if "*" in skip:
                continue
            cur = conn.execute(f'SELECT * FROM "{table}"')
            names = [d[0] for d in cur.description]
            keep = [i for i, n in enumerate(names) if n not in skip]
            rows = [
                tuple(
                    row[i].replace(base_url, "SIM") if isinstance(row[i], str) else row[i]
                    for i in keep
                )
                for row in cur.fetchall()
            ]
            if table == "kv":
                rows = [r for r in rows if not str(r[0]).startswith(BOOKKEEPING_KV)]
            out[table] = sorted(rows, key=repr)
        return out
    finally:
        conn.close()


def diff_stores(a: Side, b: Side) -> dict[str, Any]:
    left, right = dump_everything(a.db, a.sim.url), dump_everything(b.db, b.sim.url)
    out: dict[str, Any] = {}
    for table in sorted(set(left) | set(right)):
        only_a = sorted(set(left.get(table, [])) - set(right.get(table, [])), key=repr)
        only_b = sorted(set(right.get(table, [])) - set(left.get(table, [])), key=repr)
        if only_a or only_b:
            out[table] = {
                "rest_only": only_a[:5],
                "graphql_only": only_b[:5],
                "counts": (len(only_a), len(only_b)),
            }
    return out


class Side:
    """One simulator and one lore mirror of it."""

    def __init__(self, root: Path, extra_sync: dict[str, Any], version: str = "18.5-ee") -> None:
        self.sim = Simulator.start(preset="small", seed=SEED, now=NOW, gitlab_version=version)
        self.env: LoreEnv = make_env(root)
        self.env.write_config(
            self.sim.url,
            [p.path for p in self.sim.dataset.projects],
            extra={"embedding": {"provider": "none"}, "sync": extra_sync},
        )
        self.db = self.env.data_dir / "lore.db"

    def sync(self, *args: str) -> dict[str, Any]:
        code, doc = self.env.robot(
            "sync", "--no-docs", *args, extra_env={"GITLAB_TOKEN": self.sim.token}, timeout=600
        )
        assert code == 0, doc
        return dict(doc["data"])

    def requests(self) -> dict[str, int]:
        return dict(self.sim.stats()["requests_by_route"])

    def close(self) -> None:
        self.sim.stop()


def _big_issue(sim: Simulator) -> tuple[str, int]:
    """More than 100 discussions on one issue, one of them a thread of 105 notes, some
    internal."""
    project = sim.dataset.projects[0]
    issue = min(project.issues.values(), key=lambda i: i.iid)
    for n in range(101):
        sim.admin.add_note(
            project.path, "issue", issue.iid, body=f"comment {n}", internal=n % 10 == 0
        )
    thread = sim.admin.add_note(project.path, "issue", issue.iid, body="a long thread")
    for n in range(104):
        sim.admin.add_note(
            project.path,
            "issue",
            issue.iid,
            body=f"reply {n}",
            discussion_id=thread["discussion_id"],
        )
    return project.path, issue.iid


def _edits(sim: Simulator, vanish: bool) -> None:
    """The same edits on either simulator (deterministic: same seed, same order)."""
    admin = sim.admin
    ds = sim.dataset
    p0, p1 = ds.projects[0], ds.projects[1]
    issues = sorted(p0.issues.values(), key=lambda i: i.iid)
    mrs = sorted(p1.mrs.values(), key=lambda m: m.iid)
    # Edited without a note: GraphQL shows the children unchanged.
    for issue in issues[1:6]:
        admin.edit_issue(p0.path, issue.iid, add_labels=["bulk-check"], system_notes=False)
    for mr in mrs[:3]:
        admin.edit_mr(p1.path, mr.iid, add_labels=["bulk-check"], system_notes=False)
    # New notes, a reply that turns an individual note into a thread, a deleted note.
    admin.add_note(p0.path, "issue", issues[6].iid, body="a new comment", internal=True)
    target = next(
        i
        for i in issues[7:]
        if any(d.individual_note and not d.notes[0].system for d in i.discussions)
    )
    lone = next(d for d in target.discussions if d.individual_note and not d.notes[0].system)
    admin.add_note(p0.path, "issue", target.iid, body="replying", discussion_id=lone.id)
    victim = next(i for i in issues[8:] if i is not target and i.discussions)
    admin.delete_note(p0.path, "issue", victim.iid, victim.discussions[-1].notes[-1].id)
    # A multi-line diff note and a single-line one made through the API.
    mr = next(m for m in mrs[3:] if m.diffs and m.diffs[0].anchors)
    old, new = mr.diffs[0].anchors[-1]
    admin.add_note(
        p1.path,
        "mr",
        mr.iid,
        body="these lines",
        position={
            "old_path": mr.diffs[0].old_path,
            "new_path": mr.diffs[0].new_path,
            "old_line": old,
            "new_line": new,
            "line_range": {
                "start": {"old_line": old, "new_line": new},
                "end": {"old_line": old, "new_line": new},
            },
        },
    )
    admin.add_note(
        p1.path,
        "mr",
        mr.iid,
        body="this line",
        position={
            "new_path": mr.diffs[0].new_path,
            "old_path": mr.diffs[0].old_path,
            "old_line": old,
            "new_line": new,
        },
    )
    if vanish:
        # Listed as changed, then gone before its children are read.
        gone_issue, gone_mr = issues[-1], mrs[-1]
        admin.edit_issue(p0.path, gone_issue.iid, add_labels=["doomed"], system_notes=False)
        admin.edit_mr(p1.path, gone_mr.iid, add_labels=["doomed"], system_notes=False)
        admin.vanish_after_listing([gone_issue.id, gone_mr.id])
    admin.set_clock(advance_seconds=600)


@pytest.mark.slow
@pytest.mark.parametrize("version", ["18.5-ee", "15.4"])
def test_graphql_bulk_mirror_equals_rest_mirror(tmp_path: Path, version: str) -> None:
    """18.5: ``Note.internal``, ``/diffs``; 15.4: ``Note.confidential``, ``/changes``."""
    rest = Side(tmp_path / "rest", {"graphqlChildren": "off"}, version)
    bulk = Side(tmp_path / "bulk", {}, version)
    try:
        for side in (rest, bulk):
            _big_issue(side.sim)
            side.sim.admin.set_clock(advance_seconds=600)
        # 1. initial sync
        for side in (rest, bulk):
            side.sync()
        assert diff_stores(rest, bulk) == {}

        # 2. edits, an incremental sync (with two items vanishing after the list)
        for side in (rest, bulk):
            _edits(side.sim, vanish=True)
        before = {id(s): s.requests() for s in (rest, bulk)}
        reports = {id(s): s.sync() for s in (rest, bulk)}
        assert diff_stores(rest, bulk) == {}
        for side in (rest, bulk):
            deleted = side.sim.admin.listing_hook_status()["deleted"]
            assert len(deleted) == 2, deleted
            vanished = sum(
                p.get("vanished", 0)
                for s in reports[id(side)]["stages"]
                for p in (s.get("details") or {}).get("projects", {}).values()
                if isinstance(p, dict)
            )
            assert vanished == 2
        gql_delta = _delta(before[id(bulk)], bulk.requests())
        assert gql_delta.get("POST /api/graphql", 0) > 0
        counters = [
            p["graphql_children"]
            for s in reports[id(bulk)]["stages"]
            for p in (s.get("details") or {}).get("projects", {}).values()
            if isinstance(p, dict) and "graphql_children" in p
        ]
        assert counters and sum(c["batches"] for c in counters) > 0
        assert not any(
            "graphql_children" in p
            for s in reports[id(rest)]["stages"]
            for p in (s.get("details") or {}).get("projects", {}).values()
            if isinstance(p, dict)
        )

        # 3. --full: every item is read again; GraphQL shows most unchanged
        for side in (rest, bulk):
            side.sim.admin.clear_listing_hook()
            side.sim.admin.set_clock(advance_seconds=600)
        before = {id(s): s.requests() for s in (rest, bulk)}
        full = {id(side): side.sync("--full") for side in (rest, bulk)}
        assert diff_stores(rest, bulk) == {}
        counters = [
            p["graphql_children"]
            for s in full[id(bulk)]["stages"]
            for p in (s.get("details") or {}).get("projects", {}).values()
            if isinstance(p, dict) and "graphql_children" in p
        ]
        # the big issue's second page of discussions, and its long thread's notes
        assert sum(c["follow_ups"] for c in counters) >= 2
        items = sum(len(p.issues) + len(p.mrs) for p in rest.sim.dataset.projects)
        mrs = sum(len(p.mrs) for p in rest.sim.dataset.projects)
        rest_children = _children_requests(_delta(before[id(rest)], rest.requests()))
        bulk_delta = _delta(before[id(bulk)], bulk.requests())
        # MRs first mirrored by REST have no diffStats fingerprint yet: their files are
        # read from REST once more (and fingerprinted); their notes were not.
        assert _children_requests(bulk_delta) <= mrs + 5, bulk_delta

        # 4. --full again: now nothing needs REST (~one GraphQL request per 100 items)
        for side in (rest, bulk):
            side.sim.admin.set_clock(advance_seconds=600)
        before = {id(s): s.requests() for s in (rest, bulk)}
        for side in (rest, bulk):
            side.sync("--full")
        assert diff_stores(rest, bulk) == {}
        rest_children = _children_requests(_delta(before[id(rest)], rest.requests()))
        bulk_delta = _delta(before[id(bulk)], bulk.requests())
        # REST: one request per issue, two per MR
        assert rest_children >= items
        assert _children_requests(bulk_delta) == 0, bulk_delta
        # GraphQL: children batches (<= 100 items each, a follow-up or two) and the
        # work-item status queries
        assert bulk_delta.get("POST /api/graphql", 0) * 10 < rest_children, bulk_delta
    finally:
        rest.close()
        bulk.close()


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {
        k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)
    }


def _children_requests(delta: dict[str, int]) -> int:
    return sum(
        n for route, n in delta.items() if route.endswith(("/discussions", "/diffs", "/changes"))
    )


#: What the opt-in modes lose, by design (lore.sync.bulk_children): note times to the
#: second, a diff note's multi-line range, an MR file's old path and its flags; the
#: children hash is a digest of those rows.
def _as_lossy(rows: dict[str, list[tuple[Any, ...]]], db: Path) -> dict[str, Any]:
    conn = sqlite3.connect(db)
    try:
        cols = {t: [r[1] for r in conn.execute(f'PRAGMA table_info("{t}")')] for t in rows}
    finally:
        conn.close()
    out: dict[str, Any] = {}
    for table, table_rows in rows.items():
        names = [c for c in cols[table] if c not in BOOKKEEPING_COLUMNS.get(table, set())]
        fixed = []
        for row in table_rows:
            rec = dict(zip(names, row, strict=True))
            if table == "notes":
                rec["created_at"] = rec["created_at"][:19]
                rec["updated_at"] = rec["updated_at"][:19]
                rec["position_line_range"] = None
            if table == "mr_paths" and rec["source"] == "diff":
                rec.update(old_path=rec["new_path"], new_file=0, renamed_file=0, deleted_file=0)
            if table == "item_children":
                rec["children_hash"] = None
            fixed.append(tuple(sorted(rec.items())))
        out[table] = sorted(fixed, key=repr)
    return out


@pytest.mark.slow
def test_fast_modes_lose_only_what_they_document(tmp_path: Path) -> None:
    rest = Side(tmp_path / "rest", {"graphqlChildren": "off"})
    fast = Side(tmp_path / "fast", {"noteDetail": "graphql", "mrFileDetail": "paths"})
    try:
        deltas: dict[int, dict[str, int]] = {}
        for side in (rest, fast):
            side.sim.admin.set_clock(advance_seconds=600)
            before = side.requests()
            side.sync()
            deltas[id(side)] = _delta(before, side.requests())
        exact = diff_stores(rest, fast)
        assert set(exact) <= {"notes", "mr_paths", "item_children"}, exact
        left = _as_lossy(dump_everything(rest.db, rest.sim.url), rest.db)
        right = _as_lossy(dump_everything(fast.db, fast.sim.url), fast.db)
        assert left == right
        # Children from GraphQL alone: no per-item REST request at all.
        assert _children_requests(deltas[id(fast)]) == 0
        assert deltas[id(fast)].get("POST /api/graphql", 0) < 20

        # Back to the default: the notes GraphQL wrote are never taken for REST's, and an
        # exact --full makes the mirror REST's again, every table.
        fast.env.write_config(
            fast.sim.url,
            [p.path for p in fast.sim.dataset.projects],
            extra={"embedding": {"provider": "none"}},
        )
        for side in (rest, fast):
            side.sim.admin.set_clock(advance_seconds=600)
            side.sync("--full")
        assert diff_stores(rest, fast) == {}
    finally:
        rest.close()
        fast.close()


def test_the_settings_come_from_the_config_given_with_config(tmp_path: Path) -> None:
    """``lore --config OTHER sync``: OTHER's ``sync.graphqlChildren: "off"`` wins, not the
    default config file's (which would turn the GraphQL path on)."""
    side = Side(tmp_path / "side", {})  # the default config: graphqlChildren auto
    try:
        side.sync()
        _edits(side.sim, vanish=False)
        other = tmp_path / "other.json"
        raw = json.loads(side.env.config_path.read_text(encoding="utf-8"))
        assert raw["sync"] == {}
        raw["sync"] = {"graphqlChildren": "off"}
        other.write_text(json.dumps(raw), encoding="utf-8")
        before = side.requests()
        code, doc = side.env.robot(
            "--config",
            str(other),
            "sync",
            "--no-docs",
            extra_env={"GITLAB_TOKEN": side.sim.token},
            timeout=600,
        )
        assert code == 0, doc
        delta = _delta(before, side.requests())
        details = [
            p
            for s in doc["data"]["stages"]
            for p in (s.get("details") or {}).get("projects", {}).values()
            if isinstance(p, dict)
        ]
        assert details and not any("graphql_children" in p for p in details), details
        assert any(route.endswith("/discussions") for route in delta), delta
        # and the default config, given the same way, does use it
        _edits(side.sim, vanish=False)
        code, doc = side.env.robot(
            "--config",
            str(side.env.config_path),
            "sync",
            "--no-docs",
            extra_env={"GITLAB_TOKEN": side.sim.token},
            timeout=600,
        )
        assert code == 0, doc
        assert any(
            "graphql_children" in p
            for s in doc["data"]["stages"]
            for p in (s.get("details") or {}).get("projects", {}).values()
            if isinstance(p, dict)
        )
    finally:
        side.close()
