"""Issue 9, point 12: a diff note's path is evidence that its MR touched that path, even
when the MR's current diff list lacks it (a file dropped by a later push, a diff list GitLab
cut at its limits); a diff note is a review of its own path, never a discussion of the
MR's other paths."""

from __future__ import annotations

from typing import Any

import pytest

from lore.store import ingest
from lore.who import WhoParams, who_path, who_user

from .conftest import NOW_ISO, Store, days_ago


def scores(data: dict[str, Any]) -> dict[str, float]:
    return {e["username"]: e["score"] for e in data["experts"]}


def test_noted_path_credits_author_and_reviewer(store: Store, params: WhoParams) -> None:
    # alice's MR no longer lists old.py (a later push dropped it); bob reviewed it before.
    mr = store.mr("alice", ["src/new.py"], days=0, noted_paths=["src/old.py"])
    store.note(mr, "bob", days=0, diff_path="src/old.py")
    data = who_path(store.conn, "src/old.py", params)
    assert data["query"]["match"] == "file" and data["mrs_considered"] == 1
    assert scores(data) == {"alice": pytest.approx(1.0), "bob": pytest.approx(0.6)}
    bob = next(e for e in data["experts"] if e["username"] == "bob")
    assert bob["breakdown"]["reviewed"]["count"] == 1
    assert bob["evidence"][0]["ref"] == "g/repo!1" and bob["evidence"][0]["kinds"] == ["reviewed"]
    # ... and bob's note on old.py is not a discussion of new.py.
    assert scores(who_path(store.conn, "src/new.py", params)) == {"alice": pytest.approx(1.0)}
    # The directory covers both.
    assert scores(who_path(store.conn, "src/", params)) == {
        "alice": pytest.approx(1.0),
        "bob": pytest.approx(0.6),
    }


def test_diff_note_reviews_only_its_own_area(store: Store, params: WhoParams) -> None:
    mr = store.mr("alice", ["src/api/routes.py", "docs/api.md"], days=0)
    store.note(mr, "bob", days=0, diff_path="src/api/routes.py")
    store.note(mr, "carol", days=0)  # an ordinary comment: discussion of every path
    bob = {a["path"]: a for a in who_user(store.conn, "@bob", params)["areas"]}
    assert set(bob) == {"src/api/"}
    assert bob["src/api/"]["breakdown"]["reviewed"]["count"] == 1
    assert bob["src/api/"]["breakdown"]["discussed"]["count"] == 0
    carol = {
        a["path"]: a["breakdown"]["discussed"]["count"]
        for a in who_user(store.conn, "@carol", params)["areas"]
    }
    assert carol == {"src/api/": 1, "docs/": 1}
    # Forward and inverse agree.
    assert "bob" not in scores(who_path(store.conn, "docs/api.md", params))


def test_inverse_credits_areas_only_diff_notes_know(store: Store, params: WhoParams) -> None:
    mr = store.mr("alice", ["src/a/x.py"], days=0, noted_paths=["src/b/gone.py"])
    store.note(mr, "bob", days=0, diff_path="src/b/gone.py")
    alice = {a["path"]: a["score"] for a in who_user(store.conn, "@alice", params)["areas"]}
    assert alice == {"src/a/": pytest.approx(1.0), "src/b/": pytest.approx(1.0)}
    bob = {a["path"]: a["score"] for a in who_user(store.conn, "@bob", params)["areas"]}
    assert bob == {"src/b/": pytest.approx(0.6)}


def test_overflowed_mr_is_credited_for_the_paths_known(store: Store, params: WhoParams) -> None:
    store.mr("alice", ["big/a.py", "big/b.py"], days=0, diffs_overflow=True, changes_count="1000+")
    data = who_path(store.conn, "big/a.py", params)
    assert scores(data) == {"alice": pytest.approx(1.0)}
    assert data["note"] is None
    # A path that no MR is known to touch says that some diff lists are incomplete.
    missing = who_path(store.conn, "big/zzz.py", params)
    assert missing["query"]["match"] == "none"
    assert "1 merge request's diff list was cut at GitLab's limits" in missing["note"]


def test_no_cut_lists_no_warning(store: Store, params: WhoParams) -> None:
    store.mr("alice", ["a.py"], days=0)
    assert who_path(store.conn, "zzz.py", params)["note"] == (
        "no merge request in the mirror touched 'zzz.py'"
    )


def test_through_the_real_ingest(store: Store, params: WhoParams) -> None:
    """What sync writes (ingest: diff list, discussions, then diff-note paths), read by who."""
    conn = store.conn
    project = store.project("g/repo")
    author = {"id": 501, "username": "alice", "name": "Alice"}
    reviewer = {"id": 502, "username": "bob", "name": "Bob"}
    mr_id = ingest.upsert_mr(
        conn,
        project,
        {
            "id": 9001,
            "iid": 77,
            "title": "Refactor",
            "state": "merged",
            "author": author,
            "created_at": days_ago(3),
            "updated_at": days_ago(1),
            "merged_at": days_ago(1),
        },
        NOW_ISO,
    )
    ingest.replace_mr_paths(conn, mr_id, [{"old_path": "lib/kept.py", "new_path": "lib/kept.py"}])
    position = {
        "old_path": "lib/dropped.py",
        "new_path": "lib/dropped.py",
        "old_line": None,
        "new_line": 4,
        "position_type": "text",
        "line_range": {
            "start": {"line_code": "x_0_2", "type": "new", "old_line": None, "new_line": 2},
            "end": {"line_code": "x_0_4", "type": "new", "old_line": None, "new_line": 4},
        },
    }
    ingest.replace_discussions(
        conn,
        project,
        "mr",
        mr_id,
        [
            {
                "id": "a" * 40,
                "individual_note": False,
                "notes": [
                    {
                        "id": 70001,
                        "type": "DiffNote",
                        "body": "this leaks",
                        "author": reviewer,
                        "created_at": days_ago(2),
                        "updated_at": days_ago(2),
                        "system": False,
                        "position": position,
                    }
                ],
            },
        ],
    )
    ingest.set_mr_diff_facts(conn, mr_id, overflow=True, changes_count="1000+")
    ingest.add_diff_note_paths(conn, mr_id)
    sources = dict(conn.execute("SELECT new_path, source FROM mr_paths WHERE mr_id = ?", (mr_id,)))
    assert sources == {"lib/kept.py": "diff", "lib/dropped.py": "diff_note"}
    data = who_path(conn, "lib/dropped.py", params)
    assert data["query"]["match"] == "file"
    assert scores(data) == {
        "alice": pytest.approx(1.0 * 0.5 ** (1 / 180)),
        "bob": pytest.approx(0.6 * 0.5 ** (2 / 180)),
    }
    assert "bob" not in scores(who_path(conn, "lib/kept.py", params))
