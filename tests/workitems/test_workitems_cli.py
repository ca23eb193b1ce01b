"""Work-item status end to end: the installed `lore` against the simulator on loopback.
`lore sync` fetches statuses during the issues stage; `lore issues`, `lore show` and
`lore status` show them (or say why there are none)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from workitems_support import truth

from lore.sim.server import Simulator

NO_EMBED = {"embedding": {"provider": "none"}}


def setup(lore_env: Any, sim: Any, sync: dict[str, Any] | None = None) -> dict[str, str]:
    extra: dict[str, Any] = dict(NO_EMBED)
    if sync:
        extra["sync"] = sync
    lore_env.write_config(sim.url, [p.path for p in sim.dataset.projects], extra=extra)
    return {"GITLAB_TOKEN": sim.token}


def sync(lore_env: Any, env: dict[str, str], *args: str) -> dict[str, Any]:
    code, doc = lore_env.robot("sync", "--no-embed", *args, extra_env=env, timeout=300)
    assert code == 0, doc
    assert doc["data"]["outcome"] == "success", doc
    return dict(doc["data"])


def status_details(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    issues = next(s for s in report["stages"] if s["stage"] == "issues")
    return {
        path: entry["work_item_status"] for path, entry in issues["details"]["projects"].items()
    }


def listed_statuses(lore_env: Any, env: dict[str, str], *flags: str) -> dict[str, Any]:
    code, doc = lore_env.robot(
        "issues", "--state", "all", "--all-types", "--limit", "1000", *flags, extra_env=env
    )
    assert code == 0, doc
    return {item["ref"]: item["status"] for item in doc["data"]["items"]}


def expected_statuses(sim: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for project in sim.dataset.projects:
        for iid, (name, category, color) in truth(sim, project).items():
            out[f"{project.path}#{iid}"] = (
                None if name is None else {"name": name, "category": category, "color": color}
            )
    return out


@pytest.fixture
def sim17() -> Iterator[Simulator]:
    with Simulator.start(preset="small", seed=7, complexity_limit=17) as server:
        yield server


def graphql_status_requests(report: dict[str, Any]) -> int:
    """GraphQL requests the status enrichment sent (other stages use GraphQL too)."""
    return sum(int(e["requests"]) for e in status_details(report).values())


@pytest.fixture
def sim_no_widget() -> Iterator[Simulator]:
    with Simulator.start(preset="small", seed=7, work_item_status=False) as server:
        yield server


def test_statuses_land_and_display(lore_env: Any, sim: Any) -> None:
    env = setup(lore_env, sim)
    report = sync(lore_env, env)
    for entry in status_details(report).values():
        assert entry["available"] is True and entry["reason"] is None
        assert entry["requests"] >= 1 and entry["final_page_size"] >= 1

    expected = expected_statuses(sim)
    assert listed_statuses(lore_env, env) == expected

    ref, status = next((r, s) for r, s in sorted(expected.items()) if s)
    code, doc = lore_env.robot("show", ref, extra_env=env)
    assert code == 0 and doc["data"]["status"] == status

    shown = lore_env.run("show", ref, extra_env=env)
    assert shown.returncode == 0 and status["name"] in shown.stdout
    table = lore_env.run("issues", "--state", "all", "--limit", "1000", extra_env=env)
    assert table.returncode == 0 and "Status" in table.stdout
    assert status["name"] in table.stdout


def test_status_filters(lore_env: Any, sim: Any) -> None:
    env = setup(lore_env, sim)
    sync(lore_env, env)
    expected = expected_statuses(sim)
    in_review = {r for r, s in expected.items() if s and s["name"] == "In review"}
    assert in_review
    assert set(listed_statuses(lore_env, env, "--status", "in review")) == in_review
    done = {r for r, s in expected.items() if s and s["category"] == "done"}
    assert set(listed_statuses(lore_env, env, "--status-category", "done")) == done

    # lore search carries the same status objects and filters by them too
    ref = sorted(in_review)[0]
    code, doc = lore_env.robot("show", ref, extra_env=env)
    assert code == 0
    title = doc["data"]["title"]
    code, doc = lore_env.robot(
        "search", title, "--mode", "lexical", "--limit", "1000", extra_env=env
    )
    assert code == 0, doc
    issue_hits = [h for h in doc["data"]["hits"] if h["kind"] == "issue"]
    assert issue_hits and all(h["status"] == expected[h["ref"]] for h in issue_hits)
    assert all(h["status"] is None for h in doc["data"]["hits"] if h["kind"] == "mr")
    code, doc = lore_env.robot(
        "search",
        title,
        "--mode",
        "lexical",
        "--limit",
        "1000",
        "--status",
        "IN REVIEW",
        extra_env=env,
    )
    assert code == 0, doc
    hits = {h["ref"] for h in doc["data"]["hits"]}
    assert ref in hits and hits <= in_review
    assert doc["data"]["filters"]["status"] == "IN REVIEW"
    code, doc = lore_env.robot(
        "search",
        title,
        "--mode",
        "lexical",
        "--limit",
        "1000",
        "--status-category",
        "Done",
        extra_env=env,
    )
    assert code == 0, doc
    assert {h["ref"] for h in doc["data"]["hits"]} <= done and ref not in done
    human = lore_env.run(
        "search", title, "--mode", "lexical", "--status", "in review", extra_env=env
    )
    assert human.returncode == 0 and "In review" in human.stdout
    code, doc = lore_env.robot(
        "search", title, "--type", "mr", "--status", "In review", extra_env=env
    )
    assert code == 2 and doc["error"]["code"] == "USAGE_ERROR"
    assert "issues" in doc["error"]["message"]


def test_complexity_limit_17_sync_completes_with_every_status_correct(
    lore_env: Any, sim17: Any
) -> None:
    # GitLab's rule: a workItems(iids:) query has no per-item cost, so lore's status
    # query (14) fits a limit of 17 at GitLab's full page of 100: no shrinking at all.
    env = setup(lore_env, sim17)
    report = sync(lore_env, env)
    for entry in status_details(report).values():
        assert entry["available"] is True
        assert entry["final_page_size"] == 100 and entry["shrinks"] == 0
    assert listed_statuses(lore_env, env) == expected_statuses(sim17)

    code, doc = lore_env.robot("status", extra_env=env)
    assert code == 0
    [instance] = doc["data"]["workitem_status"]["instances"]
    assert instance["available"] is True
    assert instance["final_page_size"] == 100 and instance["shrinks"] == 0


def test_instance_without_the_widget_syncs_cleanly_and_status_says_why(
    lore_env: Any, sim_no_widget: Any
) -> None:
    sim = sim_no_widget
    env = setup(lore_env, sim)
    report = sync(lore_env, env)
    for entry in status_details(report).values():
        assert entry["available"] is False
        assert "WorkItemWidgetStatus" in entry["reason"]
    assert set(listed_statuses(lore_env, env).values()) == {None}
    code, doc = lore_env.robot("search", "the", "--status", "Done", extra_env=env)
    assert code == 2 and doc["error"]["code"] == "USAGE_ERROR"
    assert "no work-item status is mirrored" in doc["error"]["message"]

    code, doc = lore_env.robot("status", extra_env=env)
    assert code == 0
    [instance] = doc["data"]["workitem_status"]["instances"]
    assert instance["instance"] == sim.url
    assert instance["available"] is False and "WorkItemWidgetStatus" in instance["reason"]

    human = lore_env.run("status", extra_env=env)
    assert human.returncode == 0
    assert "WorkItemWidgetStatus" in human.stdout
    assert "not available" in human.stdout or "unavailable" in human.stdout

    # The answer is cached: the next incremental sync sends no status query.
    sim.admin.edit_issue(
        sim.dataset.projects[0].path,
        sorted(sim.dataset.projects[0].issues)[0],
        title="Touched so the issues stage has something to enrich",
    )
    assert graphql_status_requests(sync(lore_env, env)) == 0


def test_status_changed_upstream_is_updated_by_the_next_incremental_sync(
    lore_env: Any, sim: Any
) -> None:
    env = setup(lore_env, sim)
    sync(lore_env, env)
    project = sim.dataset.projects[0]
    expected = truth(sim, project)
    iid = next(
        i for i, (name, _c, _k) in sorted(expected.items()) if name not in (None, "In review")
    )
    sim.admin.edit_issue(project.path, iid, status="In review")

    report = sync(lore_env, env)
    entry = status_details(report)[project.path]
    assert entry["updated"] == 1
    # No probe (the capability is cached) and no shrink (iids cost nothing per item).
    assert entry["requests"] == 1 and entry["shrinks"] == 0
    code, doc = lore_env.robot("show", f"{project.path}#{iid}", extra_env=env)
    assert code == 0
    assert doc["data"]["status"] == {
        "name": "In review",
        "category": "in_progress",
        "color": "#9e5ccf",
    }

    # A sync with no upstream change writes no status.
    assert all(e["updated"] == 0 for e in status_details(sync(lore_env, env)).values())


def test_full_sync_rechecks_the_capability(lore_env: Any, sim_no_widget: Any) -> None:
    sim = sim_no_widget
    env = setup(lore_env, sim)
    sync(lore_env, env)
    sim.admin.configure(work_item_status=True)  # the instance was upgraded
    report = sync(lore_env, env, "--full")
    assert all(e["available"] for e in status_details(report).values())
    assert listed_statuses(lore_env, env) == expected_statuses(sim)


def test_graphql_outage_degrades_the_run_and_the_next_run_fetches_the_pending_statuses(
    lore_env: Any, sim: Any
) -> None:
    env = setup(lore_env, sim, sync={"maxRetries": 0})
    sim.configure_faults([{"route": "graphql", "kind": "503"}])
    code, doc = lore_env.robot("sync", "--no-embed", extra_env=env, timeout=300)
    # Status is enrichment: the issues stage succeeds, the run is degraded.
    assert code == 0, doc
    assert doc["data"]["outcome"] == "degraded"
    stages = {s["stage"]: s for s in doc["data"]["stages"]}
    assert stages["issues"]["success"] is True
    details = {p: e["work_item_status"] for p, e in stages["issues"]["details"]["projects"].items()}
    assert all(e["error_code"] == "NETWORK_ERROR" for e in details.values())
    conn = sqlite3.connect(lore_env.data_dir / "lore.db")
    try:
        # The issues themselves were committed before enrichment ran, and stay pending.
        assert conn.execute("SELECT COUNT(*) FROM issues").fetchone()[0] == sim.stats()["issues"]
        assert (
            conn.execute("SELECT COUNT(*) FROM issues WHERE status_name IS NOT NULL").fetchone()[0]
            == 0
        )
    finally:
        conn.close()

    # lore status names the problem per project, next to the availability.
    code, status_doc = lore_env.robot("status", extra_env=env)
    assert code == 0
    [instance] = status_doc["data"]["workitem_status"]["instances"]
    assert set(instance["errors"]) == {p.path for p in sim.dataset.projects}
    assert all(e["code"] == "NETWORK_ERROR" for e in instance["errors"].values())
    human = lore_env.run("status", extra_env=env)
    assert human.returncode == 0 and "NETWORK_ERROR" in human.stdout

    # GraphQL is back; nothing changed upstream, yet the pending statuses are fetched.
    sim.configure_faults([])
    report = sync(lore_env, env)
    assert all(e["error_code"] is None for e in status_details(report).values())
    assert listed_statuses(lore_env, env) == expected_statuses(sim)
    code, status_doc = lore_env.robot("status", extra_env=env)
    [instance] = status_doc["data"]["workitem_status"]["instances"]
    assert not instance.get("errors")
    # Resolved now: nothing is pending any more.
    conn = sqlite3.connect(lore_env.data_dir / "lore.db")
    try:
        assert (
            conn.execute("SELECT COUNT(*) FROM issues WHERE status_pending = 1").fetchone()[0] == 0
        )
    finally:
        conn.close()


def test_status_shows_resources_recorded_as_unavailable(lore_env: Any, sim: Any) -> None:
    env = setup(lore_env, sim)
    sync(lore_env, env)
    project = sim.dataset.projects[0]
    conn = sqlite3.connect(lore_env.data_dir / "lore.db")
    try:
        with conn:
            conn.execute(
                "INSERT OR REPLACE INTO kv(key, value) VALUES (?, ?)",
                (
                    f"resource_unavailable:{project.id}:mrs",
                    '{"reason": "merge requests are disabled for this project", '
                    '"http_status": 403, "checked_at": "2025-06-01T12:00:00.000Z"}',
                ),
            )
    finally:
        conn.close()
    code, doc = lore_env.robot("status", extra_env=env)
    assert code == 0
    rows = {p["path"]: p for p in doc["data"]["projects"]}
    assert rows[project.path]["unavailable"] == [
        {
            "resource": "mrs",
            "reason": "merge requests are disabled for this project",
            "http_status": 403,
            "checked_at": "2025-06-01T12:00:00.000Z",
        }
    ]
    assert all(not p["unavailable"] for path, p in rows.items() if path != project.path)
    assert all(p["status_error"] is None for p in rows.values())
    [instance] = doc["data"]["workitem_status"]["instances"]
    assert instance["mode"] == "object" and "name" in instance["fields"]
    human = lore_env.run("status", extra_env=env)
    assert human.returncode == 0
    assert f"{project.path}: merge requests not available" in human.stdout
    assert "HTTP 403" in human.stdout
