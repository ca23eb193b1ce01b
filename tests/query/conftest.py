"""A small builder for real SQLite stores (rows inserted directly, as a sync would leave
them) and a standard two-project dataset the query tests share."""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from lore.core.clock import iso_from_ms, ms_from_iso
from lore.store.db import connect
from lore.store.migrations import MIGRATIONS, migrate

#: "Now" for every test in this folder (and LORE_TEST_NOW_MS for subprocesses).
NOW_ISO = "2025-06-01T12:00:00.000Z"
NOW_MS = ms_from_iso(NOW_ISO)
CLOCK_ENV = {"LORE_TEST_HOOKS": "1", "LORE_TEST_NOW_MS": str(NOW_MS)}


def ago(days: float = 0, hours: float = 0, minutes: float = 0) -> str:
    """An ISO timestamp this long before NOW."""
    return iso_from_ms(NOW_MS - int(((days * 24 + hours) * 60 + minutes) * 60_000))


class StoreBuilder:
    """Insert projects, people, issues, MRs, notes, documents and sync bookkeeping."""

    def __init__(self, path: Path, *, schema: int | None = None) -> None:
        self.path = path
        self.conn = connect(path, migrate=False)
        todo = MIGRATIONS if schema is None else [m for m in MIGRATIONS if m[0] <= schema]
        migrate(self.conn, todo)
        self._ids = itertools.count(1000)
        self._discussions = itertools.count(1)
        self.projects: dict[str, int] = {}
        self.people: dict[str, int] = {}

    def close(self) -> None:
        self.conn.close()

    def project(self, path: str, *, last_synced_at: str | None = None) -> int:
        pid = len(self.projects) + 1
        self.conn.execute(
            "INSERT INTO projects(id, path, name, web_url, last_synced_at) VALUES (?, ?, ?, ?, ?)",
            (
                pid,
                path,
                path.rsplit("/", 1)[-1],
                f"https://gitlab.example.com/{path}",
                last_synced_at,
            ),
        )
        self.projects[path] = pid
        return pid

    def person(self, username: str) -> int:
        if username not in self.people:
            pid = len(self.people) + 1
            self.conn.execute(
                "INSERT INTO people(id, username, name, web_url) VALUES (?, ?, ?, ?)",
                (pid, username, username.title(), f"https://gitlab.example.com/{username}"),
            )
            self.people[username] = pid
        return self.people[username]

    def _people(self, kind: str, item_id: int, role: str, names: Sequence[str]) -> None:
        for name in names:
            self.conn.execute(
                "INSERT INTO item_people(item_kind, item_id, role, person_id) VALUES (?, ?, ?, ?)",
                (kind, item_id, role, self.person(name)),
            )

    def _labels(self, kind: str, item_id: int, labels: Sequence[str]) -> None:
        for label in labels:
            self.conn.execute(
                "INSERT INTO item_labels(item_kind, item_id, label) VALUES (?, ?, ?)",
                (kind, item_id, label),
            )

    def issue(
        self,
        project: str,
        iid: int,
        title: str,
        *,
        state: str = "opened",
        author: str | None = "alice",
        labels: Sequence[str] = (),
        assignees: Sequence[str] = (),
        milestone: str | None = None,
        created_at: str | None = None,
        updated_at: str | None = None,
        description: str | None = "",
        status: tuple[str, str, str] | None = None,
        confidential: bool = False,
        issue_type: str | None = None,
        moved_to_id: int | None = None,
    ) -> int:
        """``issue_type``/``moved_to_id`` are written only when given (older schemas lack them)."""
        item_id = next(self._ids)
        updated = updated_at or ago(days=1)
        columns = {
            "id": item_id,
            "project_id": self.projects[project],
            "iid": iid,
            "title": title,
            "description": description,
            "state": state,
            "author_id": self.person(author) if author else None,
            "milestone": milestone,
            "created_at": created_at or updated,
            "updated_at": updated,
            "closed_at": updated if state == "closed" else None,
            "web_url": f"https://gitlab.example.com/{project}/-/issues/{iid}",
            "confidential": int(confidential),
            "synced_at": NOW_ISO,
        }
        if status is not None:
            columns.update(status_name=status[0], status_category=status[1], status_color=status[2])
        if issue_type is not None:
            columns["issue_type"] = issue_type
        if moved_to_id is not None:
            columns["moved_to_id"] = moved_to_id
        self.conn.execute(
            f"INSERT INTO issues({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            list(columns.values()),
        )
        self._labels("issue", item_id, labels)
        self._people("issue", item_id, "assignee", assignees)
        return item_id

    def mr(
        self,
        project: str,
        iid: int,
        title: str,
        *,
        state: str = "opened",
        author: str | None = "bob",
        labels: Sequence[str] = (),
        assignees: Sequence[str] = (),
        reviewers: Sequence[str] = (),
        draft: bool = False,
        merged_by: str | None = None,
        created_at: str | None = None,
        updated_at: str | None = None,
        description: str | None = "",
        source_branch: str = "feature",
        target_branch: str = "main",
        paths: Sequence[tuple[str, ...]] = (),
        diffs_overflow: bool | None = None,
        changes_count: str | None = None,
    ) -> int:
        """``paths`` are ``(old_path, new_path, change[, source])`` with change
        new|renamed|deleted|modified and source diff|diff_note (written only when given, as
        are ``diffs_overflow``/``changes_count``: older schemas lack them)."""
        item_id = next(self._ids)
        updated = updated_at or ago(days=1)
        self.conn.execute(
            "INSERT INTO merge_requests(id, project_id, iid, title, description, state, draft, "
            "author_id, merged_by_id, source_branch, target_branch, created_at, updated_at, "
            "merged_at, closed_at, web_url, synced_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                item_id,
                self.projects[project],
                iid,
                title,
                description,
                state,
                int(draft),
                self.person(author) if author else None,
                self.person(merged_by) if merged_by else None,
                source_branch,
                target_branch,
                created_at or updated,
                updated,
                updated if state == "merged" else None,
                updated if state == "closed" else None,
                f"https://gitlab.example.com/{project}/-/merge_requests/{iid}",
                NOW_ISO,
            ),
        )
        self._labels("mr", item_id, labels)
        self._people("mr", item_id, "assignee", assignees)
        self._people("mr", item_id, "reviewer", reviewers)
        for old, new, change, *source in paths:
            self.conn.execute(
                "INSERT INTO mr_paths(mr_id, new_path, old_path, new_file, renamed_file, "
                f"deleted_file{', source' if source else ''}) "
                f"VALUES (?, ?, ?, ?, ?, ?{', ?' if source else ''})",
                (
                    item_id,
                    new,
                    old,
                    int(change == "new"),
                    int(change == "renamed"),
                    int(change == "deleted"),
                    *source,
                ),
            )
        if diffs_overflow is not None or changes_count is not None:
            self.conn.execute(
                "UPDATE merge_requests SET diffs_overflow = ?, changes_count = ? WHERE id = ?",
                (int(bool(diffs_overflow)), changes_count, item_id),
            )
        return item_id

    def thread(
        self,
        kind: str,
        item_id: int,
        notes: Sequence[dict[str, Any]],
        *,
        individual: bool = False,
    ) -> str:
        """A discussion with ``notes`` (dicts: author, body, created_at, system, type,
        resolvable, resolved, new_path, new_line, old_path, old_line; and, written only
        when given, internal and line_range, a dict stored as JSON)."""
        disc_id = f"d{next(self._discussions):039x}"
        table = "issues" if kind == "issue" else "merge_requests"
        project_id = self.conn.execute(
            f"SELECT project_id FROM {table} WHERE id = ?", (item_id,)
        ).fetchone()[0]
        self.conn.execute(
            "INSERT INTO discussions(id, project_id, item_kind, item_id, individual_note) "
            "VALUES (?, ?, ?, ?, ?)",
            (disc_id, project_id, kind, item_id, int(individual)),
        )
        for note in notes:
            note_id = next(self._ids)
            created = note.get("created_at", ago(days=1))
            self.conn.execute(
                "INSERT INTO notes(id, discussion_id, project_id, item_kind, item_id, author_id, "
                "body, note_type, system, resolvable, resolved, created_at, updated_at, "
                "position_old_path, position_new_path, position_old_line, position_new_line) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    note_id,
                    disc_id,
                    project_id,
                    kind,
                    item_id,
                    self.person(note.get("author", "alice")),
                    note.get("body", "hello"),
                    note.get("type"),
                    int(note.get("system", False)),
                    int(note.get("resolvable", False)),
                    int(note.get("resolved", False)),
                    created,
                    created,
                    note.get("old_path"),
                    note.get("new_path"),
                    note.get("old_line"),
                    note.get("new_line"),
                ),
            )
            if "internal" in note or "line_range" in note:
                rng = note.get("line_range")
                self.conn.execute(
                    "UPDATE notes SET internal = ?, position_line_range = ? WHERE id = ?",
                    (
                        int(bool(note.get("internal"))),
                        json.dumps(rng) if isinstance(rng, dict) else rng,
                        note_id,
                    ),
                )
        return disc_id

    def document(
        self,
        kind: str,
        item_id: int,
        *,
        chunks: int = 0,
        model: str = "nomic-embed-text",
        dimension: int = 4,
    ) -> int:
        table = "issues" if kind == "issue" else "merge_requests"
        project_id, title = self.conn.execute(
            f"SELECT project_id, title FROM {table} WHERE id = ?", (item_id,)
        ).fetchone()
        cur = self.conn.execute(
            "INSERT INTO documents(item_kind, item_id, project_id, title, body, content_hash, "
            "item_updated_at, rendered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (kind, item_id, project_id, title, title, f"h{item_id}", NOW_ISO, NOW_ISO),
        )
        doc_id = int(cur.lastrowid or 0)
        for chunk in range(chunks):
            self.conn.execute(
                "INSERT INTO embeddings(document_id, chunk_index, model, dimension, content_hash, "
                "vector, embedded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (doc_id, chunk, model, dimension, f"c{chunk}", b"\0" * 4 * dimension, NOW_ISO),
            )
        return doc_id

    def cursor(
        self, project: str, resource: str, *, advanced_at: str, updated_after: str | None = None
    ) -> None:
        self.conn.execute(
            "INSERT INTO sync_cursors(project_id, resource, updated_after, advanced_at) "
            "VALUES (?, ?, ?, ?)",
            (self.projects[project], resource, updated_after or advanced_at, advanced_at),
        )

    def sync_run(
        self,
        *,
        started_at: str,
        finished_at: str | None,
        outcome: str,
        requests: int = 0,
        stages: list[dict[str, Any]] | None = None,
        full: bool = False,
    ) -> None:
        self.conn.execute(
            "INSERT INTO sync_runs(started_at, finished_at, full, outcome, requests, "
            "stage_results) VALUES (?, ?, ?, ?, ?, ?)",
            (
                started_at,
                finished_at,
                int(full),
                outcome,
                requests,
                json.dumps(stages) if stages is not None else None,
            ),
        )

    def kv(self, key: str, value: Any) -> None:
        self.conn.execute("INSERT INTO kv(key, value) VALUES (?, ?)", (key, json.dumps(value)))


IN_PROGRESS = ("In progress", "in_progress", "#1f75cb")
TO_DO = ("To do", "to_do", "#737278")
DONE = ("Done", "done", "#108548")


def build_standard(b: StoreBuilder) -> dict[str, int]:
    """Two projects (acme/platform, acme/web) sharing #12; issues, MRs, threads, docs."""
    b.project("acme/platform", last_synced_at=ago(hours=2))
    b.project("acme/web", last_synced_at=ago(hours=2))
    for name in ("alice", "bob", "carol", "dave"):
        b.person(name)
    ids: dict[str, int] = {}
    ids["acme/platform#1"] = b.issue(
        "acme/platform",
        1,
        "Login fails on Safari",
        author="alice",
        labels=["bug", "frontend"],
        assignees=["bob"],
        created_at=ago(days=20),
        updated_at=ago(days=1),
        description="Steps:\n1. open Safari\n2. log in [bug]",
        status=IN_PROGRESS,
        milestone="v2.0",
    )
    ids["acme/platform#2"] = b.issue(
        "acme/platform",
        2,
        "Add dark mode",
        author="bob",
        labels=["feature"],
        created_at=ago(days=30),
        updated_at=ago(days=3),
        status=TO_DO,
    )
    ids["acme/platform#3"] = b.issue(
        "acme/platform",
        3,
        "Crash on startup",
        state="closed",
        author="carol",
        labels=["bug"],
        assignees=["alice", "carol"],
        created_at=ago(days=40),
        updated_at=ago(days=10),
        status=DONE,
    )
    ids["acme/platform#12"] = b.issue(
        "acme/platform",
        12,
        "Shared number in platform",
        author="dave",
        created_at=ago(days=25),
        updated_at=ago(days=20),
    )
    ids["acme/web#12"] = b.issue(
        "acme/web",
        12,
        "Shared number in web",
        author="alice",
        labels=["bug", "backend"],
        created_at=ago(days=5),
        updated_at=ago(hours=2),
    )
    ids["acme/web#5"] = b.issue(
        "acme/web",
        5,
        "Old 100% stuff_here",
        author="carol",
        milestone="v1.0",
        created_at=ago(days=500),
        updated_at=ago(days=400),
    )
    ids["acme/platform!1"] = b.mr(
        "acme/platform",
        1,
        "Fix Safari login",
        author="bob",
        reviewers=["alice", "carol"],
        assignees=["bob"],
        labels=["bug"],
        draft=True,
        created_at=ago(days=2),
        updated_at=ago(hours=5),
        source_branch="fix-safari",
        paths=[
            ("src/login.py", "src/login.py", "modified"),
            ("", "src/safari.py", "new"),
            ("docs/old.md", "docs/new.md", "renamed"),
            ("gone.txt", "gone.txt", "deleted"),
        ],
    )
    ids["acme/platform!2"] = b.mr(
        "acme/platform",
        2,
        "Dark mode",
        state="merged",
        author="carol",
        merged_by="alice",
        reviewers=["bob"],
        labels=["feature"],
        created_at=ago(days=9),
        updated_at=ago(days=2),
    )
    ids["acme/web!3"] = b.mr(
        "acme/web",
        3,
        "Refactor API",
        state="closed",
        author="alice",
        created_at=ago(days=60),
        updated_at=ago(days=30),
    )
    ids["acme/web!4"] = b.mr(
        "acme/web",
        4,
        "Locked thing",
        state="locked",
        author="dave",
        created_at=ago(days=70),
        updated_at=ago(days=50),
    )
    issue1 = ids["acme/platform#1"]
    b.thread(
        "issue",
        issue1,
        [
            {"author": "alice", "body": "I can reproduce it.", "created_at": ago(days=4)},
            {"author": "bob", "body": "Same here on 17.2", "created_at": ago(days=3)},
        ],
    )
    b.thread(
        "issue",
        issue1,
        [
            {
                "author": "carol",
                "body": "added ~bug label",
                "system": True,
                "created_at": ago(days=19),
            },
        ],
        individual=True,
    )
    b.thread(
        "issue",
        issue1,
        [
            {"author": "dave", "body": "Any update?", "created_at": ago(days=2)},
        ],
        individual=True,
    )
    mr1 = ids["acme/platform!1"]
    b.thread(
        "mr",
        mr1,
        [
            {
                "author": "carol",
                "body": "This check looks inverted.",
                "type": "DiffNote",
                "resolvable": True,
                "resolved": False,
                "new_path": "src/login.py",
                "new_line": 42,
                "old_path": "src/login.py",
                "old_line": 40,
                "created_at": ago(days=1),
            },
            {
                "author": "bob",
                "body": "Good catch, fixing.",
                "type": "DiffNote",
                "resolvable": True,
                "resolved": False,
                "new_path": "src/login.py",
                "new_line": 42,
                "old_path": "src/login.py",
                "old_line": 40,
                "created_at": ago(hours=20),
            },
        ],
    )
    b.thread(
        "mr",
        mr1,
        [
            {
                "author": "alice",
                "body": "Old line gone.",
                "type": "DiffNote",
                "resolvable": True,
                "resolved": True,
                "old_path": "gone.txt",
                "old_line": 3,
                "created_at": ago(hours=30),
            },
        ],
    )
    b.thread(
        "mr",
        mr1,
        [
            {
                "author": "bob",
                "body": "marked this merge request as draft",
                "system": True,
                "created_at": ago(days=2),
            },
        ],
        individual=True,
    )
    # Documents: every item has one; some are embedded.
    for ref, item_id in ids.items():
        kind = "issue" if "#" in ref else "mr"
        chunks = (
            2
            if ref in ("acme/platform#1", "acme/platform!1")
            else (1 if ref.startswith("acme/platform") else 0)
        )
        b.document(kind, item_id, chunks=chunks)
    b.cursor("acme/platform", "issues", advanced_at=ago(hours=2))
    b.cursor("acme/platform", "mrs", advanced_at=ago(hours=3))
    b.cursor("acme/web", "issues", advanced_at=ago(days=2))
    b.sync_run(
        started_at=ago(days=1, minutes=1),
        finished_at=ago(days=1),
        outcome="success",
        requests=40,
        stages=[{"stage": "issues", "success": True, "items_updated": 6}],
    )
    b.sync_run(
        started_at=ago(hours=2, minutes=1),
        finished_at=ago(hours=2),
        outcome="degraded",
        requests=12,
        stages=[
            {
                "stage": "issues",
                "success": True,
                "items_updated": 2,
                "error": None,
                "error_code": None,
                "retry_after_ms": None,
            },
            {
                "stage": "mrs",
                "success": True,
                "items_updated": 1,
                "error": None,
                "error_code": None,
                "retry_after_ms": None,
            },
            {
                "stage": "docs",
                "success": True,
                "items_updated": 3,
                "error": None,
                "error_code": None,
                "retry_after_ms": None,
            },
            {
                "stage": "embeddings",
                "success": False,
                "items_updated": 0,
                "error": "cannot reach http://127.0.0.1:11434",
                "error_code": "EMBEDDING_UNAVAILABLE",
                "retry_after_ms": None,
            },
        ],
    )
    b.kv(
        "workitem_status:https://gitlab.example.com",
        {
            "available": True,
            "reason": None,
            "checked_at": ago(hours=2),
            "final_page_size": 100,
            "shrinks": 0,
        },
    )
    return ids


@pytest.fixture
def builder(tmp_path: Path) -> Iterator[StoreBuilder]:
    b = StoreBuilder(tmp_path / "lore.db")
    try:
        yield b
    finally:
        b.close()


@pytest.fixture
def standard(tmp_path: Path) -> Iterator[tuple[sqlite3.Connection, dict[str, int]]]:
    """The standard dataset in a fresh store, as an open connection and ids by ref."""
    b = StoreBuilder(tmp_path / "lore.db")
    ids = build_standard(b)
    try:
        yield b.conn, ids
    finally:
        b.close()
