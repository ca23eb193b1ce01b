"""Hand-built stores for `lore who`: known people, MRs, notes and dates."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from lore.core.clock import iso_from_ms, ms_from_iso
from lore.store.db import connect
from lore.who.params import WhoParams

NOW_ISO = "2025-01-01T00:00:00.000Z"
NOW_MS = ms_from_iso(NOW_ISO)
DAY_MS = 86_400_000


def days_ago(days: float) -> str:
    """The ISO timestamp ``days`` before NOW."""
    return iso_from_ms(NOW_MS - int(days * DAY_MS))


class Store:
    """Tiny builder over a real, migrated lore database."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._ids = itertools.count(1)
        self._iids: dict[int, itertools.count[int]] = {}
        self.people: dict[str, int] = {}
        self.projects: dict[str, int] = {}

    def project(self, path: str) -> int:
        if path not in self.projects:
            pid = next(self._ids)
            self.conn.execute("INSERT INTO projects(id, path) VALUES (?, ?)", (pid, path))
            self.projects[path] = pid
            self._iids[pid] = itertools.count(1)
        return self.projects[path]

    def person(self, username: str, *, is_bot: bool = False) -> int:
        if username not in self.people:
            pid = next(self._ids)
            self.conn.execute(
                "INSERT INTO people(id, username, name, is_bot) VALUES (?, ?, ?, ?)",
                (pid, username, username.title(), int(is_bot)),
            )
            self.people[username] = pid
        return self.people[username]

    def mr(
        self,
        author: str,
        paths: list[str | tuple[str, str]],
        *,
        days: float,
        state: str = "merged",
        project: str = "g/repo",
        title: str | None = None,
        noted_paths: Sequence[str] = (),
        diffs_overflow: bool = False,
        changes_count: str | None = None,
    ) -> int:
        """An MR by ``author`` touching ``paths`` (``(old, new)`` = a rename); for merged
        MRs ``days`` is the merge age, otherwise the last update's age. ``noted_paths``
        are paths only its diff notes know (``mr_paths.source = 'diff_note'``, as sync
        records them); ``diffs_overflow``/``changes_count`` say GitLab cut its diff list."""
        pid = self.project(project)
        mid = next(self._ids)
        iid = next(self._iids[pid])
        stamp = days_ago(days)
        created = days_ago(days + 3)
        self.conn.execute(
            "INSERT INTO merge_requests(id, project_id, iid, title, state, author_id, created_at,"
            " updated_at, merged_at, web_url, synced_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                mid,
                pid,
                iid,
                title or f"MR {iid} by {author}",
                state,
                self.person(author),
                created,
                stamp,
                stamp if state == "merged" else None,
                f"https://gitlab.example.com/{project}/-/merge_requests/{iid}",
                NOW_ISO,
            ),
        )
        for entry in paths:
            old, new = entry if isinstance(entry, tuple) else (entry, entry)
            self.conn.execute(
                "INSERT INTO mr_paths(mr_id, new_path, old_path, renamed_file) VALUES (?,?,?,?)",
                (mid, new, old, int(old != new)),
            )
        for path in noted_paths:
            self.conn.execute(
                "INSERT INTO mr_paths(mr_id, new_path, old_path, source) VALUES (?,?,?,'diff_note')",
                (mid, path, path),
            )
        if diffs_overflow or changes_count is not None:
            self.conn.execute(
                "UPDATE merge_requests SET diffs_overflow = ?, changes_count = ? WHERE id = ?",
                (int(diffs_overflow), changes_count, mid),
            )
        return mid

    def note(
        self,
        mr_id: int,
        author: str,
        *,
        days: float,
        diff_path: str | None = None,
        system: bool = False,
        body: str = "text",
    ) -> int:
        nid = next(self._ids)
        row = self.conn.execute(
            "SELECT project_id FROM merge_requests WHERE id = ?", (mr_id,)
        ).fetchone()
        disc = f"d{nid}"
        self.conn.execute(
            "INSERT INTO discussions(id, project_id, item_kind, item_id) VALUES (?,?,?,?)",
            (disc, row[0], "mr", mr_id),
        )
        self.conn.execute(
            "INSERT INTO notes(id, discussion_id, project_id, item_kind, item_id, author_id, body,"
            " note_type, system, created_at, updated_at, position_old_path, position_new_path)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                nid,
                disc,
                row[0],
                "mr",
                mr_id,
                self.person(author),
                body,
                "DiffNote" if diff_path else None,
                int(system),
                days_ago(days),
                days_ago(days),
                diff_path,
                diff_path,
            ),
        )
        return nid

    def approval(self, mr_id: int, person: str, *, days: float | None) -> None:
        self.conn.execute(
            "INSERT INTO mr_approvals(mr_id, person_id, approved_at) VALUES (?,?,?)",
            (mr_id, self.person(person), days_ago(days) if days is not None else None),
        )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    conn = connect(tmp_path / "lore.db")
    try:
        yield Store(conn)
    finally:
        conn.close()


@pytest.fixture
def params() -> WhoParams:
    return WhoParams(now_ms=NOW_MS)
