"""What real GitLab sends and the reading side must show (issue 9, point 11): issue types
(tasks hidden from `lore issues` by default, `--type`, `--all-types`), moved issues,
internal notes, multi-line diff notes and MRs whose diff list GitLab cut."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from lore.core.errors import ErrorCode, LoreError
from lore.query.filters import ISSUE_TYPES, ItemFilters, normalize_issue_types
from lore.query.items import get_item, list_items

from .conftest import CLOCK_ENV, StoreBuilder, ago
from .test_query_cli import check_failure, check_success, human, robot

if TYPE_CHECKING:
    from tests.conftest import LoreEnv


def build_types(b: StoreBuilder) -> dict[str, int]:
    """One project with every issue type, a moved issue, internal and multi-line notes,
    and an MR whose diff list overflowed."""
    b.project("acme/ops", last_synced_at=ago(hours=1))
    ids: dict[str, int] = {}
    ids["#1"] = b.issue("acme/ops", 1, "Plain bug", issue_type="issue", updated_at=ago(days=1))
    ids["#2"] = b.issue(
        "acme/ops", 2, "Database down", issue_type="incident", updated_at=ago(days=2)
    )
    ids["#3"] = b.issue(
        "acme/ops", 3, "Write the runbook", issue_type="task", updated_at=ago(days=3)
    )
    ids["#4"] = b.issue(
        "acme/ops", 4, "Login works", issue_type="test_case", updated_at=ago(days=4)
    )
    ids["#5"] = b.issue(
        "acme/ops", 5, "Closed task", issue_type="task", state="closed", updated_at=ago(days=5)
    )
    ids["#6"] = b.issue(
        "acme/ops", 6, "Moved to #1", state="closed", moved_to_id=ids["#1"], updated_at=ago(days=6)
    )
    ids["#7"] = b.issue(
        "acme/ops",
        7,
        "Moved elsewhere",
        state="closed",
        moved_to_id=999_999,
        updated_at=ago(days=7),
    )
    b.thread(
        "issue",
        ids["#7"],
        [
            {
                "author": "alice",
                "body": "moved to acme/other#42",
                "system": True,
                "created_at": ago(days=7),
            }
        ],
        individual=True,
    )
    b.thread(
        "issue",
        ids["#2"],
        [
            {
                "author": "alice",
                "body": "Public update",
                "created_at": ago(days=2),
                "internal": False,
            },
            {
                "author": "bob",
                "body": "Root cause: the admin password",
                "created_at": ago(days=1),
                "internal": True,
            },
        ],
    )
    ids["!1"] = b.mr(
        "acme/ops",
        1,
        "Huge refactor",
        author="bob",
        updated_at=ago(days=1),
        paths=[
            ("src/a.py", "src/a.py", "modified", "diff"),
            ("src/dropped.py", "src/dropped.py", "modified", "diff_note"),
        ],
        diffs_overflow=True,
        changes_count="1000+",
    )
    b.thread(
        "mr",
        ids["!1"],
        [
            {
                "author": "carol",
                "body": "These lines leak a handle.",
                "type": "DiffNote",
                "new_path": "src/a.py",
                "old_path": "src/a.py",
                "new_line": 14,
                "old_line": 12,
                "line_range": {
                    "start": {
                        "line_code": "abc_8_10",
                        "type": "new",
                        "old_line": None,
                        "new_line": 10,
                    },
                    "end": {"line_code": "abc_12_14", "type": None, "old_line": 12, "new_line": 14},
                },
                "created_at": ago(days=1),
            }
        ],
    )
    b.thread(
        "mr",
        ids["!1"],
        [
            {
                "author": "carol",
                "body": "Same here.",
                "type": "DiffNote",
                "new_path": "src/dropped.py",
                "old_path": "src/dropped.py",
                "new_line": 3,
                "old_line": 3,
                "line_range": {
                    "start": {"line_code": "d_2_2", "type": "old", "old_line": 2, "new_line": None},
                    "end": {"line_code": "d_5_5", "type": "new", "old_line": None, "new_line": 5},
                },
                "created_at": ago(days=1),
            }
        ],
    )
    b.mr(
        "acme/ops",
        2,
        "Small fix",
        author="bob",
        updated_at=ago(days=2),
        paths=[("src/b.py", "src/b.py", "modified")],
        diffs_overflow=False,
        changes_count="1",
    )
    return ids


@pytest.fixture
def types_store(builder: StoreBuilder) -> StoreBuilder:
    build_types(builder)
    return builder


def refs(b: StoreBuilder, **kwargs: object) -> list[str]:
    data = list_items(b.conn, "issue", ItemFilters(**kwargs))  # type: ignore[arg-type]
    return [i["ref"] for i in data["items"]]


# -- lists -----------------------------------------------------------------------------------


def test_tasks_are_hidden_by_default_and_counted(types_store: StoreBuilder) -> None:
    data = list_items(types_store.conn, "issue", ItemFilters())
    assert [i["ref"] for i in data["items"]] == ["acme/ops#1", "acme/ops#2", "acme/ops#4"]
    assert [i["issue_type"] for i in data["items"]] == ["issue", "incident", "test_case"]
    assert data["total"] == 3 and data["hidden_by_type"] == {"task": 1}
    assert data["filters"]["hidden_types"] == ["task"] and data["filters"]["types"] == []
    # Counted under the same filters: with --state all the closed task is hidden too.
    data = list_items(types_store.conn, "issue", ItemFilters(state="all"))
    assert data["total"] == 5 and data["hidden_by_type"] == {"task": 2}
    data = list_items(types_store.conn, "issue", ItemFilters(state="all", limit=2))
    assert data["total"] == 5 and data["count"] == 2


def test_type_filter_and_all_types(types_store: StoreBuilder) -> None:
    assert refs(types_store, types=["task"]) == ["acme/ops#3"]
    assert refs(types_store, types=["Incident", "test-case"]) == ["acme/ops#2", "acme/ops#4"]
    assert refs(types_store, types=["issue"], state="all") == [
        "acme/ops#1",
        "acme/ops#6",
        "acme/ops#7",
    ]
    data = list_items(types_store.conn, "issue", ItemFilters(types=["task"], state="all"))
    assert data["total"] == 2 and data["hidden_by_type"] == {}
    assert data["filters"]["types"] == ["task"] and data["filters"]["hidden_types"] == []
    every = list_items(types_store.conn, "issue", ItemFilters(all_types=True))
    assert [i["ref"] for i in every["items"]] == [
        "acme/ops#1",
        "acme/ops#2",
        "acme/ops#3",
        "acme/ops#4",
    ]
    assert every["hidden_by_type"] == {} and every["filters"]["all_types"] is True


def test_empty_list_says_tasks_were_hidden(builder: StoreBuilder) -> None:
    builder.project("acme/ops")
    builder.issue("acme/ops", 1, "Only a task", issue_type="task")
    data = list_items(builder.conn, "issue", ItemFilters())
    assert data["items"] == [] and data["hidden_by_type"] == {"task": 1}
    assert any("1 task hidden by default" in h and "--all-types" in h for h in data["hints"])


def test_unknown_type_is_a_usage_error_with_a_guess() -> None:
    with pytest.raises(LoreError) as exc:
        normalize_issue_types(["incidnet"])
    assert exc.value.code is ErrorCode.USAGE_ERROR
    assert "did you mean 'incident'" in exc.value.message
    assert normalize_issue_types(["incident,Task", "TEST CASE", "tasks"]) == [
        "incident",
        "task",
        "test_case",
    ]
    with pytest.raises(LoreError) as exc:
        list_items(None, "issue", ItemFilters(types=["task"], all_types=True))
    assert exc.value.code is ErrorCode.USAGE_ERROR
    with pytest.raises(LoreError):
        list_items(None, "mr", ItemFilters(types=["task"]))


def test_issue_types_match_what_ingest_knows() -> None:
    from lore.store.ingest import ISSUE_TYPES as STORED

    assert tuple(ISSUE_TYPES) == tuple(STORED)


def test_store_before_issue_types_lists_everything_as_issues(tmp_path: Path) -> None:
    b = StoreBuilder(tmp_path / "old.db", schema=5)
    b.project("acme/ops")
    b.issue("acme/ops", 1, "From before migration 6")
    data = list_items(b.conn, "issue", ItemFilters())
    assert [i["issue_type"] for i in data["items"]] == ["issue"]
    assert data["items"][0]["moved_to_id"] is None and data["hidden_by_type"] == {}
    assert list_items(b.conn, "issue", ItemFilters(types=["incident"]))["items"] == []
    item = get_item(b.conn, "#1")
    assert item["moved_to"] is None
    b.close()


# -- show ------------------------------------------------------------------------------------


def test_show_moved_issue_resolves_the_mirrored_target(types_store: StoreBuilder) -> None:
    ids = {"#1": get_item(types_store.conn, "#1")["id"]}
    item = get_item(types_store.conn, "#6")
    assert item["moved_to_id"] == ids["#1"]
    assert item["moved_to"] == {
        "id": ids["#1"],
        "ref": "acme/ops#1",
        "web_url": "https://gitlab.example.com/acme/ops/-/issues/1",
        "mirrored": True,
    }
    # Not mirrored: the ref comes from GitLab's "moved to …" system note.
    item = get_item(types_store.conn, "#7")
    assert item["moved_to"] == {
        "id": 999_999,
        "ref": "acme/other#42",
        "web_url": "https://gitlab.example.com/acme/other/-/issues/42",
        "mirrored": False,
    }
    assert get_item(types_store.conn, "#1")["moved_to"] is None


def test_show_internal_notes_and_line_ranges(types_store: StoreBuilder) -> None:
    incident = get_item(types_store.conn, "#2")
    assert incident["issue_type"] == "incident"
    notes = incident["discussions"][0]["notes"]
    assert [n["internal"] for n in notes] == [False, True]
    assert incident["counts"]["internal_notes"] == 1
    mr = get_item(types_store.conn, "!1")
    first = mr["discussions"][0]["notes"][0]["position"]
    assert first["line_range"] == {
        "start": {"line_code": "abc_8_10", "type": "new", "old_line": None, "new_line": 10},
        "end": {"line_code": "abc_12_14", "type": None, "old_line": 12, "new_line": 14},
    }
    assert mr["discussions"][0]["position"]["line_range"] == first["line_range"]


def test_show_mr_diff_overflow_and_note_paths(types_store: StoreBuilder) -> None:
    mr = get_item(types_store.conn, "!1")
    assert mr["diffs_overflow"] is True and mr["changes_count"] == "1000+"
    assert [(c["new_path"], c["source"]) for c in mr["changes"]] == [
        ("src/a.py", "diff"),
        ("src/dropped.py", "diff_note"),
    ]
    small = get_item(types_store.conn, "!2")
    assert small["diffs_overflow"] is False and small["changes_count"] == "1"


# -- through the CLI -------------------------------------------------------------------------


@pytest.fixture
def types_mirror(lore_env: LoreEnv) -> dict[str, int]:
    b = StoreBuilder(lore_env.data_dir / "lore.db")
    try:
        return build_types(b)
    finally:
        b.close()


def test_issues_cli_types(lore_env: LoreEnv, types_mirror: dict[str, int]) -> None:
    code, doc = robot(lore_env, "issues")
    data = check_success("lore issues", doc)
    assert code == 0 and [i["issue_type"] for i in data["items"]] == [
        "issue",
        "incident",
        "test_case",
    ]
    assert data["hidden_by_type"] == {"task": 1}
    code, doc = robot(lore_env, "issues", "--type", "task,incident", "-t", "test_case")
    data = check_success("lore issues", doc)
    assert [i["ref"] for i in data["items"]] == ["acme/ops#2", "acme/ops#3", "acme/ops#4"]
    code, doc = robot(lore_env, "issues", "--all-types")
    assert [i["ref"] for i in check_success("lore issues", doc)["items"]] == [
        "acme/ops#1",
        "acme/ops#2",
        "acme/ops#3",
        "acme/ops#4",
    ]
    for args, needle in (
        (["--type", "incidnet"], "did you mean 'incident'"),
        (["--type", "task", "--all-types"], "--all-types"),
    ):
        code, doc = robot(lore_env, "issues", *args)
        error = check_failure("lore issues", code, doc, "USAGE_ERROR")
        assert needle in error["message"]

    proc = human(lore_env, "issues")
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr
    assert "Incident: Database down" in out and "Test case: Login works" in out
    assert "Write the runbook" not in out
    assert "1 task hidden (--type task or --all-types shows them)" in out
    proc = human(lore_env, "issues", "--type", "task")
    assert "Task: Write the runbook" in proc.stdout and "hidden" not in proc.stdout
    assert "1 open issues of type task" in proc.stdout or "open issues of type task" in proc.stdout


def test_issues_cli_on_80_columns(lore_env: LoreEnv, types_mirror: dict[str, int]) -> None:
    proc = lore_env.run("issues", "--all-types", extra_env={**CLOCK_ENV, "COLUMNS": "80"})
    lines = proc.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert len(lines) == 2 + 4 + 1  # header, rule, one line per issue, footer


def test_show_cli_new_fields(lore_env: LoreEnv, types_mirror: dict[str, int]) -> None:
    for ref in ("#2", "#6", "#7", "!1"):
        code, doc = robot(lore_env, "show", ref)
        assert code == 0, doc
        check_success("lore show", doc)
    for ref in ("#7", "!1"):  # nothing wraps on 80 columns
        lines = lore_env.run("show", ref, extra_env={**CLOCK_ENV, "COLUMNS": "80"}).stdout
        assert max(len(line) for line in lines.splitlines()) <= 80, lines
    out = human(lore_env, "show", "#6").stdout
    assert "Type:      issue" in out and "Moved to:  acme/ops#1" in out
    out = human(lore_env, "show", "#7").stdout
    assert "Moved to:  acme/other#42 (not in the mirror)" in out
    assert "\n           https://gitlab.example.com/acme/other/-/issues/42\n" in out
    out = human(lore_env, "show", "#2").stdout
    assert "Type:      incident" in out
    line = next(line for line in out.splitlines() if "@bob" in line)
    assert "internal" in line
    assert "internal" not in next(line for line in out.splitlines() if "@alice" in line)
    out = human(lore_env, "show", "!1").stdout
    assert "@carol on src/a.py lines 10–14" in out
    assert "@carol on src/dropped.py lines -2–+5" in out
    assert "GitLab cut this diff list at its limits (1000+ changes)" in out
    assert "Changes (1 file)" in out
    assert "not in the current diff" in out and "    src/dropped.py" in out
    out = human(lore_env, "show", "!2").stdout
    assert "GitLab cut" not in out and "not in the current diff" not in out
