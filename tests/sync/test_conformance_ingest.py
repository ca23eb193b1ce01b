"""The client and stages ingest real GitLab response bodies (recorded from gitlab.com and
GitLab's docs): extra fields, nulls, \\r\\n in descriptions, DiffNote positions."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from lore.core import config as cfgmod
from lore.gitlab.client import GitLabClient, RetryPolicy
from lore.sync.pipeline import run_pipeline
from lore.sync.types import SyncOptions

#: Real GitLab response bodies, vendored from the shared conformance set (see its README).
EXAMPLES = Path(__file__).resolve().parents[1] / "conformance" / "gitlab" / "examples"

PROJECT = {
    "id": 278964,
    "path_with_namespace": "gitlab-org/gitlab",
    "name": "GitLab",
    "web_url": "https://gitlab.com/gitlab-org/gitlab",
    "default_branch": "master",
}


def _load(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text())


def _issue() -> dict[str, Any]:
    # GitLab's documented issue shape (single-issue API docs), with the nulls real issues carry.
    return {
        "id": 76,
        "iid": 6,
        "project_id": 278964,
        "title": "Consequatur vero maxime deserunt",
        "description": "Ratione dolores corrupti mollitia.\r\n\r\n```ruby\nputs 1\n```",
        "state": "opened",
        "created_at": "2016-01-04T15:31:51.081Z",
        "updated_at": "2016-01-04T15:31:51.081Z",
        "closed_at": None,
        "closed_by": None,
        "labels": ["bug", "priority::high"],
        "milestone": {
            "id": 5,
            "iid": 1,
            "group_id": 9,
            "title": "v1.0",
            "description": None,
            "state": "closed",
            "created_at": "2015-02-02T19:49:26.013Z",
            "updated_at": "2015-02-02T19:49:26.013Z",
            "due_date": None,
            "start_date": None,
            "web_url": "https://gitlab.com/groups/x/-/milestones/1",
        },
        "assignees": [
            {
                "id": 9,
                "name": "Dr. Luella Kovacek",
                "username": "lue",
                "state": "active",
                "avatar_url": None,
                "web_url": "https://gitlab.com/lue",
            }
        ],
        "assignee": None,
        "author": {
            "id": 1,
            "name": "root",
            "username": "root",
            "state": "active",
            "avatar_url": None,
            "web_url": "https://gitlab.com/root",
        },
        "type": "ISSUE",
        "user_notes_count": 1,
        "due_date": None,
        "confidential": False,
        "discussion_locked": None,
        "web_url": "https://gitlab.com/gitlab-org/gitlab/-/issues/6",
        "references": {"short": "#6", "relative": "#6", "full": "gitlab-org/gitlab#6"},
        "time_stats": {"time_estimate": 0, "total_time_spent": 0},
        "task_completion_status": {"count": 0, "completed_count": 0},
    }


def _handler(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    mr = _load("merge_request.json")
    if (
        path.endswith("/api/v4/projects/gitlab-org%2Fgitlab")
        or path == "/api/v4/projects/gitlab-org/gitlab"
    ):
        return httpx.Response(200, json=PROJECT)
    base = "/api/v4/projects/278964"
    routes: dict[str, Any] = {
        f"{base}/issues": [_issue()],
        f"{base}/issues/6/discussions": _load("issue_discussions.json"),
        f"{base}/merge_requests": [mr],
        f"{base}/merge_requests/{mr['iid']}/discussions": _load("merge_request_discussions.json"),
        f"{base}/merge_requests/{mr['iid']}/diffs": _load("merge_request_diffs.json"),
    }
    if path in routes:
        body = routes[path]
        return httpx.Response(
            200,
            json=body,
            headers={
                "x-page": "1",
                "x-per-page": "100",
                "x-total": str(len(body)),
                "x-total-pages": "1",
                "x-next-page": "",
                "x-prev-page": "",
            },
        )
    if path == "/api/graphql":
        return httpx.Response(200, json={"data": {"__type": None}})
    return httpx.Response(404, json={"message": "404 Not found"})


@pytest.fixture
def synced(tmp_path: Path) -> sqlite3.Connection:
    cfg = cfgmod.build(
        "https://gitlab.com",
        ["gitlab-org/gitlab"],
        "LORE_CONF_TOKEN",
        extra={"embedding": {"provider": "none"}},
    )

    def factory(_cfg: object) -> GitLabClient:
        return GitLabClient(
            "https://gitlab.com",
            "secret-token",
            concurrency=2,
            retry=RetryPolicy(max_retries=0),
            transport=httpx.MockTransport(_handler),
        )

    report = run_pipeline(
        cfg, tmp_path, SyncOptions(docs=False, embed=False), client_factory=factory
    )
    assert report.outcome == "success", report.to_dict()
    conn = sqlite3.connect(tmp_path / "lore.db")
    conn.row_factory = sqlite3.Row
    return conn


def test_real_merge_request_body_is_ingested(synced: sqlite3.Connection) -> None:
    mr = _load("merge_request.json")
    row = synced.execute("SELECT * FROM merge_requests").fetchone()
    assert row["iid"] == mr["iid"] and row["title"] == mr["title"]
    assert row["description"] == mr["description"]  # \r\n preserved
    assert row["state"] == "opened" and row["merged_at"] is None
    assert row["created_at"] == "2019-07-11T22:34:43.500Z"
    author = synced.execute(
        "SELECT username FROM people WHERE id = ?", (row["author_id"],)
    ).fetchone()
    assert author[0] == mr["author"]["username"]
    labels = {r[0] for r in synced.execute("SELECT label FROM item_labels WHERE item_kind='mr'")}
    assert labels == set(mr["labels"])


def test_real_diffs_become_changed_paths(synced: sqlite3.Connection) -> None:
    paths = {r[0] for r in synced.execute("SELECT new_path FROM mr_paths WHERE source = 'diff'")}
    assert paths == {d["new_path"] for d in _load("merge_request_diffs.json")}


def test_real_diff_note_paths_outside_the_diff_are_evidence(synced: sqlite3.Connection) -> None:
    """GitLab's example diff note sits on package.json, which the example diff list lacks
    (a file dropped by a later push): the MR still touched it."""
    diff_paths = {d["new_path"] for d in _load("merge_request_diffs.json")}
    noted = {
        r[0] for r in synced.execute("SELECT new_path FROM mr_paths WHERE source = 'diff_note'")
    }
    assert "package.json" in noted and not noted & diff_paths


def test_real_diff_note_position_is_kept(synced: sqlite3.Connection) -> None:
    note = synced.execute("SELECT * FROM notes WHERE id = 1128").fetchone()
    assert note["note_type"] == "DiffNote"
    assert note["position_new_path"] == "package.json"
    assert note["position_new_line"] == 27 and note["position_old_line"] == 27
    assert note["item_kind"] == "mr"


def test_real_issue_discussions_with_null_fields(synced: sqlite3.Connection) -> None:
    issue = synced.execute("SELECT * FROM issues").fetchone()
    assert issue["milestone"] == "v1.0"  # group milestone
    notes = synced.execute(
        "SELECT id, note_type, body FROM notes WHERE item_kind='issue'"
    ).fetchall()
    mr_note_ids = {n["id"] for d in _load("merge_request_discussions.json") for n in d["notes"]}
    expected = {n["id"] for d in _load("issue_discussions.json") for n in d["notes"]}
    # GitLab's doc examples reuse note 1128 on an issue and an MR; note ids are global in
    # GitLab, so the store keeps one row per id (the MR, synced after the issues).
    assert {n["id"] for n in notes} == expected - mr_note_ids
    owner = synced.execute("SELECT item_kind FROM notes WHERE id = 1128").fetchone()[0]
    assert owner == "mr"
    assignees = synced.execute(
        "SELECT p.username FROM item_people ip JOIN people p ON p.id = ip.person_id "
        "WHERE ip.item_kind='issue' AND ip.role='assignee'"
    ).fetchall()
    assert [a[0] for a in assignees] == ["lue"]


def test_token_never_reaches_the_database(synced: sqlite3.Connection, tmp_path: Path) -> None:
    synced.close()
    for f in tmp_path.glob("lore.db*"):
        assert b"secret-token" not in f.read_bytes()
