"""`lore sync` end to end: the installed CLI against the simulator on loopback, a real
SQLite file, real subprocesses."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from typing import Any
from urllib.parse import quote

import pytest
from e2e_helpers import dump_store, integrity_ok, sim_post

from lore_testkit import LoreEnv, assert_robot_output

NO_EMBED = {"embedding": {"provider": "none"}}


def _setup(lore_env: LoreEnv, sim: Any, extra: dict[str, Any] | None = None) -> dict[str, str]:
    lore_env.write_config(sim.url, [p.path for p in sim.dataset.projects], extra=extra or NO_EMBED)
    return {"GITLAB_TOKEN": sim.token}


def _db(lore_env: LoreEnv) -> sqlite3.Connection:
    conn = sqlite3.connect(lore_env.data_dir / "lore.db")
    conn.row_factory = sqlite3.Row
    return conn


def _count(conn: sqlite3.Connection, sql: str, *args: Any) -> int:
    return int(conn.execute(sql, args).fetchone()[0])


def test_sync_mirrors_everything(lore_env: LoreEnv, sim: Any, robot_manifest: dict) -> None:  # type: ignore[type-arg]
    env = _setup(lore_env, sim)
    code, doc = lore_env.robot("sync", extra_env=env)
    assert code == 0, doc
    assert_robot_output(robot_manifest, "lore sync", doc)
    data = doc["data"]
    assert data["outcome"] == "success"
    assert [s["stage"] for s in data["stages"]] == ["issues", "mrs", "docs", "embeddings"]
    stats = sim.stats()
    conn = _db(lore_env)
    assert _count(conn, "SELECT COUNT(*) FROM issues") == stats["issues"]
    assert _count(conn, "SELECT COUNT(*) FROM merge_requests") == stats["merge_requests"]
    assert _count(conn, "SELECT COUNT(*) FROM notes") == stats["notes"]
    assert (
        _count(conn, "SELECT COUNT(*) FROM documents") == stats["issues"] + stats["merge_requests"]
    )
    assert _count(conn, "SELECT COUNT(*) FROM mr_paths") > 0
    assert _count(conn, "SELECT COUNT(*) FROM notes WHERE position_new_path IS NOT NULL") > 0
    assert (
        data["requests"] == stats["requests"]
    )  # every request the simulator served was the sync's
    assert integrity_ok(lore_env.data_dir / "lore.db")


def test_noop_sync_makes_a_constant_number_of_requests(lore_env: LoreEnv, sim: Any) -> None:
    env = _setup(lore_env, sim)
    assert lore_env.robot("sync", extra_env=env)[0] == 0
    # Time passes between runs, as on a real GitLab: items read within a minute of their
    # last update are read again once (GitLab may have hidden a note from updated_at).
    sim_post(sim.url, "/__sim/clock", {"advance_seconds": 120})
    assert lore_env.robot("sync", extra_env=env)[0] == 0
    sim.state.reset_stats()
    code, doc = lore_env.robot("sync", extra_env=env)
    assert code == 0
    routes = {k: v for k, v in sim.stats()["requests_by_route"].items() if v}
    projects = len(sim.dataset.projects)
    # once: the version; per project: the project itself, one issues page, one MRs page,
    # and one GraphQL request counting issues and MRs (nothing changed, nothing to read)
    assert routes.pop("GET /api/v4/version") == 1, routes
    assert routes.pop("GET /api/v4/projects/:id") == projects, routes
    assert routes.pop("GET /api/v4/projects/:id/issues") == projects, routes
    assert routes.pop("GET /api/v4/projects/:id/merge_requests") == projects, routes
    assert routes.pop("POST /api/graphql", 0) <= projects, routes
    assert routes == {}, routes
    assert all(s["items_updated"] == 0 for s in doc["data"]["stages"])


def test_upstream_changes_are_reflected(lore_env: LoreEnv, sim: Any) -> None:
    env = _setup(lore_env, sim)
    assert lore_env.robot("sync", extra_env=env)[0] == 0
    conn = _db(lore_env)
    issue = conn.execute(
        "SELECT i.iid, p.path, p.id FROM issues i JOIN projects p "
        "ON p.id = i.project_id WHERE i.state = 'opened' ORDER BY i.iid LIMIT 1"
    ).fetchone()
    mr = conn.execute(
        "SELECT m.iid, p.path FROM merge_requests m JOIN projects p "
        "ON p.id = m.project_id WHERE m.state = 'opened' ORDER BY m.iid LIMIT 1"
    ).fetchone()
    victim = conn.execute(
        "SELECT i.iid, p.path, i.id FROM issues i JOIN projects p "
        "ON p.id = i.project_id ORDER BY i.iid DESC LIMIT 1"
    ).fetchone()
    conn.close()
    sim_post(sim.url, "/__sim/clock", {"advance_seconds": 60})
    sim_post(
        sim.url,
        f"/__sim/projects/{quote(issue['path'], safe='')}/issues/{issue['iid']}",
        {"title": "Renamed upstream: login loops forever"},
        method="PATCH",
    )
    sim_post(
        sim.url,
        f"/__sim/projects/{quote(issue['path'], safe='')}/issues/{issue['iid']}/notes",
        {"body": "A brand new note zebrafish"},
    )
    sim_post(
        sim.url,
        f"/__sim/projects/{quote(mr['path'], safe='')}/merge_requests/{mr['iid']}",
        {"state_event": "close"},
        method="PATCH",
    )
    code, doc = lore_env.robot("sync", extra_env=env)
    assert code == 0, doc
    conn = _db(lore_env)
    row = conn.execute(
        "SELECT title FROM issues WHERE iid = ? AND project_id = ?", (issue["iid"], issue["id"])
    ).fetchone()
    assert row["title"] == "Renamed upstream: login loops forever"
    assert _count(conn, "SELECT COUNT(*) FROM notes WHERE body LIKE '%zebrafish%'") == 1
    assert (
        _count(conn, "SELECT COUNT(*) FROM documents_fts WHERE documents_fts MATCH 'zebrafish'")
        == 1
    )
    state = conn.execute(
        "SELECT m.state FROM merge_requests m JOIN projects p ON p.id = m.project_id "
        "WHERE m.iid = ? AND p.path = ?",
        (mr["iid"], mr["path"]),
    ).fetchone()[0]
    assert state == "closed"
    conn.close()
    # A deletion never shows in the updated_at listing; the counts GitLab reports differ,
    # so the incremental sync's reconciliation finds it and removes it, document and all.
    sim_post(
        sim.url,
        f"/__sim/projects/{quote(victim['path'], safe='')}/issues/{victim['iid']}",
        method="DELETE",
    )
    code, doc = lore_env.robot("sync", extra_env=env)
    assert code == 0 and doc["data"]["outcome"] == "success", doc
    conn = _db(lore_env)
    assert _count(conn, "SELECT COUNT(*) FROM issues WHERE id = ?", victim["id"]) == 0
    conn.close()
    code, doc = lore_env.robot("sync", "--full", extra_env=env)
    assert code == 0
    conn = _db(lore_env)
    assert _count(conn, "SELECT COUNT(*) FROM issues WHERE id = ?", victim["id"]) == 0
    assert (
        _count(
            conn,
            "SELECT COUNT(*) FROM documents WHERE item_kind='issue' AND item_id = ?",
            victim["id"],
        )
        == 0
    )
    assert _count(conn, "SELECT COUNT(*) FROM issues") == sim.stats()["issues"]


def test_transient_faults_are_absorbed(lore_env: LoreEnv, sim: Any) -> None:
    env = _setup(lore_env, sim)
    sim_post(
        sim.url,
        "/__sim/faults",
        {
            "rules": [
                {"route": "issues", "kind": "500", "count": 2},
                {"route": "discussions", "kind": "502", "count": 3},
                {"route": "merge_requests", "kind": "429", "retry_after": 1, "count": 1},
                {"route": "diffs", "kind": "drop", "count": 2},
                {"route": "discussions", "kind": "503", "count": 1},
            ]
        },
    )
    code, doc = lore_env.robot("sync", extra_env=env)
    assert code == 0, doc
    stats = sim.stats()
    conn = _db(lore_env)
    assert _count(conn, "SELECT COUNT(*) FROM issues") == stats["issues"]
    assert _count(conn, "SELECT COUNT(*) FROM notes") == stats["notes"]


def test_persistent_fault_fails_one_stage_and_others_report(lore_env: LoreEnv, sim: Any) -> None:
    env = _setup(lore_env, sim)
    sim_post(sim.url, "/__sim/faults", {"rules": [{"route": "merge_requests", "kind": "500"}]})
    code, doc = lore_env.robot("sync", extra_env={**env, "LORE_TEST_HOOKS": "1"}, timeout=300)
    assert code == 8, doc
    assert doc["error"]["code"] == "NETWORK_ERROR"
    stages = {s["stage"]: s for s in doc["error"]["details"]["report"]["stages"]}
    assert stages["issues"]["success"] is True and stages["issues"]["items_updated"] > 0
    assert stages["mrs"]["success"] is False and stages["mrs"]["error_code"] == "NETWORK_ERROR"
    assert stages["docs"]["success"] is True  # optional stages still ran on what we have
    sim_post(sim.url, "/__sim/faults", None, method="DELETE")
    sim_post(sim.url, "/__sim/faults", {"rules": [{"route": "*", "kind": "401"}]})
    code, doc = lore_env.robot("sync", extra_env=env)
    assert code == 6 and doc["error"]["code"] == "AUTH_FAILED"
    assert sim.token not in str(doc)


def test_rate_limit_exhaustion_carries_retry_after(lore_env: LoreEnv, sim: Any) -> None:
    env = _setup(lore_env, sim, extra={**NO_EMBED, "sync": {"maxRetries": 1}})
    sim_post(
        sim.url, "/__sim/faults", {"rules": [{"route": "issues", "kind": "429", "retry_after": 1}]}
    )
    code, doc = lore_env.robot("sync", extra_env=env)
    assert code == 9 and doc["error"]["code"] == "RATE_LIMITED"
    assert doc["error"]["retry_after_ms"] == 1000


def test_second_sync_fails_fast_then_waits(lore_env: LoreEnv, sim: Any) -> None:
    env = _setup(lore_env, sim)
    holder = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from lore.core.locks import acquire_pipeline_lock
        lock = acquire_pipeline_lock(Path({str(lore_env.data_dir)!r}))
        print("held", flush=True)
        time.sleep(float(sys.argv[1]))
        lock.release()
    """)
    proc = subprocess.Popen([sys.executable, "-c", holder, "2"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        code, doc = lore_env.robot("sync", extra_env=env)
        assert code == 14 and doc["error"]["code"] == "SYNC_IN_PROGRESS"
        assert f"pid {proc.pid}" in doc["error"]["message"]
        code, doc = lore_env.robot("sync", "--wait", "30", extra_env=env)
        assert code == 0, doc
    finally:
        proc.kill()
        proc.wait()


def test_project_flag_limits_and_validates(lore_env: LoreEnv, sim: Any) -> None:
    env = _setup(lore_env, sim)
    first = sim.dataset.projects[0].path
    code, doc = lore_env.robot("sync", "--project", first, extra_env=env)
    assert code == 0
    conn = _db(lore_env)
    assert [r[0] for r in conn.execute("SELECT path FROM projects")] == [first]
    code, doc = lore_env.robot("sync", "--project", "not/configured", extra_env=env)
    assert code == 7 and "not/configured" in doc["error"]["message"]


def test_human_sync_shows_progress_and_summary(lore_env: LoreEnv, sim: Any) -> None:
    env = _setup(lore_env, sim)
    proc = lore_env.run("sync", extra_env=env)
    assert proc.returncode == 0, proc.stderr
    assert "issues" in proc.stdout and "mrs" in proc.stdout and "requests" in proc.stdout
    assert "Syncing" in proc.stderr
    assert sim.token not in proc.stdout + proc.stderr


@pytest.mark.parametrize("kill_after_requests", [3, 40, 130, 260])
def test_sigkill_at_any_point_converges(lore_env: LoreEnv, kill_after_requests: int) -> None:
    """Kill `lore sync` mid-run; the next sync completes and equals a clean sync."""
    from lore.sim.server import Simulator

    # more than one page per list so kills land on page boundaries and mid-page
    sim = Simulator.start(preset="small", seed=11, latency_ms=3, issues=230, mrs=120)
    try:
        env = _setup(lore_env, sim)
        clean_env = LoreEnv(
            root=lore_env.root,
            home=lore_env.home,
            config_path=lore_env.config_path,
            data_dir=lore_env.root / "clean-data",
            env={**lore_env.env, "LORE_DATA_DIR": str(lore_env.root / "clean-data")},
        )
        assert clean_env.robot("sync", extra_env=env)[0] == 0
        start = sim.stats()["requests"]
        proc = subprocess.Popen(
            [
                sys.executable.replace("python", "lore").rsplit("/", 1)[0] + "/lore",
                "--robot",
                "sync",
            ],
            env={**lore_env.env, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import time

        deadline = time.monotonic() + 60
        while sim.stats()["requests"] - start < kill_after_requests and proc.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.005)
        proc.kill()
        proc.wait()
        db = lore_env.data_dir / "lore.db"
        if db.exists():
            assert integrity_ok(db)
        code, doc = lore_env.robot("sync", extra_env=env)
        assert code == 0, doc
        assert integrity_ok(db)
        assert dump_store(db) == dump_store(clean_env.data_dir / "lore.db")
    finally:
        sim.stop()


def test_requests_and_retries_are_logged_without_the_token(lore_env: LoreEnv, sim: Any) -> None:
    env = _setup(lore_env, sim)
    sim_post(sim.url, "/__sim/faults", {"rules": [{"route": "issues", "kind": "503", "count": 1}]})
    proc = lore_env.run("--robot", "sync", extra_env={**env, "LORE_LOG_LEVEL": "debug"})
    assert proc.returncode == 0, proc.stderr
    assert "GET /api/v4/projects/" in proc.stderr and "retry 1" in proc.stderr
    assert sim.token not in proc.stderr and sim.token not in proc.stdout
    quiet = lore_env.run("--robot", "sync", extra_env=env)
    assert quiet.stderr == ""


def test_embedding_server_down_degrades_but_exits_zero(lore_env: LoreEnv, sim: Any) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    env = _setup(
        lore_env,
        sim,
        extra={"embedding": {"provider": "ollama", "baseUrl": f"http://127.0.0.1:{dead}"}},
    )
    code, doc = lore_env.robot("sync", extra_env=env)
    assert code == 0, doc
    assert doc["data"]["outcome"] == "degraded"
    stages = {s["stage"]: s for s in doc["data"]["stages"]}
    assert stages["embeddings"]["success"] is False
    assert stages["embeddings"]["error_code"] == "EMBEDDING_UNAVAILABLE"
    assert all(stages[s]["success"] for s in ("issues", "mrs", "docs"))
