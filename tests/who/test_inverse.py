"""`who @user`: the areas a person knows, rolled up to directories."""

from __future__ import annotations

from dataclasses import replace

import pytest

from lore.who import WhoParams, who, who_path, who_user
from lore.who.query import area_of

from .conftest import Store


def test_area_of() -> None:
    assert area_of("src/auth/login/form.py", 2) == "src/auth/"
    assert area_of("src/auth/login/form.py", 1) == "src/"
    assert area_of("src/main.py", 2) == "src/"
    assert area_of("README.md", 2) == "README.md"


@pytest.fixture
def team(store: Store) -> Store:
    """alice authors in src/auth/ (twice, recently) and reviews bob's src/api/ MR, which
    also touches docs/ (not reviewed by her); she discusses carol's old src/db/ MR."""
    store.mr("alice", ["src/auth/login.py", "src/auth/session/token.py"], days=0)
    store.mr("alice", ["src/auth/login.py"], days=180)
    api = store.mr("bob", ["src/api/routes.py", "docs/api.md"], days=0)
    store.note(api, "alice", days=0, diff_path="src/api/routes.py")
    db = store.mr("carol", ["src/db/models.py"], days=400)
    store.note(db, "alice", days=400)
    store.mr("alice", ["lib/auth/x.py"], days=0, project="g/other")
    return store


def test_inverse_ranks_areas_with_exact_scores(team: Store, params: WhoParams) -> None:
    data = who_user(team.conn, "@alice", params)
    assert data["mode"] == "user"
    assert data["query"]["found"] is True
    got = {(a["project"], a["path"]): a["score"] for a in data["areas"]}
    assert got == {
        ("g/repo", "src/auth/"): pytest.approx(1.0 + 0.5),
        ("g/other", "lib/auth/"): pytest.approx(1.0),
        ("g/repo", "src/api/"): pytest.approx(0.6),
        # no ("g/repo", "docs/"): a diff note on routes.py reviews that path only; it is
        # not a discussion of the MR's other paths
        ("g/repo", "src/db/"): pytest.approx(0.2 * 0.5 ** (400 / 180)),
    }
    first = data["areas"][0]
    assert (first["path"], first["rank"]) == ("src/auth/", 1)
    assert first["breakdown"]["authored_merged"]["count"] == 2
    assert [e["ref"] for e in first["evidence"]] == ["g/repo!1", "g/repo!2"]
    assert first["share"] == pytest.approx(1.5 / data["total_score"])
    db = next(a for a in data["areas"] if a["path"] == "src/db/")
    assert db["stale"] is True and db["breakdown"]["discussed"]["count"] == 1


def test_inverse_agrees_with_the_forward_query(team: Store, params: WhoParams) -> None:
    areas = {
        a["path"]: a["score"]
        for a in who_user(team.conn, "alice", params)["areas"]
        if a["project"] == "g/repo"
    }
    for path, score in areas.items():
        forward = who_path(team.conn, path, replace(params, project="g/repo"))
        mine = next(e for e in forward["experts"] if e["username"] == "alice")
        assert mine["score"] == pytest.approx(score), path


def test_inverse_depth_limit_project_and_stale(team: Store, params: WhoParams) -> None:
    data = who_user(team.conn, "@alice", replace(params, depth=1, limit=1))
    assert [(a["path"], a["score"]) for a in data["areas"]] == [
        ("src/", pytest.approx(1.5 + 0.6 + 0.2 * 0.5 ** (400 / 180)))
    ]
    assert data["total_areas"] == 2  # src/ and g/other's lib/ (docs/ was never reviewed)
    only = who_user(team.conn, "@alice", replace(params, project="g/other"))
    assert [a["path"] for a in only["areas"]] == ["lib/auth/"]
    fresh = who_user(team.conn, "@alice", replace(params, hide_stale=True))
    assert "src/db/" not in {a["path"] for a in fresh["areas"]}
    assert fresh["hidden_stale"] == 1


def test_inverse_all_stale_and_unknown_user(store: Store, params: WhoParams) -> None:
    store.mr("old", ["src/a/x.py"], days=500)
    data = who(store.conn, "@OLD", params)  # usernames are case-insensitive
    assert data["query"]["username"] == "OLD" and data["query"]["found"]
    assert data["all_stale"] and "not been active on any path for 500 days" in data["note"]
    missing = who(store.conn, "@nobody", params)
    assert missing["areas"] == [] and missing["query"]["found"] is False
    assert "no user @nobody" in missing["note"]
