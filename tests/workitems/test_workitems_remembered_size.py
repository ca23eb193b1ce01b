"""The page size that fits the complexity limit is remembered (issue 10, "Status page
size"): a run starts at it instead of at the configured 100, so the limit costs one
rejected request once, not one per project and run. Counted in requests."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import httpx
from workitems_support import TamperingTransport, make_client, seed_issues, stored, truth

from lore.sim.server import Simulator
from lore.sync.work_item_status import enrich_statuses, read_capability

#: The transport plays a GitLab whose limit admits at most this many items a page.
FITS = 25


def _too_complex_above(limit: int) -> Any:
    def tamper(_n: int, body: dict[str, Any], real: httpx.Response | None) -> httpx.Response | None:
        first = (body.get("variables") or {}).get("first")
        if real is None and isinstance(first, int) and first > limit:
            return httpx.Response(
                200,
                json={
                    "errors": [
                        {
                            "message": "Query has complexity of 260, which exceeds max complexity of 250"
                        }
                    ]
                },
            )
        return None

    return tamper


def _enrich(
    sim: Any,
    conn: sqlite3.Connection,
    project: Any,
    transport: TamperingTransport,
    full: bool = False,
) -> Any:
    client = make_client(sim, transport=transport)
    try:
        return enrich_statuses(
            client,
            conn,
            instance_url=sim.url,
            project_path=project.path,
            project_id=project.id,
            iids=sorted(project.issues),
            page_size=100,
            full=full,
            gitlab_version="18.5.0-ee",
        )
    finally:
        client.close()


def test_a_later_run_starts_at_the_size_that_fit(db: sqlite3.Connection) -> None:
    with Simulator.start(preset="small", seed=7, complexity_limit=None) as sim:
        seed_issues(db, sim)
        projects = sorted(sim.dataset.projects, key=lambda p: -len(p.issues))[:2]
        transport = TamperingTransport(_too_complex_above(FITS))
        first = _enrich(sim, db, projects[0], transport)
        pages = -(-len(projects[0].issues) // FITS)
        # probe + 100 rejected + 50 rejected + the pages at 25 (+ one growth the
        # bisection tries within the run, rejected too)
        assert first.requests == 1 + 2 + pages + first.grows, first
        assert first.final_page_size == FITS and first.error_code is None
        assert stored(db, projects[0].id) == truth(sim, projects[0])
        cap = read_capability(db, sim.url)
        assert cap is not None and cap.complexity_page_size == FITS

        # The next project of the same run, and the next run: no rejected request at all.
        for project in (projects[1], projects[0]):
            before = transport.graphql_requests
            result = _enrich(sim, db, project, transport)
            want = -(-len(project.issues) // FITS)
            assert result.requests == want == transport.graphql_requests - before, result
            assert result.shrinks == 0 and result.final_page_size == FITS
            assert stored(db, project.id) == truth(sim, project)

        # --full finds out again (the limit may have been raised) and remembers anew.
        again = _enrich(sim, db, projects[0], transport, full=True)
        assert again.requests == 1 + 2 + pages + again.grows
        raw = json.loads(
            db.execute("SELECT value FROM kv WHERE key LIKE 'workitem_status:%'").fetchone()[0]
        )
        assert raw["complexity_page_size"] == FITS


def test_without_a_complexity_rejection_nothing_is_remembered(db: sqlite3.Connection) -> None:
    with Simulator.start(preset="small", seed=7, complexity_limit=None) as sim:
        seed_issues(db, sim)
        project = max(sim.dataset.projects, key=lambda p: len(p.issues))
        transport = TamperingTransport(lambda *_a: None)
        assert _enrich(sim, db, project, transport).error_code is None  # probe cached
        sim.configure_faults([{"route": "graphql", "kind": "503", "count": 2}])
        result = _enrich(sim, db, project, transport)
        assert result.error_code is None and result.shrinks == 1
        cap = read_capability(db, sim.url)
        # A transient failure is no reason to start small next time.
        assert cap is not None and cap.complexity_page_size is None
