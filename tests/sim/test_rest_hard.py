"""The REST side as hard as real GitLab: /diffs only from 15.7, keyset pagination only on
the project issues list from 18.3, MRs disabled (403), diff overflow, issues_statistics,
edits during a listing, and the request log."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sim_helpers import NOW, all_pages, client_for

from lore.sim.server import Simulator

P = "/api/v4/projects/acme%2Fplatform"
CLI = "/api/v4/projects/acme%2Ftools%2Fcli"
KEYSET_405 = {"error": "Keyset pagination is not yet available for this type of request"}


def next_link(headers: httpx.Headers) -> str | None:
    link = headers.get("link")
    if not link:
        return None
    m = re.fullmatch(r'<([^>]+)>; rel="next"', link)
    assert m, link
    return m.group(1)


@pytest.fixture(scope="module")
def old_sim() -> Iterator[Simulator]:
    with Simulator.start(
        preset="small", seed=7, now=NOW, issues=60, mrs=20, gitlab_version="15.6"
    ) as sim:
        yield sim


def test_diffs_route_does_not_exist_before_15_7(old_sim: Simulator, shared_sim: Simulator) -> None:
    with client_for(old_sim) as api:
        iid = api.get(f"{P}/merge_requests").json()[0]["iid"]
        r = api.get(f"{P}/merge_requests/{iid}/diffs")
        assert r.status_code == 404 and r.json() == {"error": "404 Not Found"}
        # exactly what an unknown route answers
        assert api.get(f"{P}/merge_requests/{iid}/nonsense").json() == r.json()
        changes = api.get(f"{P}/merge_requests/{iid}/changes")
        assert changes.status_code == 200 and changes.json()["changes"]
    with client_for(shared_sim) as api:  # 18.5
        iid = api.get(f"{P}/merge_requests").json()[0]["iid"]
        assert api.get(f"{P}/merge_requests/{iid}/diffs").status_code == 200
    with (
        Simulator.start(preset="small", issues=5, mrs=3, now=NOW, gitlab_version="15.7") as sim,
        client_for(sim) as api,
    ):
        assert api.get(f"{P}/merge_requests/1/diffs").status_code == 200


@pytest.mark.parametrize("sort", ["asc", "desc"])
def test_keyset_walk_on_issues_from_18_3(api: httpx.Client, sort: str) -> None:
    everything = all_pages(api, f"{P}/issues", state="all")
    url: str | None = (
        f"{P}/issues?state=all&order_by=updated_at&sort={sort}&pagination=keyset&per_page=7"
    )
    seen: list[dict[str, Any]] = []
    pages = 0
    while url:
        r = api.get(url)
        assert r.status_code == 200, r.text
        pages += 1
        for header in ("x-total", "x-total-pages", "x-page", "x-next-page", "x-prev-page"):
            assert header not in r.headers, header
        seen.extend(r.json())
        url = next_link(r.headers)
        if url is not None:
            q = parse_qs(urlsplit(url).query)
            # every other parameter survives, the cursor is opaque and new
            assert q["state"] == ["all"] and q["order_by"] == ["updated_at"]
            assert q["sort"] == [sort] and q["pagination"] == ["keyset"]
            assert q["per_page"] == ["7"] and q["cursor"][0]
            assert "page" not in q
    assert pages == -(-len(everything) // 7)
    ids = [i["id"] for i in seen]
    assert len(ids) == len(set(ids)) == len(everything)
    keys = [(i["updated_at"], i["id"]) for i in seen]
    assert keys == sorted(keys, reverse=(sort == "desc"))


def test_keyset_is_405_where_gitlab_lacks_it(api: httpx.Client) -> None:
    iid = api.get(f"{P}/merge_requests").json()[0]["iid"]
    for path in (
        f"{P}/merge_requests",
        f"{P}/issues/1/discussions",
        f"{P}/issues/1/notes",
        f"{P}/merge_requests/{iid}/diffs",
        "/api/v4/projects",
    ):
        r = api.get(path, params={"pagination": "keyset", "order_by": "updated_at"})
        assert r.status_code == 405, path
        assert r.json() == KEYSET_405
    with (
        Simulator.start(preset="small", issues=10, mrs=2, now=NOW, gitlab_version="18.2-ee") as sim,
        client_for(sim) as old,
    ):
        r = old.get(f"{P}/issues", params={"pagination": "keyset", "order_by": "updated_at"})
        assert r.status_code == 405 and r.json() == KEYSET_405
        assert old.get(f"{P}/issues", params={"order_by": "updated_at"}).status_code == 200
    r = api.get(f"{P}/issues", params={"pagination": "keyset", "cursor": "garbage!"})
    assert r.status_code == 400


def _walk_offset(api: httpx.Client, per_page: int) -> list[int]:
    seen: list[int] = []
    page = 1
    while True:
        r = api.get(
            f"{P}/issues",
            params={"order_by": "updated_at", "sort": "asc", "per_page": per_page, "page": page},
        )
        seen.extend(i["id"] for i in r.json())
        if not r.headers["x-next-page"]:
            return seen
        page += 1


def test_edit_during_offset_listing_skips_items_like_gitlab(fresh_sim: Simulator) -> None:
    with client_for(fresh_sim) as api:
        total = len(all_pages(api, f"{P}/issues"))
        hook = fresh_sim.admin.edit_during_listing(route="issues", every_pages=1, count=3)
        assert hook["armed"] is True
        seen = _walk_offset(api, 10)
        status = fresh_sim.admin.listing_hook_status()
        assert status["edits"] == 3 and len(status["edited"]) == 3
        # The edited items jumped to the end (seen twice); their followers were skipped.
        assert len(set(seen)) < total
        assert any(seen.count(e["id"]) == 2 for e in status["edited"])
        fresh_sim.admin.clear_listing_hook()
        assert fresh_sim.admin.listing_hook_status() == {"armed": False}


def test_edit_during_keyset_listing_never_skips(fresh_sim: Simulator) -> None:
    with client_for(fresh_sim) as api, httpx.Client(base_url=fresh_sim.url) as admin:
        every = {i["id"] for i in all_pages(api, f"{P}/issues")}
        r = admin.post("/__sim/listing_hook", json={"route": "issues", "every_pages": 1})
        assert r.status_code == 200 and r.json()["armed"] is True
        seen: list[int] = []
        url: str | None = f"{P}/issues?order_by=updated_at&sort=asc&pagination=keyset&per_page=10"
        pages = 0
        while url and pages < 100:
            r = api.get(url)
            seen.extend(i["id"] for i in r.json())
            url = next_link(r.headers)
            pages += 1
            if pages == 5:
                admin.delete("/__sim/listing_hook")  # stop editing, let the walk end
        assert set(seen) == every  # nothing skipped; edited items simply came again


def test_mr_routes_are_403_when_mrs_are_disabled() -> None:
    with (
        Simulator.start(
            preset="small", issues=20, mrs=10, now=NOW, mrs_disabled=("acme/tools/cli",)
        ) as sim,
        client_for(sim) as api,
    ):
        iid = next(iter(sim.dataset.find_project("acme/tools/cli").mrs))
        for path in (
            f"{CLI}/merge_requests",
            f"{CLI}/merge_requests/{iid}",
            f"{CLI}/merge_requests/{iid}/discussions",
            f"{CLI}/merge_requests/{iid}/notes",
            f"{CLI}/merge_requests/{iid}/diffs",
            f"{CLI}/merge_requests/{iid}/changes",
        ):
            r = api.get(path)
            assert r.status_code == 403, path
            assert r.json() == {"message": "403 Forbidden"}
        assert api.get(f"{CLI}/issues").status_code == 200
        assert api.get(f"{P}/merge_requests").status_code == 200
        project = api.get(CLI).json()
        assert project["merge_requests_enabled"] is False
        assert project["merge_requests_access_level"] == "disabled"
        assert "merge_requests" not in project["_links"]
        assert api.get(P).json()["merge_requests_enabled"] is True
        assert "merge_requests" in api.get(P).json()["_links"]
        # the knob at run time, over HTTP and in Python
        with httpx.Client(base_url=sim.url) as admin:
            r = admin.post(
                "/__sim/projects/acme%2Fplatform/features", json={"merge_requests": "private"}
            )
            assert r.json() == {"project": "acme/platform", "merge_requests": "private"}
            assert api.get(f"{P}/merge_requests").status_code == 403
            assert api.get(P).json()["merge_requests_access_level"] == "private"
            assert api.get(P).json()["merge_requests_enabled"] is False  # not a member
            bad = admin.post(
                "/__sim/projects/acme%2Fplatform/features", json={"merge_requests": "sometimes"}
            )
            assert bad.status_code == 400
        sim.admin.set_features("acme/tools/cli", merge_requests="enabled")
        assert api.get(f"{CLI}/merge_requests").status_code == 200
        snapshot = sim.admin.snapshot()
        projects = {m["project_id"] for m in snapshot["merge_requests"].values()}
        assert sim.dataset.find_project("acme/platform").id not in projects
    with pytest.raises(ValueError):
        Simulator.start(preset="small", issues=5, mrs=2, mrs_disabled=("acme/nope",))


def test_diff_overflow_at_the_cap() -> None:
    with Simulator.start(preset="small", now=NOW, diff_max_files=3) as sim, client_for(sim) as api:
        project = sim.dataset.find_project("acme/platform")
        wide = next(m for m in project.mrs.values() if len(m.diffs) > 3)
        narrow = next(m for m in project.mrs.values() if 0 < len(m.diffs) <= 3)
        single = api.get(f"{P}/merge_requests/{wide.iid}").json()
        assert single["changes_count"] == "3+"
        changes = api.get(f"{P}/merge_requests/{wide.iid}/changes").json()
        assert changes["overflow"] is True and changes["changes_count"] == "3+"
        assert [c["new_path"] for c in changes["changes"]] == [d.new_path for d in wide.diffs[:3]]
        diffs = all_pages(api, f"{P}/merge_requests/{wide.iid}/diffs")
        assert len(diffs) == 3
        r = api.get(f"{P}/merge_requests/{wide.iid}/diffs", params={"per_page": 2, "page": 2})
        assert len(r.json()) == 1 and r.headers["x-total"] == "3"
        small = api.get(f"{P}/merge_requests/{narrow.iid}/changes").json()
        assert small["overflow"] is False
        assert small["changes_count"] == str(len(narrow.diffs)) == str(len(small["changes"]))
    with Simulator.start(preset="small", now=NOW) as sim, client_for(sim) as api:
        project = sim.dataset.find_project("acme/platform")
        wide = next(m for m in project.mrs.values() if len(m.diffs) > 3)
        body = api.get(f"{P}/merge_requests/{wide.iid}/changes").json()
        assert body["overflow"] is False and len(body["changes"]) == len(wide.diffs)


def test_issues_statistics(api: httpx.Client) -> None:
    every = all_pages(api, f"{P}/issues")
    r = api.get(f"{P}/issues_statistics")
    assert r.status_code == 200
    opened = sum(1 for i in every if i["state"] == "opened")
    assert r.json() == {
        "statistics": {
            "counts": {"all": len(every), "closed": len(every) - opened, "opened": opened}
        }
    }
    pivot = sorted(i["updated_at"] for i in every)[len(every) // 2]
    after = all_pages(api, f"{P}/issues", updated_after=pivot)
    counts = api.get(
        f"{P}/issues_statistics", params={"updated_after": pivot, "state": "opened"}
    ).json()
    counts = counts["statistics"]["counts"]
    assert counts["all"] == len(after)
    assert counts["opened"] == sum(1 for i in after if i["state"] == "opened")
    assert api.get("/api/v4/projects/acme%2Fnope/issues_statistics").status_code == 404


def test_issue_type_filter(api: httpx.Client) -> None:
    every = all_pages(api, f"{P}/issues")
    for name in ("issue", "task", "incident", "test_case"):
        subset = all_pages(api, f"{P}/issues", issue_type=name)
        assert {i["id"] for i in subset} == {i["id"] for i in every if i["issue_type"] == name}
    assert api.get(f"{P}/issues", params={"issue_type": "epic"}).status_code == 400


def test_request_log_names_the_auth_kind_never_the_token(fresh_sim: Simulator) -> None:
    log = fresh_sim.state.request_log
    log.clear()
    with httpx.Client(base_url=fresh_sim.url) as c:
        c.get("/api/v4/version", headers={"Authorization": f"Bearer {fresh_sim.token}"})
        c.get(f"{P}/issues", params={"per_page": 3}, headers={"PRIVATE-TOKEN": fresh_sim.token})
        c.get("/api/v4/user")
        c.get("/__sim/stats")  # admin requests are not logged
    assert [(e["method"], e["path"], e["auth"], e["status"]) for e in log] == [
        ("GET", "/api/v4/version", "bearer", 200),
        ("GET", f"{P}/issues", "private-token", 200),
        ("GET", "/api/v4/user", "none", 401),
    ]
    assert log[1]["query"] == "per_page=3"  # the raw query string
    assert fresh_sim.token not in repr(list(log))
    with httpx.Client(base_url=fresh_sim.url) as admin:
        served = admin.get("/__sim/requests").json()
        assert [e["auth"] for e in served] == ["bearer", "private-token", "none"]
        assert admin.delete("/__sim/requests").json() == {"cleared": 3}
        assert admin.get("/__sim/requests").json() == []
