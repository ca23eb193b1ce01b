"""Scoring on hand-built stores: exact numbers for every curve, staleness, exclusion,
weights, filters and the per-MR rules."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from lore.core.config import WhoConfig, WhoWeights
from lore.core.errors import ErrorCode, LoreError
from lore.who import WhoParams, apply_overrides, params_from_config, who, who_path
from lore.who.decay import decay

from .conftest import NOW_MS, Store


def scores(data: dict[str, Any]) -> dict[str, float]:
    return {e["username"]: e["score"] for e in data["experts"]}


def ranking(data: dict[str, Any]) -> list[str]:
    return [e["username"] for e in data["experts"]]


@pytest.fixture
def basic(store: Store) -> Store:
    """alice merged !1 180 days ago; bob reviewed it 360 days ago; carol's !2 (still open)
    was updated 90 days ago and bob commented on it today; dave commented on !1 90 days ago."""
    mr1 = store.mr("alice", ["src/auth/login.py", "README.md"], days=180)
    store.note(mr1, "bob", days=360, diff_path="src/auth/login.py")
    mr2 = store.mr("carol", ["src/auth/login.py"], days=90, state="opened")
    store.note(mr2, "bob", days=0)
    store.note(mr1, "dave", days=90)
    return store


def test_decay_curves() -> None:
    assert decay("exponential", 0, 180, 730) == 1.0
    assert decay("exponential", 180, 180, 730) == 0.5
    assert decay("exponential", 540, 180, 730) == 0.125
    assert decay("linear", 365, 180, 730) == 0.5
    assert decay("linear", 1000, 180, 730) == 0.0
    assert decay("none", 10_000, 180, 730) == 1.0
    with pytest.raises(ValueError):
        decay("cubic", 1, 1, 1)


def test_exponential_numbers_exact(basic: Store, params: WhoParams) -> None:
    data = who_path(basic.conn, "src/auth/login.py", params)
    assert data["query"]["match"] == "file"
    got = scores(data)
    assert got == {
        "alice": pytest.approx(1.0 * 0.5),
        "bob": pytest.approx(0.6 * 0.25 + 0.2 * 1),  # reviewed !1, discussed !2
        "carol": pytest.approx(0.4 * 0.5**0.5),
        "dave": pytest.approx(0.2 * 0.5**0.5),
    }
    assert ranking(data) == ["alice", "bob", "carol", "dave"]
    total = sum(got.values())
    assert data["total_score"] == pytest.approx(total)
    assert data["mrs_considered"] == 2
    alice = data["experts"][0]
    assert alice["rank"] == 1
    assert alice["share"] == pytest.approx(0.5 / total)
    assert alice["breakdown"]["authored_merged"] == {"score": pytest.approx(0.5), "count": 1}
    assert alice["last_activity_age_days"] == 180
    assert alice["evidence"][0]["ref"] == "g/repo!1"
    assert alice["evidence"][0]["kinds"] == ["authored_merged"]
    bob = data["experts"][1]
    assert bob["breakdown"]["reviewed"] == {"score": pytest.approx(0.15), "count": 1}
    assert bob["breakdown"]["discussed"] == {"score": pytest.approx(0.2), "count": 1}
    assert [e["ref"] for e in bob["evidence"]] == ["g/repo!2", "g/repo!1"]
    assert bob["last_activity_age_days"] == 0
    assert data["experts"][2]["breakdown"]["authored_unmerged"]["count"] == 1
    assert data["params"]["curve"] == "exponential"
    assert data["params"]["half_life_days"] == 180


def test_linear_numbers_exact(basic: Store, params: WhoParams) -> None:
    data = who_path(
        basic.conn, "src/auth/login.py", replace(params, curve="linear", window_days=720)
    )
    assert scores(data) == {
        "alice": pytest.approx(1 - 180 / 720),
        "bob": pytest.approx(0.6 * (1 - 360 / 720) + 0.2),
        "carol": pytest.approx(0.4 * (1 - 90 / 720)),
        "dave": pytest.approx(0.2 * (1 - 90 / 720)),
    }


def test_none_numbers_exact(basic: Store, params: WhoParams) -> None:
    data = who_path(basic.conn, "src/auth/login.py", replace(params, curve="none"))
    assert scores(data) == {
        "alice": 1.0,
        "bob": pytest.approx(0.8),
        "carol": pytest.approx(0.4),
        "dave": pytest.approx(0.2),
    }
    assert ranking(data) == ["alice", "bob", "carol", "dave"]


def test_one_mr_credits_a_person_once_under_the_strongest_role(
    store: Store, params: WhoParams
) -> None:
    mr = store.mr("alice", ["x.py"], days=0)
    store.note(mr, "bob", days=0, diff_path="x.py")
    store.note(mr, "bob", days=0)
    store.note(mr, "bob", days=0, system=True, body="approved this merge request")
    store.note(mr, "carol", days=360, diff_path="x.py")  # 0.6 · 0.25 = 0.15
    store.note(mr, "carol", days=0)  # 0.2 · 1 = 0.2: worth more after decay
    data = who_path(store.conn, "x.py", params)
    assert scores(data) == {"alice": 1.0, "bob": pytest.approx(0.6), "carol": pytest.approx(0.2)}
    bob = data["experts"][1]
    assert {k: v["count"] for k, v in bob["breakdown"].items() if v["count"]} == {"reviewed": 1}
    assert bob["evidence"][0]["kinds"] == ["reviewed", "approved", "discussed"]
    carol = data["experts"][2]
    assert {k: v["count"] for k, v in carol["breakdown"].items() if v["count"]} == {"discussed": 1}
    assert carol["last_activity_age_days"] == 0


def test_half_life_changes_numbers(basic: Store, params: WhoParams) -> None:
    data = who_path(basic.conn, "src/auth/login.py", replace(params, half_life_days=90))
    assert scores(data)["alice"] == pytest.approx(0.25)


def test_linear_beyond_window_scores_zero_but_is_listed(store: Store, params: WhoParams) -> None:
    store.mr("old", ["a.py"], days=1000)
    data = who_path(store.conn, "a.py", replace(params, curve="linear", window_days=730))
    assert scores(data) == {"old": 0.0}
    assert data["experts"][0]["share"] == 0.0
    assert data["experts"][0]["stale"] is True


def test_chatty_review_counts_once_per_mr_from_its_newest_note(
    store: Store, params: WhoParams
) -> None:
    mr = store.mr("alice", ["x.py"], days=10)
    for days in (300, 200, 100):
        store.note(mr, "bob", days=days, diff_path="x.py")
    data = who_path(store.conn, "x.py", params)
    bob = next(e for e in data["experts"] if e["username"] == "bob")
    assert bob["score"] == pytest.approx(0.6 * 0.5 ** (100 / 180))
    assert bob["breakdown"]["reviewed"]["count"] == 1
    assert bob["last_activity_age_days"] == 100


def test_author_and_system_notes_do_not_count(store: Store, params: WhoParams) -> None:
    mr = store.mr("alice", ["x.py"], days=0)
    store.note(mr, "alice", days=0, diff_path="x.py")
    store.note(mr, "alice", days=0)
    store.note(mr, "bob", days=0, system=True)
    data = who_path(store.conn, "x.py", params)
    assert scores(data) == {"alice": 1.0}
    assert data["experts"][0]["breakdown"]["reviewed"]["count"] == 0


def test_diffnote_on_another_file_is_not_discussion_of_this_one(
    store: Store, params: WhoParams
) -> None:
    # A diff note reviews its own path; it says nothing about the MR's other paths.
    mr = store.mr("alice", ["x.py", "y.py"], days=0)
    store.note(mr, "bob", days=0, diff_path="y.py")
    x = who_path(store.conn, "x.py", params)
    y = who_path(store.conn, "y.py", params)
    assert scores(x) == {"alice": 1.0}
    assert scores(y)["bob"] == pytest.approx(0.6)
    # An ordinary comment on the MR is discussion of every path it touched.
    store.note(mr, "carol", days=0)
    x = who_path(store.conn, "x.py", params)
    assert scores(x)["carol"] == pytest.approx(0.2) and "bob" not in scores(x)


def test_unmerged_mrs_use_their_own_weight_and_update_date(store: Store, params: WhoParams) -> None:
    store.mr("alice", ["x.py"], days=180, state="opened")
    store.mr("bob", ["x.py"], days=0, state="closed")
    data = who_path(store.conn, "x.py", params)
    assert scores(data) == {"alice": pytest.approx(0.4 * 0.5), "bob": pytest.approx(0.4)}
    assert data["experts"][0]["breakdown"]["authored_unmerged"]["count"] == 1


def test_approvals_count_and_self_approval_does_not(store: Store, params: WhoParams) -> None:
    mr = store.mr("alice", ["x.py"], days=0)
    store.approval(mr, "bob", days=180)
    store.approval(mr, "alice", days=0)
    store.approval(mr, "carol", days=None)  # no date: the MR's merge date
    data = who_path(store.conn, "x.py", params)
    assert scores(data) == {
        "alice": 1.0,
        "bob": pytest.approx(0.5 * 0.5),
        "carol": pytest.approx(0.5),
    }
    assert data["experts"][1]["breakdown"]["approved"]["count"] == 1


def test_approval_system_notes_count_once_per_mr(store: Store, params: WhoParams) -> None:
    mr = store.mr("alice", ["x.py"], days=0)
    approved = "approved this merge request"
    store.note(mr, "bob", days=360, system=True, body=approved)
    store.note(mr, "bob", days=180, system=True, body=approved)  # re-approved: newest counts
    store.note(mr, "alice", days=0, system=True, body=approved)
    store.note(mr, "carol", days=0, system=True, body="approved this merge request!")  # no
    store.approval(mr, "bob", days=200)  # the same approval from the API table
    data = who_path(store.conn, "x.py", params)
    assert scores(data) == {"alice": 1.0, "bob": pytest.approx(0.5 * 0.5)}
    assert data["experts"][1]["breakdown"]["approved"]["count"] == 1
    mine = who(store.conn, "@bob", params)
    assert mine["areas"][0]["breakdown"]["approved"] == {"score": pytest.approx(0.25), "count": 1}


def test_directory_prefix_counts_an_mr_once(store: Store, params: WhoParams) -> None:
    store.mr("alice", ["src/auth/a.py", "src/auth/b.py", "src/auth/sub/c.py"], days=0)
    store.mr("bob", ["src/authz/a.py"], days=0)  # a sibling with the same prefix string
    for target in ("src/auth", "src/auth/", "./src/auth/"):
        data = who_path(store.conn, target, params)
        assert data["query"]["match"] == "directory"
        assert data["query"]["path"] == "src/auth/"
        assert scores(data) == {"alice": 1.0}
        assert data["experts"][0]["breakdown"]["authored_merged"]["count"] == 1
    whole = who_path(store.conn, ".", params)
    assert set(scores(whole)) == {"alice", "bob"}


def test_unknown_path_is_empty_with_note(store: Store, params: WhoParams) -> None:
    store.mr("alice", ["x.py"], days=0)
    data = who_path(store.conn, "nope/missing.py", params)
    assert data["experts"] == []
    assert data["query"]["match"] == "none"
    assert "no merge request" in data["note"]


def test_empty_store_and_missing_store_say_sync(store: Store, params: WhoParams) -> None:
    assert "lore sync" in who_path(store.conn, "x.py", params)["note"]
    data = who(None, "x.py", params)
    assert data["experts"] == [] and "lore sync" in data["note"]
    assert who(None, "@alice", params)["areas"] == []


def test_staleness_flag_and_all_stale_note(store: Store, params: WhoParams) -> None:
    store.mr("alice", ["x.py"], days=400)
    store.mr("bob", ["x.py"], days=500)
    data = who_path(store.conn, "x.py", params)
    assert [e["stale"] for e in data["experts"]] == [True, True]
    assert data["all_stale"] is True
    assert data["note"].startswith("no one active on this path for 400 days")
    hidden = who_path(store.conn, "x.py", replace(params, hide_stale=True))
    assert hidden["experts"] == []
    assert hidden["hidden_stale"] == 2
    assert "no one active on this path for 400 days" in hidden["note"]
    assert "2 stale hidden" in hidden["note"]
    lenient = who_path(store.conn, "x.py", replace(params, stale_days=450))
    assert [e["stale"] for e in lenient["experts"]] == [False, True]
    assert lenient["note"] is None


def test_hide_stale_keeps_active_experts_and_reranks(store: Store, params: WhoParams) -> None:
    for _ in range(5):  # 5 · 0.5^(370/180) ≈ 1.21 beats 0.5^(10/180) ≈ 0.96
        store.mr("old", ["x.py"], days=370)
    store.mr("new", ["x.py"], days=10)
    shown = who_path(store.conn, "x.py", params)
    assert ranking(shown) == ["old", "new"]
    assert shown["experts"][0]["stale"] and not shown["experts"][1]["stale"]
    data = who_path(store.conn, "x.py", replace(params, hide_stale=True))
    assert ranking(data) == ["new"]
    assert data["experts"][0]["rank"] == 1
    assert data["hidden_stale"] == 1
    assert data["note"] is None


def test_exclusions(store: Store, params: WhoParams) -> None:
    for name, bot in [
        ("alice", False),
        ("talbot", False),
        ("renovate-bot", False),
        ("dependabot[bot]", False),
        ("project_12_bot_3f", False),
        ("gitlab-ci", True),
    ]:
        store.person(name, is_bot=bot)
        store.mr(name, ["x.py"], days=0)
    patterns = tuple(WhoConfig().bot_patterns)
    base = replace(params, bot_patterns=patterns)
    everyone = who_path(store.conn, "x.py", base)
    assert len(everyone["experts"]) == 6
    flags = {e["username"]: e["is_bot"] for e in everyone["experts"]}
    assert flags == {
        "alice": False,
        "talbot": False,
        "renovate-bot": True,
        "dependabot[bot]": True,
        "project_12_bot_3f": True,
        "gitlab-ci": True,
    }
    no_bots = who_path(store.conn, "x.py", replace(base, exclude_bots=True))
    assert sorted(ranking(no_bots)) == ["alice", "talbot"]
    assert no_bots["excluded_people"] == 4
    params2 = apply_overrides(base, exclude_bots=True, exclude=["@Alice"])
    only = who_path(store.conn, "x.py", params2)
    assert ranking(only) == ["talbot"]
    params3 = apply_overrides(base, exclude=["@alice,@talbot"], exclude_bots=True)
    nobody = who_path(store.conn, "x.py", params3)
    assert nobody["experts"] == [] and "excluded" in nobody["note"]


def test_weights_from_config_and_flags(store: Store) -> None:
    mr = store.mr("alice", ["x.py"], days=0)
    store.note(mr, "bob", days=0, diff_path="x.py")
    default = params_from_config(WhoConfig(), NOW_MS)
    assert ranking(who_path(store.conn, "x.py", default)) == ["alice", "bob"]
    cfg = WhoConfig(weights=WhoWeights(reviewed=2.0), curve="none")
    from_config = params_from_config(cfg, NOW_MS)
    data = who_path(store.conn, "x.py", from_config)
    assert ranking(data) == ["bob", "alice"]
    assert scores(data)["bob"] == 2.0
    assert data["params"]["weights"]["reviewed"] == 2.0
    assert data["params"]["curve"] == "none"
    flagged = apply_overrides(from_config, weights=["reviewed=0.1", "authored-merged=3"])
    data = who_path(store.conn, "x.py", flagged)
    assert scores(data) == {"alice": 3.0, "bob": pytest.approx(0.1)}
    assert data["params"]["weights"]["authored_merged"] == 3.0
    # A zero weight drops the kind entirely (not even as "activity").
    zero = apply_overrides(from_config, weights=["reviewed=0"])
    assert ranking(who_path(store.conn, "x.py", zero)) == ["alice"]


def test_since_project_and_limit(store: Store, params: WhoParams) -> None:
    store.mr("alice", ["x.py"], days=100)
    store.mr("bob", ["x.py"], days=10)
    store.mr("carol", ["x.py"], days=10, project="g/other")
    recent = apply_overrides(params, since="30d")
    assert sorted(ranking(who_path(store.conn, "x.py", recent))) == ["bob", "carol"]
    dated = apply_overrides(params, since="2024-12-01")
    assert sorted(ranking(who_path(store.conn, "x.py", dated))) == ["bob", "carol"]
    only_repo = apply_overrides(params, project="g/repo")
    data = who_path(store.conn, "x.py", only_repo)
    assert ranking(data) == ["bob", "alice"]
    assert data["query"]["project"] == "g/repo"
    assert ranking(who_path(store.conn, "x.py", apply_overrides(params, limit=1))) == ["bob"]
    with pytest.raises(LoreError) as err:
        who_path(store.conn, "x.py", apply_overrides(params, project="g/nope"))
    assert err.value.code is ErrorCode.NOT_FOUND


def test_contributions_in_the_future_count_as_fresh(store: Store, params: WhoParams) -> None:
    store.mr("alice", ["x.py"], days=-1)  # the server's clock is a little ahead
    assert scores(who_path(store.conn, "x.py", params)) == {"alice": 1.0}


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"half_life_days": -5}, "--half-life"),
        ({"half_life_days": 0}, "--half-life"),
        ({"window_days": -1}, "--window"),
        ({"stale_days": -1}, "--stale-days"),
        ({"curve": "cubic"}, "--curve"),
        ({"weights": ["reviewed"]}, "KIND=VALUE"),
        ({"weights": ["typo=1"]}, "unknown kind"),
        ({"weights": ["reviewed=abc"]}, "not a number"),
        ({"weights": ["reviewed=-1"]}, ">= 0"),
        ({"weights": ["reviewed=nan"]}, ">= 0"),
        ({"limit": 0}, "--limit"),
        ({"since": "last tuesday"}, "--since"),
        ({"now": "soon"}, "--now"),
    ],
)
def test_malformed_parameters_are_usage_errors(
    params: WhoParams, kwargs: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(LoreError) as err:
        apply_overrides(params, **kwargs)
    assert err.value.code is ErrorCode.USAGE_ERROR
    assert fragment in err.value.message
