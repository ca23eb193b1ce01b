"""The version matrix (issue 9): for each GitLab release lore supports, a full sync, an
incremental sync after upstream edits, work-item status stored exactly where that release
has it (and no error where it has not), and a scheduled-service run — all with the real
CLI against the simulator behaving as that release."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from e2e_helpers import mirror_vs_upstream

from lore.sim.server import Simulator
from lore_testkit import LoreEnv

#: version → (status shape stored, MR diffs route, issues walk)
MATRIX: dict[str, tuple[str, str, str]] = {
    "15.6": ("none", "changes", "window"),
    "16.11": ("none", "diffs", "window"),
    "17.5-ee": ("none", "diffs", "window"),  # `status` is requirements' String there
    "17.10-ee": ("flat", "diffs", "window"),  # id/name/color on the widget itself
    "18.0-ee": ("no_category", "diffs", "window"),  # status { name color }, no category
    "18.5-ee": ("full", "diffs", "keyset"),
    "18.5-ce": ("none", "diffs", "keyset"),
}


@pytest.fixture(params=sorted(MATRIX), ids=lambda v: f"gitlab-{v}")
def versioned(request: pytest.FixtureRequest) -> Iterator[tuple[str, Simulator]]:
    version = str(request.param)
    with Simulator.start(preset="small", seed=21, issues=60, mrs=20, gitlab_version=version) as sim:
        yield version, sim


def _statuses(db: sqlite3.Connection) -> list[tuple[Any, Any, Any]]:
    return db.execute(
        "SELECT status_name, status_category, status_color FROM issues "
        "WHERE status_name IS NOT NULL"
    ).fetchall()


def _sync(lore_env: LoreEnv, env: dict[str, str], *args: str) -> dict[str, Any]:
    code, doc = lore_env.robot("sync", "--no-docs", *args, extra_env=env, timeout=600)
    assert code == 0, doc
    return dict(doc["data"])


def test_version_matrix(lore_env: LoreEnv, versioned: tuple[str, Simulator]) -> None:
    version, sim = versioned
    shape, diffs_route, walk = MATRIX[version]
    lore_env.write_config(
        sim.url, [p.path for p in sim.dataset.projects], extra={"embedding": {"provider": "none"}}
    )
    env = {"GITLAB_TOKEN": sim.token}

    # full sync
    report = _sync(lore_env, env, "--full")
    assert report["outcome"] == "success", report
    issues_stage = next(s for s in report["stages"] if s["stage"] == "issues")
    assert all(p["walk"] == walk for p in issues_stage["details"]["projects"].values())
    routes = sim.stats()["requests_by_route"]
    other = "diffs" if diffs_route == "changes" else "changes"
    assert routes.get(f"GET /api/v4/projects/:id/merge_requests/:iid/{diffs_route}", 0) > 0
    assert routes.get(f"GET /api/v4/projects/:id/merge_requests/:iid/{other}", 0) == 0
    db = sqlite3.connect(lore_env.data_dir / "lore.db")
    stored = _statuses(db)
    if shape == "none":
        assert stored == []
    else:
        truth = sum(
            1 for p in sim.dataset.projects for i in p.issues.values() if i.status_index is not None
        )
        assert len(stored) == truth > 0
        assert all(name and color for name, _, color in stored)
        if shape == "full":
            assert all(category for _, category, _ in stored)
        else:
            assert all(category is None for _, category, _ in stored)
    assert not mirror_vs_upstream(lore_env.data_dir / "lore.db", sim.admin.snapshot())

    # incremental sync after upstream edits (a status change included)
    project = sim.dataset.projects[0]
    iid = sorted(project.issues)[0]
    sim.admin.set_clock(advance_seconds=600)
    sim.admin.edit_issue(project.path, iid, title="renamed upstream", status="In progress")
    sim.admin.add_note(project.path, "issue", iid, body="a comment after the edit")
    sim.admin.set_clock(advance_seconds=120)
    report = _sync(lore_env, env)
    assert report["outcome"] == "success", report
    row = db.execute(
        "SELECT title, status_name FROM issues WHERE project_id = ? AND iid = ?", (project.id, iid)
    ).fetchone()
    assert row[0] == "renamed upstream"
    assert (row[1] == "In progress") if shape != "none" else row[1] is None
    assert not mirror_vs_upstream(lore_env.data_dir / "lore.db", sim.admin.snapshot())

    # `lore status` says why there is no status, never as an error
    code, doc = lore_env.robot("status", extra_env=env)
    assert code == 0, doc
    db.close()


def test_service_run_on_each_version(
    lore_env: LoreEnv, versioned: tuple[str, Simulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scheduled run (cron backend with a recording fake crontab) succeeds everywhere."""
    from service.fakes import install_fakes

    _version, sim = versioned
    install_fakes(lore_env.root, lore_env.env)
    lore_env.env["GITLAB_TOKEN"] = sim.token
    lore_env.write_config(
        sim.url, [p.path for p in sim.dataset.projects], extra={"embedding": {"provider": "none"}}
    )
    code, doc = lore_env.robot("service", "install", "--backend", "cron", "--interval", "30m")
    assert code == 0, doc
    sid = doc["data"]["service_id"]
    code, doc = lore_env.robot("service", "run", "--service-id", sid, timeout=600)
    assert code == 0, doc
    run = doc["data"]
    code, doc = lore_env.robot("service", "status")
    assert code == 0, doc
    status = doc["data"]
    assert status["paused_reason"] is None, status
    assert status["scheduler_state"] == "success", (status, run)
    assert status["last_sync"]["outcome"] == "success", status


def test_service_is_not_paused_when_merge_requests_are_disabled(lore_env: LoreEnv) -> None:
    """A 403 on one project's MR list is "not available here", not a bad token: the run is
    degraded and the service keeps its schedule (AUTH_FAILED would pause it)."""
    from service.fakes import install_fakes

    with Simulator.start(
        preset="small", seed=21, issues=30, mrs=10, mrs_disabled=("acme/tools/cli",)
    ) as sim:
        install_fakes(lore_env.root, lore_env.env)
        lore_env.env["GITLAB_TOKEN"] = sim.token
        lore_env.write_config(
            sim.url,
            [p.path for p in sim.dataset.projects],
            extra={"embedding": {"provider": "none"}},
        )
        code, doc = lore_env.robot("service", "install", "--backend", "cron")
        assert code == 0, doc
        code, doc = lore_env.robot(
            "service", "run", "--service-id", doc["data"]["service_id"], timeout=600
        )
        assert code == 0, doc
        code, doc = lore_env.robot("service", "status")
        status = doc["data"]
        assert status["scheduler_state"] == "degraded" and status["paused_reason"] is None, status
        mrs = next(s for s in status["last_sync"]["stage_results"] if s["stage"] == "mrs")
        assert mrs["success"] and "not available" in mrs["warning"], mrs
