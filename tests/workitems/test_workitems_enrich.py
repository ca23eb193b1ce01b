"""enrich_statuses against a real simulator on loopback, through a real GitLabClient:
statuses land, page size adapts, capability detection is cached, and every kind of GraphQL
failure maps to the right outcome. Issues are seeded straight from the simulator's dataset
so these tests exercise enrichment alone; tests/workitems/test_workitems_cli.py covers the
whole `lore sync`."""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from workitems_support import (
    TamperingTransport,
    make_client,
    seed_issues,
    stored,
    truth,
)

from lore.sim.server import Simulator
from lore.sync.work_item_status import (
    STATUS_WIDGET_TYPE,
    capability_key,
    enrich_statuses,
    read_capability,
)


@pytest.fixture
def sim_nolimit() -> Iterator[Simulator]:
    with Simulator.start(preset="small", seed=7, complexity_limit=None) as server:
        yield server


def enrich(
    sim: Any,
    conn: sqlite3.Connection,
    project: Any,
    *,
    client: Any = None,
    iids: list[int] | None = None,
    page_size: int = 100,
    full: bool = False,
) -> Any:
    own = client is None
    client = client or make_client(sim)
    try:
        return enrich_statuses(
            client,
            conn,
            instance_url=sim.url,
            project_path=project.path,
            project_id=project.id,
            iids=sorted(project.issues) if iids is None else iids,
            page_size=page_size,
            full=full,
        )
    finally:
        if own:
            client.close()


def graphql_requests(sim: Any) -> int:
    return int(sim.stats()["requests_by_route"].get("POST /api/graphql", 0))


def _cache_capability(sim: Any, conn: sqlite3.Connection, project: Any) -> None:
    """Run once on a single issue so the capability is cached and the probe is out of the way."""
    result = enrich(sim, conn, project, iids=sorted(project.issues)[:1])
    assert result.available and result.error_code is None


# -- the happy path ----------------------------------------------------------------------------


def test_statuses_land_and_match_the_simulator(sim: Any, db: sqlite3.Connection) -> None:
    seed_issues(db, sim)
    for project in sim.dataset.projects:
        result = enrich(sim, db, project)
        assert result.error_code is None, result.error
        assert result.available and result.reason is None
        assert stored(db, project.id) == truth(sim, project)
        assert result.fetched == len(project.issues)
    counted = [v for v in stored(db, sim.dataset.projects[0].id).values() if v[0]]
    assert counted, "the small preset has statuses"
    assert {c for _n, c, _k in counted} <= {"triage", "to_do", "in_progress", "done", "canceled"}


def test_request_count_is_probe_plus_one_per_page(sim: Any, db: sqlite3.Connection) -> None:
    seed_issues(db, sim)
    project = max(sim.dataset.projects, key=lambda p: len(p.issues))
    before = graphql_requests(sim)
    result = enrich(sim, db, project, page_size=20)
    pages = math.ceil(len(project.issues) / 20)
    assert result.requests == 1 + pages  # the capability probe, then the pages
    assert graphql_requests(sim) - before == result.requests
    assert result.shrinks == 0 and result.final_page_size == 20
    # Cached now: the next call skips the probe.
    again = enrich(sim, db, project, page_size=20)
    assert again.requests == pages and again.updated == 0  # nothing changed upstream


def test_capability_is_cached_in_kv(sim_nolimit: Any, db: sqlite3.Connection) -> None:
    sim = sim_nolimit
    seed_issues(db, sim)
    project = sim.dataset.projects[0]
    enrich(sim, db, project)
    raw = db.execute("SELECT value FROM kv WHERE key = ?", (capability_key(sim.url),)).fetchone()
    value = json.loads(raw[0])
    assert value["available"] is True and value["reason"] is None
    assert value["checked_at"].endswith("Z")
    assert value["final_page_size"] == 100 and value["shrinks"] == 0
    assert capability_key(sim.url + "/") == f"workitem_status:{sim.url}"


def test_empty_iids_sends_no_request(sim: Any, db: sqlite3.Connection) -> None:
    seed_issues(db, sim)
    project = sim.dataset.projects[0]
    before = sim.stats()["requests"]
    result = enrich(sim, db, project, iids=[], full=True)
    assert result.requests == 0 and result.updated == 0 and result.error_code is None
    assert sim.stats()["requests"] == before


def test_unknown_iids_are_ignored(sim: Any, db: sqlite3.Connection) -> None:
    seed_issues(db, sim)
    project = sim.dataset.projects[0]
    result = enrich(sim, db, project, iids=[999_999])
    assert result.error_code is None and result.fetched == 0 and result.updated == 0


# -- adaptive page size ----------------------------------------------------------------------


def test_iids_carry_no_per_item_complexity_so_limit_17_needs_no_shrinking(
    db: sqlite3.Connection,
) -> None:
    # GitLab's rule: an iids argument adds no per-item cost, so the status query costs
    # 14 at any page size; a limit of 17 admits full pages.
    with Simulator.start(preset="small", seed=7, complexity_limit=17) as sim:
        seed_issues(db, sim)
        for project in sim.dataset.projects:
            result = enrich(sim, db, project)
            assert result.error_code is None, result.error
            assert result.available and result.shrinks == 0
            assert result.final_page_size == 100
            assert stored(db, project.id) == truth(sim, project)


def test_limit_below_the_query_cost_means_unavailable_after_shrinking_to_one(
    db: sqlite3.Connection,
) -> None:
    with Simulator.start(preset="small", seed=7, complexity_limit=None) as sim:
        seed_issues(db, sim)
        project = sim.dataset.projects[0]
        assert enrich(sim, db, project).available  # the probe is cached from here on
        sim.admin.configure(complexity_limit=13)  # below the status query's 14
        result = enrich(sim, db, project)
        assert result.error_code is None
        assert not result.available and result.reason and "complexity" in result.reason
        assert result.final_page_size == 1 and result.shrinks >= 6  # 100 → … → 1


def test_complexity_even_at_one_item_per_page_means_unavailable(
    sim: Any, db: sqlite3.Connection
) -> None:
    seed_issues(db, sim)
    project = sim.dataset.projects[0]
    _cache_capability(sim, db, project)
    sim.configure_faults([{"route": "graphql", "kind": "graphql_complexity"}])
    result = enrich(sim, db, project, page_size=4)
    assert result.error_code is None
    assert result.available is False
    assert result.reason and "complexity" in result.reason
    assert result.requests == 3 and result.shrinks == 2  # 4 → 2 → 1, then give up
    assert all(v == (None, None, None) for v in stored(db, project.id).values())
    assert read_capability(db, sim.url).available is False  # type: ignore[union-attr]


def test_complexity_after_statuses_arrived_is_an_error_not_a_missing_feature(
    sim: Any, db: sqlite3.Connection
) -> None:
    seed_issues(db, sim)
    project = sim.dataset.projects[0]
    _cache_capability(sim, db, project)
    sim.configure_faults([{"route": "graphql", "kind": "graphql_complexity", "after": 2}])
    result = enrich(sim, db, project, page_size=10)
    assert result.error_code == "NETWORK_ERROR"
    assert result.error and "complexity" in result.error
    assert result.available is True
    assert result.fetched == 20  # the two pages that got through are kept
    assert sum(1 for v in stored(db, project.id).values() if v[0]) >= 20


def test_5xx_is_retried_then_the_page_shrinks_and_the_sync_completes(
    sim: Any, db: sqlite3.Connection
) -> None:
    seed_issues(db, sim)
    project = sim.dataset.projects[0]
    _cache_capability(sim, db, project)
    # max_retries=1: two 503s exhaust the HTTP layer's tries for the first page.
    sim.configure_faults([{"route": "graphql", "kind": "503", "count": 2}])
    result = enrich(sim, db, project, page_size=40)
    assert result.error_code is None, result.error
    assert result.shrinks == 1
    assert stored(db, project.id) == truth(sim, project)


def test_persistent_5xx_shrinks_to_the_floor_then_fails(sim: Any, db: sqlite3.Connection) -> None:
    seed_issues(db, sim)
    project = sim.dataset.projects[0]
    _cache_capability(sim, db, project)
    sim.configure_faults([{"route": "graphql", "kinds": ["500", "502"]}])
    result = enrich(sim, db, project, page_size=8)
    assert result.error_code == "NETWORK_ERROR"
    assert result.final_page_size == 1 and result.shrinks == 3  # 8 → 4 → 2 → 1
    assert result.requests == 4
    assert result.available  # a failing server is not a missing feature
    assert read_capability(db, sim.url).available  # type: ignore[union-attr]


def test_dropped_connections_shrink_like_5xx(sim: Any, db: sqlite3.Connection) -> None:
    seed_issues(db, sim)
    project = sim.dataset.projects[0]
    _cache_capability(sim, db, project)
    sim.configure_faults([{"route": "graphql", "kind": "drop", "count": 2}])
    result = enrich(sim, db, project, page_size=50)
    assert result.error_code is None and result.shrinks == 1
    assert stored(db, project.id) == truth(sim, project)


def test_grows_back_after_a_run_of_successes(sim: Any, db: sqlite3.Connection) -> None:
    seed_issues(db, sim)
    project = max(sim.dataset.projects, key=lambda p: len(p.issues))
    _cache_capability(sim, db, project)
    sim.configure_faults([{"route": "graphql", "kind": "503", "count": 2}])
    result = enrich(sim, db, project, page_size=8)
    assert result.error_code is None
    assert result.shrinks == 1 and result.grows >= 1
    assert result.final_page_size == 8  # back to the configured size
    assert stored(db, project.id) == truth(sim, project)


def test_rate_limited_is_reported_with_the_hint_without_shrinking(
    sim: Any, db: sqlite3.Connection
) -> None:
    seed_issues(db, sim)
    project = sim.dataset.projects[0]
    _cache_capability(sim, db, project)
    sim.configure_faults([{"route": "graphql", "kind": "429", "retry_after": 3}])
    result = enrich(sim, db, project)
    assert result.error_code == "RATE_LIMITED"
    assert result.retry_after_ms is not None and 2000 <= result.retry_after_ms <= 3000
    assert result.shrinks == 0


def test_rejected_token_is_auth_failed(sim: Any, db: sqlite3.Connection) -> None:
    seed_issues(db, sim)
    project = sim.dataset.projects[0]
    sim.configure_faults([{"route": "graphql", "kind": "401"}])
    result = enrich(sim, db, project)
    assert result.error_code == "AUTH_FAILED"
    cached = read_capability(db, sim.url)
    # Nothing learned about availability, but the error is kept for `lore status`.
    assert cached is not None and cached.available is None
    assert cached.errors[project.path]["code"] == "AUTH_FAILED"
    sim.configure_faults([])
    result = enrich(sim, db, project)  # unknown availability: probed again
    assert result.error_code is None and result.available
    cached = read_capability(db, sim.url)
    assert cached is not None and cached.available is True and not cached.errors


# -- instances without the widget ------------------------------------------------------------


def test_instance_without_the_widget_is_not_a_failure(db: sqlite3.Connection) -> None:
    with Simulator.start(preset="small", seed=7, work_item_status=False) as sim:
        seed_issues(db, sim)
        project = sim.dataset.projects[0]
        result = enrich(sim, db, project)
        assert result.error_code is None
        assert result.available is False
        assert result.reason and STATUS_WIDGET_TYPE in result.reason
        assert result.requests == 1  # the probe alone
        assert all(v == (None, None, None) for v in stored(db, project.id).values())
        cached = read_capability(db, sim.url)
        assert cached is not None and cached.available is False and cached.reason == result.reason

        # Cached: an incremental sync asks nothing; the other project too.
        before = graphql_requests(sim)
        again = enrich(sim, db, sim.dataset.projects[1])
        assert (again.available, again.requests, again.reason) == (False, 0, result.reason)
        assert graphql_requests(sim) == before
        # --full re-checks.
        full = enrich(sim, db, project, full=True)
        assert full.requests == 1 and full.available is False


def test_full_recheck_notices_the_widget_appeared(db: sqlite3.Connection) -> None:
    with Simulator.start(preset="small", seed=7, work_item_status=False) as sim:
        seed_issues(db, sim)
        project = sim.dataset.projects[0]
        assert enrich(sim, db, project).available is False
        sim.state.work_item_status = True  # the instance was upgraded
        assert enrich(sim, db, project).available is False  # cached until --full
        result = enrich(sim, db, project, full=True)
        assert result.available and result.error_code is None
        assert stored(db, project.id) == truth(sim, project)


def test_query_rejected_by_schema_despite_the_probe_is_unavailable(
    sim: Any, db: sqlite3.Connection
) -> None:
    """The probe says yes but the status field itself is answered with a schema error."""
    seed_issues(db, sim)
    project = sim.dataset.projects[0]

    def tamper(n: int, body: dict[str, Any], real: httpx.Response | None) -> httpx.Response | None:
        if real is None and "workItems" in body["query"]:
            return httpx.Response(
                200,
                json={
                    "errors": [
                        {
                            "message": "Field 'status' doesn't exist on type 'WorkItemWidgetStatus'",
                            "locations": [{"line": 8, "column": 13}],
                        }
                    ]
                },
            )
        return None

    client = make_client(sim, transport=TamperingTransport(tamper))
    result = enrich(sim, db, project, client=client)
    client.close()
    assert result.error_code is None and result.available is False
    assert result.reason and "doesn't exist" in result.reason
    assert read_capability(db, sim.url).available is False  # type: ignore[union-attr]


# -- malformed bodies, errors without data, partial data ---------------------------------------


def _tamper_pages(answer: httpx.Response, times: int | None) -> Any:
    """Replace the first ``times`` workItems answers (None: all of them) with ``answer``."""
    state = {"left": times}

    def tamper(n: int, body: dict[str, Any], real: httpx.Response | None) -> httpx.Response | None:
        if real is not None or "workItems" not in body["query"]:
            return None
        if state["left"] is None:
            return answer
        if state["left"] > 0:
            state["left"] -= 1
            return answer
        return None

    return tamper


def test_malformed_json_once_shrinks_and_recovers(sim: Any, db: sqlite3.Connection) -> None:
    seed_issues(db, sim)
    project = sim.dataset.projects[0]
    broken = httpx.Response(
        200,
        content=b'{"data": {"project": {"workItems": {"nod',
        headers={"content-type": "application/json"},
    )
    client = make_client(sim, transport=TamperingTransport(_tamper_pages(broken, 1)))
    result = enrich(sim, db, project, client=client)
    client.close()
    assert result.error_code is None and result.shrinks == 1
    assert stored(db, project.id) == truth(sim, project)


def test_malformed_json_always_is_a_network_error(sim: Any, db: sqlite3.Connection) -> None:
    seed_issues(db, sim)
    project = sim.dataset.projects[0]
    broken = httpx.Response(
        200, content=b"<html>Sign in</html>", headers={"content-type": "text/html"}
    )
    client = make_client(sim, transport=TamperingTransport(_tamper_pages(broken, None)))
    result = enrich(sim, db, project, client=client, page_size=4)
    client.close()
    assert result.error_code == "NETWORK_ERROR"
    assert result.error and "not JSON" in result.error
    assert result.final_page_size == 1
    assert result.available  # not mistaken for a missing feature


def test_errors_without_data_fail_with_the_message(sim: Any, db: sqlite3.Connection) -> None:
    seed_issues(db, sim)
    project = sim.dataset.projects[0]
    answer = httpx.Response(
        200, json={"data": None, "errors": [{"message": "Something went sideways"}]}
    )
    client = make_client(sim, transport=TamperingTransport(_tamper_pages(answer, None)))
    result = enrich(sim, db, project, client=client)
    client.close()
    assert result.error_code == "NETWORK_ERROR"
    assert result.error and "Something went sideways" in result.error
    assert result.shrinks == 0  # an unexplained error is not a reason to shrink
    assert result.requests == 2  # probe + the one page


def test_server_error_in_errors_array_shrinks(sim: Any, db: sqlite3.Connection) -> None:
    seed_issues(db, sim)
    project = sim.dataset.projects[0]
    answer = httpx.Response(200, json={"errors": [{"message": "Internal server error"}]})
    client = make_client(sim, transport=TamperingTransport(_tamper_pages(answer, 1)))
    result = enrich(sim, db, project, client=client)
    client.close()
    assert result.error_code is None and result.shrinks == 1
    assert stored(db, project.id) == truth(sim, project)


def test_partial_data_keeps_what_it_can_and_reports_the_rest(
    sim: Any, db: sqlite3.Connection
) -> None:
    seed_issues(db, sim)
    project = sim.dataset.projects[0]
    expected = truth(sim, project)
    # A previous sync stored statuses; one item's widget will error this time.
    db.execute(
        "UPDATE issues SET status_name = 'Old', status_category = 'to_do', "
        "status_color = '#000000' WHERE project_id = ?",
        (project.id,),
    )
    broken: list[int] = []

    def tamper(n: int, body: dict[str, Any], real: httpx.Response | None) -> httpx.Response | None:
        if real is None or "workItems" not in body["query"] or broken:
            return None
        doc = real.json()
        if "data" not in doc:  # a complexity rejection: let it through
            return None
        nodes = doc["data"]["project"]["workItems"]["nodes"]
        index = len(nodes) // 2
        broken.append(int(nodes[index]["iid"]))
        nodes[index]["widgets"] = None
        doc["errors"] = [
            {
                "message": "Internal server error",
                "path": ["project", "workItems", "nodes", index, "widgets"],
            }
        ]
        return httpx.Response(200, json=doc)

    client = make_client(sim, transport=TamperingTransport(tamper))
    result = enrich(sim, db, project, client=client)
    client.close()
    assert result.error_code is None and result.available
    assert result.unresolved == 1
    assert result.partial_errors == ["Internal server error"]
    assert result.updated == len(expected) - 1
    got = stored(db, project.id)
    [lost] = broken
    assert got[lost] == ("Old", "to_do", "#000000")  # unknown this time: left as it was
    assert {k: v for k, v in got.items() if k != lost} == {
        k: v for k, v in expected.items() if k != lost
    }


def test_status_field_erroring_everywhere_means_unavailable(
    sim: Any, db: sqlite3.Connection
) -> None:
    seed_issues(db, sim)
    project = sim.dataset.projects[0]

    def tamper(n: int, body: dict[str, Any], real: httpx.Response | None) -> httpx.Response | None:
        if real is None or "workItems" not in body["query"]:
            return None
        doc = real.json()
        if "data" not in doc:  # a complexity rejection: let it through
            return None
        nodes = doc["data"]["project"]["workItems"]["nodes"]
        errors = []
        for i, node in enumerate(nodes):
            for j, widget in enumerate(node["widgets"]):
                if "status" in widget:
                    widget["status"] = None
                    errors.append(
                        {
                            "message": "Status is not available for this license",
                            "path": ["project", "workItems", "nodes", i, "widgets", j, "status"],
                        }
                    )
        doc["errors"] = errors
        return httpx.Response(200, json=doc)

    client = make_client(sim, transport=TamperingTransport(tamper))
    result = enrich(sim, db, project, client=client)
    client.close()
    assert result.error_code is None
    assert result.available is False
    assert result.reason and "not available for this license" in result.reason
    assert all(v == (None, None, None) for v in stored(db, project.id).values())
