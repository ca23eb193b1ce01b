"""GraphQL by GitLab version: status widget shapes and their validation errors,
introspection, the 100-iid cap, work item types, and the id listings
(``Project.issues`` / ``Project.mergeRequests``) with keyset cursors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sim_helpers import NOW, client_for

from lore.sim.server import Simulator

VERSIONS = ("15.6", "16.11", "17.5-ee", "17.10-ee", "18.0-ee", "18.5-ee", "18.5-ce")
INTROSPECT = """
query($name: String!) { __type(name: $name) {
  name kind fields { name type { name kind ofType { name kind ofType { name kind } } } } } }
"""
OBJECT_STATUS = """
query($iids: [String!]) { project(fullPath: "acme/platform") {
  workItems(iids: $iids, first: 100) { nodes { iid widgets {
    ... on WorkItemWidgetStatus { status { name %s } } } } } } }
"""
FLAT_STATUS = """
query { project(fullPath: "acme/platform") { workItems(first: 5) { nodes { iid widgets {
  ... on WorkItemWidgetStatus { name %s } } } } } }
"""


def gql(api: httpx.Client, query: str, **variables: Any) -> dict[str, Any]:
    r = api.post("/api/graphql", json={"query": query, "variables": variables})
    assert r.status_code == 200
    body: dict[str, Any] = r.json()
    return body


def field_names(api: httpx.Client, type_name: str) -> dict[str, str] | None:
    found = gql(api, INTROSPECT, name=type_name)["data"]["__type"]
    if found is None:
        return None
    return {f["name"]: f["type"]["name"] for f in found["fields"]}


@pytest.fixture(scope="module", params=VERSIONS)
def versioned(request: pytest.FixtureRequest) -> Iterator[tuple[str, Simulator]]:
    with Simulator.start(
        preset="small",
        seed=7,
        now=NOW,
        issues=30,
        mrs=5,
        gitlab_version=request.param,
        complexity_limit=None,
    ) as sim:
        yield request.param, sim


def test_status_widget_shape_by_version(versioned: tuple[str, Simulator]) -> None:
    version, sim = versioned
    with client_for(sim) as api:
        widget = field_names(api, "WorkItemWidgetStatus")
        status = field_names(api, "WorkItemStatus")
        if version in ("15.6", "16.11", "18.5-ce"):
            assert widget is None and status is None
            body = gql(api, OBJECT_STATUS % "")
            assert body["errors"][0]["extensions"]["code"] == "undefinedType"
            return
        assert widget is not None
        if version == "17.5-ee":
            assert widget == {"type": "String", "status": "String"}
            assert status is None
            body = gql(api, OBJECT_STATUS % "")
            assert "data" not in body
            assert body["errors"][0]["message"] == (
                "Selections can't be made on scalars (field 'status' returns String but "
                'has selections ["name"])'
            )
            assert body["errors"][0]["extensions"]["code"] == "selectionMismatch"
            assert body["errors"][0]["path"] == [
                "query",
                "project",
                "workItems",
                "nodes",
                "widgets",
                "... on WorkItemWidgetStatus",
                "status",
            ]
            # The scalar itself is selectable and null on issues (requirements only).
            plain = (
                'query { project(fullPath: "acme/platform") { workItems(first: 3) '
                "{ nodes { widgets { ... on WorkItemWidgetStatus { status } } } } } }"
            )
            nodes = gql(api, plain)["data"]["project"]["workItems"]["nodes"]
            assert nodes and all(w.get("status") is None for n in nodes for w in n["widgets"])
        elif version == "17.10-ee":
            assert status is None and "status" not in widget
            assert {"id", "name", "iconName", "color", "position"} <= set(widget)
            body = gql(api, FLAT_STATUS % "color")
            names = [
                w.get("name")
                for n in body["data"]["project"]["workItems"]["nodes"]
                for w in n["widgets"]
                if "name" in w
            ]
            assert any(names)
            assert (
                gql(api, OBJECT_STATUS % "")["errors"][0]["extensions"]["code"] == "undefinedField"
            )
        else:
            assert widget["status"] == "WorkItemStatus" and status is not None
            assert {"id", "name", "color", "iconName", "description", "position"} <= set(status)
            body = gql(api, OBJECT_STATUS % "category color")
            if version == "18.0-ee":
                assert "category" not in status
                assert body["errors"][0]["message"] == (
                    "Field 'category' doesn't exist on type 'WorkItemStatus'"
                )
                assert body["errors"][0]["extensions"]["code"] == "undefinedField"
                body = gql(api, OBJECT_STATUS % "color")
            else:
                assert "category" in status
            assert "errors" not in body, body
            nodes = body["data"]["project"]["workItems"]["nodes"]
            assert any(w.get("status") for n in nodes for w in n["widgets"])


def test_flat_fields_before_17_10_have_no_color() -> None:
    with (
        Simulator.start(preset="small", seed=7, issues=5, mrs=1, gitlab_version="17.8-ee") as sim,
        client_for(sim) as api,
    ):
        widget = field_names(api, "WorkItemWidgetStatus")
        assert widget is not None and set(widget) == {"type", "id", "name", "iconName"}
        assert gql(api, FLAT_STATUS % "color")["errors"][0]["message"] == (
            "Field 'color' doesn't exist on type 'WorkItemWidgetStatus'"
        )


def test_work_item_status_off_removes_the_widget_on_any_version() -> None:
    with (
        Simulator.start(
            preset="small",
            seed=7,
            issues=5,
            mrs=1,
            gitlab_version="18.5-ee",
            work_item_status=False,
        ) as sim,
        client_for(sim) as api,
    ):
        assert field_names(api, "WorkItemWidgetStatus") is None


def test_more_than_100_iids_nulls_work_items_with_a_path(
    shared_sim: Simulator, api: httpx.Client
) -> None:
    body = gql(api, OBJECT_STATUS % "", iids=[str(i) for i in range(1, 102)])
    assert body["data"] == {"project": {"workItems": None}}
    assert len(body["errors"]) == 1
    assert body["errors"][0]["message"] == "iids is too long (maximum is 100)"
    assert body["errors"][0]["path"] == ["project", "workItems"]
    body = gql(api, OBJECT_STATUS % "", iids=[str(i) for i in range(1, 101)])
    assert "errors" not in body


def test_work_item_types_and_filter(shared_sim: Simulator, api: httpx.Client) -> None:
    project = shared_sim.dataset.find_project("acme/platform")
    assert project is not None
    expected = {"issue": "Issue", "incident": "Incident", "task": "Task", "test_case": "Test Case"}
    query = (
        'query($types: [IssueType!]) { project(fullPath: "acme/platform") { '
        "workItems(first: 100, types: $types) { count nodes { iid workItemType { name } "
        "} } } }"
    )
    body = gql(api, query)
    nodes = body["data"]["project"]["workItems"]["nodes"]
    for node in nodes:
        issue = project.issues[int(node["iid"])]
        assert node["workItemType"]["name"] == expected[issue.issue_type]
    assert {n["workItemType"]["name"] for n in nodes} - {"Issue"}, "dataset has other types"
    tasks = gql(api, query, types=["TASK"])["data"]["project"]["workItems"]
    assert tasks["count"] == sum(1 for i in project.issues.values() if i.issue_type == "task")
    assert all(n["workItemType"]["name"] == "Task" for n in tasks["nodes"])


LISTING = """
query($after: String, $first: Int) { project(fullPath: "acme/platform") {
  issues(first: $first, after: $after, sort: CREATED_ASC) {
    count nodes { id iid updatedAt userNotesCount state type }
    pageInfo { hasNextPage endCursor } }
  mergeRequests(first: $first, sort: CREATED_ASC) {
    count nodes { id iid updatedAt userNotesCount state } pageInfo { hasNextPage endCursor } }
} }
"""


def test_listings_match_the_dataset(shared_sim: Simulator, api: httpx.Client) -> None:
    project = shared_sim.dataset.find_project("acme/platform")
    assert project is not None
    body = gql(api, LISTING, first=100)
    issues = body["data"]["project"]["issues"]
    mrs = body["data"]["project"]["mergeRequests"]
    assert issues["count"] == len(project.issues)
    assert mrs["count"] == len(project.mrs)
    assert {n["id"] for n in issues["nodes"]} == {
        f"gid://gitlab/Issue/{i.id}" for i in project.issues.values()
    }
    assert {n["id"] for n in mrs["nodes"]} == {
        f"gid://gitlab/MergeRequest/{m.id}" for m in project.mrs.values()
    }
    one = next(n for n in issues["nodes"] if n["iid"] == "1")
    issue = project.issues[1]
    assert one["userNotesCount"] == sum(
        1 for d in issue.discussions for n in d.notes if not n.system
    )
    assert one["state"] == issue.state


def test_keyset_walk_never_skips_an_item_edited_during_it(fresh_sim: Simulator) -> None:
    project = fresh_sim.dataset.find_project("acme/platform")
    assert project is not None
    with client_for(fresh_sim) as api:
        seen: list[str] = []
        after = None
        edited = False
        while True:
            page = gql(api, LISTING, first=5, after=after)["data"]["project"]["issues"]
            seen.extend(n["id"] for n in page["nodes"])
            if not edited:
                # Edit an already-read item: with offsets the rest would slide back a slot.
                fresh_sim.admin.edit_issue(
                    "acme/platform", page["nodes"][0]["iid"], title="edited during the walk"
                )
                edited = True
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert len(seen) == len(set(seen)) == len(project.issues)


def test_merge_requests_disabled_is_null_without_error() -> None:
    with (
        Simulator.start(
            preset="small", seed=7, issues=5, mrs=3, mrs_disabled=["acme/platform"]
        ) as sim,
        client_for(sim) as api,
    ):
        body = gql(api, LISTING, first=10)
        assert "errors" not in body
        assert body["data"]["project"]["mergeRequests"] is None
        assert body["data"]["project"]["issues"]["count"] >= 1


def test_listing_complexity_has_a_per_item_cost() -> None:
    # Connection selections cost 11 (count 1, nodes 1+6, pageInfo 1+2); + 1 + 1 (sort)
    # = 13, times 2 at first=100, + project 1 = 27; with iids there is no per-item cost.
    query = (
        'query($iids: [String!]) { project(fullPath: "acme/platform") { '
        "issues(first: 100, sort: CREATED_ASC, iids: $iids) { count nodes { id iid "
        "updatedAt userNotesCount state type } pageInfo { hasNextPage endCursor } } } }"
    )
    with (
        Simulator.start(preset="small", seed=7, issues=5, mrs=1, complexity_limit=20) as sim,
        client_for(sim) as api,
    ):
        assert gql(api, query)["errors"][0]["message"] == (
            "Query has complexity of 27, which exceeds max complexity of 20"
        )
        assert "errors" not in gql(api, query, iids=["1", "2"])
