"""`lore service run` end to end: the real CLI, the real sync pipeline, the GitLab
simulator with injected faults, a fake embedding server, and a pinned clock and jitter
(test hooks). The status file is checked after every step of the plan's sequence:

success -> degraded -> transient failures with growing backoff -> skip while in backoff
-> circuit breaker -> half-open probe failing -> half-open probe succeeding -> 401
pausing permanently -> resume.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from lore.sim.ollama import FakeOllama

from .conftest import ServiceEnv


def _iso(ms: int) -> str:
    """The ISO-8601 UTC millisecond form, computed here, not by lore's own formatter."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


T0 = 1_800_000_000_000  # 2027-01-15T08:00:00Z
INTERVAL = 300  # --interval 5m
DEAD = "http://127.0.0.1:9"
PROJECTS = ["acme/platform", "acme/tools/cli"]


class Harness:
    def __init__(self, svc: ServiceEnv, sim: Any, ollama: FakeOllama) -> None:
        self.svc, self.sim, self.ollama = svc, sim, ollama
        self.now = T0
        self.sid = ""

    def config(self, embedding_url: str) -> None:
        self.svc.lore.write_config(
            self.sim.url,
            PROJECTS,
            extra={"sync": {"maxRetries": 0}, "embedding": {"baseUrl": embedding_url}},
        )

    def run(self, at: int | None = None) -> dict[str, Any]:
        if at is not None:
            self.now = at
        doc = self.svc.checked(
            "run", "--service-id", self.sid, extra_env=self.svc.hooks(self.now, jitter=1.0)
        )
        return dict(doc["data"])

    def status(self) -> dict[str, Any]:
        return self.svc.status_file(self.sid)

    def view(self) -> dict[str, Any]:
        doc = self.svc.checked("status", extra_env=self.svc.hooks(self.now))
        return dict(doc["data"])

    def faults(self, kind: str | None) -> None:
        self.sim.configure_faults(
            {"rules": [{"route": "*", "kind": kind}]} if kind else {"rules": []}
        )

    def raw_status(self) -> bytes:
        return (self.svc.data_dir / f"sync-status-{self.sid}.json").read_bytes()


@pytest.fixture
def harness(svc: ServiceEnv, sim: Any) -> Any:
    ollama = FakeOllama.start()
    try:
        svc.env["GITLAB_TOKEN"] = sim.token
        h = Harness(svc, sim, ollama)
        h.config(ollama.url)
        doc = svc.checked("install", "--backend", "cron", "--profile", "full", "--interval", "5m")
        h.sid = doc["data"]["service_id"]
        yield h
    finally:
        ollama.stop()


def assert_consistent(status: dict[str, Any]) -> None:
    assert "current_run" not in status  # every finished run clears it
    if status["state"] == "backoff":
        assert status["consecutive_failures"] > 0 and "next_retry_at_ms" in status
    if status["state"] in ("success", "degraded", "idle"):
        assert status["consecutive_failures"] == 0 and "next_retry_at_ms" not in status
    assert ("paused_reason" in status) == (status["state"] == "paused")


@pytest.mark.slow
def test_the_whole_run_policy_against_the_simulator(harness: Harness) -> None:
    h, svc = harness, harness.svc

    # 1. success: every stage of the full profile
    out = h.run(T0)
    assert (out["action"], out["outcome"], out["probe"]) == ("sync_completed", "success", False)
    assert [s["stage"] for s in out["stage_results"]] == ["issues", "mrs", "docs", "embeddings"]
    assert all(s["success"] and s["items_updated"] > 0 for s in out["stage_results"])
    st = h.status()
    assert st["state"] == "success" and st["consecutive_failures"] == 0
    assert st["last_run"]["outcome"] == "success" and st["last_run"]["timestamp_ms"] == T0
    assert len(st["recent_runs"]) == 1
    assert_consistent(st)
    assert h.view()["scheduler_state"] == "success"

    # 2. degraded: the embedding server is gone, core stages still fresh
    h.sim.admin.create_issue("acme/platform", title="Login times out behind the proxy")
    h.config(DEAD)
    out = h.run(T0 + INTERVAL * 1000)
    assert out["outcome"] == "degraded" and out["action"] == "sync_completed"
    stages = {s["stage"]: s for s in out["stage_results"]}
    assert stages["issues"]["success"] and stages["issues"]["items_updated"] >= 1
    assert stages["embeddings"]["success"] is False
    assert stages["embeddings"]["error_code"] == "EMBEDDING_UNAVAILABLE"
    assert out["in_run_retry"] is None  # optional stages are never retried
    st = h.status()
    assert st["state"] == "degraded" and st["consecutive_failures"] == 0
    assert_consistent(st)
    view = h.view()
    assert view["scheduler_state"] == "degraded"
    human = svc.run("service", "status", extra_env=svc.hooks(h.now))
    assert "DEGRADED" in human.stdout and "Core data is fresh" in human.stdout

    # 3. transient failures with growing backoff (jitter pinned to 1: the cap each time)
    h.faults("500")
    expected = [300, 600, 1200, 2400, 4800, 9600, 14400, 14400, 14400]
    at = h.now + INTERVAL * 1000
    for n, backoff in enumerate(expected, start=1):
        out = h.run(at)
        assert out["outcome"] == "failed" and out["action"] == "sync_completed"
        assert out["consecutive_failures"] == n and out["scheduler_state"] == "backoff"
        assert out["in_run_retry"]["recovered"] is False  # retried once, failed again
        assert out["stage_results"][0]["retried"] is True
        st = h.status()
        assert st["state"] == "backoff" and st["consecutive_failures"] == n
        assert st["next_retry_at_ms"] == at + backoff * 1000, n
        assert st["last_error_code"] == "NETWORK_ERROR" and st["backoff_reason"] == "computed"
        assert_consistent(st)
        if n == 3:
            # 4. a run inside the window is skipped and writes nothing
            before = h.raw_status()
            skip = h.run(at + 1000)
            assert skip == {
                "action": "skipped",
                "service_id": h.sid,
                "reason": "backoff",
                "consecutive_failures": 3,
                "next_retry_iso": _iso(at + backoff * 1000),
                "remaining_seconds": backoff - 1,
            }
            assert h.raw_status() == before
            view = h.view()
            assert view["scheduler_state"] == "backoff"
            assert view["backoff"]["remaining_seconds"] == backoff - 1
        at = st["next_retry_at_ms"]

    # 5. the tenth consecutive failure trips the breaker
    out = h.run(at)
    assert (out["action"], out["reason"]) == ("paused", "CIRCUIT_BREAKER")
    assert out["consecutive_failures"] == 10
    st = h.status()
    assert st["state"] == "paused" and st["circuit_breaker_paused_at_ms"] == at
    assert st["paused_reason"].startswith("CIRCUIT_BREAKER: 10 consecutive transient failures")
    assert "next_retry_at_ms" not in st
    assert_consistent(st)
    tripped_at = at
    skip = h.run(tripped_at + 60_000)
    assert skip["action"] == "paused" and skip["reason"] == "CIRCUIT_BREAKER"
    assert skip["cooldown_remaining_seconds"] == 1740
    assert h.view()["scheduler_state"] == "paused"

    # 6. after the cooldown: half-open, and a failing probe re-pauses with a fresh cooldown
    h.now = tripped_at + 1800 * 1000
    view = h.view()
    assert view["scheduler_state"] == "half_open"
    assert view["backoff"]["circuit_breaker_cooldown_expired"] is True
    out = h.run()
    assert out["probe"] is True and out["outcome"] == "failed"
    assert (out["action"], out["reason"]) == ("paused", "CIRCUIT_BREAKER")
    st = h.status()
    assert st["state"] == "paused" and st["circuit_breaker_paused_at_ms"] == h.now
    assert st["consecutive_failures"] == 11
    assert_consistent(st)
    assert h.run(h.now + 1000)["action"] == "paused"

    # 7. the next probe succeeds and closes the breaker completely
    h.faults(None)
    h.config(h.ollama.url)
    out = h.run(st["circuit_breaker_paused_at_ms"] + 1800 * 1000)
    assert out["probe"] is True and out["outcome"] == "success"
    assert out["action"] == "sync_completed" and out["consecutive_failures"] == 0
    st = h.status()
    assert st["state"] == "success"
    for cleared in (
        "paused_reason",
        "circuit_breaker_paused_at_ms",
        "last_error_code",
        "last_error_message",
        "next_retry_at_ms",
    ):
        assert cleared not in st, cleared
    assert_consistent(st)

    # 8. a 401 pauses at once, is not retried, and never half-opens
    h.faults("401")
    out = h.run(h.now + INTERVAL * 1000)
    assert (out["action"], out["reason"], out["outcome"]) == ("paused", "AUTH_FAILED", "failed")
    assert out["in_run_retry"] is None
    assert "lore service resume" in out["suggestion"]
    st = h.status()
    assert st["state"] == "paused" and st["paused_reason"].startswith("AUTH_FAILED: ")
    assert st["last_error_code"] == "AUTH_FAILED" and st["consecutive_failures"] == 0
    assert "circuit_breaker_paused_at_ms" not in st
    assert_consistent(st)
    later = h.run(h.now + 48 * 3600 * 1000)
    assert (later["action"], later["reason"]) == ("paused", "AUTH_FAILED")
    view = h.view()
    assert view["scheduler_state"] == "paused" and view["paused_code"] == "AUTH_FAILED"

    # 9. resume clears it; the next run syncs normally
    resumed = svc.checked("resume")["data"]
    assert resumed["was_paused"] is True and resumed["previous_reason"] == "AUTH_FAILED"
    st = h.status()
    assert st["state"] == "idle" and "paused_reason" not in st and st["consecutive_failures"] == 0
    h.faults(None)
    out = h.run(h.now + INTERVAL * 1000)
    assert out["outcome"] == "success" and h.status()["state"] == "success"
    view = h.view()
    # newest first: after resume, the 401, the good probe, the failed probe
    assert [r["outcome"] for r in view["recent_runs"]][:4] == [
        "success",
        "failed",
        "success",
        "failed",
    ]
    assert len(view["recent_runs"]) == 5 and len(h.status()["recent_runs"]) == 10

    # the service log tells the story, without the token
    log = Path(svc.checked("logs")["data"]["log_path"]).read_text()
    assert "circuit breaker half-open: probe run" in log
    assert "skipped: backoff" in log and "outcome=degraded" in log
    assert h.sim.token not in log
    assert h.sim.token not in json.dumps(svc.checked("status")["data"])
