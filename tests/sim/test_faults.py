"""Fault injection: every kind, counts, rates, `after`, routes, and the admin endpoints."""

from __future__ import annotations

import time

import httpx
import pytest
from sim_helpers import client_for

from lore.sim.faults import FaultSpecError
from lore.sim.server import Simulator

ISSUES = "/api/v4/projects/acme%2Fplatform/issues"
GQL = {
    "query": "query($p: ID!) { project(fullPath: $p) { workItems(first: 5) { nodes { iid } } } }",
    "variables": {"p": "acme/platform"},
}


def set_faults(sim: Simulator, body: object) -> dict[str, object]:
    r = httpx.post(f"{sim.url}/__sim/faults", json=body)
    assert r.status_code == 200, r.text
    return dict(r.json())


@pytest.mark.parametrize("kind,status", [("500", 500), ("502", 502), ("503", 503), ("401", 401)])
def test_status_faults_fire_count_times(fresh_sim: Simulator, kind: str, status: int) -> None:
    set_faults(fresh_sim, {"rules": [{"route": "issues", "kind": kind, "count": 2}]})
    with client_for(fresh_sim) as api:
        first, second, third = (api.get(ISSUES) for _ in range(3))
        assert first.status_code == second.status_code == status
        assert third.status_code == 200
        assert api.get("/api/v4/version").status_code == 200  # other routes untouched
    if kind == "500":
        assert first.json() == {"message": "500 Internal Server Error"}
    if kind == "401":
        assert first.json() == {"message": "401 Unauthorized"}
    described = httpx.get(f"{fresh_sim.url}/__sim/faults").json()
    assert described["rules"][0]["fired"] == 2 and described["rules"][0]["remaining"] == 0
    assert fresh_sim.stats()["faults_fired"] == 2


def test_429_has_retry_after_and_ratelimit_reset(fresh_sim: Simulator) -> None:
    set_faults(fresh_sim, [{"route": "*", "kind": "429", "retry_after": 7, "count": 1}])
    with client_for(fresh_sim) as api:
        r = api.get(ISSUES)
        assert r.status_code == 429
        assert r.headers["retry-after"] == "7"
        reset = int(r.headers["ratelimit-reset"])
        assert abs(reset - (time.time() + 7)) < 3
        assert r.headers["ratelimit-remaining"] == "0"
        assert api.get(ISSUES).status_code == 200


def test_drop_closes_the_connection_without_a_response(fresh_sim: Simulator) -> None:
    set_faults(fresh_sim, [{"route": "issues", "kind": "drop", "count": 1}])
    with client_for(fresh_sim) as api:
        with pytest.raises(httpx.RemoteProtocolError):
            api.get(ISSUES)
        assert api.get(ISSUES).status_code == 200  # the client reconnects


def test_slow_delays_then_answers(fresh_sim: Simulator) -> None:
    set_faults(fresh_sim, [{"route": "project", "kind": "slow", "delay_ms": 300}])
    with client_for(fresh_sim) as api:
        started = time.perf_counter()
        r = api.get("/api/v4/projects/acme%2Fplatform")
        assert r.status_code == 200 and time.perf_counter() - started >= 0.3
        with pytest.raises(httpx.ReadTimeout):
            api.get("/api/v4/projects/acme%2Fplatform", timeout=0.1)


def test_graphql_complexity_fault_only_hits_graphql(fresh_sim: Simulator) -> None:
    set_faults(fresh_sim, [{"route": "*", "kind": "graphql_complexity", "count": 1}])
    with client_for(fresh_sim) as api:
        assert api.get(ISSUES).status_code == 200
        r = api.post("/api/graphql", json=GQL)
        assert r.status_code == 200
        message = r.json()["errors"][0]["message"]
        assert (
            message.startswith("Query has complexity of ") and "exceeds max complexity" in message
        )
        assert "data" in api.post("/api/graphql", json=GQL).json()


def test_after_lets_requests_through_first(fresh_sim: Simulator) -> None:
    set_faults(fresh_sim, [{"route": "discussions", "kind": "503", "after": 2, "count": 1}])
    with client_for(fresh_sim) as api:
        codes = [api.get(f"{ISSUES}/{i}/discussions").status_code for i in range(1, 6)]
    assert codes == [200, 200, 503, 200, 200]


def test_rate_is_seeded_and_reproducible(fresh_sim: Simulator) -> None:
    def run() -> list[int]:
        set_faults(
            fresh_sim, {"rules": [{"route": "issues", "kind": "500", "rate": 0.3}], "seed": 42}
        )
        with client_for(fresh_sim) as api:
            return [api.get(ISSUES).status_code for _ in range(40)]

    first, second = run(), run()
    assert first == second
    assert 3 <= first.count(500) <= 25


def test_kinds_list_and_method_filter(fresh_sim: Simulator) -> None:
    set_faults(
        fresh_sim, {"rules": [{"route": "*", "kinds": ["500", "502"], "method": "POST"}], "seed": 3}
    )
    with client_for(fresh_sim) as api:
        assert api.get(ISSUES).status_code == 200
        codes = {api.post("/api/graphql", json=GQL).status_code for _ in range(20)}
    assert codes == {500, 502}


def test_delete_clears_and_bad_rules_are_rejected(fresh_sim: Simulator) -> None:
    set_faults(fresh_sim, [{"route": "*", "kind": "500"}])
    assert httpx.delete(f"{fresh_sim.url}/__sim/faults").json()["rules"] == []
    with client_for(fresh_sim) as api:
        assert api.get(ISSUES).status_code == 200
    r = httpx.post(f"{fresh_sim.url}/__sim/faults", json=[{"kind": "teapot"}])
    assert r.status_code == 400 and "teapot" in r.json()["error"]
    with pytest.raises(FaultSpecError):
        fresh_sim.configure_faults([{"kind": "500", "rate": 2}])


def test_faults_at_start_and_admin_routes_are_exempt() -> None:
    sim = Simulator.start(
        preset="small", seed=7, issues=10, mrs=4, faults={"rules": [{"route": "*", "kind": "503"}]}
    )
    try:
        with client_for(sim) as api:
            assert api.get(ISSUES).status_code == 503
            assert api.get("/__sim/stats").status_code == 200
            assert api.get("/__sim/stats").json()["responses_by_status"] == {"503": 1}
    finally:
        sim.stop()
