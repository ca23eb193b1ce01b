"""End to end: sync the simulator with the real CLI, then ask `lore who` about the areas
that changed hands; the new owner must come first, in output valid against robot-docs."""

from __future__ import annotations

from typing import Any

import pytest

from lore.core.clock import iso_from_ms

from .test_who_cli import check


@pytest.mark.slow
def test_who_ranks_the_new_owner_of_handed_over_areas_first(lore_env: Any, sim: Any) -> None:
    truth = sim.dataset.truth["areas"]
    handed_over = [a for a in truth if a.get("previous_owner")]
    assert handed_over, "the simulator's ground truth has no handed-over area"
    projects = sorted({a["project"] for a in truth})
    lore_env.write_config(sim.url, projects)
    env = {"GITLAB_TOKEN": sim.token}
    proc = lore_env.run("sync", "--no-embed", extra_env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    now = iso_from_ms(sim.dataset.now_ms)  # the simulator's clock: reproducible ages

    for area in handed_over:
        code, doc = lore_env.robot("who", area["path"], "--project", area["project"], "--now", now)
        assert code == 0, doc
        data = check(doc)
        ranked = [e["username"] for e in data["experts"]]
        assert ranked[0] == area["current_owner"], (area, data["experts"][:3])
        assert data["query"]["match"] == "directory"
        assert data["experts"][0]["evidence"], "the top expert has no evidence"
        old = next((e for e in data["experts"] if e["username"] == area["previous_owner"]), None)
        if old is not None:
            assert old["score"] < data["experts"][0]["score"]

    # The inverse: the new owner's top areas include the one they took over.
    area = handed_over[0]
    code, doc = lore_env.robot("who", "@" + area["current_owner"], "--now", now)
    data = check(doc)
    assert code == 0 and data["query"]["found"]
    assert (area["project"], area["path"]) in {(a["project"], a["path"]) for a in data["areas"]}


def test_at_me_is_the_tokens_owner_recorded_by_sync(lore_env: Any, sim: Any) -> None:
    lore_env.write_config(sim.url, [p.path for p in sim.dataset.projects])
    env = {"GITLAB_TOKEN": sim.token}
    me = sim.dataset.users[sim.dataset.token_user_id].username

    code, doc = lore_env.robot("who", "src/", "--exclude", "@me")  # nothing synced yet
    assert code == 2 and doc["error"]["code"] == "USAGE_ERROR"
    assert "@me" in doc["error"]["message"] and "lore sync" in doc["error"]["actions"]

    proc = lore_env.run("sync", "--no-docs", "--no-embed", extra_env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    asked = sim.stats()["requests_by_route"].get("GET /api/v4/user", 0)
    assert asked == 1

    code, doc = lore_env.robot("who", "@me")
    data = check(doc)
    assert code == 0 and data["query"]["username"] == me and data["query"]["target"] == f"@{me}"

    path = next(a["path"] for a in sim.dataset.truth["areas"])
    code, doc = lore_env.robot("who", path, "--exclude", "@ME", "--exclude", "@someone")
    data = check(doc)
    assert code == 0 and data["params"]["excluded_users"] == [me, "someone"]
    assert me not in {e["username"] for e in data["experts"]}

    # recorded once: an incremental sync does not ask again, --full does
    assert lore_env.run("sync", "--no-docs", "--no-embed", extra_env=env).returncode == 0
    assert sim.stats()["requests_by_route"].get("GET /api/v4/user", 0) == asked
    assert lore_env.run("sync", "--full", "--no-docs", "--no-embed", extra_env=env).returncode == 0
    assert sim.stats()["requests_by_route"].get("GET /api/v4/user", 0) == asked + 1
