"""lore.query.items against real SQLite stores: filters, sorting, limits, references,
ambiguity and the full item view."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from lore.core.errors import ErrorCode, LoreError
from lore.core.refs import ItemRef
from lore.query.filters import ItemFilters, parse_since
from lore.query.items import get_item, item_summaries, list_items, resolve_ref
from lore.query.store import open_for_reading

from .conftest import NOW_MS, StoreBuilder, ago, build_standard

Std = tuple[sqlite3.Connection, dict[str, int]]


def refs(conn: sqlite3.Connection, kind: str, **filters: object) -> list[str]:
    data = list_items(conn, kind, ItemFilters(**filters))  # type: ignore[arg-type]
    return [item["ref"] for item in data["items"]]


# -- lists ---------------------------------------------------------------------------------


def test_issues_default_open_most_recently_updated_first(standard: Std) -> None:
    conn, _ = standard
    data = list_items(conn, "issue", ItemFilters())
    assert [i["ref"] for i in data["items"]] == [
        "acme/web#12",
        "acme/platform#1",
        "acme/platform#2",
        "acme/platform#12",
        "acme/web#5",
    ]
    assert data["total"] == data["count"] == 5
    assert data["kind"] == "issue"
    assert data["hints"] == []
    assert data["filters"]["state"] == "opened" and data["filters"]["order"] == "desc"


def test_issue_summary_shape(standard: Std) -> None:
    conn, ids = standard
    [item] = item_summaries(conn, "issue", [ids["acme/platform#1"]])
    assert item["ref"] == "acme/platform#1"
    assert item["project"] == "acme/platform" and item["iid"] == 1
    assert item["author"] == "alice"
    assert item["assignees"] == ["bob"]
    assert item["labels"] == ["bug", "frontend"]
    assert item["milestone"] == "v2.0"
    assert item["status"] == {"name": "In progress", "category": "in_progress", "color": "#1f75cb"}
    assert item["web_url"] == "https://gitlab.example.com/acme/platform/-/issues/1"


def test_mr_summary_shape(standard: Std) -> None:
    conn, ids = standard
    [mr] = item_summaries(conn, "mr", [ids["acme/platform!2"]])
    assert mr["ref"] == "acme/platform!2"
    assert mr["state"] == "merged" and mr["merged_by"] == "alice" and mr["merged_at"]
    assert mr["reviewers"] == ["bob"] and mr["draft"] is False
    assert mr["source_branch"] == "feature" and mr["target_branch"] == "main"
    assert "status" not in mr


def test_item_summaries_keep_order_and_skip_unknown_ids(standard: Std) -> None:
    conn, ids = standard
    wanted = [ids["acme/web#5"], 999_999, ids["acme/platform#1"], ids["acme/web#5"]]
    assert [i["ref"] for i in item_summaries(conn, "issue", wanted)] == [
        "acme/web#5",
        "acme/platform#1",
    ]
    assert item_summaries(conn, "issue", []) == []


def test_state_filters(standard: Std) -> None:
    conn, _ = standard
    assert refs(conn, "issue", state="closed") == ["acme/platform#3"]
    assert len(refs(conn, "issue", state="all")) == 6
    assert refs(conn, "issue", state="open") == refs(conn, "issue")  # gh spelling accepted
    assert refs(conn, "mr") == ["acme/platform!1"]
    assert refs(conn, "mr", state="merged") == ["acme/platform!2"]
    assert refs(conn, "mr", state="closed") == ["acme/web!3"]
    assert refs(conn, "mr", state="locked") == ["acme/web!4"]
    assert len(refs(conn, "mr", state="all")) == 4


def test_labels_must_all_match_case_insensitively(standard: Std) -> None:
    conn, _ = standard
    assert refs(conn, "issue", state="all", labels=["bug"]) == [
        "acme/web#12",
        "acme/platform#1",
        "acme/platform#3",
    ]
    assert refs(conn, "issue", state="all", labels=["BUG", "frontend"]) == ["acme/platform#1"]
    assert refs(conn, "issue", state="all", labels=["bug", "feature"]) == []


def test_people_filters_accept_at_sign_and_any_case(standard: Std) -> None:
    conn, _ = standard
    assert refs(conn, "issue", author="@Alice") == ["acme/web#12", "acme/platform#1"]
    assert refs(conn, "issue", state="all", assignee="carol") == ["acme/platform#3"]
    assert refs(conn, "mr", state="all", reviewer="alice") == ["acme/platform!1"]
    assert refs(conn, "mr", state="all", assignee="bob") == ["acme/platform!1"]
    assert refs(conn, "mr", state="all", author="carol") == ["acme/platform!2"]


def test_unknown_user_gives_empty_list_with_near_miss_hint(standard: Std) -> None:
    conn, _ = standard
    data = list_items(conn, "issue", ItemFilters(author="alcie"))
    assert data["items"] == [] and data["total"] == 0
    assert any("'alcie'" in h and "did you mean 'alice'" in h for h in data["hints"])


def test_unknown_label_hint(standard: Std) -> None:
    conn, _ = standard
    data = list_items(conn, "issue", ItemFilters(labels=["bgu"]))
    assert data["total"] == 0
    assert any("'bgu'" in h and "'bug'" in h for h in data["hints"])


def test_empty_open_list_says_other_states_match(standard: Std) -> None:
    conn, _ = standard
    data = list_items(conn, "issue", ItemFilters(author="carol", labels=["bug"]))
    assert data["total"] == 0
    assert any("1 closed" in h and "--state all" in h for h in data["hints"])


def test_since_filters_updated_at(standard: Std) -> None:
    conn, _ = standard
    since = parse_since("2d", NOW_MS)
    assert refs(conn, "issue", state="all", since=since) == ["acme/web#12", "acme/platform#1"]
    assert refs(conn, "issue", state="all", since=parse_since("2025-05-20", NOW_MS)) == [
        "acme/web#12",
        "acme/platform#1",
        "acme/platform#2",
        "acme/platform#3",
    ]


def test_milestone_search_and_draft(standard: Std) -> None:
    conn, _ = standard
    assert refs(conn, "issue", milestone="V1.0") == ["acme/web#5"]
    assert refs(conn, "issue", state="all", search="SHARED") == [
        "acme/web#12",
        "acme/platform#12",
    ]
    # LIKE wildcards in the search text are literal.
    assert refs(conn, "issue", search="100%") == ["acme/web#5"]
    assert refs(conn, "issue", search="f_here") == ["acme/web#5"]
    assert refs(conn, "issue", search="_") == ["acme/web#5"]
    assert refs(conn, "mr", state="all", draft=True) == ["acme/platform!1"]
    assert len(refs(conn, "mr", state="all", draft=False)) == 3


def test_projects_by_path_suffix_and_case(standard: Std) -> None:
    conn, _ = standard
    data = list_items(conn, "issue", ItemFilters(projects=["web"]))
    assert [i["ref"] for i in data["items"]] == ["acme/web#12", "acme/web#5"]
    assert data["filters"]["projects"] == ["acme/web"]
    assert refs(conn, "issue", projects=["ACME/Platform", "acme/web"], state="closed") == [
        "acme/platform#3",
    ]


def test_unknown_project_is_not_found_listing_known_ones(standard: Std) -> None:
    conn, _ = standard
    with pytest.raises(LoreError) as exc:
        list_items(conn, "issue", ItemFilters(projects=["acme/platfrom"]))
    err = exc.value
    assert err.code is ErrorCode.NOT_FOUND
    assert err.details is not None
    assert err.details["candidates"][0] == "acme/platform"
    assert set(err.details["known_projects"]) == {"acme/platform", "acme/web"}
    assert "did you mean 'acme/platform'" in (err.suggestion or "")


def test_ambiguous_project_suffix(builder: StoreBuilder) -> None:
    builder.project("one/app")
    builder.project("two/app")
    with pytest.raises(LoreError) as exc:
        list_items(builder.conn, "issue", ItemFilters(projects=["app"]))
    assert exc.value.code is ErrorCode.AMBIGUOUS
    assert exc.value.details == {"candidates": ["one/app", "two/app"]}


def test_sorting_and_direction(standard: Std) -> None:
    conn, _ = standard
    assert refs(conn, "issue", state="all", sort="created", ascending=True)[:2] == [
        "acme/web#5",
        "acme/platform#3",
    ]
    by_iid = refs(conn, "issue", state="all", sort="iid")
    assert by_iid[:2] == ["acme/web#12", "acme/platform#12"]  # ties: project id desc
    assert by_iid[-1] == "acme/platform#1"
    assert refs(conn, "issue", state="all", sort="updated", ascending=True)[0] == "acme/web#5"


def test_limit_keeps_the_total(standard: Std) -> None:
    conn, _ = standard
    data = list_items(conn, "issue", ItemFilters(state="all", limit=2))
    assert data["count"] == 2 and data["total"] == 6
    assert [i["ref"] for i in data["items"]] == ["acme/web#12", "acme/platform#1"]


@pytest.mark.parametrize(
    ("kind", "filters", "needle"),
    [
        ("issue", ItemFilters(limit=0), "--limit"),
        ("issue", ItemFilters(state="merged"), "--state"),
        ("mr", ItemFilters(state="bogus"), "--state"),
        ("issue", ItemFilters(sort="title"), "--sort"),
        ("issue", ItemFilters(reviewer="bob"), "merge requests only"),
        ("mr", ItemFilters(status="Done"), "issues only"),
    ],
)
def test_invalid_filters_are_usage_errors(
    standard: Std, kind: str, filters: ItemFilters, needle: str
) -> None:
    conn, _ = standard
    with pytest.raises(LoreError) as exc:
        list_items(conn, kind, filters)
    assert exc.value.code is ErrorCode.USAGE_ERROR
    assert needle in exc.value.message


def test_status_filters(standard: Std) -> None:
    conn, _ = standard
    assert refs(conn, "issue", state="all", status="in progress") == ["acme/platform#1"]
    assert refs(conn, "issue", state="all", status_category="IN_PROGRESS") == ["acme/platform#1"]
    assert refs(conn, "issue", state="all", status_category="to-do") == ["acme/platform#2"]
    assert refs(conn, "issue", status="Done") == []  # done issue is closed
    assert refs(conn, "issue", state="all", status="Done") == ["acme/platform#3"]
    data = list_items(conn, "issue", ItemFilters(state="all", status="Blocked"))
    assert any("known: Done, In progress, To do" in h for h in data["hints"])


def test_status_filter_without_status_columns_is_a_usage_error(tmp_path: Path) -> None:
    b = StoreBuilder(tmp_path / "old.db", schema=1)  # before migration 2 added status
    b.project("acme/platform")
    b.issue("acme/platform", 1, "No status here")
    # Issues still list, with status null, when the columns do not exist.
    [item] = list_items(b.conn, "issue", ItemFilters())["items"]
    assert item["status"] is None
    with pytest.raises(LoreError) as exc:
        list_items(b.conn, "issue", ItemFilters(status="Done"))
    assert exc.value.code is ErrorCode.USAGE_ERROR
    assert "lore status" in exc.value.actions
    b.close()


def test_status_filter_with_columns_but_no_data_is_a_usage_error(builder: StoreBuilder) -> None:
    builder.project("acme/platform")
    builder.issue("acme/platform", 1, "Instance without statuses")
    with pytest.raises(LoreError) as exc:
        list_items(builder.conn, "issue", ItemFilters(status_category="done"))
    assert exc.value.code is ErrorCode.USAGE_ERROR


def test_no_database_means_empty_list_with_sync_hint() -> None:
    data = list_items(None, "mr", ItemFilters(projects=["whatever"]))
    assert data["items"] == [] and data["total"] == 0
    assert any("lore sync" in h for h in data["hints"])


def test_empty_mirror_hint(builder: StoreBuilder) -> None:
    data = list_items(builder.conn, "issue", ItemFilters())
    assert data["total"] == 0 and any("lore sync" in h for h in data["hints"])


def test_open_for_reading_never_creates_a_database(tmp_path: Path) -> None:
    missing = tmp_path / "nested" / "lore.db"
    assert open_for_reading(missing) is None
    assert not missing.exists() and not missing.parent.exists()
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()  # a file with no lore schema is "nothing synced"
    assert open_for_reading(empty) is None


# -- references ----------------------------------------------------------------------------


def test_unqualified_ref_in_two_projects_is_ambiguous(standard: Std) -> None:
    conn, _ = standard
    with pytest.raises(LoreError) as exc:
        resolve_ref(conn, "#12")
    err = exc.value
    assert err.code is ErrorCode.AMBIGUOUS and err.exit_code == 13
    assert err.details == {"candidates": ["acme/platform#12", "acme/web#12"]}
    assert err.actions == ["lore show acme/platform#12", "lore show acme/web#12"]


def test_refs_resolve_by_short_qualified_and_url_forms(standard: Std) -> None:
    conn, ids = standard
    assert resolve_ref(conn, "#1").id == ids["acme/platform#1"]
    assert resolve_ref(conn, "acme/web#12").id == ids["acme/web#12"]
    assert resolve_ref(conn, "ACME/Web#12").id == ids["acme/web#12"]
    assert resolve_ref(conn, "!4").ref == "acme/web!4"
    url = "https://gitlab.example.com/acme/platform/-/merge_requests/2#note_5"
    assert resolve_ref(conn, url).id == ids["acme/platform!2"]
    assert resolve_ref(conn, ItemRef("issue", 12, "acme/platform")).ref == "acme/platform#12"


def test_unknown_item_is_not_found_with_suggestions(standard: Std) -> None:
    conn, _ = standard
    with pytest.raises(LoreError) as exc:
        resolve_ref(conn, "#99")
    assert exc.value.code is ErrorCode.NOT_FOUND
    assert "lore sync" in (exc.value.suggestion or "")
    assert exc.value.actions == ["lore sync", "lore issues --state all"]
    with pytest.raises(LoreError) as exc:
        resolve_ref(conn, "acme/web!99")
    assert exc.value.actions[1] == "lore mrs --project acme/web --state all"


def test_not_found_points_at_the_other_kind(standard: Std) -> None:
    conn, _ = standard
    with pytest.raises(LoreError) as exc:
        resolve_ref(conn, "acme/web#4")
    assert "acme/web!4 is a merge request" in exc.value.message


def test_url_of_unmirrored_project_is_not_found(standard: Std) -> None:
    conn, _ = standard
    with pytest.raises(LoreError) as exc:
        resolve_ref(conn, "https://gitlab.example.com/other/repo/-/issues/1")
    assert exc.value.code is ErrorCode.NOT_FOUND
    assert "other/repo" in exc.value.message
    assert exc.value.details is not None
    assert exc.value.details["known_projects"] == ["acme/platform", "acme/web"]


def test_malformed_ref_is_usage_error(standard: Std) -> None:
    conn, _ = standard
    with pytest.raises(LoreError) as exc:
        resolve_ref(conn, "twelve")
    assert exc.value.code is ErrorCode.USAGE_ERROR


def test_ref_without_database_is_not_found() -> None:
    with pytest.raises(LoreError) as exc:
        get_item(None, "#1")
    assert exc.value.code is ErrorCode.NOT_FOUND
    assert exc.value.actions == ["lore sync"]


# -- one item ------------------------------------------------------------------------------


def test_issue_with_discussions_in_order(standard: Std) -> None:
    conn, _ = standard
    item = get_item(conn, "acme/platform#1")
    assert item["description"].startswith("Steps:")
    assert item["status"]["name"] == "In progress"
    threads = item["discussions"]
    # Threads ordered by their first note; replies stay in their thread.
    assert [[n["body"] for n in t["notes"]] for t in threads] == [
        ["added ~bug label"],
        ["I can reproduce it.", "Same here on 17.2"],
        ["Any update?"],
    ]
    assert threads[0]["notes"][0]["system"] is True
    assert threads[0]["individual_note"] is True
    assert item["counts"] == {
        "discussions": 3,
        "notes": 4,
        "system_notes": 1,
        "system_notes_hidden": 0,
        "internal_notes": 0,
        "unresolved_threads": 0,
    }


def test_show_without_system_notes(standard: Std) -> None:
    conn, _ = standard
    item = get_item(conn, "acme/platform#1", include_system=False)
    assert all(not n["system"] for t in item["discussions"] for n in t["notes"])
    assert len(item["discussions"]) == 2  # the thread holding only a system note is gone
    assert item["counts"]["system_notes_hidden"] == 1


def test_mr_with_diff_positions_resolution_and_changes(standard: Std) -> None:
    conn, _ = standard
    mr = get_item(conn, "acme/platform!1")
    assert mr["kind"] == "mr" and mr["draft"] is True
    assert mr["reviewers"] == ["alice", "carol"]
    assert [c["new_path"] for c in mr["changes"]] == [
        "docs/new.md",
        "gone.txt",
        "src/login.py",
        "src/safari.py",
    ]
    renamed = next(c for c in mr["changes"] if c["renamed_file"])
    assert renamed["old_path"] == "docs/old.md"
    review = next(t for t in mr["discussions"] if t["notes"][0]["body"].startswith("This check"))
    assert review["resolvable"] is True and review["resolved"] is False
    assert review["position"] == {
        "old_path": "src/login.py",
        "new_path": "src/login.py",
        "old_line": 40,
        "new_line": 42,
        "line_range": None,
    }
    assert review["notes"][1]["author"] == "bob"
    resolved = next(t for t in mr["discussions"] if t["notes"][0]["body"] == "Old line gone.")
    assert resolved["resolved"] is True
    assert resolved["position"]["new_path"] is None and resolved["position"]["old_line"] == 3
    assert mr["counts"]["unresolved_threads"] == 1


def test_item_with_deleted_author_and_no_threads(builder: StoreBuilder) -> None:
    builder.project("acme/platform")
    builder.issue(
        "acme/platform", 7, "Orphan", author=None, description=None, updated_at=ago(days=1)
    )
    item = get_item(builder.conn, "#7")
    assert item["author"] is None and item["description"] is None
    assert item["discussions"] == [] and item["counts"]["notes"] == 0


def test_standard_dataset_is_reusable(tmp_path: Path) -> None:
    # The builder works on any path, so CLI tests can put the same data in a data dir.
    b = StoreBuilder(tmp_path / "x" / "lore.db")
    ids = build_standard(b)
    b.close()
    conn = open_for_reading(tmp_path / "x" / "lore.db")
    assert conn is not None
    assert resolve_ref(conn, "acme/web#5").id == ids["acme/web#5"]
    conn.close()
