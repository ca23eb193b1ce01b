"""Helpers for the docs/embeddings/search tests: a real SQLite store filled with rows
inserted directly (the way the items stages write them), and a small known corpus."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lore.core.config import Config, build
from lore.store.db import connect, transaction

SYNCED_AT = "2024-06-01T00:00:00.000Z"


@dataclass
class Store:
    """A lore database with helpers that write rows the way the items stages do."""

    conn: sqlite3.Connection
    path: Path
    _next_note: int = 1000
    _discussions: set[str] = field(default_factory=set)

    def project(self, project_id: int, path: str) -> int:
        with transaction(self.conn):
            self.conn.execute(
                "INSERT INTO projects(id, path, name, web_url) VALUES (?, ?, ?, ?)",
                (project_id, path, path.rsplit("/", 1)[-1], f"https://gitlab.example.com/{path}"),
            )
        return project_id

    def person(self, person_id: int, username: str, name: str | None = None) -> int:
        with transaction(self.conn):
            self.conn.execute(
                "INSERT INTO people(id, username, name) VALUES (?, ?, ?)",
                (person_id, username, name),
            )
        return person_id

    def _item(
        self,
        kind: str,
        item_id: int,
        project_id: int,
        iid: int,
        title: str,
        description: str,
        state: str,
        author_id: int | None,
        labels: Sequence[str],
        updated_at: str,
        extra: dict[str, Any],
    ) -> int:
        table = "issues" if kind == "issue" else "merge_requests"
        path = self.conn.execute(
            "SELECT path FROM projects WHERE id = ?", (project_id,)
        ).fetchone()[0]
        web = f"https://gitlab.example.com/{path}/-/{'issues' if kind == 'issue' else 'merge_requests'}/{iid}"
        columns = {
            "id": item_id,
            "project_id": project_id,
            "iid": iid,
            "title": title,
            "description": description,
            "state": state,
            "author_id": author_id,
            "created_at": "2024-01-01T00:00:00.000Z",
            "updated_at": updated_at,
            "web_url": web,
            "synced_at": SYNCED_AT,
            **extra,
        }
        with transaction(self.conn):
            self.conn.execute(
                f"INSERT INTO {table}({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                list(columns.values()),
            )
            self.conn.executemany(
                "INSERT INTO item_labels(item_kind, item_id, label) VALUES (?, ?, ?)",
                [(kind, item_id, label) for label in labels],
            )
        return item_id

    def issue(
        self,
        item_id: int,
        project_id: int,
        iid: int,
        title: str,
        description: str = "",
        *,
        state: str = "opened",
        author_id: int | None = None,
        labels: Sequence[str] = (),
        updated_at: str = "2024-05-01T00:00:00.000Z",
        **extra: Any,
    ) -> int:
        return self._item(
            "issue",
            item_id,
            project_id,
            iid,
            title,
            description,
            state,
            author_id,
            labels,
            updated_at,
            extra,
        )

    def mr(
        self,
        item_id: int,
        project_id: int,
        iid: int,
        title: str,
        description: str = "",
        *,
        state: str = "opened",
        author_id: int | None = None,
        labels: Sequence[str] = (),
        updated_at: str = "2024-05-01T00:00:00.000Z",
        **extra: Any,
    ) -> int:
        extra.setdefault("source_branch", f"feature-{iid}")
        extra.setdefault("target_branch", "main")
        return self._item(
            "mr",
            item_id,
            project_id,
            iid,
            title,
            description,
            state,
            author_id,
            labels,
            updated_at,
            extra,
        )

    def note(
        self,
        kind: str,
        item_id: int,
        body: str,
        *,
        author_id: int | None = None,
        system: bool = False,
        created_at: str = "2024-05-02T00:00:00.000Z",
    ) -> int:
        table = "issues" if kind == "issue" else "merge_requests"
        project_id = self.conn.execute(
            f"SELECT project_id FROM {table} WHERE id = ?", (item_id,)
        ).fetchone()[0]
        disc = f"d-{kind}-{item_id}"
        self._next_note += 1
        with transaction(self.conn):
            if disc not in self._discussions:
                self.conn.execute(
                    "INSERT INTO discussions(id, project_id, item_kind, item_id) VALUES (?, ?, ?, ?)",
                    (disc, project_id, kind, item_id),
                )
                self._discussions.add(disc)
            self.conn.execute(
                "INSERT INTO notes(id, discussion_id, project_id, item_kind, item_id, author_id, "
                "body, system, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    self._next_note,
                    disc,
                    project_id,
                    kind,
                    item_id,
                    author_id,
                    body,
                    int(system),
                    created_at,
                    created_at,
                ),
            )
        return self._next_note

    def update(
        self,
        kind: str,
        item_id: int,
        *,
        updated_at: str,
        synced_at: str | None = None,
        **columns: Any,
    ) -> None:
        """Change an item as the items stage would (new updated_at and synced_at)."""
        table = "issues" if kind == "issue" else "merge_requests"
        values = {"updated_at": updated_at, "synced_at": synced_at or updated_at, **columns}
        with transaction(self.conn):
            self.conn.execute(
                f"UPDATE {table} SET {', '.join(f'{k} = ?' for k in values)} WHERE id = ?",
                [*values.values(), item_id],
            )

    def delete(self, kind: str, item_id: int) -> None:
        table = "issues" if kind == "issue" else "merge_requests"
        with transaction(self.conn):
            self.conn.execute(f"DELETE FROM {table} WHERE id = ?", (item_id,))

    def documents(self) -> dict[tuple[str, int], sqlite3.Row]:
        return {
            (r["item_kind"], r["item_id"]): r for r in self.conn.execute("SELECT * FROM documents")
        }

    def embeddings(self) -> list[tuple[Any, ...]]:
        """Every embedding row, in a comparable form (by item, not by document id)."""
        rows = self.conn.execute(
            "SELECT d.item_kind, d.item_id, e.chunk_index, e.model, e.dimension, e.content_hash, "
            "e.vector FROM embeddings e JOIN documents d ON d.id = e.document_id "
            "ORDER BY d.item_kind, d.item_id, e.chunk_index"
        ).fetchall()
        return [tuple(r) for r in rows]


def make_config(ollama_url: str = "http://127.0.0.1:9", **embedding: Any) -> Config:
    return build(
        "https://gitlab.example.com",
        ["group/app"],
        extra={
            "embedding": {
                "provider": "ollama",
                "baseUrl": ollama_url,
                "model": "nomic-embed-text",
                **embedding,
            }
        },
    )


def open_store(path: Path) -> Store:
    return Store(connect(path), path)


def seed_corpus(s: Store) -> dict[str, int]:
    """A small corpus whose right answers are known; returns names → item ids."""
    s.project(1, "group/app")
    s.project(2, "group/infra")
    s.person(10, "alice", "Alice Archer")
    s.person(11, "bob", "Bob Baker")
    s.person(12, "carol", "Carol Chen")
    ids = {
        "login": s.issue(
            101,
            1,
            1,
            "Login times out after thirty seconds",
            "Users report the login page spins and then the session request times "
            "out. The auth service logs show a slow token lookup.",
            author_id=10,
            labels=["bug", "auth"],
            updated_at="2024-05-10T00:00:00.000Z",
        ),
        "dark": s.issue(
            102,
            1,
            2,
            "Add dark mode to the settings page",
            "A theme toggle in user settings, remembering the choice per browser.",
            author_id=11,
            labels=["feature", "ui"],
            state="closed",
            updated_at="2024-02-01T00:00:00.000Z",
        ),
        "backup": s.issue(
            103,
            2,
            1,
            "Nightly database backup fails on disk full",
            "The backup cron job aborts when the volume runs out of space; "
            "rotate old dumps before writing.",
            author_id=12,
            labels=["bug", "ops"],
            updated_at="2024-05-20T00:00:00.000Z",
        ),
        "cache": s.mr(
            201,
            1,
            1,
            "Cache auth tokens to speed up login",
            "Adds an in-memory cache in front of the token lookup so that login no "
            "longer times out under load.",
            author_id=11,
            labels=["auth", "performance"],
            state="merged",
            updated_at="2024-05-12T00:00:00.000Z",
        ),
        "ci": s.mr(
            202,
            2,
            1,
            "Speed up CI pipeline with docker layer caching",
            "Reuse docker layers between pipeline jobs.",
            author_id=12,
            labels=["ci"],
            updated_at="2024-04-01T00:00:00.000Z",
        ),
    }
    s.note("issue", 101, "I can reproduce: the token lookup takes 31 seconds.", author_id=11)
    s.note("issue", 101, "changed the description", author_id=10, system=True)
    s.note("mr", 201, "Looks good, the login page is fast now.", author_id=10)
    return ids
