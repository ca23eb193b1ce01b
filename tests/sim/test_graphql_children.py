"""The simulator's GraphQL children of issues and MRs (issue 10): discussions and notes with
GitLab's shapes (gids, whole-second ``Time``, ``DiffPosition`` without a line range),
``diffStats`` with only path/additions/deletions, graphql-ruby ArrayConnection cursors
over 100 items, GitLab's complexity for nested connections, and ``Note.internal`` only
from 15.5."""

from __future__ import annotations

import re
from typing import Any

import httpx
from sim_helpers import NOW, client_for

from lore.sim.server import Simulator

TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"

NOTE = (
    "id body system internal resolvable resolved createdAt updatedAt "
    "author { id username name webUrl avatarUrl } "
    "position { oldPath newPath oldLine newLine positionType diffRefs { baseSha } }"
)

CHILDREN = """
query($path: ID!, $iids: [String!], $first: Int, $after: String) {
  project(fullPath: $path) {
    %s(iids: $iids) {
      nodes { iid %s
        discussions(first: $first, after: $after) {
          pageInfo { hasNextPage endCursor }
          edges { cursor node { id notes(first: 100) { count pageInfo { hasNextPage endCursor }
                                                       nodes { %s } } } }
        }
      }
    }
  }
}"""


def gql(api: httpx.Client, query: str, **variables: Any) -> dict[str, Any]:
    r = api.post("/api/graphql", json={"query": query, "variables": variables})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _children(api: httpx.Client, project: str, kind: str, iid: int, **kw: Any) -> dict[str, Any]:
    field = "issues" if kind == "issue" else "mergeRequests"
    stats = "diffStats { path additions deletions }" if kind == "mr" else ""
    body = gql(api, CHILDREN % (field, stats, NOTE), path=project, iids=[str(iid)], **kw)
    assert "errors" not in body, body
    nodes = body["data"]["project"][field]["nodes"]
    assert len(nodes) == 1
    node: dict[str, Any] = nodes[0]
    return node


def test_notes_match_rest_in_gitlabs_graphql_shapes() -> None:
    with Simulator.start(preset="small", seed=7, now=NOW) as sim, client_for(sim) as api:
        project = sim.dataset.projects[0]
        mr = next(
            m
            for m in project.mrs.values()
            if any(n.position for d in m.discussions for n in d.notes)
        )
        node = _children(api, project.path, "mr", mr.iid)
        rest = api.get(
            f"/api/v4/projects/{project.id}/merge_requests/{mr.iid}/discussions",
            params={"per_page": 100},
        ).json()
        assert [e["node"]["id"] for e in node["discussions"]["edges"]] == [
            f"gid://gitlab/Discussion/{d['id']}" for d in rest
        ]
        for edge, disc in zip(node["discussions"]["edges"], rest, strict=True):
            notes = edge["node"]["notes"]["nodes"]
            assert edge["node"]["notes"]["count"] == len(disc["notes"])
            for got, want in zip(notes, disc["notes"], strict=True):
                assert got["id"] == f"gid://gitlab/Note/{want['id']}"
                assert (got["body"], got["system"], got["internal"], got["resolvable"]) == (
                    want["body"],
                    want["system"],
                    want["internal"],
                    want["resolvable"],
                )
                assert got["resolved"] == bool(want.get("resolved"))
                assert got["author"]["id"] == f"gid://gitlab/User/{want['author']['id']}"
                assert got["author"]["avatarUrl"] == want["author"]["avatar_url"]
                assert got["author"]["webUrl"] == want["author"]["web_url"]
                # Time is Ruby's iso8601: whole seconds, where REST has milliseconds.
                assert (
                    re.match(TIME, got["createdAt"])
                    and got["createdAt"][:19] == want["created_at"][:19]
                )
                if want.get("position"):
                    pos = want["position"]
                    assert got["position"] == {
                        "oldPath": pos["old_path"],
                        "newPath": pos["new_path"],
                        "oldLine": pos["old_line"],
                        "newLine": pos["new_line"],
                        "positionType": "text",
                        "diffRefs": {"baseSha": pos["base_sha"]},
                    }
                else:
                    assert got["position"] is None
        rest_diffs = api.get(
            f"/api/v4/projects/{project.id}/merge_requests/{mr.iid}/diffs", params={"per_page": 100}
        ).json()
        assert [s["path"] for s in node["diffStats"]] == [d["new_path"] for d in rest_diffs]
        assert all(set(s) == {"path", "additions", "deletions"} for s in node["diffStats"])


def test_what_gitlabs_graphql_does_not_have() -> None:
    with Simulator.start(preset="small", seed=7, now=NOW) as sim, client_for(sim) as api:
        path = sim.dataset.projects[0].path
        for query, field, type_name in (
            ("position { lineRange { start { lineCode } } }", "lineRange", "DiffPosition"),
            ("type", "type", "Note"),
            ("individualNote", "individualNote", "Note"),
        ):
            body = gql(
                api,
                '{ project(fullPath: "PATH") { issues { nodes { discussions { '
                "nodes { notes { nodes { SEL } } } } } } } }".replace("PATH", path).replace(
                    "SEL", query
                ),
            )
            assert (
                body["errors"][0]["message"]
                == f"Field '{field}' doesn't exist on type '{type_name}'"
            )
        body = gql(
            api,
            '{ project(fullPath: "PATH") { mergeRequests { nodes { diffStats { '
            "oldPath renamedFile } } } } }".replace("PATH", path),
        )
        assert body["errors"][0]["message"] == "Field 'oldPath' doesn't exist on type 'DiffStats'"


def test_discussions_and_notes_over_100_paginate_with_array_cursors() -> None:
    with Simulator.start(preset="small", seed=7, now=NOW) as sim, client_for(sim) as api:
        project = sim.dataset.projects[0]
        issue = min(project.issues.values(), key=lambda i: len(i.discussions))
        before = len(issue.discussions)
        for n in range(105 - before):
            sim.admin.add_note(project.path, "issue", issue.iid, body=f"comment {n}")
        thread = sim.admin.add_note(project.path, "issue", issue.iid, body="start")
        for n in range(104):
            sim.admin.add_note(
                project.path,
                "issue",
                issue.iid,
                body=f"reply {n}",
                discussion_id=thread["discussion_id"],
            )
        first = _children(api, project.path, "issue", issue.iid, first=500)["discussions"]
        assert len(first["edges"]) == 100  # first is capped at GitLab's max page size
        assert first["pageInfo"] == {"hasNextPage": True, "endCursor": "MTAw"}  # "100"
        rest = _children(
            api, project.path, "issue", issue.iid, after=first["pageInfo"]["endCursor"]
        )["discussions"]
        assert len(rest["edges"]) == 6 and rest["pageInfo"]["hasNextPage"] is False
        last = rest["edges"][-1]["node"]
        assert last["id"] == f"gid://gitlab/Discussion/{thread['discussion_id']}"
        assert last["notes"]["count"] == 105 and len(last["notes"]["nodes"]) == 100
        assert last["notes"]["pageInfo"]["hasNextPage"] is True
        # The rest of that thread's notes: select it by the cursor of the one before it.
        body = gql(
            api,
            """query($path: ID!, $iids: [String!], $after: String, $na: String) {
            project(fullPath: $path) { issues(iids: $iids) { nodes { discussions(first: 1,
            after: $after) { nodes { id notes(after: $na) { nodes { body } } } } } } } }""",
            path=project.path,
            iids=[str(issue.iid)],
            after=rest["edges"][-2]["cursor"],
            na=last["notes"]["pageInfo"]["endCursor"],
        )
        disc = body["data"]["project"]["issues"]["nodes"][0]["discussions"]["nodes"][0]
        assert disc["id"] == last["id"]
        assert [n["body"] for n in disc["notes"]["nodes"]] == [f"reply {n}" for n in range(99, 104)]
        bad = gql(
            api,
            CHILDREN % ("issues", "", "id"),
            path=project.path,
            iids=[str(issue.iid)],
            after="not-a-cursor",
        )
        assert bad["errors"][0]["message"] == "Invalid cursor provided"


def test_nested_connections_cost_one_plus_their_selections() -> None:
    """GitLab's rule: ``discussions`` and ``notes`` have no resolver, so they cost 1 plus
    their selections whatever ``first`` is; ``issues(iids:)`` has no per-item cost;
    ``diffStats`` calls Gitaly (+1)."""
    with (
        Simulator.start(preset="small", seed=7, now=NOW, complexity_limit=7) as sim,
        client_for(sim) as api,
    ):
        path = sim.dataset.projects[0].path
        query = (
            '{ project(fullPath: "PATH") { issues(iids: ["1"]) { nodes { discussions'
            "(first: 100) { nodes { notes(first: 100) { nodes { id } } } } } } } }".replace(
                "PATH", path
            )
        )
        # notes.nodes.id 2, notes 3, discussions.nodes 4, discussions 5, issues.nodes 6,
        # issues 6 + 1 = 7 (x1: by iids), project 8
        assert (
            gql(api, query)["errors"][0]["message"]
            == "Query has complexity of 8, which exceeds max complexity of 7"
        )
        mrs = (
            '{ project(fullPath: "PATH") { mergeRequests(iids: ["1"]) { nodes { diffStats '
            "{ path } } } } }".replace("PATH", path)
        )
        # diffStats 2 + path 1 = 3, nodes 4, mergeRequests 5, project 6: fits
        assert "errors" not in gql(api, mrs)
        sim.admin.configure(complexity_limit=5)
        assert (
            gql(api, mrs)["errors"][0]["message"]
            == "Query has complexity of 6, which exceeds max complexity of 5"
        )


def test_note_internal_exists_from_15_5_confidential_before() -> None:
    query = (
        '{ project(fullPath: "PATH") { issues(iids: ["1"]) { nodes { discussions { '
        "nodes { notes { nodes { SEL } } } } } } } }"
    )
    with (
        Simulator.start(preset="small", seed=7, now=NOW, gitlab_version="15.4") as sim,
        client_for(sim) as api,
    ):
        path = sim.dataset.projects[0].path
        body = gql(api, query.replace("PATH", path).replace("SEL", "internal"))
        assert body["errors"][0]["message"] == "Field 'internal' doesn't exist on type 'Note'"
        assert "errors" not in gql(api, query.replace("PATH", path).replace("SEL", "confidential"))
    with (
        Simulator.start(preset="small", seed=7, now=NOW, gitlab_version="15.6") as sim,
        client_for(sim) as api,
    ):
        path = sim.dataset.projects[0].path
        assert "errors" not in gql(
            api, query.replace("PATH", path).replace("SEL", "internal confidential")
        )
