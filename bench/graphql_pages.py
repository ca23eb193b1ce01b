"""Work-item status benchmark: GraphQL requests needed to fetch the status of 1,000 changed
issues, with and without a GraphQL complexity limit on the simulator. Prints one JSON
document.

Usage: .venv/bin/python bench/graphql_pages.py [--issues 1000] [--limits none,250,200]
                                              [--page-size 100]

Each case starts an in-process simulator with one project of ``--issues`` issues, seeds a
fresh store with those issues (as the issues stage would have), then runs
``enrich_statuses`` for all of them and checks every stored status against the
simulator's dataset. ``requests`` counts GraphQL POSTs sent by lore (including the
capability probe and pages the server rejected); ``per_1000_changed`` normalises it.

GitLab charges a connection filtered by ``iids`` no per-item complexity, so lore's status
query (100 iids per request, GitLab's cap) fits every real limit (200 unauthenticated,
250 authenticated, 300 admin): the figure to watch is 1 probe + ceil(n / 100) requests.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lore.gitlab.client import GitLabClient, RetryPolicy
from lore.sim import vocab
from lore.sim.model import iso_ms
from lore.sim.server import Simulator
from lore.store.db import connect, transaction
from lore.sync.work_item_status import enrich_statuses


def run_case(issues: int, limit: int | None, page_size: int, seed: int) -> dict[str, Any]:
    sim = Simulator.start(
        preset="small", seed=seed, projects=1, issues=issues, mrs=0, complexity_limit=limit
    )
    try:
        project = sim.dataset.projects[0]
        with tempfile.TemporaryDirectory() as tmp:
            conn = connect(Path(tmp) / "lore.db")
            now = iso_ms(sim.dataset.now_ms)
            with transaction(conn):
                conn.execute(
                    "INSERT INTO projects(id, path) VALUES (?, ?)", (project.id, project.path)
                )
                for issue in project.issues.values():
                    conn.execute(
                        "INSERT INTO issues(id, project_id, iid, title, state, created_at, "
                        "updated_at, synced_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            issue.id,
                            project.id,
                            issue.iid,
                            issue.title,
                            issue.state,
                            iso_ms(issue.created_ms),
                            iso_ms(issue.updated_ms),
                            now,
                        ),
                    )
            iids = sorted(project.issues)
            client = GitLabClient(
                sim.url, sim.token, retry=RetryPolicy(max_retries=2, sleep=lambda _s: None)
            )
            started = time.perf_counter()
            result = enrich_statuses(
                client,
                conn,
                instance_url=sim.url,
                project_path=project.path,
                project_id=project.id,
                iids=iids,
                page_size=page_size,
                full=True,
            )
            wall = time.perf_counter() - started
            http_requests = client.stats.by_route.get("graphql", 0)
            client.close()
            wrong = _count_wrong(conn, project)
            conn.close()
    finally:
        sim.stop()
    changed = len(iids)
    return {
        "complexity_limit": limit,
        "changed_issues": changed,
        "requests": result.requests,
        "http_requests": http_requests,
        "per_1000_changed": round(result.requests * 1000 / changed, 1) if changed else 0,
        "shrinks": result.shrinks,
        "grows": result.grows,
        "final_page_size": result.final_page_size,
        "available": result.available,
        "error_code": result.error_code,
        "statuses_wrong": wrong,
        "wall_seconds": round(wall, 3),
    }


def _count_wrong(conn: Any, project: Any) -> int:
    stored = {
        int(r[0]): (r[1], r[2], r[3])
        for r in conn.execute(
            "SELECT iid, status_name, status_category, status_color FROM issues "
            "WHERE project_id = ?",
            (project.id,),
        )
    }
    wrong = 0
    for iid, issue in project.issues.items():
        want: tuple[Any, ...] = (None, None, None)
        if issue.status_index is not None:
            want = tuple(vocab.STATUSES[issue.status_index][1:])
        wrong += stored.get(iid) != want
    return wrong


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=1000)
    parser.add_argument(
        "--limits",
        default="none,250,200",
        help="comma-separated complexity limits; 'none' disables the limit",
    )
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    limits = [
        None if x.strip().lower() in ("none", "0", "") else int(x) for x in args.limits.split(",")
    ]
    cases = [run_case(args.issues, limit, args.page_size, args.seed) for limit in limits]
    print(
        json.dumps(
            {"benchmark": "graphql_pages", "page_size": args.page_size, "cases": cases}, indent=2
        )
    )
    return 0 if all(c["statuses_wrong"] == 0 and c["error_code"] is None for c in cases) else 1


if __name__ == "__main__":
    sys.exit(main())
