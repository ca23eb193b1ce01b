"""REST v4 behaviour over real HTTP: pagination, Link headers, filters, auth, 404s."""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sim_helpers import ISO_MS, all_pages

from lore.sim.server import Simulator

ISSUES = "/api/v4/projects/acme%2Fplatform/issues"
MRS = "/api/v4/projects/acme%2Fplatform/merge_requests"


def parse_link(header: str) -> dict[str, str]:
    out = {}
    for part in header.split(", "):
        m = re.fullmatch(r'<([^>]+)>; rel="(\w+)"', part)
        assert m, part
        out[m.group(2)] = m.group(1)
    return out


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_version_and_user(api: httpx.Client) -> None:
    r = api.get("/api/v4/version")
    assert r.status_code == 200
    assert r.json()["version"] == "18.5.0-ee"
    user = api.get("/api/v4/user").json()
    assert user["username"] == "root" and isinstance(user["id"], int)


def test_project_by_id_and_by_encoded_nested_path(api: httpx.Client) -> None:
    by_path = api.get("/api/v4/projects/acme%2Ftools%2Fcli")
    assert by_path.status_code == 200
    project = by_path.json()
    assert project["path_with_namespace"] == "acme/tools/cli"
    assert project["namespace"]["full_path"] == "acme/tools"
    by_id = api.get(f"/api/v4/projects/{project['id']}").json()
    assert by_id == project


def test_unknown_project_and_item_are_404(api: httpx.Client) -> None:
    r = api.get("/api/v4/projects/acme%2Fnope/issues")
    assert r.status_code == 404
    assert r.json() == {"message": "404 Project Not Found"}
    for path in (
        f"{ISSUES}/99999",
        f"{ISSUES}/99999/discussions",
        f"{MRS}/99999/diffs",
        f"{MRS}/99999/discussions",
    ):
        r = api.get(path)
        assert r.status_code == 404, path
        assert r.json() == {"message": "404 Not found"}
    assert api.get("/api/v4/nothing/here").status_code == 404


def test_auth_private_token_and_bearer(shared_sim: Simulator) -> None:
    with httpx.Client(base_url=shared_sim.url) as c:
        assert (
            c.get("/api/v4/version", headers={"PRIVATE-TOKEN": shared_sim.token}).status_code == 200
        )
        assert (
            c.get(
                "/api/v4/version", headers={"Authorization": f"Bearer {shared_sim.token}"}
            ).status_code
            == 200
        )
        for headers in (
            {},
            {"PRIVATE-TOKEN": "wrong"},
            {"Authorization": "Bearer wrong"},
            {"Authorization": f"Basic {shared_sim.token}"},
        ):
            r = c.get(ISSUES, headers=headers)
            assert r.status_code == 401, headers
            assert r.json() == {"message": "401 Unauthorized"}


def test_pagination_headers_and_links_walk_every_item_once(api: httpx.Client) -> None:
    seen: list[int] = []
    url: str | None = f"{ISSUES}?state=all&per_page=7&order_by=updated_at&sort=asc"
    page = 0
    total = None
    while url:
        r = api.get(url)
        assert r.status_code == 200
        page += 1
        h = r.headers
        total = int(h["x-total"])
        total_pages = int(h["x-total-pages"])
        assert h["x-page"] == str(page) and h["x-per-page"] == "7"
        assert total_pages == -(-total // 7)
        assert h["x-prev-page"] == ("" if page == 1 else str(page - 1))
        assert h["x-next-page"] == ("" if page == total_pages else str(page + 1))
        links = parse_link(h["link"])
        assert set(links) >= {"first", "last"}
        for rel, target in links.items():
            q = parse_qs(urlsplit(target).query)
            # every other parameter survives in the links
            assert q["state"] == ["all"] and q["order_by"] == ["updated_at"], rel
            assert q["sort"] == ["asc"] and q["per_page"] == ["7"]
            assert target.startswith(api.base_url.__str__().rstrip("/") + ISSUES)
        assert parse_qs(urlsplit(links["last"]).query)["page"] == [str(total_pages)]
        assert ("prev" in links) == (page > 1)
        seen.extend(item["iid"] for item in r.json())
        url = links.get("next")
    assert total is not None and len(seen) == total == len(set(seen))


def test_per_page_default_and_cap(api: httpx.Client) -> None:
    r = api.get(ISSUES)
    assert r.headers["x-per-page"] == "20" and len(r.json()) == 20
    r = api.get(ISSUES, params={"per_page": 500})
    assert r.headers["x-per-page"] == "100"
    r = api.get(ISSUES, params={"page": 999})
    assert r.status_code == 200 and r.json() == []
    assert r.headers["x-next-page"] == ""


def test_bad_parameters_are_400(api: httpx.Client) -> None:
    assert api.get(ISSUES, params={"state": "weird"}).status_code == 400
    assert api.get(ISSUES, params={"order_by": "nope"}).status_code == 400
    assert api.get(ISSUES, params={"sort": "up"}).status_code == 400
    r = api.get(ISSUES, params={"updated_after": "yesterday"})
    assert r.status_code == 400 and r.json() == {"error": "updated_after is invalid"}
    assert api.get(ISSUES, params={"page": "x"}).status_code == 400


@pytest.mark.parametrize("order_by", ["created_at", "updated_at"])
@pytest.mark.parametrize("sort", ["asc", "desc"])
def test_ordering_is_stable_and_correct(api: httpx.Client, order_by: str, sort: str) -> None:
    items = all_pages(api, ISSUES, order_by=order_by, sort=sort)
    keys = [(ts(i[order_by]), i["id"]) for i in items]
    assert keys == sorted(keys, reverse=(sort == "desc"))
    default = all_pages(api, ISSUES)
    created = [(ts(i["created_at"]), i["id"]) for i in default]
    assert created == sorted(created, reverse=True)  # default: created_at desc


def test_updated_after_and_before_are_inclusive(api: httpx.Client) -> None:
    items = all_pages(api, ISSUES, order_by="updated_at", sort="asc")
    pivot = items[len(items) // 2]["updated_at"]
    after = all_pages(api, ISSUES, updated_after=pivot)
    before = all_pages(api, ISSUES, updated_before=pivot)
    assert all(ts(i["updated_at"]) >= ts(pivot) for i in after)
    assert all(ts(i["updated_at"]) <= ts(pivot) for i in before)
    both = {i["id"] for i in after} & {i["id"] for i in before}
    assert both == {i["id"] for i in items if i["updated_at"] == pivot}
    assert len(after) + len(before) - len(both) == len(items)
    # offsets in other forms are understood
    assert len(all_pages(api, ISSUES, updated_after=pivot.replace("Z", "+00:00"))) == len(after)


def test_state_filters(api: httpx.Client) -> None:
    every = all_pages(api, MRS, state="all")
    states = {m["state"] for m in every}
    assert {"opened", "closed", "merged"} <= states
    for state in states:
        subset = all_pages(api, MRS, state=state)
        assert subset and all(m["state"] == state for m in subset)
    assert len(all_pages(api, MRS)) == len(every)
    issues = all_pages(api, ISSUES, state="all")
    assert {i["state"] for i in issues} == {"opened", "closed"}
    opened = all_pages(api, ISSUES, state="opened")
    assert all(i["state"] == "opened" and i["closed_at"] is None for i in opened)


def test_iids_filter(api: httpx.Client) -> None:
    r = api.get(f"{ISSUES}?iids[]=3&iids[]=5&iids[]=99999")
    assert sorted(i["iid"] for i in r.json()) == [3, 5]
    assert r.headers["x-total"] == "2"


def test_issue_shape_details(api: httpx.Client) -> None:
    items = all_pages(api, ISSUES)
    for issue in items:
        assert re.match(ISO_MS, issue["created_at"]) and re.match(ISO_MS, issue["updated_at"])
        assert issue["type"] == issue["issue_type"].upper()
        assert issue["issue_type"] in ("issue", "incident", "task", "test_case")
        assert issue["references"]["full"] == f"acme/platform#{issue['iid']}"
        assert issue["web_url"].endswith(f"/acme/platform/-/issues/{issue['iid']}")
        assert (issue["assignee"] is None) == (issue["assignees"] == [])
        if issue["state"] == "closed":
            assert issue["closed_at"] is not None and issue["closed_by"] is not None
    descriptions = [i["description"] for i in items]
    assert any(d and "\r\n" in d for d in descriptions)
    assert any(d and "```" in d for d in descriptions)
    assert any(d is None for d in descriptions) or any(d == "" for d in descriptions)
    milestones = [i["milestone"] for i in items if i["milestone"]]
    assert any("group_id" in m for m in milestones) and any("project_id" in m for m in milestones)
    labels = {lbl for i in items for lbl in i["labels"]}
    assert "bug" in labels and any("::" in lbl for lbl in labels)


def test_single_issue_and_mr_match_lists(api: httpx.Client) -> None:
    first = api.get(ISSUES).json()[0]
    assert api.get(f"{ISSUES}/{first['iid']}").json() == first
    mr = api.get(MRS).json()[0]
    single = api.get(f"{MRS}/{mr['iid']}").json()
    assert {k: single[k] for k in mr} == mr
    assert single["changes_count"] == str(
        len(api.get(f"{MRS}/{mr['iid']}/diffs", params={"per_page": 100}).json())
    )
    assert single["diff_refs"]["head_sha"] == mr["sha"]


def test_mr_states_and_users(api: httpx.Client) -> None:
    for mr in all_pages(api, MRS):
        assert mr["assignee"] is not None
        if mr["state"] == "merged":
            assert mr["merged_at"] and mr["merged_by"]["username"] and mr["merge_commit_sha"]
        else:
            assert mr["merged_at"] is None and "merged_by" not in mr
        assert mr["work_in_progress"] == mr["draft"] == mr["title"].startswith("Draft: ")


def test_discussions_notes_and_diff_positions(shared_sim: Simulator, api: httpx.Client) -> None:
    diff_notes = 0
    system = 0
    renames = 0
    for mr in all_pages(api, MRS)[:40]:
        base = f"{MRS}/{mr['iid']}"
        diffs = all_pages(api, f"{base}/diffs")
        paths = {d["new_path"] for d in diffs} | {d["old_path"] for d in diffs}
        area = shared_sim.dataset.find_project("acme/platform").mrs[mr["iid"]].area or "?"
        renames += sum(1 for d in diffs if d["renamed_file"] and d["old_path"] != d["new_path"])
        for d in diffs:
            assert set(d) >= {
                "old_path",
                "new_path",
                "a_mode",
                "b_mode",
                "new_file",
                "renamed_file",
                "deleted_file",
                "diff",
            }
        discussions = all_pages(api, f"{base}/discussions")
        for disc in discussions:
            assert re.fullmatch(r"[0-9a-f]{40}", disc["id"])
            for note in disc["notes"]:
                assert note["noteable_type"] == "MergeRequest"
                assert note["noteable_id"] == mr["id"] and note["noteable_iid"] == mr["iid"]
                system += note["system"]
                if note["type"] == "DiffNote":
                    diff_notes += 1
                    pos = note["position"]
                    assert pos["position_type"] == "text"
                    # On a file of the diff, or of the MR's area (dropped by a later push).
                    assert pos["new_path"] in paths or pos["new_path"].startswith(area)
                    assert pos["head_sha"] == mr["sha"]
                    assert pos["new_line"] is not None or pos["old_line"] is not None
                    assert note["resolvable"] is True
        user_notes = sum(1 for d in discussions for n in d["notes"] if not n["system"])
        assert mr["user_notes_count"] == user_notes
    assert diff_notes > 20 and system > 10
    all_diffs = [d for p in shared_sim.dataset.projects for m in p.mrs.values() for d in m.diffs]
    assert any(d.renamed_file and d.old_path != d.new_path for d in all_diffs)


def test_issue_discussions_have_individual_and_threaded_notes(api: httpx.Client) -> None:
    kinds = set()
    for issue in all_pages(api, ISSUES)[:30]:
        for disc in all_pages(api, f"{ISSUES}/{issue['iid']}/discussions"):
            for note in disc["notes"]:
                assert note["noteable_type"] == "Issue" and note["noteable_iid"] == issue["iid"]
                kinds.add((disc["individual_note"], note["type"], note["system"]))
    assert (True, None, False) in kinds and (True, None, True) in kinds
    assert (False, "DiscussionNote", False) in kinds


def test_keep_alive_connections_are_reused(shared_sim: Simulator) -> None:
    before = shared_sim.stats()["connections"]
    with httpx.Client(base_url=shared_sim.url, headers={"PRIVATE-TOKEN": shared_sim.token}) as c:
        for _ in range(5):
            r = c.get(ISSUES, params={"per_page": 100})
            assert r.status_code == 200
            assert r.headers["connection"] == "keep-alive"
            assert int(r.headers["content-length"]) == len(r.content)
    assert shared_sim.stats()["connections"] - before == 1


def test_users_by_id_carry_the_bot_flag(shared_sim: Simulator, api: httpx.Client) -> None:
    bot = shared_sim.dataset.users_by_name["renovate-bot"]
    body = api.get(f"/api/v4/users/{bot.id}").json()
    assert body["username"] == "renovate-bot" and body["bot"] is True
    assert api.get("/api/v4/users/2").json()["bot"] is False
    assert api.get("/api/v4/users/999999").status_code == 404


def test_totals_are_omitted_above_ten_thousand(
    monkeypatch: pytest.MonkeyPatch, api: httpx.Client
) -> None:
    from lore.sim import rest

    monkeypatch.setattr(rest, "COUNT_LIMIT", 10)
    r = api.get(ISSUES, params={"per_page": 5})
    assert "x-total" not in r.headers and "x-total-pages" not in r.headers
    assert r.headers["x-next-page"] == "2"
    assert set(parse_link(r.headers["link"])) == {"next", "first"}


def test_concurrent_clients_get_consistent_pages(shared_sim: Simulator) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def fetch(page: int) -> list[int]:
        with httpx.Client(
            base_url=shared_sim.url, headers={"PRIVATE-TOKEN": shared_sim.token}
        ) as c:
            r = c.get(ISSUES, params={"page": page, "per_page": 10, "sort": "asc"})
            assert r.status_code == 200
            return [i["id"] for i in r.json()]

    with ThreadPoolExecutor(max_workers=8) as pool:
        pages = list(pool.map(fetch, range(1, 11)))
    ids = [i for page in pages for i in page]
    assert len(ids) == len(set(ids)) and ids == sorted(ids)
