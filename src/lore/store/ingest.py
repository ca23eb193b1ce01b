"""Writing GitLab's REST shapes into the store. Plain dicts in (the store never imports
the GitLab client); callers own the transaction.

Real GitLab bodies carry extra fields, nulls (``noteable_iid: null``, ``type: null``),
``\\r\\n`` in descriptions and milestones with group ids; every reader here is tolerant
of all of that.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lore.core.clock import normalize_iso

_BOT_RE = re.compile(r"(^|[-_.])bot($|[-_.\d\[])|\[bot\]$|^ghost$", re.I)


def _iso(value: Any) -> str | None:
    if not value or not isinstance(value, str):
        return None
    try:
        return normalize_iso(value)
    except ValueError:
        return None


def upsert_project(conn: sqlite3.Connection, raw: Mapping[str, Any]) -> int:
    project_id = int(raw["id"])
    path = str(raw.get("path_with_namespace") or raw.get("path") or project_id)
    # A project renamed upstream keeps its id; drop a stale row that holds the path.
    conn.execute("DELETE FROM projects WHERE path = ? AND id != ?", (path, project_id))
    conn.execute(
        """INSERT INTO projects(id, path, name, web_url, default_branch)
           VALUES (?, ?, ?, ?, ?)
           ON CONFLICT(id) DO UPDATE SET path=excluded.path, name=excluded.name,
             web_url=excluded.web_url, default_branch=excluded.default_branch""",
        (project_id, path, raw.get("name"), raw.get("web_url"), raw.get("default_branch")),
    )
    return project_id


#: A ``people`` row: (id, username, name, web_url, avatar_url, is_bot).
PersonRow = tuple[int, str, Any, Any, Any, int]
#: Person rows already written in the current transaction, by id. Writers pass one per
#: transaction so a user met 400 times in a page is written once (again only if the
#: row GitLab sent differs, so the last row sent still wins).
PeopleCache = dict[int, PersonRow]

_PERSON_SQL = """INSERT INTO people(id, username, name, web_url, avatar_url, is_bot)
           VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT(id) DO UPDATE SET username=excluded.username, name=excluded.name,
             web_url=excluded.web_url, avatar_url=excluded.avatar_url, is_bot=excluded.is_bot"""


def person_row(raw: Mapping[str, Any] | None) -> PersonRow | None:
    """The ``people`` row of a GitLab user object (None for a missing user)."""
    if not raw or raw.get("id") is None:
        return None
    username = str(raw.get("username") or f"user-{raw['id']}")
    is_bot = bool(raw.get("bot")) or bool(_BOT_RE.search(username))
    return (
        int(raw["id"]),
        username,
        raw.get("name"),
        raw.get("web_url"),
        raw.get("avatar_url"),
        int(is_bot),
    )


def write_people(
    conn: sqlite3.Connection, rows: Iterable[PersonRow], cache: PeopleCache | None = None
) -> None:
    """Upsert person rows in order, skipping those the cache says are already written."""
    if cache is None:
        conn.executemany(_PERSON_SQL, list(rows))
        return
    todo: list[PersonRow] = []
    for row in rows:
        if cache.get(row[0]) != row:
            cache[row[0]] = row
            todo.append(row)
    if todo:
        conn.executemany(_PERSON_SQL, todo)


def upsert_person(
    conn: sqlite3.Connection, raw: Mapping[str, Any] | None, cache: PeopleCache | None = None
) -> int | None:
    """Insert or refresh a user object; returns its id (None for a missing user)."""
    row = person_row(raw)
    if row is None:
        return None
    write_people(conn, (row,), cache)
    return row[0]


def _milestone_title(raw: Mapping[str, Any]) -> str | None:
    milestone = raw.get("milestone")
    if isinstance(milestone, Mapping):
        title = milestone.get("title")
        return str(title) if title is not None else None
    return None


def _labels(raw: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    for label in raw.get("labels") or []:
        # labels are strings by default, objects with `with_labels_details=true`
        name = label.get("name") if isinstance(label, Mapping) else label
        if isinstance(name, str) and name and name not in out:
            out.append(name)
    return out


def _set_labels(conn: sqlite3.Connection, kind: str, item_id: int, labels: Iterable[str]) -> None:
    conn.execute("DELETE FROM item_labels WHERE item_kind = ? AND item_id = ?", (kind, item_id))
    conn.executemany(
        "INSERT OR IGNORE INTO item_labels(item_kind, item_id, label) VALUES (?, ?, ?)",
        [(kind, item_id, label) for label in labels],
    )


def _set_people(
    conn: sqlite3.Connection,
    kind: str,
    item_id: int,
    role: str,
    users: Iterable[Mapping[str, Any]],
    cache: PeopleCache | None = None,
) -> None:
    conn.execute(
        "DELETE FROM item_people WHERE item_kind = ? AND item_id = ? AND role = ?",
        (kind, item_id, role),
    )
    rows = [row for row in map(person_row, users) if row is not None]
    if not rows:
        return
    write_people(conn, rows, cache)
    conn.executemany(
        "INSERT OR IGNORE INTO item_people(item_kind, item_id, role, person_id) "
        "VALUES (?, ?, ?, ?)",
        [(kind, item_id, role, row[0]) for row in rows],
    )


def _assignees(raw: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    users = [u for u in (raw.get("assignees") or []) if isinstance(u, Mapping)]
    single = raw.get("assignee")
    if not users and isinstance(single, Mapping):
        users = [single]
    return users


def set_kv(conn: sqlite3.Connection, key: str, value: str) -> None:
    """Insert or replace one ``kv`` entry (the caller owns the transaction)."""
    conn.execute(
        "INSERT INTO kv(key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def get_kv_json(conn: sqlite3.Connection, key: str) -> dict[str, Any] | None:
    """The ``kv`` entry ``key`` parsed as a JSON object; None when absent or unreadable."""
    row = conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
    if row is None:
        return None
    try:
        raw = json.loads(row[0])
    except (TypeError, ValueError):
        return None
    return raw if isinstance(raw, dict) else None


def item_table(kind: str) -> str:
    """The table of an item kind: "issue" → issues, "mr" → merge_requests."""
    return "issues" if kind == "issue" else "merge_requests"


@dataclass(frozen=True, slots=True)
class SyncFacts:
    """What the stage needs to know about a stored item to decide whether to read it."""

    updated_at: str
    user_notes_count: int
    children_fetched_at: str | None


def stored_sync_facts(
    conn: sqlite3.Connection, kind: str, item_ids: list[int]
) -> dict[int, SyncFacts]:
    """updated_at, note count and discussions-read time of the given items as stored."""
    if not item_ids:
        return {}
    table = item_table(kind)
    out: dict[int, SyncFacts] = {}
    for start in range(0, len(item_ids), 500):
        chunk = item_ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(
            f"SELECT id, updated_at, user_notes_count, children_fetched_at "
            f"FROM {table} WHERE id IN ({marks})",
            chunk,
        ):
            out[int(row[0])] = SyncFacts(str(row[1]), int(row[2] or 0), row[3])
    return out


def set_children_fetched_at(
    conn: sqlite3.Connection, kind: str, item_id: int, server_iso: str
) -> None:
    """Record GitLab's clock when the item's discussions were read."""
    table = item_table(kind)
    conn.execute(f"UPDATE {table} SET children_fetched_at = ? WHERE id = ?", (server_iso, item_id))


def item_iids(conn: sqlite3.Connection, kind: str, project_id: int) -> dict[int, int]:
    """id → iid of every stored item of one project."""
    table = item_table(kind)
    return {
        int(r[0]): int(r[1])
        for r in conn.execute(f"SELECT id, iid FROM {table} WHERE project_id = ?", (project_id,))
    }


#: GitLab's issue types (``issue_type`` on REST issues); anything else is kept as sent.
ISSUE_TYPES = ("issue", "incident", "task", "test_case", "requirement", "objective", "key_result")


def _issue_type(raw: Mapping[str, Any]) -> str:
    value = raw.get("issue_type")
    if not isinstance(value, str) or not value:
        # Older bodies only carry `type` ("ISSUE", "INCIDENT", "TEST_CASE", "TASK").
        value = raw.get("type") if isinstance(raw.get("type"), str) else "issue"
    return str(value).strip().lower() or "issue"


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def upsert_issue(
    conn: sqlite3.Connection,
    project_id: int,
    raw: Mapping[str, Any],
    synced_at: str,
    people: PeopleCache | None = None,
) -> int:
    """Insert or refresh one issue. Marks it ``status_pending``: its work-item status is
    fetched (GraphQL) after the page commits, and the mark stays until that succeeds."""
    issue_id = int(raw["id"])
    author_id = upsert_person(conn, raw.get("author"), people)
    created = _iso(raw.get("created_at")) or synced_at
    updated = _iso(raw.get("updated_at")) or created
    conn.execute(
        """INSERT INTO issues(id, project_id, iid, title, description, state, author_id, milestone,
             created_at, updated_at, closed_at, due_date, web_url, confidential, user_notes_count,
             synced_at, issue_type, moved_to_id, status_pending)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
           ON CONFLICT(id) DO UPDATE SET project_id=excluded.project_id, iid=excluded.iid,
             title=excluded.title, description=excluded.description, state=excluded.state,
             author_id=excluded.author_id, milestone=excluded.milestone,
             created_at=excluded.created_at, updated_at=excluded.updated_at,
             closed_at=excluded.closed_at, due_date=excluded.due_date, web_url=excluded.web_url,
             confidential=excluded.confidential, user_notes_count=excluded.user_notes_count,
             synced_at=excluded.synced_at, issue_type=excluded.issue_type,
             moved_to_id=excluded.moved_to_id, status_pending=1""",
        (
            issue_id,
            project_id,
            int(raw["iid"]),
            str(raw.get("title") or ""),
            raw.get("description"),
            str(raw.get("state") or "opened"),
            author_id,
            _milestone_title(raw),
            created,
            updated,
            _iso(raw.get("closed_at")),
            raw.get("due_date"),
            raw.get("web_url"),
            int(bool(raw.get("confidential"))),
            int(raw.get("user_notes_count") or 0),
            synced_at,
            _issue_type(raw),
            _int_or_none(raw.get("moved_to_id")),
        ),
    )
    _set_labels(conn, "issue", issue_id, _labels(raw))
    _set_people(conn, "issue", issue_id, "assignee", _assignees(raw), people)
    return issue_id


def upsert_mr(
    conn: sqlite3.Connection,
    project_id: int,
    raw: Mapping[str, Any],
    synced_at: str,
    people: PeopleCache | None = None,
) -> int:
    mr_id = int(raw["id"])
    author_id = upsert_person(conn, raw.get("author"), people)
    merged_by = raw.get("merged_by") or raw.get("merge_user")
    merged_by_id = upsert_person(
        conn, merged_by if isinstance(merged_by, Mapping) else None, people
    )
    created = _iso(raw.get("created_at")) or synced_at
    updated = _iso(raw.get("updated_at")) or created
    draft = raw.get("draft")
    if draft is None:
        draft = raw.get("work_in_progress")
    conn.execute(
        """INSERT INTO merge_requests(id, project_id, iid, title, description, state, draft,
             author_id, merged_by_id, source_branch, target_branch, milestone, created_at,
             updated_at, merged_at, closed_at, web_url, user_notes_count, synced_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT(id) DO UPDATE SET project_id=excluded.project_id, iid=excluded.iid,
             title=excluded.title, description=excluded.description, state=excluded.state,
             draft=excluded.draft, author_id=excluded.author_id,
             merged_by_id=excluded.merged_by_id, source_branch=excluded.source_branch,
             target_branch=excluded.target_branch, milestone=excluded.milestone,
             created_at=excluded.created_at, updated_at=excluded.updated_at,
             merged_at=excluded.merged_at, closed_at=excluded.closed_at,
             web_url=excluded.web_url, user_notes_count=excluded.user_notes_count,
             synced_at=excluded.synced_at""",
        (
            mr_id,
            project_id,
            int(raw["iid"]),
            str(raw.get("title") or ""),
            raw.get("description"),
            str(raw.get("state") or "opened"),
            int(bool(draft)),
            author_id,
            merged_by_id,
            raw.get("source_branch"),
            raw.get("target_branch"),
            _milestone_title(raw),
            created,
            updated,
            _iso(raw.get("merged_at")),
            _iso(raw.get("closed_at")),
            raw.get("web_url"),
            int(raw.get("user_notes_count") or 0),
            synced_at,
        ),
    )
    _set_labels(conn, "mr", mr_id, _labels(raw))
    _set_people(conn, "mr", mr_id, "assignee", _assignees(raw), people)
    reviewers = [u for u in (raw.get("reviewers") or []) if isinstance(u, Mapping)]
    _set_people(conn, "mr", mr_id, "reviewer", reviewers, people)
    return mr_id


def _line_range(note: Mapping[str, Any]) -> str | None:
    """A multi-line diff note's ``position.line_range`` as compact JSON (None when the note
    covers one line or has no range): ``{"start": {...}, "end": {...}}`` with each end's
    ``line_code``, ``type``, ``old_line`` and ``new_line``."""
    pos = note.get("position")
    rng = pos.get("line_range") if isinstance(pos, Mapping) else None
    if not isinstance(rng, Mapping):
        return None
    start, end = rng.get("start"), rng.get("end")
    if not isinstance(start, Mapping) or not isinstance(end, Mapping):
        return None
    keys = ("line_code", "type", "old_line", "new_line")
    start_d = {k: start.get(k) for k in keys}
    end_d = {k: end.get(k) for k in keys}
    if start_d == end_d:
        return None
    return json.dumps({"start": start_d, "end": end_d}, separators=(",", ":"), sort_keys=True)


def _position(note: Mapping[str, Any]) -> tuple[str | None, str | None, int | None, int | None]:
    pos = note.get("position")
    if not isinstance(pos, Mapping):
        return None, None, None, None

    def line(value: Any) -> int | None:
        return int(value) if isinstance(value, int | str) and str(value).isdigit() else None

    return (
        pos.get("old_path"),
        pos.get("new_path"),
        line(pos.get("old_line")),
        line(pos.get("new_line")),
    )


_NOTE_COLUMNS = (
    "id",
    "discussion_id",
    "project_id",
    "item_kind",
    "item_id",
    "author_id",
    "body",
    "note_type",
    "system",
    "resolvable",
    "resolved",
    "created_at",
    "updated_at",
    "position_old_path",
    "position_new_path",
    "position_old_line",
    "position_new_line",
    "internal",
    "position_line_range",
)
_NOTE_SQL = (
    f"INSERT INTO notes({', '.join(_NOTE_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_NOTE_COLUMNS))}) ON CONFLICT(id) DO UPDATE SET "
    + ", ".join(f"{c}=excluded.{c}" for c in _NOTE_COLUMNS[1:])
)
_DISCUSSION_SQL = (
    "INSERT INTO discussions(id, project_id, item_kind, item_id, individual_note) "
    "VALUES (?, ?, ?, ?, ?)"
)
_PATH_SQL = (
    "INSERT OR REPLACE INTO mr_paths(mr_id, new_path, old_path, new_file, renamed_file, "
    "deleted_file, source) VALUES (?, ?, ?, ?, ?, ?, ?)"
)


@dataclass(slots=True)
class PreparedChildren:
    """An item's discussions (and an MR's diffs) turned into the exact rows they produce:
    built by :func:`prepare_children` without a connection (in a fetch worker), written by
    :func:`write_children` (in the writer)."""

    kind: str
    item_id: int
    discussions: list[tuple[Any, ...]]
    notes: list[tuple[Any, ...]]
    people: list[PersonRow]
    #: mr_paths rows (diff list, then paths only diff notes know), None for issues
    paths: list[tuple[Any, ...]] | None
    overflow: bool
    changes_count: str | None
    digest: str = ""
    note_count: int = field(default=0)


def _note_row(
    note: Mapping[str, Any],
    disc_id: str,
    project_id: int,
    kind: str,
    item_id: int,
    author_id: int | None,
) -> tuple[Any, ...]:
    created = _iso(note.get("created_at")) or ""
    old_path, new_path, old_line, new_line = _position(note)
    return (
        int(note["id"]),
        disc_id,
        project_id,
        kind,
        item_id,
        author_id,
        str(note.get("body") or ""),
        note.get("type"),
        int(bool(note.get("system"))),
        int(bool(note.get("resolvable"))),
        int(bool(note.get("resolved"))),
        created,
        _iso(note.get("updated_at")) or created,
        old_path,
        new_path,
        old_line,
        new_line,
        int(bool(note.get("internal") or note.get("confidential"))),
        _line_range(note),
    )


def _diff_note_paths(
    mr_id: int, notes: Iterable[tuple[Any, ...]], taken: set[str]
) -> list[tuple[Any, ...]]:
    """What :func:`add_diff_note_paths` adds, computed from the note rows: for each path a
    diff note points at (new path, else old; and the old side of a rename), the smallest
    old path, unless the diff list already has the path."""
    best: dict[str, str] = {}
    for row in notes:
        old_path, new_path = row[13], row[14]
        path = new_path if new_path is not None else old_path
        if path is None:
            continue
        old = old_path if old_path is not None else new_path
        if path not in best or old < best[path]:
            best[path] = old
        if (
            old_path is not None
            and new_path is not None
            and old_path != new_path
            and (old_path not in best or old_path < best[old_path])
        ):
            best[old_path] = old_path
    return [
        (mr_id, path, old, 0, 0, 0, "diff_note") for path, old in best.items() if path not in taken
    ]


def prepare_children(
    project_id: int,
    kind: str,
    item_id: int,
    discussions: Iterable[Any],
    diffs: Iterable[Any] = (),
    *,
    overflow: bool = False,
    changes_count: str | None = None,
) -> PreparedChildren:
    """The rows an item's REST-shaped discussions (``/discussions``) and, for an MR, diffs
    (``/diffs`` entries or ``/changes`` ``changes``) produce, exactly as
    :func:`replace_discussions`, :func:`replace_mr_paths` and :func:`add_diff_note_paths`
    would write them (later duplicates win, as with INSERT OR REPLACE). Pure: no
    connection, so a fetch worker can run it."""
    discs: dict[str, tuple[Any, ...]] = {}
    notes: dict[int, tuple[Any, ...]] = {}
    people: dict[int, PersonRow] = {}
    for disc in discussions:
        if not isinstance(disc, Mapping):
            continue
        disc_id = str(disc.get("id"))
        if disc_id in discs:  # a repeated discussion replaces the first one and its notes
            for note_id in [n for n, row in notes.items() if row[1] == disc_id]:
                del notes[note_id]
            del discs[disc_id]
        discs[disc_id] = (
            disc_id,
            project_id,
            kind,
            item_id,
            int(bool(disc.get("individual_note"))),
        )
        for note in disc.get("notes") or []:
            if not isinstance(note, Mapping) or note.get("id") is None:
                continue
            author = person_row(note.get("author"))
            if author is not None:
                people.pop(author[0], None)
                people[author[0]] = author
            row = _note_row(
                note, disc_id, project_id, kind, item_id, author[0] if author is not None else None
            )
            notes.pop(row[0], None)
            notes[row[0]] = row
    paths: list[tuple[Any, ...]] | None = None
    if kind == "mr":
        by_path: dict[str, tuple[Any, ...]] = {}
        for diff in diffs:
            if not isinstance(diff, Mapping):
                continue
            new_path = diff.get("new_path") or diff.get("old_path")
            if not new_path:
                continue
            by_path[str(new_path)] = (
                item_id,
                str(new_path),
                str(diff.get("old_path") or new_path),
                int(bool(diff.get("new_file"))),
                int(bool(diff.get("renamed_file"))),
                int(bool(diff.get("deleted_file"))),
                "diff",
            )
        paths = [*by_path.values(), *_diff_note_paths(item_id, notes.values(), set(by_path))]
    disc_rows, note_rows = list(discs.values()), list(notes.values())
    digest = hashlib.blake2b(
        repr((disc_rows, note_rows, paths, bool(overflow), changes_count)).encode(), digest_size=16
    ).hexdigest()
    return PreparedChildren(
        kind,
        item_id,
        disc_rows,
        note_rows,
        list(people.values()),
        paths,
        bool(overflow),
        changes_count,
        digest,
        len(note_rows),
    )


def children_hashes(conn: sqlite3.Connection, kind: str, item_ids: list[int]) -> dict[int, str]:
    """The stored children hash of each given item that has one."""
    out: dict[int, str] = {}
    for start in range(0, len(item_ids), 500):
        chunk = item_ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(
            "SELECT item_id, children_hash FROM item_children "
            f"WHERE item_kind = ? AND item_id IN ({marks})",
            [kind, *chunk],
        ):
            out[int(row[0])] = str(row[1])
    return out


def write_children(
    conn: sqlite3.Connection,
    prepared: PreparedChildren,
    people: PeopleCache | None = None,
    stored_hash: str | None = None,
) -> bool:
    """Replace an item's discussions, notes (and an MR's paths and diff facts) by the
    prepared rows. When ``stored_hash`` (:func:`children_hashes`) equals the prepared
    digest the rows in the store are already these: only the note authors are refreshed.
    Returns whether rows were rewritten."""
    write_people(conn, prepared.people, people)
    if stored_hash is not None and stored_hash == prepared.digest:
        return False
    kind, item_id = prepared.kind, prepared.item_id
    _write_discussions(conn, prepared)
    if prepared.paths is not None:
        conn.execute("DELETE FROM mr_paths WHERE mr_id = ?", (item_id,))
        if prepared.paths:
            conn.executemany(_PATH_SQL, prepared.paths)
        set_mr_diff_facts(
            conn, item_id, overflow=prepared.overflow, changes_count=prepared.changes_count
        )
    conn.execute(
        "INSERT INTO item_children(item_kind, item_id, children_hash) VALUES (?, ?, ?) "
        "ON CONFLICT(item_kind, item_id) DO UPDATE SET children_hash = excluded.children_hash",
        (kind, item_id, prepared.digest),
    )
    return True


def replace_discussions(
    conn: sqlite3.Connection,
    project_id: int,
    kind: str,
    item_id: int,
    discussions: Iterable[Mapping[str, Any]],
) -> int:
    """Replace every discussion and note of one item; returns the number of notes."""
    prepared = prepare_children(project_id, kind, item_id, discussions)
    write_people(conn, prepared.people)
    _write_discussions(conn, prepared)
    return prepared.note_count


def _write_discussions(conn: sqlite3.Connection, prepared: PreparedChildren) -> None:
    """Replace the item's discussions and notes with the prepared rows."""
    conn.execute(
        "DELETE FROM discussions WHERE item_kind = ? AND item_id = ?",
        (prepared.kind, prepared.item_id),
    )
    if prepared.discussions:
        # A discussion id held by another item moves here, as INSERT OR REPLACE did.
        conn.executemany(
            "DELETE FROM discussions WHERE id = ?", [(row[0],) for row in prepared.discussions]
        )
        conn.executemany(_DISCUSSION_SQL, prepared.discussions)
    if prepared.notes:
        conn.executemany(_NOTE_SQL, prepared.notes)


def set_mr_diff_facts(
    conn: sqlite3.Connection, mr_id: int, *, overflow: bool, changes_count: str | None
) -> None:
    """Record whether GitLab cut the MR's diff list at its limits (``overflow: true`` on
    ``/changes``, or ``changes_count`` like ``"1000+"``): its paths are then incomplete."""
    conn.execute(
        "UPDATE merge_requests SET diffs_overflow = ?, changes_count = ? WHERE id = ?",
        (int(overflow), changes_count, mr_id),
    )


def add_diff_note_paths(conn: sqlite3.Connection, mr_id: int) -> int:
    """Paths that the MR's diff notes point at but its diff list lacks (files dropped by a
    later push, truncated diffs) are evidence the MR touched them: add them as
    ``source = 'diff_note'`` rows. Call after the MR's paths and discussions are written."""
    cur = conn.execute(
        """INSERT OR IGNORE INTO mr_paths(mr_id, new_path, old_path, source)
           SELECT ?, path, MIN(old_path), 'diff_note' FROM (
             SELECT COALESCE(position_new_path, position_old_path) AS path,
                    COALESCE(position_old_path, position_new_path) AS old_path
               FROM notes WHERE item_kind = 'mr' AND item_id = ?
                AND COALESCE(position_new_path, position_old_path) IS NOT NULL
             UNION ALL
             SELECT position_old_path, position_old_path FROM notes
              WHERE item_kind = 'mr' AND item_id = ? AND position_old_path IS NOT NULL
                AND position_new_path IS NOT NULL AND position_old_path != position_new_path)
           GROUP BY path""",
        (mr_id, mr_id, mr_id),
    )
    return cur.rowcount


def replace_mr_paths(
    conn: sqlite3.Connection, mr_id: int, diffs: Iterable[Mapping[str, Any]]
) -> int:
    conn.execute("DELETE FROM mr_paths WHERE mr_id = ?", (mr_id,))
    prepared = prepare_children(0, "mr", mr_id, (), diffs)
    rows = [row[:6] for row in prepared.paths or [] if row[6] == "diff"]
    conn.executemany(
        """INSERT OR REPLACE INTO mr_paths(mr_id, new_path, old_path, new_file, renamed_file,
             deleted_file) VALUES (?, ?, ?, ?, ?, ?)""",
        rows,
    )
    return len(rows)


def delete_items(conn: sqlite3.Connection, kind: str, item_ids: Iterable[int]) -> int:
    """Remove items (and everything hanging off them) that no longer exist upstream."""
    table = item_table(kind)
    count = 0
    for item_id in item_ids:
        conn.execute("DELETE FROM discussions WHERE item_kind = ? AND item_id = ?", (kind, item_id))
        conn.execute("DELETE FROM notes WHERE item_kind = ? AND item_id = ?", (kind, item_id))
        conn.execute("DELETE FROM item_labels WHERE item_kind = ? AND item_id = ?", (kind, item_id))
        conn.execute("DELETE FROM item_people WHERE item_kind = ? AND item_id = ?", (kind, item_id))
        doc = conn.execute(
            "SELECT id FROM documents WHERE item_kind = ? AND item_id = ?", (kind, item_id)
        ).fetchone()
        if doc is not None:  # its FTS row goes with it (trigger fts_documents_delete)
            conn.execute("DELETE FROM embeddings WHERE document_id = ?", (doc[0],))
            conn.execute("DELETE FROM documents WHERE id = ?", (doc[0],))
        count += conn.execute(f"DELETE FROM {table} WHERE id = ?", (item_id,)).rowcount
    return count


def item_ids(conn: sqlite3.Connection, kind: str, project_id: int) -> set[int]:
    table = item_table(kind)
    return {
        int(r[0])
        for r in conn.execute(f"SELECT id FROM {table} WHERE project_id = ?", (project_id,))
    }


def get_cursor(conn: sqlite3.Connection, project_id: int, resource: str) -> str | None:
    row = conn.execute(
        "SELECT updated_after FROM sync_cursors WHERE project_id = ? AND resource = ?",
        (project_id, resource),
    ).fetchone()
    return str(row[0]) if row and row[0] else None


def set_cursor(
    conn: sqlite3.Connection, project_id: int, resource: str, updated_after: str, now_iso: str
) -> None:
    """Advance (never move back) the cursor for one project and resource."""
    conn.execute(
        """INSERT INTO sync_cursors(project_id, resource, updated_after, advanced_at)
           VALUES (?, ?, ?, ?)
           ON CONFLICT(project_id, resource) DO UPDATE SET
             updated_after = MAX(COALESCE(sync_cursors.updated_after, ''), excluded.updated_after),
             advanced_at = excluded.advanced_at""",
        (project_id, resource, updated_after, now_iso),
    )
