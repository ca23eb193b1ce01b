"""Issue 9, the sync side: the real `lore` CLI against a simulator that behaves like real
GitLab where it hurts — edits during a listing, throttled touches, deleted notes, no
/diffs before 15.7, truncated diff lists, merge requests disabled, runs of identical
timestamps. Each test fails on a lore that trusts offset pagination or updated_at."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from e2e_helpers import mirror_vs_upstream

from lore.sim.server import Simulator
from lore_testkit import LoreEnv

NO_EMBED = {"embedding": {"provider": "none"}}


def _setup(lore_env: LoreEnv, sim: Any) -> dict[str, str]:
    lore_env.write_config(sim.url, [p.path for p in sim.dataset.projects], extra=NO_EMBED)
    return {"GITLAB_TOKEN": sim.token}


def _db(lore_env: LoreEnv) -> sqlite3.Connection:
    conn = sqlite3.connect(lore_env.data_dir / "lore.db")
    conn.row_factory = sqlite3.Row
    return conn


def _sync(lore_env: LoreEnv, env: dict[str, str], *args: str) -> dict[str, Any]:
    code, doc = lore_env.robot("sync", "--no-docs", *args, extra_env=env, timeout=600)
    assert code == 0, doc
    return dict(doc["data"])


def _stage(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in report["stages"] if s["stage"] == name)


@pytest.fixture
def paged_sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    """Enough issues and MRs for several list pages per project, on a GitLab that has
    stopped counting: above 10,000 matches GitLab sends no x-total, so a client cannot
    notice a skipped item by comparing counts. The limit is lowered so a small dataset is
    "above" it; everything else about the pagination is GitLab's."""
    monkeypatch.setattr("lore.sim.rest.COUNT_LIMIT", 50)
    with Simulator.start(preset="small", seed=11, issues=520, mrs=260) as sim:
        yield sim


def test_edits_during_the_listing_skip_nothing(lore_env: LoreEnv, paged_sim: Simulator) -> None:
    """Offset pages over updated_at: each page read moves one of its items to the end, and
    the next item slides onto the page already read. lore must still mirror every item."""
    env = _setup(lore_env, paged_sim)
    paged_sim.admin.edit_during_listing(route="issues", every_pages=1)
    _sync(lore_env, env)
    hook = paged_sim.admin.clear_listing_hook()
    assert hook["edits"] >= 3, hook  # the hook really moved items during the walk
    diffs = mirror_vs_upstream(lore_env.data_dir / "lore.db", paged_sim.admin.snapshot())
    assert not {k: v for k, v in diffs.items() if k.endswith(".missing")}, diffs

    paged_sim.admin.edit_during_listing(route="merge_requests", every_pages=1)
    paged_sim.admin.set_clock(advance_seconds=600)
    _sync(lore_env, env, "--full")
    paged_sim.admin.clear_listing_hook()
    diffs = mirror_vs_upstream(lore_env.data_dir / "lore.db", paged_sim.admin.snapshot())
    # --full under edits deletes nothing live and misses nothing
    assert not {k: v for k, v in diffs.items() if k.endswith((".missing", ".extra"))}, diffs


def test_full_deletes_only_items_gone_upstream(lore_env: LoreEnv, paged_sim: Simulator) -> None:
    env = _setup(lore_env, paged_sim)
    _sync(lore_env, env)
    project = paged_sim.dataset.projects[0]
    victim = sorted(project.issues)[3]
    victim_id = project.issues[victim].id
    paged_sim.admin.delete(project.path, "issue", victim)
    paged_sim.admin.edit_during_listing(route="issues", every_pages=1)
    report = _sync(lore_env, env, "--full")
    paged_sim.admin.clear_listing_hook()
    deleted = sum(
        p.get("deleted", 0) for p in _stage(report, "issues")["details"]["projects"].values()
    )
    assert deleted == 1
    conn = _db(lore_env)
    assert conn.execute("SELECT COUNT(*) FROM issues WHERE id = ?", (victim_id,)).fetchone()[0] == 0
    diffs = mirror_vs_upstream(lore_env.data_dir / "lore.db", paged_sim.admin.snapshot())
    assert not {k: v for k, v in diffs.items() if k.endswith((".missing", ".extra"))}, diffs


def test_identical_timestamps_beyond_a_page_are_all_mirrored(
    lore_env: LoreEnv, paged_sim: Simulator
) -> None:
    """A bulk edit gives 250 issues one updated_at: more than a page of one timestamp."""
    env = _setup(lore_env, paged_sim)
    _sync(lore_env, env)
    project = paged_sim.dataset.projects[0]
    iids = sorted(project.issues)[:250]
    paged_sim.admin.set_clock(advance_seconds=600)
    stamp = paged_sim.admin.bulk_touch(project.path, "issue", iids)["updated_at"]
    paged_sim.admin.edit_during_listing(route="issues", every_pages=1)
    _sync(lore_env, env)
    paged_sim.admin.clear_listing_hook()
    conn = _db(lore_env)
    same = conn.execute(
        "SELECT COUNT(*) FROM issues WHERE project_id = ? AND updated_at = ?", (project.id, stamp)
    ).fetchone()[0]
    # the hook bumps one issue per page it serves; the rest keep the bulk stamp
    assert len(iids) - 10 <= same <= len(iids)
    diffs = mirror_vs_upstream(lore_env.data_dir / "lore.db", paged_sim.admin.snapshot())
    assert not {k: v for k, v in diffs.items() if k.startswith("issues.missing")}, diffs
    # Edits made while the last page was answered are read by the next run.
    _sync(lore_env, env)
    diffs = mirror_vs_upstream(lore_env.data_dir / "lore.db", paged_sim.admin.snapshot())
    assert not {k: v for k, v in diffs.items() if k.startswith("issues.")}, diffs


def test_a_note_that_did_not_touch_its_item_is_still_mirrored(lore_env: LoreEnv, sim: Any) -> None:
    """GitLab's ThrottledTouch: a note saved within a minute of its item's last update
    leaves updated_at alone. lore reads such items again on the next run."""
    env = _setup(lore_env, sim)
    project = sim.dataset.projects[0]
    iid = sorted(project.issues)[0]
    sim.admin.set_clock(advance_seconds=3600)
    sim.admin.edit_issue(project.path, iid, title="edited just now")
    _sync(lore_env, env)
    before = project.issues[iid].updated_ms
    note = sim.admin.add_note(project.path, "issue", iid, body="said within the minute")
    assert project.issues[iid].updated_ms == before  # the simulator did not touch it
    sim.admin.set_clock(advance_seconds=5)
    report = _sync(lore_env, env)
    conn = _db(lore_env)
    assert (
        conn.execute("SELECT COUNT(*) FROM notes WHERE id = ?", (note["note"]["id"],)).fetchone()[0]
        == 1
    )
    rechecked = sum(
        p.get("rechecked", 0) for p in _stage(report, "issues")["details"]["projects"].values()
    )
    assert rechecked >= 1
    # Once GitLab's clock is past the interval, the item is not read again and again.
    sim.admin.set_clock(advance_seconds=120)
    _sync(lore_env, env)
    sim.state.reset_stats()
    _sync(lore_env, env)
    assert (
        sim.stats()["requests_by_route"].get("GET /api/v4/projects/:id/issues/:iid/discussions", 0)
        == 0
    )


def test_a_deleted_note_is_reconciled_without_full(lore_env: LoreEnv, sim: Any) -> None:
    """Deleting a note never touches its item; the regular reconciliation finds it."""
    env = _setup(lore_env, sim)
    _sync(lore_env, env)
    project = sim.dataset.projects[0]
    iid, issue = next(
        (i, x)
        for i, x in sorted(project.issues.items())
        if any(not n.system for d in x.discussions for n in d.notes)
    )
    note = next(n for d in issue.discussions for n in d.notes if not n.system)
    sim.admin.set_clock(advance_seconds=600)
    sim.admin.delete_note(project.path, "issue", iid, note.id)
    # The next reconciliation is due a day after the last one.
    conn = _db(lore_env)
    with conn:
        conn.execute(
            "UPDATE kv SET value = json_set(value, '$.at', '2000-01-01T00:00:00.000Z') "
            "WHERE key LIKE 'reconcile:%'"
        )
    conn.close()
    report = _sync(lore_env, env)
    recon = _stage(report, "issues")["details"]["projects"][project.path]["reconcile"]
    assert recon["checked"] and recon["refetched"] >= 1, recon
    conn = _db(lore_env)
    assert conn.execute("SELECT COUNT(*) FROM notes WHERE id = ?", (note.id,)).fetchone()[0] == 0


def test_an_issue_deleted_upstream_is_reconciled_by_counts(lore_env: LoreEnv, sim: Any) -> None:
    env = _setup(lore_env, sim)
    _sync(lore_env, env)
    project = sim.dataset.projects[1]
    iid = sorted(project.issues)[5]
    gone_id = project.issues[iid].id
    sim.admin.delete(project.path, "issue", iid)
    report = _sync(lore_env, env)
    recon = _stage(report, "issues")["details"]["projects"][project.path]["reconcile"]
    assert recon["why"] == "count" and recon["deleted"] == 1, recon
    conn = _db(lore_env)
    assert conn.execute("SELECT COUNT(*) FROM issues WHERE id = ?", (gone_id,)).fetchone()[0] == 0


def test_gitlab_before_15_7_uses_changes(lore_env: LoreEnv) -> None:
    with Simulator.start(preset="small", seed=5, gitlab_version="15.6", issues=20, mrs=12) as sim:
        env = _setup(lore_env, sim)
        _sync(lore_env, env)
        routes = sim.stats()["requests_by_route"]
        assert routes.get("GET /api/v4/projects/:id/merge_requests/:iid/diffs", 0) == 0, routes
        assert routes.get("GET /api/v4/projects/:id/merge_requests/:iid/changes", 0) == 12, routes
        conn = _db(lore_env)
        with_paths = conn.execute(
            "SELECT COUNT(DISTINCT mr_id) FROM mr_paths WHERE source = 'diff'"
        ).fetchone()[0]
        assert with_paths == 12


def test_a_404_on_diffs_falls_back_to_changes(lore_env: LoreEnv) -> None:
    """When /version cannot be read, lore learns from the 404 instead."""
    with Simulator.start(
        preset="small",
        seed=5,
        gitlab_version="15.6",
        issues=10,
        mrs=6,
        faults=[{"route": "version", "kind": "500"}],
    ) as sim:
        env = _setup(lore_env, sim)
        lore_env.write_config(
            sim.url,
            [p.path for p in sim.dataset.projects],
            extra={**NO_EMBED, "sync": {"maxRetries": 0}},
        )
        _sync(lore_env, env)
        conn = _db(lore_env)
        assert conn.execute("SELECT COUNT(DISTINCT mr_id) FROM mr_paths").fetchone()[0] == 6
        routes = sim.stats()["requests_by_route"]
        # /diffs (GitLab 15.6 answers it as an unknown route) only until the first 404
        # comes back (MRs fetched concurrently may each have asked), then /changes only
        assert 1 <= routes.get("GET <unmatched>", 0) <= 8, routes
        assert routes.get("GET /api/v4/projects/:id/merge_requests/:iid/changes", 0) == 6, routes


def test_truncated_diff_lists_are_flagged(lore_env: LoreEnv) -> None:
    with Simulator.start(preset="small", seed=5, issues=5, mrs=3, diff_max_files=500) as sim:
        project = sim.dataset.projects[0]
        files = [f"src/generated/file_{n:04d}.py" for n in range(620)]
        mr = sim.admin.create_mr(project.path, title="regenerate everything", files=files)
        env = _setup(lore_env, sim)
        _sync(lore_env, env)
        conn = _db(lore_env)
        row = conn.execute(
            "SELECT diffs_overflow, changes_count FROM merge_requests WHERE id = ?", (mr["id"],)
        ).fetchone()
        assert row["diffs_overflow"] == 1 and row["changes_count"] == "500+"
        assert (
            conn.execute("SELECT COUNT(*) FROM merge_requests WHERE diffs_overflow = 1").fetchone()[
                0
            ]
            == 1
        )
        paths = conn.execute(
            "SELECT COUNT(*) FROM mr_paths WHERE mr_id = ?", (mr["id"],)
        ).fetchone()[0]
        assert paths == 500


def test_merge_requests_disabled_is_not_a_bad_token(lore_env: LoreEnv) -> None:
    with Simulator.start(
        preset="small", seed=5, issues=30, mrs=20, mrs_disabled=("acme/tools/cli",)
    ) as sim:
        paths = [p.path for p in sim.dataset.projects]
        assert "acme/tools/cli" in paths or len(paths) >= 1
        env = _setup(lore_env, sim)
        code, doc = lore_env.robot("sync", "--no-docs", extra_env=env)
        assert code == 0, doc
        report = doc["data"]
        assert report["outcome"] == "degraded"
        mrs = _stage(report, "mrs")
        assert mrs["success"] is True
        disabled = [p for p in sim.dataset.projects if p.merge_requests_access_level != "enabled"]
        assert disabled
        entry = mrs["details"]["projects"][disabled[0].path]
        assert entry["skipped"] and entry["http_status"] == 403
        assert "not available" in mrs["warning"]
        conn = _db(lore_env)
        rows = conn.execute(
            "SELECT key, value FROM kv WHERE key LIKE 'resource_unavailable:%'"
        ).fetchall()
        assert [json.loads(r["value"])["http_status"] for r in rows] == [403]
        # issues of that project are mirrored all the same
        assert conn.execute(
            "SELECT COUNT(*) FROM issues WHERE project_id = ?", (disabled[0].id,)
        ).fetchone()[0] == len(disabled[0].issues)
