"""lore.sync.bulk_children against a real simulator through a real GitLabClient, on a store
the real REST sync filled: one GraphQL request settles up to 100 unchanged items; a
complexity error halves the batch; a failed batch, an item with an error, and a deleted
item fall back to REST (per item); an instance whose GraphQL lacks a needed field is REST
only, cached per version; more than 100 discussions or notes are followed up. Counted in
requests, never timed."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from lore.gitlab.client import GitLabClient, RetryPolicy
from lore.sim.server import Simulator
from lore.store.db import connect
from lore.sync.bulk_children import (
    BulkChildren,
    BulkFetcher,
    BulkSettings,
    BulkStats,
    ChildrenCapability,
    read_capability,
    read_stored,
)
from lore.sync.work_item_status import AdaptivePageSize
from lore_testkit import LoreEnv

NOW = "2025-06-01T12:00:00Z"


class Tamper(httpx.BaseTransport):
    """Forwards to the simulator; ``rewrite(body_json, response_json)`` may replace a
    GraphQL answer."""

    def __init__(self, rewrite: Any = None) -> None:
        self.inner = httpx.HTTPTransport()
        self.rewrite = rewrite
        self.graphql = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.url.path != "/api/graphql":
            return response
        self.graphql += 1
        response.read()
        if self.rewrite is None:
            return response
        new = self.rewrite(json.loads(request.content), response.json())
        return response if new is None else httpx.Response(200, json=new)


def client(sim: Simulator, transport: httpx.BaseTransport | None = None) -> GitLabClient:
    retry = RetryPolicy(max_retries=1, sleep=lambda _s: None, rng=lambda: 0.0)
    return GitLabClient(sim.url, sim.token, retry=retry, transport=transport)


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Simulator, Any]]:
    """A small simulator with one issue of 130 discussions (one a thread of 104 notes),
    mirrored by the real REST sync."""
    from lore_testkit import make_env

    root = tmp_path_factory.mktemp("bulk")
    sim = Simulator.start(preset="small", seed=7, now=NOW)
    project = sim.dataset.projects[0]
    issue = min(project.issues.values(), key=lambda i: i.iid)
    for n in range(130 - len(issue.discussions)):
        sim.admin.add_note(project.path, "issue", issue.iid, body=f"c{n}")
    thread = sim.admin.add_note(project.path, "issue", issue.iid, body="thread")
    for n in range(103):
        sim.admin.add_note(
            project.path, "issue", issue.iid, body=f"r{n}", discussion_id=thread["discussion_id"]
        )
    sim.admin.set_clock(advance_seconds=600)
    env: LoreEnv = make_env(root)
    env.write_config(
        sim.url,
        [p.path for p in sim.dataset.projects],
        extra={"embedding": {"provider": "none"}, "sync": {"graphqlChildren": "off"}},
    )
    code, doc = env.robot("sync", "--no-docs", extra_env={"GITLAB_TOKEN": sim.token}, timeout=300)
    assert code == 0, doc
    try:
        yield sim, env.data_dir / "lore.db"
    finally:
        sim.stop()


def _fetcher(
    gl: GitLabClient, path: str, kind: str, batch: int = 100, settings: BulkSettings | None = None
) -> BulkFetcher:
    cap = ChildrenCapability(True, None, "18.5.0-ee", "internal", batch)
    return BulkFetcher(
        gl, path, kind, settings or BulkSettings(), cap, AdaptivePageSize(batch), BulkStats()
    )


def _raws(project: Any, kind: str) -> list[dict[str, Any]]:
    items = project.issues if kind == "issue" else project.mrs
    return [{"id": i.id, "iid": i.iid} for i in sorted(items.values(), key=lambda x: x.iid)]


def _db(path: Any) -> sqlite3.Connection:
    return connect(path)


def test_unchanged_items_are_settled_by_one_request_per_100(synced: Any) -> None:
    sim, db = synced
    project = max(sim.dataset.projects, key=lambda p: len(p.issues))
    raws = _raws(project, "issue")
    conn = _db(db)
    try:
        stored = read_stored(conn, "issue", [r["id"] for r in raws])
    finally:
        conn.close()
    with client(sim) as gl:
        fetcher = _fetcher(gl, project.path, "issue")
        results = fetcher.fetch(raws, stored)
    assert all(r is not None and r.reused for r in results.values()), [
        i for i, r in results.items() if r is None or not r.reused
    ]
    batches = -(-len(raws) // 100)
    assert fetcher.stats.batches == batches
    # + one page of discussions after the first 100, + the thread's notes after 100
    big = project is sim.dataset.projects[0]
    assert fetcher.stats.follow_ups == (2 if big else 0)
    assert fetcher.stats.requests == batches + fetcher.stats.follow_ups
    assert fetcher.stats.rest_discussions == 0 and fetcher.stats.fallbacks == 0
    details = fetcher.stats.to_details()
    assert details["batches"] == batches and details["requests"] == fetcher.stats.requests


def test_mrs_keep_their_files_only_with_a_recorded_fingerprint(synced: Any) -> None:
    sim, db = synced
    project = max(sim.dataset.projects, key=lambda p: len(p.mrs))
    raws = _raws(project, "mr")
    conn = _db(db)
    try:
        stored = read_stored(conn, "mr", [r["id"] for r in raws])
    finally:
        conn.close()
    with client(sim) as gl:
        exact = _fetcher(gl, project.path, "mr").fetch(raws, stored)
        paths = _fetcher(
            gl, project.path, "mr", settings=BulkSettings(mr_file_detail="paths")
        ).fetch(raws, stored)
    # A REST sync recorded no diffStats fingerprint: the exact mode reads the files again.
    assert all(r is not None and r.diffs is None and r.diffstats_fp for r in exact.values())
    assert all(r is not None and r.discussions is not None for r in exact.values())
    for raw in raws:
        result = paths[raw["id"]]
        assert result is not None and result.diffs is not None
        mr = project.mrs[raw["iid"]]
        assert [d["new_path"] for d in result.diffs] == [f.new_path for f in mr.diffs]
        assert not any(
            d["renamed_file"] or d["new_file"] or d["deleted_file"] for d in result.diffs
        )


def test_a_complexity_error_halves_the_batch(synced: Any) -> None:
    sim, db = synced
    project = max(sim.dataset.projects, key=lambda p: len(p.issues))
    raws = _raws(project, "issue")[:80]
    conn = _db(db)
    try:
        stored = read_stored(conn, "issue", [r["id"] for r in raws])
    finally:
        conn.close()
    sim.configure_faults([{"route": "graphql", "kind": "graphql_complexity", "count": 1}])
    try:
        with client(sim) as gl:
            fetcher = _fetcher(gl, project.path, "issue")
            results = fetcher.fetch(raws, stored)
    finally:
        sim.configure_faults([])
    assert fetcher.stats.shrinks == 1 and fetcher.sizes.size == 50
    assert fetcher.stats.batches == 1 + 2  # rejected at 80, then 50 + 30
    assert all(r is not None for r in results.values()) and len(results) == 80


def test_a_failed_batch_falls_back_to_rest_per_item(synced: Any) -> None:
    sim, _db_path = synced
    project = sim.dataset.projects[1]
    raws = _raws(project, "issue")[:5]
    sim.configure_faults([{"route": "graphql", "kind": "500"}])
    try:
        with client(sim) as gl:
            fetcher = _fetcher(gl, project.path, "issue", batch=5)
            results = fetcher.fetch(raws, {})
            # An outage: after 4 failed requests in a row the run asks GraphQL no more.
            assert fetcher.breaker.open
            before = fetcher.stats.requests
            more = fetcher.fetch(_raws(project, "issue")[5:9], {})
            assert fetcher.stats.requests == before and set(more.values()) == {None}
    finally:
        sim.configure_faults([])
    assert results == {r["id"]: None for r in raws}  # None: REST for that item
    assert fetcher.stats.fallbacks == 5 + 4
    # 5xx halves first (5 → 2 → 1); then single items fail until the breaker opens
    assert fetcher.stats.shrinks == 2
    assert fetcher.stats.batches == 4  # 5, 2, 1, 1: then REST without asking


def test_an_item_with_an_error_or_gone_falls_back_alone(synced: Any) -> None:
    sim, _db_path = synced
    project = sim.dataset.projects[1]
    raws = [*_raws(project, "issue")[:4], {"id": 999_999, "iid": 99_999}]
    hit: list[int] = []

    def rewrite(_req: Any, body: dict[str, Any]) -> dict[str, Any] | None:
        nodes = body["data"]["project"]["items"]["nodes"]
        hit.append(int(nodes[1]["iid"]))
        nodes[1]["discussions"] = None
        body["errors"] = [
            {
                "message": "Internal server error",
                "path": ["project", "items", "nodes", 1, "discussions"],
            }
        ]
        return body

    with client(sim, Tamper(rewrite)) as gl:
        fetcher = _fetcher(gl, project.path, "issue")
        results = fetcher.fetch(raws, {})
    broken = project.issues[hit[0]].id
    assert results[broken] is None and results[999_999] is None
    assert all(results[r["id"]] is not None for r in raws if r["id"] not in (broken, 999_999))
    assert fetcher.stats.fallbacks == 2


def test_graphql_without_a_needed_field_means_rest_cached_per_version(tmp_path: Any) -> None:
    def no_diffstats(req: dict[str, Any], body: dict[str, Any]) -> dict[str, Any] | None:
        if "LoreChildrenProbe" not in req.get("query", ""):
            return None
        body["data"]["mr"]["fields"] = [
            f for f in body["data"]["mr"]["fields"] if f["name"] != "diffStats"
        ]
        return body

    with Simulator.start(preset="small", seed=7, now=NOW) as sim:
        conn = connect(tmp_path / "lore.db")
        try:
            tamper = Tamper(no_diffstats)
            with client(sim, tamper) as gl:
                bulk = BulkChildren(gl, BulkSettings(), "18.5.0-ee")
                assert bulk.usable(conn) is False
                assert tamper.graphql == 1
                cap = read_capability(conn, sim.url)
                assert cap is not None and not cap.available
                assert cap.reason == "GraphQL lacks mr.diffStats"
                # The same version next run: no probe, still REST.
                again = BulkChildren(gl, BulkSettings(), "18.5.0-ee")
                assert again.usable(conn) is False and tamper.graphql == 1
                # A new version probes again (and this one has everything).
                tamper.rewrite = None
                newer = BulkChildren(gl, BulkSettings(), "18.6.0-ee")
                assert newer.usable(conn) is True and tamper.graphql == 2
                off = BulkChildren(gl, BulkSettings(mode="off"), "18.6.0-ee")
                assert off.usable(conn) is False and tamper.graphql == 2
        finally:
            conn.close()


def test_before_15_5_internal_comes_from_confidential(tmp_path: Any) -> None:
    with Simulator.start(preset="small", seed=7, now=NOW, gitlab_version="15.4") as sim:
        conn = connect(tmp_path / "lore.db")
        try:
            with client(sim) as gl:
                bulk = BulkChildren(gl, BulkSettings(), "15.4.0")
                assert bulk.usable(conn) is True
                assert bulk.capability is not None
                assert bulk.capability.internal_field == "confidential"
                project = sim.dataset.projects[0]
                issue = next(
                    i
                    for i in project.issues.values()
                    if any(n.internal for d in i.discussions for n in d.notes)
                )
                fetcher = bulk.fetcher(project.path, "issue")
                fast = BulkFetcher(
                    gl,
                    project.path,
                    "issue",
                    BulkSettings(note_detail="graphql"),
                    bulk.capability,
                    AdaptivePageSize(100),
                    BulkStats(),
                )
                result = fast.fetch([{"id": issue.id, "iid": issue.iid}], {})[issue.id]
                assert fetcher.internal_field == "confidential"
        finally:
            conn.close()
    assert result is not None and result.discussions is not None
    internal = {n["id"]: n["internal"] for d in result.discussions for n in d["notes"]}
    assert internal == {n.id: n.internal for d in issue.discussions for n in d.notes}
