"""The ``docs`` stage: one searchable document per issue and merge request, indexed in FTS5.

What to do is decided from the database alone, so the stage is idempotent and safe to
kill at any moment: triggers on the item tables queue every item that is inserted,
rewritten by the items stage (``synced_at``; this also catches a ``--full`` refetch) or
deleted in ``docs_dirty`` (migration 7), and the stage works through that queue only, so
a no-op run reads nothing. A rendered document whose content hash is unchanged is not
rewritten, so neither FTS5 nor the embeddings stage does any work for it; the FTS5 index
(external content over ``documents``) follows ``documents`` through triggers. Batches are
written, and dequeued, in their own transactions; a kill loses at most one batch.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from lore.core.clock import iso_from_ms
from lore.core.config import Config
from lore.core.errors import as_lore_error
from lore.core.refs import format_ref
from lore.store.db import transaction
from lore.sync.types import StageResult

#: Items rendered and written per transaction.
BATCH_SIZE = 1000
#: Changed paths listed in an MR document (a huge refactor should not drown the text).
MAX_PATHS = 100

_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TABLES = {"issue": "issues", "mr": "merge_requests"}


@dataclass(frozen=True)
class RenderedDocument:
    """A document as the docs stage writes it."""

    item_kind: str
    item_id: int
    project_id: int
    title: str
    body: str
    item_updated_at: str

    @property
    def content_hash(self) -> str:
        return document_hash(self.title, self.body)


def document_hash(title: str, body: str) -> str:
    """sha256 of the rendered title and body."""
    return hashlib.sha256(f"{title}\x1f{body}".encode()).hexdigest()


def _clean(text: str | None) -> str:
    """Normalise newlines and drop control characters (search snippets use \\x02/\\x03)."""
    if not text:
        return ""
    return _CONTROL_RE.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).strip()


def _person(name: str | None, username: str | None) -> str:
    if username and name and name != username:
        return f"{name} (@{username})"
    if username:
        return f"@{username}"
    return name or "unknown"


def _marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


# -- rendering ----------------------------------------------------------------------------


def _load_batch(conn: sqlite3.Connection, kind: str, ids: Sequence[int]) -> list[RenderedDocument]:
    """Render the documents of ``ids`` (items of one kind) from the store."""
    if not ids:
        return []
    table = _TABLES[kind]
    extra = (
        "i.source_branch, i.target_branch, i.draft, mb.name AS merged_by_name, "
        "mb.username AS merged_by_username, NULL AS issue_type"
        if kind == "mr"
        else "NULL AS source_branch, NULL AS target_branch, 0 AS draft, "
        "NULL AS merged_by_name, NULL AS merged_by_username, i.issue_type"
    )
    merged_join = "LEFT JOIN people mb ON mb.id = i.merged_by_id" if kind == "mr" else ""
    items = conn.execute(
        f"""SELECT i.id, i.project_id, i.iid, i.title, i.description, i.state, i.milestone,
                   i.updated_at, p.path AS project_path, a.name AS author_name,
                   a.username AS author_username, {extra}
            FROM {table} i
            LEFT JOIN projects p ON p.id = i.project_id
            LEFT JOIN people a ON a.id = i.author_id
            {merged_join}
            WHERE i.id IN ({_marks(ids)})
            ORDER BY i.id""",
        list(ids),
    ).fetchall()

    labels: dict[int, list[str]] = {}
    for row in conn.execute(
        f"SELECT item_id, label FROM item_labels WHERE item_kind = ? AND item_id IN ({_marks(ids)}) "
        "ORDER BY item_id, label",
        [kind, *ids],
    ):
        labels.setdefault(int(row[0]), []).append(str(row[1]))

    people: dict[tuple[int, str], list[str]] = {}
    for row in conn.execute(
        f"""SELECT ip.item_id, ip.role, pe.name, pe.username FROM item_people ip
            JOIN people pe ON pe.id = ip.person_id
            WHERE ip.item_kind = ? AND ip.item_id IN ({_marks(ids)})
            ORDER BY ip.item_id, ip.role, pe.username""",
        [kind, *ids],
    ):
        people.setdefault((int(row[0]), str(row[1])), []).append(_person(row[2], row[3]))

    notes: dict[int, list[str]] = {}
    for row in conn.execute(
        f"""SELECT n.item_id, n.body, n.created_at, n.position_new_path, n.position_old_path,
                   pe.name, pe.username
            FROM notes n LEFT JOIN people pe ON pe.id = n.author_id
            WHERE n.item_kind = ? AND n.item_id IN ({_marks(ids)}) AND n.system = 0
            ORDER BY n.item_id, n.created_at, n.id""",
        [kind, *ids],
    ):
        body = _clean(row[1])
        if not body:
            continue
        where = row[3] or row[4]
        head = _person(row[5], row[6]) + (f" on {where}" if where else "")
        date = str(row[2] or "")[:10]
        notes.setdefault(int(row[0]), []).append(
            f"{head}, {date}:\n{body}" if date else f"{head}:\n{body}"
        )

    paths: dict[int, list[str]] = {}
    if kind == "mr":
        for row in conn.execute(
            f"SELECT mr_id, new_path FROM mr_paths WHERE mr_id IN ({_marks(ids)}) ORDER BY mr_id, new_path",
            list(ids),
        ):
            paths.setdefault(int(row[0]), []).append(str(row[1]))

    out: list[RenderedDocument] = []
    for item in items:
        item_id = int(item["id"])
        out.append(
            _render(
                kind,
                item,
                labels.get(item_id, []),
                people.get((item_id, "assignee"), []),
                people.get((item_id, "reviewer"), []),
                notes.get(item_id, []),
                paths.get(item_id, []),
            )
        )
    return out


def _render(
    kind: str,
    item: sqlite3.Row,
    labels: list[str],
    assignees: list[str],
    reviewers: list[str],
    notes: list[str],
    paths: list[str],
) -> RenderedDocument:
    ref = format_ref(kind, int(item["iid"]), item["project_path"])
    state = str(item["state"])
    if kind == "mr" and item["draft"]:
        state += " (draft)"
    # An incident, task or test case says so ("Incident group/app#3"), so searching for the
    # word finds it; a plain issue renders as before (its document hash does not change).
    noun = (
        "Merge request"
        if kind == "mr"
        else (str(item["issue_type"] or "issue").replace("_", " ").capitalize())
    )
    head = [
        f"{noun} {ref} · {state}",
        f"Author: {_person(item['author_name'], item['author_username'])}",
    ]
    if kind == "mr":
        if item["source_branch"] or item["target_branch"]:
            head.append(
                f"Branches: {item['source_branch'] or '?'} → {item['target_branch'] or '?'}"
            )
        if item["merged_by_username"]:
            head.append(f"Merged by: {_person(item['merged_by_name'], item['merged_by_username'])}")
    if assignees:
        head.append("Assignees: " + ", ".join(assignees))
    if reviewers:
        head.append("Reviewers: " + ", ".join(reviewers))
    if labels:
        head.append("Labels: " + ", ".join(labels))
    if item["milestone"]:
        head.append(f"Milestone: {_clean(item['milestone'])}")
    # Prose first, the facts last: snippets then come from what people wrote rather than
    # from branch names and label lists, and the first chunk embedded is the description.
    sections = []
    description = _clean(item["description"])
    if description:
        sections.append(description)
    if paths:
        shown = paths[:MAX_PATHS]
        more = f"\n(and {len(paths) - len(shown)} more)" if len(paths) > len(shown) else ""
        sections.append("Changed files:\n" + "\n".join(shown) + more)
    if notes:
        sections.append("Discussion:\n\n" + "\n\n".join(notes))
    sections.append("\n".join(head))
    return RenderedDocument(
        item_kind=kind,
        item_id=int(item["id"]),
        project_id=int(item["project_id"]),
        title=_clean(item["title"]),
        body="\n\n".join(sections),
        item_updated_at=str(item["updated_at"]),
    )


def render_items(conn: sqlite3.Connection, kind: str, ids: Sequence[int]) -> list[RenderedDocument]:
    """Render the documents of the given items (no writes); for tests and previews."""
    return _load_batch(conn, kind, ids)


# -- selecting and writing ----------------------------------------------------------------


def _project_filter(project_ids: list[int] | None, column: str) -> tuple[str, list[Any]]:
    if project_ids is None:
        return "", []
    if not project_ids:
        return " AND 0", []
    return f" AND {column} IN ({_marks(project_ids)})", list(project_ids)


def _candidates(
    conn: sqlite3.Connection, kind: str, project_ids: list[int] | None, full: bool
) -> list[int]:
    """Queued items of ``kind`` that exist (every item with ``full``), in id order."""
    table = _TABLES[kind]
    where, params = _project_filter(project_ids, "i.project_id")
    if full:
        sql = f"SELECT i.id FROM {table} i WHERE 1{where} ORDER BY i.id"
        return [int(r[0]) for r in conn.execute(sql, params)]
    sql = (
        f"SELECT q.item_id FROM docs_dirty q JOIN {table} i ON i.id = q.item_id "
        f"WHERE q.item_kind = ?{where} ORDER BY q.item_id"
    )
    return [int(r[0]) for r in conn.execute(sql, [kind, *params])]


def _write_batch(
    conn: sqlite3.Connection, docs: Iterable[RenderedDocument], now_iso: str
) -> tuple[int, int]:
    """Insert or update documents (their FTS rows follow by trigger); returns (changed,
    unchanged)."""
    changed = unchanged = 0
    for doc in docs:
        digest = doc.content_hash
        row = conn.execute(
            "SELECT id, content_hash FROM documents WHERE item_kind = ? AND item_id = ?",
            (doc.item_kind, doc.item_id),
        ).fetchone()
        if row is not None and row[1] == digest:
            # Same text: remember we checked it, touch nothing else (FTS, embeddings).
            conn.execute(
                "UPDATE documents SET item_updated_at = ?, rendered_at = ?, project_id = ? "
                "WHERE id = ?",
                (doc.item_updated_at, now_iso, doc.project_id, row[0]),
            )
            unchanged += 1
            continue
        if row is None:
            conn.execute(
                "INSERT INTO documents(item_kind, item_id, project_id, title, body, content_hash, "
                "item_updated_at, rendered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    doc.item_kind,
                    doc.item_id,
                    doc.project_id,
                    doc.title,
                    doc.body,
                    digest,
                    doc.item_updated_at,
                    now_iso,
                ),
            )
        else:
            conn.execute(
                "UPDATE documents SET project_id = ?, title = ?, body = ?, content_hash = ?, "
                "item_updated_at = ?, rendered_at = ? WHERE id = ?",
                (
                    doc.project_id,
                    doc.title,
                    doc.body,
                    digest,
                    doc.item_updated_at,
                    now_iso,
                    int(row[0]),
                ),
            )
        changed += 1
    return changed, unchanged


def _dequeue(conn: sqlite3.Connection, kind: str, ids: Sequence[int]) -> None:
    conn.executemany(
        "DELETE FROM docs_dirty WHERE item_kind = ? AND item_id = ?",
        [(kind, item_id) for item_id in ids],
    )


def _remove_orphans(conn: sqlite3.Connection) -> int:
    """Delete the documents (with FTS rows and embeddings) of queued items that no longer
    exist, and dequeue them."""
    removed = 0
    with transaction(conn):
        for kind, table in _TABLES.items():
            gone = [
                int(r[0])
                for r in conn.execute(
                    f"SELECT q.item_id FROM docs_dirty q WHERE q.item_kind = ? AND NOT EXISTS "
                    f"(SELECT 1 FROM {table} i WHERE i.id = q.item_id)",
                    (kind,),
                )
            ]
            for start in range(0, len(gone), 500):
                chunk = gone[start : start + 500]
                ids = [
                    int(r[0])
                    for r in conn.execute(
                        f"SELECT id FROM documents WHERE item_kind = ? AND item_id IN ({_marks(chunk)})",
                        [kind, *chunk],
                    )
                ]
                if ids:
                    conn.execute(
                        f"DELETE FROM embeddings WHERE document_id IN ({_marks(ids)})", ids
                    )
                    conn.execute(f"DELETE FROM documents WHERE id IN ({_marks(ids)})", ids)
                removed += len(ids)
                _dequeue(conn, kind, chunk)
    return removed


def _now_iso() -> str:
    return iso_from_ms(time.time_ns() // 1_000_000)


def run_docs_stage(
    conn: sqlite3.Connection,
    config: Config,
    *,
    project_ids: list[int] | None,
    full: bool,
    progress: Callable[[int, int], None] | None = None,
) -> StageResult:
    """Render and index the documents of every item that changed (every item with
    ``full``), and drop documents whose item is gone. Never raises for ordinary failures."""
    result = StageResult(stage="docs", success=True)
    checked = unchanged = 0
    try:
        removed = _remove_orphans(conn)
        work = [
            (kind, item_id)
            for kind in ("issue", "mr")
            for item_id in _candidates(conn, kind, project_ids, full)
        ]
        total = len(work)
        if progress is not None:
            progress(0, total)
        for start in range(0, total, BATCH_SIZE):
            batch = work[start : start + BATCH_SIZE]
            with transaction(conn):
                now = _now_iso()
                for kind in ("issue", "mr"):
                    ids = [item_id for k, item_id in batch if k == kind]
                    changed, same = _write_batch(conn, _load_batch(conn, kind, ids), now)
                    _dequeue(conn, kind, ids)
                    result.items_updated += changed
                    unchanged += same
            checked += len(batch)
            if progress is not None:
                progress(checked, total)
        result.details = {"checked": checked, "unchanged": unchanged, "removed": removed}
    except Exception as exc:  # the stage reports, it never raises
        err = as_lore_error(exc, "docs stage")
        result.success = False
        result.error = err.message
        result.error_code = err.code.value
        result.details = {"checked": checked, "unchanged": unchanged}
    return result
