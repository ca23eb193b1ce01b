"""Admin operations that make the simulator as hard as GitLab: throttled note touches,
note deletion, status changes that only add a system note, bulk touches, the snapshot
truth, and background churn."""

from __future__ import annotations

import time

import httpx
from sim_helpers import all_pages, client_for

from lore.sim.model import Issue
from lore.sim.server import Simulator

P = "/api/v4/projects/acme%2Fplatform"
ADMIN = "/__sim/projects/acme%2Fplatform"


def _old_issue(sim: Simulator) -> Issue:
    """An open issue last updated well over a minute before the clock."""
    project = sim.dataset.find_project("acme/platform")
    return next(
        i
        for i in project.issues.values()
        if i.state == "opened" and sim.dataset.now_ms - i.updated_ms > 3_600_000
    )


def test_notes_touch_their_item_at_most_once_a_minute(fresh_sim: Simulator) -> None:
    issue = _old_issue(fresh_sim)
    url = f"{P}/issues/{issue.iid}"
    with client_for(fresh_sim) as api, httpx.Client(base_url=fresh_sim.url) as admin:
        before = api.get(url).json()
        # The item is old: the first note touches it.
        r = admin.post(f"{ADMIN}/issues/{issue.iid}/notes", json={"body": "first"})
        assert r.status_code == 201
        first = api.get(url).json()
        assert first["updated_at"] > before["updated_at"]
        assert first["updated_at"] == r.json()["note"]["created_at"]
        # 30 s later: the item was updated less than a minute ago, no touch.
        admin.post("/__sim/clock", json={"advance_seconds": 30})
        admin.post(f"{ADMIN}/issues/{issue.iid}/notes", json={"body": "second"})
        second = api.get(url).json()
        assert second["updated_at"] == first["updated_at"]
        assert second["user_notes_count"] == before["user_notes_count"] + 2
        # The note is listed all the same.
        bodies = [n["body"] for n in all_pages(api, f"{url}/notes")]
        assert "second" in bodies
        # A minute after the last touch: touched again.
        admin.post("/__sim/clock", json={"advance_seconds": 31})
        r = admin.post(f"{ADMIN}/issues/{issue.iid}/notes", json={"body": "third"})
        assert api.get(url).json()["updated_at"] == r.json()["note"]["created_at"]
        # An edit is always a touch; a note right after it is not.
        admin.patch(f"{ADMIN}/issues/{issue.iid}", json={"title": "Edited"})
        edited = api.get(url).json()["updated_at"]
        admin.post(f"{ADMIN}/issues/{issue.iid}/notes", json={"body": "fourth"})
        assert api.get(url).json()["updated_at"] == edited


def test_deleting_a_note_never_touches_the_item(fresh_sim: Simulator) -> None:
    issue = _old_issue(fresh_sim)
    url = f"{P}/issues/{issue.iid}"
    with client_for(fresh_sim) as api, httpx.Client(base_url=fresh_sim.url) as admin:
        fresh_sim.admin.add_note("acme/platform", "issue", issue.iid, body="to delete")
        before = api.get(url).json()
        notes = all_pages(api, f"{url}/notes")
        victim = next(n for n in notes if n["body"] == "to delete")
        admin.post("/__sim/clock", json={"advance_seconds": 3600})
        r = admin.delete(f"{ADMIN}/issues/{issue.iid}/notes/{victim['id']}")
        assert r.status_code == 200 and r.json()["deleted"] is True
        after = api.get(url).json()
        assert after["updated_at"] == before["updated_at"]
        assert after["user_notes_count"] == before["user_notes_count"] - 1
        ids = {n["id"] for n in all_pages(api, f"{url}/notes")}
        assert victim["id"] not in ids and len(ids) == len(notes) - 1
        discussions = all_pages(api, f"{url}/discussions")
        assert all(d["notes"] for d in discussions)  # an emptied thread disappears
        assert admin.delete(f"{ADMIN}/issues/{issue.iid}/notes/{victim['id']}").status_code == 404
        # on MRs too, in Python
        mr = fresh_sim.dataset.find_project("acme/platform").mrs[1]
        note = next(n for d in mr.discussions for n in d.notes if not n.system)
        stamp = mr.updated_ms
        fresh_sim.admin.delete_note("acme/platform", "mr", 1, note.id)
        assert mr.updated_ms == stamp
        assert note.id not in {n.id for d in mr.discussions for n in d.notes}


def test_a_status_change_only_adds_a_system_note(fresh_sim: Simulator) -> None:
    issue = _old_issue(fresh_sim)
    url = f"{P}/issues/{issue.iid}"
    with client_for(fresh_sim) as api:
        fresh_sim.admin.edit_issue("acme/platform", issue.iid, title="Fresh title")
        touched = api.get(url).json()
        fresh_sim.admin.edit_issue("acme/platform", issue.iid, status="In progress")
        after = api.get(url).json()
        # Within the minute: no touch, only the system note; not a user note.
        assert after["updated_at"] == touched["updated_at"]
        assert after["user_notes_count"] == touched["user_notes_count"]
        notes = all_pages(api, f"{url}/notes")
        status_note = next(n for n in notes if n["body"] == "set status to **In progress**")
        assert status_note["system"] is True
        # A minute later the same kind of change does touch (through its note).
        fresh_sim.admin.set_clock(advance_seconds=61)
        fresh_sim.admin.edit_issue("acme/platform", issue.iid, status="Done")
        later = api.get(url).json()
        assert later["updated_at"] > after["updated_at"]


def test_bulk_touch_gives_items_the_same_updated_at(fresh_sim: Simulator) -> None:
    with client_for(fresh_sim) as api, httpx.Client(base_url=fresh_sim.url) as admin:
        out = fresh_sim.admin.bulk_touch("acme/platform", "issue", [1, 2, 3, 4])
        assert out["touched"] == [1, 2, 3, 4]
        stamps = {api.get(f"{P}/issues/{i}").json()["updated_at"] for i in (1, 2, 3, 4)}
        assert stamps == {out["updated_at"]}
        r = admin.post(
            f"{ADMIN}/bulk_touch",
            json={"kind": "mr", "iids": [1, 2], "at": "2025-06-01T12:30:00.000Z"},
        )
        assert r.status_code == 200
        assert {api.get(f"{P}/merge_requests/{i}").json()["updated_at"] for i in (1, 2)} == {
            "2025-06-01T12:30:00.000Z"
        }
        same = all_pages(api, f"{P}/merge_requests", updated_after="2025-06-01T12:30:00Z")
        assert {m["iid"] for m in same} == {1, 2}
        assert (
            admin.post(f"{ADMIN}/bulk_touch", json={"kind": "mr", "iids": [99999]}).status_code
            == 404
        )


def test_snapshot_is_what_rest_serves(fresh_sim: Simulator) -> None:
    fresh_sim.admin.delete("acme/platform", "issue", 2)
    with client_for(fresh_sim) as api, httpx.Client(base_url=fresh_sim.url) as admin:
        snapshot = admin.get("/__sim/snapshot").json()
        assert snapshot == fresh_sim.admin.snapshot()
        issues = all_pages(api, f"{P}/issues") + all_pages(
            api, "/api/v4/projects/acme%2Ftools%2Fcli/issues"
        )
        mrs = all_pages(api, f"{P}/merge_requests") + all_pages(
            api, "/api/v4/projects/acme%2Ftools%2Fcli/merge_requests"
        )
        assert set(snapshot["issues"]) == {str(i["id"]) for i in issues}
        assert set(snapshot["merge_requests"]) == {str(m["id"]) for m in mrs}
        for item in issues[:15]:
            entry = snapshot["issues"][str(item["id"])]
            assert entry["updated_at"] == item["updated_at"]
            assert entry["user_notes_count"] == item["user_notes_count"]
            assert (entry["project_id"], entry["iid"]) == (item["project_id"], item["iid"])
            notes = all_pages(
                api, f"/api/v4/projects/{item['project_id']}/issues/{item['iid']}/notes"
            )
            assert entry["note_ids"] == sorted(n["id"] for n in notes)
        assert any(
            any(n["system"] for n in all_pages(api, f"{P}/merge_requests/{m['iid']}/notes"))
            for m in mrs[:5]
        )


def test_churn_edits_in_the_background_and_reports(fresh_sim: Simulator) -> None:
    before = fresh_sim.admin.snapshot()
    clock = fresh_sim.dataset.now_ms
    with httpx.Client(base_url=fresh_sim.url) as admin:
        r = admin.post("/__sim/churn", json={"edits_per_second": 80, "seed": 3})
        assert r.status_code == 200 and r.json()["running"] is True
        time.sleep(1.0)
        assert admin.get("/__sim/churn").json()["edits"] > 0
        done = admin.delete("/__sim/churn").json()
    assert done["running"] is False and done["errors"] == 0
    assert 20 <= done["edits"] <= 120
    assert done["edits"] == sum(
        done[k] for k in ("title", "labels", "note", "status", "note_deleted")
    )
    assert done["note"] > 0 and done["title"] + done["labels"] > 0
    assert done["note_touched"] <= done["note"]
    after = fresh_sim.admin.snapshot()
    changed = [k for k, v in after["issues"].items() if before["issues"][k] != v] + [
        k for k, v in after["merge_requests"].items() if before["merge_requests"][k] != v
    ]
    assert changed
    assert fresh_sim.dataset.now_ms >= clock + 900  # the clock moved with wall time
    # Stopped means stopped.
    settled = fresh_sim.admin.snapshot()
    time.sleep(0.2)
    assert fresh_sim.admin.snapshot() == settled
    assert fresh_sim.admin.stop_churn() == {"running": False, "edits": 0}


def test_churn_is_seeded_and_kinds_filter(fresh_sim: Simulator) -> None:
    from lore.sim.churn import Churn

    a = Churn(fresh_sim.admin, 10, seed=5, kinds=("issue",), advance_clock=False)
    kinds = [a.edit_once() for _ in range(40)]
    assert set(kinds) <= {"title", "labels", "note", "status", "note_deleted", "skipped"}
    assert all(kind == "issue" for kind, _ in a.edited_ids)
    assert "status" in kinds  # issues get status changes
    b = Churn(fresh_sim.admin, 10, seed=5, kinds=("mr",), advance_clock=False)
    assert "status" not in [b.edit_once() for _ in range(40)]
    assert all(kind == "mr" for kind, _ in b.edited_ids)


def test_stopping_a_busy_churn_over_http_is_prompt(fresh_sim: Simulator) -> None:
    # The admin request holds the dataset lock while it stops the churn thread, which is
    # always after that lock at this rate: stopping must neither deadlock nor wait it out.
    fresh_sim.admin.start_churn(edits_per_second=2000, seed=1)
    time.sleep(0.3)
    churn = fresh_sim.state.churn
    assert churn is not None
    with httpx.Client(base_url=fresh_sim.url, timeout=10) as admin:
        began = time.monotonic()
        done = admin.delete("/__sim/churn").json()
        assert time.monotonic() - began < 2
    assert done["running"] is False and done["edits"] > 0
    assert not churn._thread.is_alive()


def test_admin_diff_notes_with_and_without_a_line_range(fresh_sim: Simulator) -> None:
    with client_for(fresh_sim) as api:
        url = f"{ADMIN}/merge_requests/1/notes"
        path = api.get(f"{P}/merge_requests/1/diffs").json()[0]["new_path"]
        bare = api.post(
            url, json={"body": "one line", "position": {"new_path": path, "new_line": 4}}
        ).json()["note"]
        assert bare["position"]["line_range"] is None  # as API-created notes on GitLab
        multi = api.post(
            url,
            json={
                "body": "three lines",
                "position": {
                    "new_path": path,
                    "new_line": 4,
                    "line_range": {
                        "start": {"old_line": None, "new_line": 2},
                        "end": {"old_line": None, "new_line": 4},
                    },
                },
            },
        ).json()["note"]
        rng = multi["position"]["line_range"]
        assert (rng["start"]["new_line"], rng["end"]["new_line"]) == (2, 4)
        assert rng["start"]["type"] == rng["end"]["type"] == "new"
        assert rng["start"]["line_code"] != rng["end"]["line_code"]
        bad = api.post(
            url,
            json={
                "body": "x",
                "position": {
                    "new_path": path,
                    "new_line": 4,
                    "line_range": {"start": {"new_line": 2}, "end": {"new_line": 9}},
                },
            },
        )
        assert bad.status_code == 400
