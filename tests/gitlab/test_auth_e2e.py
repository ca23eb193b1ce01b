"""`lore sync` end to end with GitLab's auth answers: an expired token shows GitLab's
error_description, a token without read_api names the scope, and a 403 on the MR list
(MRs disabled) skips that resource instead of failing the sync as a bad token."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from lore.sim.server import Simulator
from lore_testkit import LoreEnv

SMALL = {"projects": 1, "issues": 8, "mrs": 4}


@pytest.fixture
def small_sim() -> Iterator[Simulator]:
    with Simulator.start(preset="small", seed=7, **SMALL) as server:
        yield server


def _setup(lore_env: LoreEnv, sim: Simulator) -> dict[str, str]:
    lore_env.write_config(
        sim.url, [p.path for p in sim.dataset.projects], extra={"embedding": {"provider": "none"}}
    )
    return {"GITLAB_TOKEN": sim.token}


def test_expired_token_shows_error_description(lore_env: LoreEnv, small_sim: Simulator) -> None:
    env = _setup(lore_env, small_sim)
    small_sim.configure_faults([{"route": "*", "kind": "401_expired"}])
    code, doc = lore_env.robot("sync", extra_env=env)
    assert code == 6 and doc["error"]["code"] == "AUTH_FAILED", doc
    assert "Token is expired" in doc["error"]["message"]
    assert "invalid_token" not in doc["error"]["message"]
    assert small_sim.token not in json.dumps(doc)


def test_missing_scope_is_named(lore_env: LoreEnv, small_sim: Simulator) -> None:
    env = _setup(lore_env, small_sim)
    small_sim.configure_faults([{"route": "project", "kind": "403_scope"}])
    code, doc = lore_env.robot("sync", extra_env=env)
    assert code == 6 and doc["error"]["code"] == "AUTH_FAILED", doc
    assert "read_api" in doc["error"]["message"]


def test_403_on_the_mr_list_skips_mrs_and_keeps_issues(lore_env: LoreEnv) -> None:
    with Simulator.start(preset="small", seed=7, **SMALL) as sim:
        path = sim.dataset.projects[0].path
        sim.admin.set_features(path, merge_requests="disabled")
        env = _setup(lore_env, sim)
        code, doc = lore_env.robot("sync", extra_env=env)
    assert code == 0, doc
    text = json.dumps(doc["data"])
    assert "not available for this project" in text
    import sqlite3

    conn = sqlite3.connect(lore_env.data_dir / "lore.db")
    try:
        assert conn.execute("SELECT count(*) FROM issues").fetchone()[0] == SMALL["issues"]
        assert conn.execute("SELECT count(*) FROM merge_requests").fetchone()[0] == 0
    finally:
        conn.close()
