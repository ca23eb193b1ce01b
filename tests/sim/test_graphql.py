"""GraphQL work-item status: pagination with cursors, complexity limit, no-widget mode,
variables, formatting differences, errors."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sim_helpers import client_for

from lore.sim import vocab as V
from lore.sim.graphql import parse
from lore.sim.server import Simulator

STATUS_QUERY = """
query($fullPath: ID!, $iids: [String!], $first: Int!, $after: String) {
  project(fullPath: $fullPath) {
    workItems(iids: $iids, first: $first, after: $after) {
      nodes { iid widgets { type ... on WorkItemWidgetStatus { status { id name category color } } } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""
PROBE = 'query { __type(name: "WorkItemWidgetStatus") { name fields { name } } }'


def gql(api: httpx.Client, query: str, **variables: Any) -> httpx.Response:
    return api.post("/api/graphql", json={"query": query, "variables": variables})


def statuses(body: dict[str, Any]) -> dict[str, dict[str, Any] | None]:
    out = {}
    for node in body["data"]["project"]["workItems"]["nodes"]:
        widget = next((w for w in node["widgets"] if w["type"] == "STATUS"), None)
        out[node["iid"]] = widget["status"] if widget else None
    return out


def test_status_query_pages_with_cursors(shared_sim: Simulator, api: httpx.Client) -> None:
    project = shared_sim.dataset.find_project("acme/platform")
    assert project is not None
    iids = [str(i) for i in range(1, 41)]
    seen: dict[str, Any] = {}
    after = None
    pages = 0
    while True:
        r = gql(api, STATUS_QUERY, fullPath="acme/platform", iids=iids, first=15, after=after)
        assert r.status_code == 200
        body = r.json()
        assert "errors" not in body, body
        page = statuses(body)
        assert not set(page) & set(seen)
        seen.update(page)
        pages += 1
        info = body["data"]["project"]["workItems"]["pageInfo"]
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
    assert pages == 3 and set(seen) == set(iids)
    for iid, status in seen.items():
        issue = project.issues[int(iid)]
        gid, name, category, color = V.STATUSES[issue.status_index or 0]
        assert status == {
            "id": f"gid://gitlab/{gid}",
            "name": name,
            "category": category,
            "color": color,
        }


def test_formatting_aliases_fragments_and_inline_variables(api: httpx.Client) -> None:
    query = """
    # a comment
    query StatusPage($path: ID!) {
      p: project(fullPath: $path) {
        workItems(iids: ["1", "2"], first: 10) {
          edges { cursor node { iid ...S } }
          pageInfo { hasNextPage }
        }
      }
    }
    fragment S on WorkItem { widgets { __typename ... on WorkItemWidgetStatus { status { name } } } }
    """
    r = api.post(
        "/api/graphql",
        json={
            "query": query,
            "variables": {"path": "acme/platform"},
            "operationName": "StatusPage",
        },
    )
    body = r.json()
    assert "errors" not in body, body
    edges = body["data"]["p"]["workItems"]["edges"]
    assert sorted(e["node"]["iid"] for e in edges) == ["1", "2"]
    widgets = edges[0]["node"]["widgets"]
    status = [w for w in widgets if w["__typename"] == "WorkItemWidgetStatus"]
    assert len(status) == 1 and status[0]["status"]["name"]
    assert all("status" not in w for w in widgets if w["__typename"] != "WorkItemWidgetStatus")
    # variables may also arrive as a JSON string
    r = api.post(
        "/api/graphql",
        json={"query": STATUS_QUERY, "variables": '{"fullPath": "acme/platform", "first": 1}'},
    )
    assert len(r.json()["data"]["project"]["workItems"]["nodes"]) == 1


def test_probe_and_unknown_project(api: httpx.Client) -> None:
    body = gql(api, PROBE).json()
    assert body["data"]["__type"]["name"] == "WorkItemWidgetStatus"
    assert {"name": "status"} in body["data"]["__type"]["fields"]
    body = gql(api, STATUS_QUERY, fullPath="acme/nope", first=5).json()
    assert body == {"data": {"project": None}}


def test_complexity_follows_gitlabs_rule() -> None:
    """GitLab's rule: fields cost 1 plus their selections; ``workItems`` costs its
    selections + 1, then 1% more per requested item, but nothing per item with ``iids``.
    STATUS_QUERY's connection selections cost 12, so without iids first=100 costs
    (12+1)*2 + 1 (project) = 27 and first=50 costs int(13*1.5) + 1 = 20."""
    sim = Simulator.start(preset="small", seed=7, issues=20, mrs=2, complexity_limit=20)
    try:
        with client_for(sim) as api:
            body = gql(api, STATUS_QUERY, fullPath="acme/platform", first=100).json()
            assert body == {
                "errors": [
                    {"message": "Query has complexity of 27, which exceeds max complexity of 20"}
                ]
            }
            body = gql(api, STATUS_QUERY, fullPath="acme/platform", first=54).json()
            assert "complexity of 21" in body["errors"][0]["message"]
            assert "data" in gql(api, STATUS_QUERY, fullPath="acme/platform", first=50).json()
            # iids: no per-item cost, so the page size does not matter (13 + 1).
            iids = [str(i) for i in range(1, 101)]
            assert (
                "data"
                in gql(api, STATUS_QUERY, fullPath="acme/platform", iids=iids, first=100).json()
            )
            sim.admin.configure(complexity_limit=13)
            body = gql(api, STATUS_QUERY, fullPath="acme/platform", iids=iids, first=1).json()
            assert "complexity of 14" in body["errors"][0]["message"]
            sim.admin.configure(complexity_limit=None)
            assert "data" in gql(api, STATUS_QUERY, fullPath="acme/platform", first=100).json()
    finally:
        sim.stop()


def test_default_limit_is_gitlabs_authenticated_250() -> None:
    with Simulator.start(preset="small", seed=7, issues=5, mrs=2) as sim, client_for(sim) as api:
        # 30 aliased workItems(first: 100) without iids cost 30 * (4 + 1) * 2 + 1 = 301.
        fields = " ".join(
            f"w{n}: workItems(first: 100) {{ nodes {{ iid title state }} }}" for n in range(30)
        )
        body = gql(api, f'query {{ project(fullPath: "acme/platform") {{ {fields} }} }}').json()
        assert body["errors"][0]["message"] == (
            "Query has complexity of 301, which exceeds max complexity of 250"
        )


def test_instance_without_status_widget() -> None:
    sim = Simulator.start(preset="small", seed=7, issues=10, mrs=2, work_item_status=False)
    try:
        with client_for(sim) as api:
            assert gql(api, PROBE).json() == {"data": {"__type": None}}
            body = gql(api, STATUS_QUERY, fullPath="acme/platform", first=5).json()
            assert "data" not in body
            assert body["errors"][0]["message"] == (
                "No such type WorkItemWidgetStatus, so it can't be a fragment condition"
            )
            plain = (
                'query { project(fullPath: "acme/platform") { workItems(first: 3) '
                "{ nodes { widgets { type } } } } }"
            )
            nodes = gql(api, plain).json()["data"]["project"]["workItems"]["nodes"]
            assert nodes and all(w["type"] != "STATUS" for n in nodes for w in n["widgets"])
    finally:
        sim.stop()


@pytest.mark.parametrize(
    "query,fragment",
    [
        ('query { project(fullPath: "acme/platform") { nope } }', "doesn't exist on type"),
        ('query { project(fullPath: "acme/platform") { name ', "Parse error"),
        (
            'query { project(fullPath: "acme/platform") { workItems(bogus: 1) { count } } }',
            "doesn't accept argument 'bogus'",
        ),
        ('query { project(fullPath: "acme/platform") { workItems } }', "must have selections"),
        ("mutation { x }", "doesn't exist"),
    ],
)
def test_graphql_errors_use_http_200(api: httpx.Client, query: str, fragment: str) -> None:
    r = gql(api, query)
    assert r.status_code == 200
    assert fragment in r.json()["errors"][0]["message"]


def test_variable_types_are_checked(api: httpx.Client) -> None:
    body = gql(api, STATUS_QUERY, fullPath="acme/platform", iids=[1, 2], first=5).json()
    assert "Could not coerce value 1 to String" in body["errors"][0]["message"]
    body = gql(api, STATUS_QUERY, fullPath="acme/platform").json()  # $first: Int! missing
    assert "$first" in body["errors"][0]["message"]


def test_malformed_requests_are_400(shared_sim: Simulator) -> None:
    with client_for(shared_sim) as api:
        assert api.post("/api/graphql", content=b"{nope").status_code == 400
        assert api.post("/api/graphql", json={"variables": {}}).status_code == 400
    r = httpx.post(f"{shared_sim.url}/api/graphql", json={"query": PROBE})
    assert r.status_code == 401


def test_parser_handles_block_strings_and_directives() -> None:
    doc = parse('query Q($a: Boolean = true) { x @include(if: $a) y(s: """multi\nline""") }')
    op = doc.operations[0]
    assert op.name == "Q" and op.variables["a"] == ("Boolean", True, True)
    assert [f.name for f in op.selections] == ["x", "y"]
    assert op.selections[1].args["s"] == "multi\nline"
