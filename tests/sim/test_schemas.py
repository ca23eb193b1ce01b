"""Simulator responses validate against GitLab's own conformance schemas
(``required`` and types binding; ``additionalProperties: false`` advisory)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from sim_helpers import all_pages

Validate = Callable[[str, Any], None]
P = "/api/v4/projects/acme%2Fplatform"
CLI = "/api/v4/projects/acme%2Ftools%2Fcli"


def test_issue_list_and_single_issue(api: httpx.Client, schema_validator: Validate) -> None:
    for base in (P, CLI):
        issues = all_pages(api, f"{base}/issues", state="all")
        assert issues
        schema_validator("issues.json", issues)
        for issue in issues[:10]:
            schema_validator("issue.json", api.get(f"{base}/issues/{issue['iid']}").json())


def test_merge_request_list_and_single(api: httpx.Client, schema_validator: Validate) -> None:
    for base in (P, CLI):
        mrs = all_pages(api, f"{base}/merge_requests", state="all")
        assert {m["state"] for m in mrs} >= {"opened", "merged", "closed"}
        schema_validator("merge_requests.json", mrs)
        for mr in mrs[:10]:
            schema_validator(
                "merge_request.json", api.get(f"{base}/merge_requests/{mr['iid']}").json()
            )


def test_milestones_on_items(api: httpx.Client, schema_validator: Validate) -> None:
    seen = 0
    for kind in ("issues", "merge_requests"):
        for item in all_pages(api, f"{P}/{kind}"):
            if item["milestone"] is not None:
                schema_validator("milestone.json", item["milestone"])
                seen += 1
    assert seen > 10


def test_notes_inside_discussions(api: httpx.Client, schema_validator: Validate) -> None:
    notes: list[dict[str, Any]] = []
    types = set()
    for kind in ("issues", "merge_requests"):
        for item in all_pages(api, f"{P}/{kind}")[:25]:
            for disc in all_pages(api, f"{P}/{kind}/{item['iid']}/discussions"):
                notes.extend(disc["notes"])
                types.update(n["type"] for n in disc["notes"])
    assert {None, "DiscussionNote", "DiffNote"} <= types
    schema_validator("notes.json", notes)


def test_notes_endpoint(api: httpx.Client, schema_validator: Validate) -> None:
    mr = api.get(f"{P}/merge_requests").json()[0]
    notes = all_pages(api, f"{P}/merge_requests/{mr['iid']}/notes")
    schema_validator("notes.json", notes)


def test_users(api: httpx.Client, schema_validator: Validate) -> None:
    schema_validator("user/basic.json", api.get("/api/v4/user").json())
    for issue in api.get(f"{P}/issues").json():
        schema_validator("user/basic.json", issue["author"])
        for assignee in issue["assignees"]:
            schema_validator("user/basic.json", assignee)


def test_the_validator_is_not_vacuous(api: httpx.Client, schema_validator: Validate) -> None:
    issue = api.get(f"{P}/issues").json()[0]
    broken = dict(issue)
    del broken["author"]
    mr = dict(api.get(f"{P}/merge_requests").json()[0])
    mr["merged_by"] = None  # user/basic.json is typed object: null is rejected
    for name, doc in (
        ("issue.json", broken),
        ("merge_request.json", mr),
        ("issue.json", {**issue, "labels": "bug"}),
    ):
        try:
            schema_validator(name, doc)
        except AssertionError:
            continue
        raise AssertionError(f"{name} accepted an invalid document")
