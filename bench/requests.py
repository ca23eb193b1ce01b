"""Requests per mirrored item, REST vs GraphQL bulk children (issue 10, goal 3).

For each preset, the same simulator dataset (same seed, same edits) is mirrored four ways
through the real CLI (``lore --robot sync --no-docs``):

- ``rest``: ``sync.graphqlChildren: "off"`` (one REST request per issue, two per MR);
- ``graphql``: the default (GraphQL batches; REST only where GraphQL cannot give REST's
  exact rows: new or edited notes, a changed MR file list);
- ``graphql_paths``: the default plus ``sync.mrFileDetail: "paths"``;
- ``graphql_fast``: ``sync.noteDetail: "graphql"`` and ``sync.mrFileDetail: "paths"``
  (children from GraphQL alone; see lore.sync.bulk_children for what that loses).

Each way runs: the initial sync; an incremental sync after edits (``--edit-percent`` of
the items edited without a note, ``--note-percent`` given a new comment); ``--full``; and
``--full`` again (``full_again``: by then every MR file list has its diffStats fingerprint;
the first GraphQL pass over MRs that REST mirrored reads their files from REST once).
Requests are counted by the simulator, by kind: ``list`` (issue/MR lists and single
items), ``graphql`` (every POST /api/graphql: children batches, follow-ups, probes, and the
work-item status queries), ``rest_children`` (``/discussions``, ``/diffs``, ``/changes``)
and ``other``. Each mode's store is compared with the ``rest`` one, every table row by
row minus bookkeeping (``equal``; for ``graphql_paths`` and ``graphql_fast`` the lossy
columns differ by design, their count of differing rows is printed).

Usage: .venv/bin/python bench/requests.py [--preset small,medium] [--latency-ms 0]
Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lore.sim.server import Simulator

SEED = 5
NOW = "2025-06-01T12:00:00Z"
LORE = str(Path(sys.executable).parent / "lore")
MODES: dict[str, dict[str, str]] = {
    "rest": {"graphqlChildren": "off"},
    "graphql": {},
    "graphql_paths": {"mrFileDetail": "paths"},
    "graphql_fast": {"noteDetail": "graphql", "mrFileDetail": "paths"},
}
BOOKKEEPING_COLUMNS = {
    "issues": {"synced_at", "children_fetched_at"},
    "merge_requests": {"synced_at", "children_fetched_at"},
    "projects": {"last_synced_at"},
    "sync_cursors": {"advanced_at"},
    "schema_migrations": {"applied_at"},
    "sync_runs": {"*"},
}
BOOKKEEPING_KV = (
    "graphql_children:",
    "graphql_children_lossy:",
    "mr_diffstats:",
    "reconcile:",
    "workitem_status:",
    "unavailable:",
)


def kind_of(route: str) -> str:
    if route.startswith("POST /api/graphql"):
        return "graphql"
    if route.endswith(("/discussions", "/diffs", "/changes")):
        return "rest_children"
    if "/issues" in route or "/merge_requests" in route:
        return "list"
    return "other"


def by_kind(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    out = {"list": 0, "graphql": 0, "rest_children": 0, "other": 0}
    for route, count in after.items():
        out[kind_of(route)] += count - before.get(route, 0)
    out["total"] = sum(out.values())
    return out


def dump(db: Path, base_url: str) -> set[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    rows: set[tuple[Any, ...]] = set()
    try:
        for (table,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall():
            skip = BOOKKEEPING_COLUMNS.get(table, set())
            if "*" in skip:
                continue
            cur = conn.execute(f'SELECT * FROM "{table}"')
            names = [d[0] for d in cur.description]
            keep = [i for i, n in enumerate(names) if n not in skip]
            for row in cur.fetchall():
                values = tuple(
                    row[i].replace(base_url, "SIM") if isinstance(row[i], str) else row[i]
                    for i in keep
                )
                if table == "kv" and str(values[0]).startswith(BOOKKEEPING_KV):
                    continue
                rows.add((table, *values))
    finally:
        conn.close()
    return rows


def edit(sim: Simulator, edit_percent: float, note_percent: float) -> int:
    """Deterministic edits: every k-th item labelled without a note, every m-th given a
    comment. Returns the number of items edited."""
    admin, edited = sim.admin, 0
    items = [(p, "issue", i) for p in sim.dataset.projects for i in sorted(p.issues)] + [
        (p, "mr", i) for p in sim.dataset.projects for i in sorted(p.mrs)
    ]
    step_edit = max(1, round(100 / edit_percent)) if edit_percent else 0
    step_note = max(1, round(100 / note_percent)) if note_percent else 0
    for n, (project, kind, iid) in enumerate(items):
        if step_edit and n % step_edit == 0:
            if kind == "issue":
                admin.edit_issue(project.path, iid, add_labels=["bench"], system_notes=False)
            else:
                admin.edit_mr(project.path, iid, add_labels=["bench"], system_notes=False)
            edited += 1
        elif step_note and n % step_note == 1:
            admin.add_note(project.path, kind, iid, body="a bench comment")
            edited += 1
    admin.set_clock(advance_seconds=600)
    return edited


def run_mode(preset: str, mode: str, args: argparse.Namespace, root: Path) -> dict[str, Any]:
    with Simulator.start(preset=preset, seed=SEED, now=NOW, latency_ms=args.latency_ms) as sim:
        sim.admin.set_clock(advance_seconds=600)
        home = root / mode
        config = home / "config.json"
        data = home / "data"
        home.mkdir(parents=True)
        config.write_text(
            json.dumps(
                {
                    "gitlab": {"baseUrl": sim.url, "tokenEnvVar": "LORE_BENCH_TOKEN"},
                    "projects": [{"path": p.path} for p in sim.dataset.projects],
                    "embedding": {"provider": "none"},
                    "sync": {"concurrency": args.concurrency, **MODES[mode]},
                }
            )
        )
        env = {
            **os.environ,
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / "xdg"),
            "XDG_DATA_HOME": str(home / "xdg"),
            "LORE_CONFIG_PATH": str(config),
            "LORE_DATA_DIR": str(data),
            "LORE_BENCH_TOKEN": sim.token,
        }
        counts = sim.dataset.counts()
        items = counts["issues"] + counts["merge_requests"]
        out: dict[str, Any] = {"items": items}

        def sync(name: str, *extra: str) -> None:
            before = dict(sim.stats()["requests_by_route"])
            started = time.perf_counter()
            proc = subprocess.run(
                [LORE, "--robot", "sync", "--no-docs", *extra],
                env=env,
                capture_output=True,
                text=True,
                timeout=3600,
                check=False,
            )
            wall = time.perf_counter() - started
            if proc.returncode != 0:
                raise SystemExit(f"{mode} {name}: exit {proc.returncode}: {proc.stdout[-2000:]}")
            kinds = by_kind(before, dict(sim.stats()["requests_by_route"]))
            out[name] = {
                "requests": kinds,
                "wall_s": round(wall, 2),
                "requests_per_1000_items": round(kinds["total"] * 1000 / items, 1),
            }

        sync("initial")
        out["edited"] = edit(sim, args.edit_percent, args.note_percent)
        sync("incremental")
        sim.admin.set_clock(advance_seconds=600)
        sync("full", "--full")
        sim.admin.set_clock(advance_seconds=600)
        sync("full_again", "--full")
        out["_rows"] = dump(data / "lore.db", sim.url)
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="small,medium")
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--edit-percent", type=float, default=5.0)
    parser.add_argument("--note-percent", type=float, default=1.0)
    parser.add_argument("--modes", default=",".join(MODES))
    args = parser.parse_args()
    report: dict[str, Any] = {"seed": SEED, "latency_ms": args.latency_ms, "presets": {}}
    for preset in [p for p in args.preset.split(",") if p]:
        with tempfile.TemporaryDirectory(prefix="lore-bench-requests-") as tmp:
            results = {
                mode: run_mode(preset, mode, args, Path(tmp))
                for mode in args.modes.split(",")
                if mode
            }
        base = results.get("rest", {}).get("_rows")
        for result in results.values():
            rows = result.pop("_rows")
            if base is not None:
                result["equal_to_rest"] = rows == base
                result["rows_differing_from_rest"] = len(rows ^ base)
        report["presets"][preset] = results
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
