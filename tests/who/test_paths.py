"""Path questions: files vs directories, and renames followed in both directions."""

from __future__ import annotations

from typing import Any

from lore.who import WhoParams, who_path
from lore.who.scope import normalize_path, prefix_upper_bound

from .conftest import Store


def names(data: dict[str, Any]) -> set[str]:
    return {e["username"] for e in data["experts"]}


def test_normalize_path() -> None:
    assert normalize_path(" ./src//auth/ ") == "src/auth/"
    assert normalize_path("/src/a.py") == "src/a.py"
    assert normalize_path(".") == ""
    assert normalize_path("src\\win.py") == "src/win.py"
    assert prefix_upper_bound("src/") == "src0"


def renamed(store: Store) -> Store:
    """alice edits a/x.py; bob renames it to b/x.py; carol edits b/x.py; dave renames it to
    c/x.py. Eve edits an unrelated a/y.py; in another project, frank edits a/x.py."""
    store.mr("alice", ["a/x.py"], days=30)
    store.mr("bob", [("a/x.py", "b/x.py")], days=20)
    store.mr("carol", ["b/x.py"], days=10)
    store.mr("dave", [("b/x.py", "c/x.py")], days=5)
    store.mr("eve", ["a/y.py"], days=5)
    store.mr("frank", ["a/x.py"], days=5, project="g/other")
    return store


def test_rename_chain_is_followed_from_every_name(store: Store, params: WhoParams) -> None:
    renamed(store)
    for name in ("a/x.py", "b/x.py", "c/x.py"):
        data = who_path(store.conn, name, params)
        assert data["query"]["match"] == "file"
        expected = {"alice", "bob", "carol", "dave"}
        if name == "a/x.py":
            expected.add("frank")  # the same name in another project is a file of its own
        assert names(data) == expected, name
        assert set(data["query"]["renamed_from"]) == {"a/x.py", "b/x.py", "c/x.py"} - {name}


def test_renames_in_one_project_do_not_widen_another(store: Store, params: WhoParams) -> None:
    renamed(store)
    data = who_path(store.conn, "c/x.py", params)
    assert "frank" not in names(data)


def test_directory_follows_files_renamed_into_and_out_of_it(
    store: Store, params: WhoParams
) -> None:
    renamed(store)
    into_c = who_path(store.conn, "c/", params)
    assert names(into_c) == {"alice", "bob", "carol", "dave"}
    a_dir = who_path(store.conn, "a", params)
    assert a_dir["query"]["match"] == "directory"
    assert names(a_dir) == {"alice", "bob", "carol", "dave", "eve", "frank"}


def test_review_on_the_old_name_counts_as_review(store: Store, params: WhoParams) -> None:
    mr = store.mr("alice", [("old/x.py", "new/x.py")], days=0)
    store.note(mr, "bob", days=0, diff_path="old/x.py")
    data = who_path(store.conn, "new/x.py", params)
    bob = next(e for e in data["experts"] if e["username"] == "bob")
    assert bob["breakdown"]["reviewed"]["count"] == 1


def test_a_file_wins_over_a_same_named_directory_prefix(store: Store, params: WhoParams) -> None:
    store.mr("alice", ["docs"], days=0)
    store.mr("bob", ["docs/readme.md"], days=0)
    assert names(who_path(store.conn, "docs", params)) == {"alice"}
    assert names(who_path(store.conn, "docs/", params)) == {"bob"}
