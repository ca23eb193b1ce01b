"""The /__sim admin API: edits bump updated_at and show up via updated_after, notes,
deletes, the clock, stats per route, config."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from sim_helpers import NOW, all_pages, client_for

from lore.sim.server import Simulator

P = "/api/v4/projects/acme%2Fplatform"
ADMIN = "/__sim/projects/acme%2Fplatform"


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def newest_update(api: httpx.Client, kind: str) -> str:
    items = api.get(
        f"{P}/{kind}", params={"order_by": "updated_at", "sort": "desc", "per_page": 1}
    ).json()
    return str(items[0]["updated_at"])


def test_edit_issue_bumps_updated_at_and_appears_incrementally(fresh_sim: Simulator) -> None:
    with client_for(fresh_sim) as api:
        cursor = newest_update(api, "issues")
        assert all_pages(api, f"{P}/issues", updated_after=cursor) != []  # inclusive
        # Nothing is strictly newer than the cursor before the edit.
        before = {
            i["iid"]
            for i in all_pages(api, f"{P}/issues", updated_after=cursor)
            if ts(i["updated_at"]) > ts(cursor)
        }
        assert before == set()
        iid = api.get(f"{P}/issues", params={"state": "opened"}).json()[0]["iid"]
        r = api.patch(
            f"{ADMIN}/issues/{iid}",
            json={
                "title": "Renamed by the test",
                "add_labels": ["regression"],
                "state_event": "close",
                "status": "Won't do",
            },
        )
        assert r.status_code == 200, r.text
        edited = r.json()
        assert edited["title"] == "Renamed by the test" and edited["state"] == "closed"
        assert "regression" in edited["labels"] and edited["closed_at"] is not None
        assert ts(edited["updated_at"]) > ts(cursor)
        assert ts(edited["updated_at"]) >= ts(NOW)
        changed = all_pages(api, f"{P}/issues", updated_after=edited["updated_at"])
        assert [i["iid"] for i in changed] == [iid]
        notes = [
            n["body"]
            for d in all_pages(api, f"{P}/issues/{iid}/discussions")
            for n in d["notes"]
            if n["system"]
        ]
        assert "closed" in notes and "set status to **Won't do**" in notes
        assert any(b.startswith("changed title from") for b in notes)
        assert "added ~regression label" in notes


def test_every_edit_is_strictly_later(fresh_sim: Simulator) -> None:
    stamps = []
    with client_for(fresh_sim) as api:
        for i in range(5):
            r = api.post(f"{ADMIN}/issues/{i + 1}", json={"description": f"v{i}"})
            stamps.append(ts(r.json()["updated_at"]))
    assert stamps == sorted(stamps) and len(set(stamps)) == 5


def test_mr_merge_and_diff_note(fresh_sim: Simulator) -> None:
    with client_for(fresh_sim) as api:
        opened = api.get(f"{P}/merge_requests", params={"state": "opened"}).json()[0]
        iid = opened["iid"]
        diff = api.get(f"{P}/merge_requests/{iid}/diffs").json()[0]
        r = api.post(
            f"{ADMIN}/merge_requests/{iid}/notes",
            json={
                "body": "Please rename this",
                "author": "root",
                "position": {"new_path": diff["new_path"], "new_line": 2},
            },
        )
        assert r.status_code == 201, r.text
        note = r.json()["note"]
        assert note["type"] == "DiffNote" and note["position"]["new_path"] == diff["new_path"]
        reply = api.post(
            f"{ADMIN}/merge_requests/{iid}/notes",
            json={"body": "Done", "discussion_id": r.json()["discussion_id"]},
        )
        assert reply.json()["note"]["type"] == "DiffNote"
        merged = api.patch(
            f"{ADMIN}/merge_requests/{iid}", json={"state_event": "merge", "actor": "root"}
        ).json()
        assert merged["state"] == "merged" and merged["merged_by"]["username"] == "root"
        threads = all_pages(api, f"{P}/merge_requests/{iid}/discussions")
        thread = next(d for d in threads if d["id"] == r.json()["discussion_id"])
        assert [n["body"] for n in thread["notes"]] == ["Please rename this", "Done"]
        assert thread["individual_note"] is False
        again = api.patch(f"{ADMIN}/merge_requests/{iid}", json={"state_event": "merge"})
        assert again.status_code == 400


def test_add_note_bumps_the_item(fresh_sim: Simulator) -> None:
    with client_for(fresh_sim) as api:
        before = api.get(f"{P}/issues/7").json()
        r = api.post(f"{ADMIN}/issues/7/notes", json={"body": "ping", "author": "root"})
        assert r.status_code == 201
        after = api.get(f"{P}/issues/7").json()
        assert ts(after["updated_at"]) > ts(before["updated_at"])
        assert after["user_notes_count"] == before["user_notes_count"] + 1


def test_create_and_delete_issue(fresh_sim: Simulator) -> None:
    with client_for(fresh_sim) as api:
        total = int(api.get(f"{P}/issues").headers["x-total"])
        r = api.post(
            f"{ADMIN}/issues",
            json={
                "title": "Brand new",
                "labels": ["bug"],
                "description": "a\r\nb",
                "author": "root",
            },
        )
        assert r.status_code == 201
        created = r.json()
        assert created["iid"] == total + 1 and created["state"] == "opened"
        assert int(api.get(f"{P}/issues").headers["x-total"]) == total + 1
        gone = api.delete(f"{ADMIN}/issues/{created['iid']}")
        assert gone.json()["deleted"] is True
        assert api.get(f"{P}/issues/{created['iid']}").status_code == 404
        assert api.get(f"{P}/issues/{created['iid']}/discussions").status_code == 404
        assert int(api.get(f"{P}/issues").headers["x-total"]) == total
        mr = api.get(f"{P}/merge_requests").json()[0]
        api.delete(f"{ADMIN}/merge_requests/{mr['iid']}")
        assert all(m["iid"] != mr["iid"] for m in all_pages(api, f"{P}/merge_requests"))


def test_create_mr_with_files(fresh_sim: Simulator) -> None:
    with client_for(fresh_sim) as api:
        r = api.post(
            f"{ADMIN}/merge_requests",
            json={
                "title": "Touch auth",
                "author": "root",
                "files": ["src/auth/session.py", "src/auth/brand_new.py"],
            },
        )
        assert r.status_code == 201, r.text
        iid = r.json()["iid"]
        diffs = api.get(f"{P}/merge_requests/{iid}/diffs").json()
        assert [d["new_path"] for d in diffs] == ["src/auth/session.py", "src/auth/brand_new.py"]
        assert diffs[1]["new_file"] is True


def test_clock_moves_forward_and_stamps_edits(fresh_sim: Simulator) -> None:
    with httpx.Client(base_url=fresh_sim.url) as admin:
        assert admin.get("/__sim/clock").json() == {"now": "2025-06-01T12:00:00.000Z"}
        r = admin.post("/__sim/clock", json={"advance_seconds": 3600})
        assert r.json() == {"now": "2025-06-01T13:00:00.000Z"}
        r = admin.post("/__sim/clock", json={"now": "2025-07-01T00:00:00Z"})
        assert r.json()["now"] == "2025-07-01T00:00:00.000Z"
        edited = admin.patch(f"{ADMIN}/issues/1", json={"labels": []}).json()
        assert edited["updated_at"] == "2025-07-01T00:00:00.000Z"


def test_errors_are_clear(fresh_sim: Simulator) -> None:
    with httpx.Client(base_url=fresh_sim.url) as admin:
        assert admin.patch(f"{ADMIN}/issues/99999", json={}).status_code == 404
        r = admin.patch(f"{ADMIN}/issues/1", json={"colour": "red"})
        assert r.status_code == 400 and "colour" in r.json()["error"]
        r = admin.patch(f"{ADMIN}/issues/1", json={"status": "Sleeping"})
        assert r.status_code == 400 and "unknown status" in r.json()["error"]
        assert admin.post(f"{ADMIN}/issues", json={}).status_code == 400
        assert (
            admin.post("/__sim/projects/nope%2Fnope/issues", json={"title": "x"}).status_code == 404
        )
        assert admin.post(f"{ADMIN}/issues/1/notes", content=b"{oops").status_code == 400


def test_stats_count_requests_per_route_and_reset(fresh_sim: Simulator) -> None:
    with client_for(fresh_sim) as api:
        api.post("/__sim/stats/reset")
        for _ in range(3):
            api.get(f"{P}/issues")
        api.get(f"{P}/issues/1/discussions")
        api.get(f"{P}/merge_requests/1/diffs")
        api.get("/__sim/stats")  # admin calls are not counted
        stats: dict[str, Any] = api.get("/__sim/stats").json()
    assert stats["requests"] == 5
    by_route = stats["requests_by_route"]
    assert by_route["GET /api/v4/projects/:id/issues"] == 3
    assert by_route["GET /api/v4/projects/:id/issues/:iid/discussions"] == 1
    assert by_route["GET /api/v4/projects/:id/merge_requests/:iid/diffs"] == 1
    assert stats["issues"] == 150 and stats["merge_requests"] == 80 and stats["notes"] > 1000
    assert fresh_sim.stats()["requests"] == 5
    with httpx.Client(base_url=fresh_sim.url) as admin:
        reset = admin.post("/__sim/stats/reset").json()
    assert reset["requests"] == 0 and reset["requests_by_route"] == {}


def test_config_toggles_knobs(fresh_sim: Simulator) -> None:
    with httpx.Client(base_url=fresh_sim.url) as admin:
        assert admin.get("/__sim/config").json() == {
            "latency_ms": 0,
            "work_item_status": True,
            "complexity_limit": 250,
            "diff_max_files": 1000,
        }
        r = admin.post(
            "/__sim/config",
            json={"complexity_limit": None, "work_item_status": False, "diff_max_files": 2},
        )
        assert r.json()["complexity_limit"] is None and r.json()["work_item_status"] is False
        assert r.json()["diff_max_files"] == 2
    assert fresh_sim.state.work_item_status is False
    assert fresh_sim.state.renderer.diff_max_files == 2


def test_latency_is_added(fresh_sim: Simulator) -> None:
    import time

    fresh_sim.admin.configure(latency_ms=120)
    with client_for(fresh_sim) as api:
        started = time.perf_counter()
        api.get("/api/v4/version")
        assert time.perf_counter() - started >= 0.12
        started = time.perf_counter()
        api.get("/__sim/clock")  # admin routes are never delayed
        assert time.perf_counter() - started < 0.12


def test_python_admin_api(fresh_sim: Simulator) -> None:
    issue = fresh_sim.admin.create_issue("acme/tools/cli", title="From Python", status="Done")
    edited = fresh_sim.admin.edit_issue("acme/tools/cli", issue["iid"], state_event="close")
    assert edited["state"] == "closed"
    project = fresh_sim.dataset.find_project("acme/tools/cli")
    assert project is not None
    assert project.issues[issue["iid"]].status_index == 2  # Done stays Done
    fresh_sim.admin.edit_issue("acme/tools/cli", issue["iid"], state_event="reopen")
    assert project.issues[issue["iid"]].status_index == 0  # back to To do
    fresh_sim.admin.set_clock(advance_seconds=60)
    assert fresh_sim.admin.clock()["now"] >= "2025-06-01T12:01:00.000Z"
