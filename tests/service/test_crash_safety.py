"""Crash safety and concurrency: SIGKILL while the status file is written, SIGKILL in the
middle of a run, and admin commands racing each other and a run."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from lore.service.status import read_status
from lore_testkit import LORE_EXE

from .conftest import ServiceEnv

NOW = 1_800_000_000_000

WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from lore.service.status import RunRecord, StageRecord, SyncStatusFile, write_status

    path = Path(sys.argv[1])
    versions = []
    for tag in ("old", "new"):
        status = SyncStatusFile(state="success")
        for i in range(10):  # big enough that a write is not one syscall's worth
            status.record_run(RunRecord(tag * 2000, i, 1.0, "success",
                                        [StageRecord("issues", True, i)] * 50))
        versions.append(status)
    write_status(path, versions[0])
    print("ready", flush=True)
    n = 0
    while True:
        write_status(path, versions[n % 2])
        n += 1
""")


def test_sigkill_during_status_writes_leaves_the_old_or_the_new_file(tmp_path: Path) -> None:
    path = tmp_path / "sync-status-abc.json"
    rng = random.Random(7)
    seen: set[str] = set()
    kills = 0
    # At least 25 kills at random moments, and more (up to 200) until both versions have
    # been caught: a run that only ever saw the first write proves nothing.
    while kills < 200 and (kills < 25 or seen != {"old", "new"}):
        kills += 1
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        time.sleep(rng.uniform(0.0, 0.05))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        status = read_status(path)  # never raises: the file is whole
        assert status is not None and status.last_run is not None
        tag = status.last_run.timestamp_iso[:3]
        assert status.last_run.timestamp_iso in ("old" * 2000, "new" * 2000)
        seen.add(tag)
    assert seen == {"old", "new"}, f"only {seen} after {kills} kills: no kill landed mid-run"
    # whatever temp files a kill left behind are hidden and never the status file itself
    assert all(p.name.startswith(".") for p in tmp_path.iterdir() if p != path)


@pytest.fixture
def slow_sim_env(svc: ServiceEnv, sim: Any) -> ServiceEnv:
    svc.env["GITLAB_TOKEN"] = sim.token
    svc.lore.write_config(
        sim.url,
        ["acme/platform"],
        extra={"sync": {"maxRetries": 0}, "embedding": {"provider": "none"}},
    )
    svc.checked("install", "--backend", "cron", "--profile", "fast")
    return svc


def _wait_for(predicate: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def _current_run(svc: ServiceEnv, sid: str) -> dict[str, Any] | None:
    path = svc.data_dir / f"sync-status-{sid}.json"
    try:
        return json.loads(path.read_text()).get("current_run")
    except (OSError, ValueError):
        return None


def test_sigkill_during_a_run_is_reported_as_running_stale(
    slow_sim_env: ServiceEnv, sim: Any
) -> None:
    svc = slow_sim_env
    sid = svc.checked("list")["data"]["services"][0]["service_id"]
    sim.configure_faults({"rules": [{"route": "project", "kind": "slow", "delay_ms": 20000}]})
    proc = subprocess.Popen(
        [LORE_EXE, "--robot", "service", "run", "--service-id", sid],
        env={**svc.env, **svc.hooks(NOW)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=svc.lore.root,
    )
    _wait_for(lambda: _current_run(svc, sid) is not None)
    assert _current_run(svc, sid) == {"started_at_ms": NOW, "pid": proc.pid, "probe": False}
    live = svc.checked("status", extra_env=svc.hooks(NOW + 1000))["data"]
    assert live["scheduler_state"] == "running" and live["current_run"]["pid"] == proc.pid
    # a second run meanwhile is skipped: the first holds the pipeline lock
    locked = svc.checked("run", "--service-id", sid, extra_env=svc.hooks(NOW + 2000))["data"]
    assert locked["action"] == "skipped" and locked["reason"] == "locked"
    assert locked["holder"]["pid"] == proc.pid
    proc.send_signal(signal.SIGKILL)
    proc.wait()  # reaped: the pid is gone

    assert svc.status_file(sid)["current_run"]["pid"] == proc.pid  # left behind
    stale = svc.checked("status", extra_env=svc.hooks(NOW + 5000))["data"]
    assert stale["scheduler_state"] == "running_stale"
    assert stale["current_run"] == {
        "pid": proc.pid,
        "started_at_iso": "2027-01-15T08:00:00.000Z",
        "probe": False,
        "stale": True,
    }
    human = svc.run("service", "status", extra_env=svc.hooks(NOW + 5000))
    assert "RUNNING_STALE" in human.stdout and str(proc.pid) in human.stdout

    # the next run takes the lock (the OS released it) and supersedes the dead one
    sim.configure_faults({"rules": []})
    after = svc.checked("run", "--service-id", sid, extra_env=svc.hooks(NOW + 60_000))["data"]
    assert after["outcome"] == "success"
    status = svc.status_file(sid)
    assert status["state"] == "success" and "current_run" not in status
    log = Path(svc.checked("logs")["data"]["log_path"]).read_text()
    assert f"previous run (pid {proc.pid}" in log and "superseding it" in log


def test_a_pause_made_during_a_run_survives_the_runs_final_write(
    slow_sim_env: ServiceEnv, sim: Any
) -> None:
    svc = slow_sim_env
    sid = svc.checked("list")["data"]["services"][0]["service_id"]
    sim.configure_faults(
        {"rules": [{"route": "project", "kind": "slow", "delay_ms": 3000, "count": 1}]}
    )
    proc = subprocess.Popen(
        [LORE_EXE, "--robot", "service", "run", "--service-id", sid],
        env={**svc.env, **svc.hooks(NOW)},
        stdout=subprocess.PIPE,
        text=True,
        cwd=svc.lore.root,
    )
    _wait_for(lambda: _current_run(svc, sid) is not None)
    svc.checked("pause", "--reason", "maintenance")
    out, _ = proc.communicate(timeout=120)
    assert json.loads(out)["data"]["outcome"] == "success"
    status = svc.status_file(sid)
    assert status["state"] == "paused" and status["paused_reason"] == "MANUAL: maintenance"
    assert status["last_run"]["outcome"] == "success"  # the run is still in the history
    assert "current_run" not in status


def test_concurrent_pause_and_resume_never_corrupt_or_lose_an_update(svc: ServiceEnv) -> None:
    sid = svc.checked("install", "--backend", "cron")["data"]["service_id"]

    def admin(*args: str) -> dict[str, Any]:
        proc = subprocess.run(
            [LORE_EXE, "--robot", "service", *args],
            env=svc.env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=svc.lore.root,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return dict(json.loads(proc.stdout)["data"])

    path = svc.data_dir / f"sync-status-{sid}.json"
    with ThreadPoolExecutor(max_workers=8) as pool:
        for round_no in range(4):
            reasons = [f"r{round_no}-{i}" for i in range(4)]
            pauses = list(pool.map(lambda reason: admin("pause", "--reason", reason), reasons))
            # serialised by the admin lock: exactly one of them found it unpaused
            assert sorted(p["already_paused"] for p in pauses) == [False, True, True, True]
            assert read_status(path) is not None
            assert svc.status_file(sid)["paused_reason"].startswith(f"MANUAL: r{round_no}-")
            resumes = list(pool.map(lambda _i: admin("resume"), range(4)))
            assert sorted(r["was_paused"] for r in resumes) == [False, False, False, True]
            assert svc.status_file(sid)["state"] == "idle"
        # and mixed: whatever the interleaving, the file is whole and consistent
        mixed = list(pool.map(lambda i: admin("pause") if i % 2 else admin("resume"), range(8)))
    assert len(mixed) == 8
    final = svc.status_file(sid)
    assert final["state"] in ("paused", "idle")
    assert ("paused_reason" in final) == (final["state"] == "paused")
    assert not [
        p for p in svc.data_dir.iterdir() if p.name.endswith(".tmp") and not p.name.startswith(".")
    ]
    assert os.listdir(svc.data_dir / "locks")  # the admin lock lives there
