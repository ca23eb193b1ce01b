"""Issues and merge requests: filtered lists, hydration of ids into summaries, reference
resolution and the full view with discussions."""

from __future__ import annotations

import difflib
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from lore.core.errors import ErrorCode, LoreError
from lore.core.refs import ItemRef, format_ref, parse_ref
from lore.query.filters import ItemFilters, normalize_username
from lore.query.store import (
    NOTHING_SYNCED_HINT,
    has_issue_status,
    normalize_status_category,
    project_not_found,
    require_status_data,
    resolve_project,
    resolve_projects,
    status_category_sql,
)

TABLES: dict[str, str] = {"issue": "issues", "mr": "merge_requests"}
KIND_NOUN: dict[str, str] = {"issue": "issue", "mr": "merge request"}
_LIST_COMMAND: dict[str, str] = {"issue": "lore issues", "mr": "lore mrs"}
_SORT_COLUMNS: dict[str, str] = {"updated": "updated_at", "created": "created_at", "iid": "iid"}
# SQLite allows 32766 host parameters; stay far below for older builds.
_CHUNK = 500


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def _marks(n: int) -> str:
    return ",".join("?" * n)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# -- summaries ---------------------------------------------------------------------------


def _status_of(row: sqlite3.Row, with_status: bool) -> dict[str, Any] | None:
    if not with_status or row["status_name"] is None:
        return None
    return {
        "name": row["status_name"],
        "category": row["status_category"],
        "color": row["status_color"],
    }


def item_summaries(conn: sqlite3.Connection, kind: str, ids: Sequence[int]) -> list[dict[str, Any]]:
    """The list-shaped dict of each issue/MR id (global GitLab id), in the order given;
    ids not in the mirror are skipped. Reusable by anything that finds items by id
    (search hits, `who` evidence).

    Each dict has ``ref, kind, project, iid, title, state, author, assignees, labels,
    milestone, created_at, updated_at, closed_at, web_url, user_notes_count`` plus, for
    issues, ``status`` ({name, category, color} or None), ``confidential``, ``due_date``;
    for merge requests ``draft, merged_at, merged_by, source_branch, target_branch,
    reviewers``.
    """
    table = TABLES[kind]
    ordered = list(dict.fromkeys(int(i) for i in ids))
    if not ordered:
        return []
    with_status = kind == "issue" and has_issue_status(conn)
    merged_by = (
        ", mb.username AS merged_by_username" if kind == "mr" else ", NULL AS merged_by_username"
    )
    merged_join = " LEFT JOIN people mb ON mb.id = t.merged_by_id" if kind == "mr" else ""
    rows: dict[int, sqlite3.Row] = {}
    labels: dict[int, list[str]] = {i: [] for i in ordered}
    people: dict[int, dict[str, list[str]]] = {i: {"assignee": [], "reviewer": []} for i in ordered}
    for chunk in _chunks(ordered):
        marks = _marks(len(chunk))
        for row in conn.execute(
            f"SELECT t.*, p.path AS project_path, a.username AS author_username{merged_by} "
            f"FROM {table} t JOIN projects p ON p.id = t.project_id "
            f"LEFT JOIN people a ON a.id = t.author_id{merged_join} "
            f"WHERE t.id IN ({marks})",
            chunk,
        ):
            rows[int(row["id"])] = row
        for item_id, label in conn.execute(
            f"SELECT item_id, label FROM item_labels WHERE item_kind = ? AND item_id IN ({marks}) "
            "ORDER BY label COLLATE NOCASE",
            (kind, *chunk),
        ):
            labels[int(item_id)].append(str(label))
        for item_id, role, username in conn.execute(
            "SELECT ip.item_id, ip.role, pe.username FROM item_people ip "
            "JOIN people pe ON pe.id = ip.person_id "
            f"WHERE ip.item_kind = ? AND ip.item_id IN ({marks}) ORDER BY pe.username COLLATE NOCASE",
            (kind, *chunk),
        ):
            people[int(item_id)][str(role)].append(str(username))
    out: list[dict[str, Any]] = []
    for item_id in ordered:
        row = rows.get(item_id)
        if row is None:
            continue
        project = str(row["project_path"])
        item: dict[str, Any] = {
            "ref": format_ref(kind, int(row["iid"]), project),
            "kind": kind,
            "id": item_id,
            "project": project,
            "iid": int(row["iid"]),
            "title": row["title"],
            "state": row["state"],
            "author": row["author_username"],
            "assignees": people[item_id]["assignee"],
            "labels": labels[item_id],
            "milestone": row["milestone"],
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
            "closed_at": row["closed_at"],
            "web_url": row["web_url"],
            "user_notes_count": int(row["user_notes_count"] or 0),
        }
        if kind == "issue":
            item["status"] = _status_of(row, with_status)
            item["confidential"] = bool(row["confidential"])
            item["due_date"] = row["due_date"]
        else:
            item["draft"] = bool(row["draft"])
            item["merged_at"] = row["merged_at"]
            item["merged_by"] = row["merged_by_username"]
            item["source_branch"] = row["source_branch"]
            item["target_branch"] = row["target_branch"]
            item["reviewers"] = people[item_id]["reviewer"]
        out.append(item)
    return out


# -- lists -------------------------------------------------------------------------------


def _person_ids(conn: sqlite3.Connection, username: str) -> list[int]:
    return [
        int(r[0])
        for r in conn.execute("SELECT id FROM people WHERE username = ? COLLATE NOCASE", (username,))
    ]


def _near(word: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _empty_result(kind: str, filters: ItemFilters, hints: list[str]) -> dict[str, Any]:
    return {"kind": kind, "items": [], "total": 0, "count": 0, "filters": filters.to_dict(kind),
            "hints": hints}


def list_items(
    conn: sqlite3.Connection | None, kind: str, filters: ItemFilters
) -> dict[str, Any]:
    """Issues (``kind="issue"``) or merge requests (``"mr"``) matching ``filters``.

    Returns ``{"kind", "items": [summary…], "total": matches before the limit,
    "count": len(items), "filters": the filters as applied, "hints": [why the list may
    be empty…]}``. ``conn=None`` means nothing has been synced yet (an empty list and a
    hint, like an empty mirror). Raises USAGE_ERROR for invalid filters or a status
    filter on a mirror without status data, NOT_FOUND/AMBIGUOUS for ``projects``.
    """
    filters.validate(kind)
    filters.author = normalize_username(filters.author)
    filters.assignee = normalize_username(filters.assignee)
    filters.reviewer = normalize_username(filters.reviewer)
    if conn is None:
        return _empty_result(kind, filters, [NOTHING_SYNCED_HINT])
    table = TABLES[kind]
    clauses = _where_clauses(conn, kind, filters)
    hints = clauses.hints
    where_sql, params = clauses.sql(), clauses.params()
    total = int(conn.execute(f"SELECT COUNT(*) FROM {table} t{where_sql}", params).fetchone()[0])
    direction = "ASC" if filters.ascending else "DESC"
    column = _SORT_COLUMNS[filters.sort]
    # Ties broken by the global id so the order is stable across runs (and an index on
    # (state, updated_at) — whose entries end in the rowid — serves the whole ORDER BY);
    # iids repeat across projects, so that sort groups them by project first.
    tie = f"t.project_id {direction}, t.id {direction}" if column == "iid" else f"t.id {direction}"
    order = f"t.{column} {direction}, {tie}"
    ids = [
        int(r[0])
        for r in conn.execute(
            f"SELECT t.id FROM {table} t{where_sql} ORDER BY {order} LIMIT ?",
            (*params, filters.limit),
        )
    ]
    items = item_summaries(conn, kind, ids)
    if total == 0:
        hints.extend(_empty_hints(conn, kind, filters, clauses))
    return {"kind": kind, "items": items, "total": total, "count": len(items),
            "filters": filters.to_dict(kind), "hints": hints}


@dataclass
class _Where:
    """WHERE clauses with their parameters; ``state`` kept apart so an empty result can
    say how many items match in other states."""

    parts: list[tuple[str, list[Any]]] = field(default_factory=list)
    state: tuple[str, list[Any]] | None = None
    hints: list[str] = field(default_factory=list)

    def add(self, clause: str, *params: Any) -> None:
        self.parts.append((clause, list(params)))

    def _all(self, with_state: bool) -> list[tuple[str, list[Any]]]:
        return [*self.parts, self.state] if with_state and self.state else list(self.parts)

    def sql(self, with_state: bool = True) -> str:
        parts = self._all(with_state)
        return " WHERE " + " AND ".join(c for c, _ in parts) if parts else ""

    def params(self, with_state: bool = True) -> list[Any]:
        return [p for _, ps in self._all(with_state) for p in ps]


def _where_clauses(conn: sqlite3.Connection, kind: str, filters: ItemFilters) -> _Where:
    where = _Where()
    if filters.projects:
        resolved = resolve_projects(conn, filters.projects)
        filters.projects = [path for _id, path in resolved]
        where.add(f"t.project_id IN ({_marks(len(resolved))})", *(pid for pid, _ in resolved))
    if filters.state != "all":
        # With only unindexed filters (title, status, milestone) left to test, reading the
        # table in order beats hopping through the state index to a third of its rows;
        # SQLite's unary "+" keeps the planner off that index.
        scan = not (filters.projects or filters.labels or filters.author or filters.assignee
                    or filters.reviewer or filters.since) and bool(
            filters.search or filters.status or filters.status_category or filters.milestone)
        where.state = ("+t.state = ?" if scan else "t.state = ?", [filters.state])
    for label in filters.labels:
        # Every label must match: one set per label (served by the NOCASE label index of
        # migration 5), intersected by the planner.
        where.add(
            "t.id IN (SELECT item_id FROM item_labels WHERE label = ? COLLATE NOCASE "
            "AND item_kind = ?)",
            label,
            kind,
        )
    if filters.author:
        ids = _person_ids(conn, filters.author)
        if ids:
            where.add(f"t.author_id IN ({_marks(len(ids))})", *ids)
        else:
            where.hints.append(_unknown_user_hint(conn, filters.author))
            where.add("0")
    for role, username in (("assignee", filters.assignee), ("reviewer", filters.reviewer)):
        if not username:
            continue
        ids = _person_ids(conn, username)
        if not ids:
            where.hints.append(_unknown_user_hint(conn, username))
            where.add("0")
            continue
        where.add(
            "t.id IN (SELECT item_id FROM item_people WHERE item_kind = ? AND role = ? "
            f"AND person_id IN ({_marks(len(ids))}))",
            kind,
            role,
            *ids,
        )
    if filters.milestone:
        where.add("t.milestone = ? COLLATE NOCASE", filters.milestone)
    if filters.since:
        where.add("t.updated_at >= ?", filters.since)
    if filters.draft is not None:
        where.add("t.draft = ?", 1 if filters.draft else 0)
    if filters.search:
        where.add("t.title LIKE ? ESCAPE '\\'", f"%{_like_escape(filters.search)}%")
    if kind == "issue" and (filters.status or filters.status_category):
        require_status_data(conn)
        if filters.status:
            where.add("t.status_name = ? COLLATE NOCASE", filters.status.strip())
        if filters.status_category:
            where.add(f"{status_category_sql('t.status_category')} = ?",
                      normalize_status_category(filters.status_category))
    return where


def _unknown_user_hint(conn: sqlite3.Connection, username: str) -> str:
    known = [str(r[0]) for r in conn.execute("SELECT DISTINCT username FROM people")]
    return f"no mirrored user is called {username!r}{_near(username, known)}"


def _empty_hints(
    conn: sqlite3.Connection, kind: str, filters: ItemFilters, where: _Where
) -> list[str]:
    """Why a list came out empty, when a filter value matches nothing in the mirror."""
    hints: list[str] = []
    if conn.execute("SELECT 1 FROM projects LIMIT 1").fetchone() is None:
        return [NOTHING_SYNCED_HINT]
    for label in filters.labels:
        if conn.execute(
            "SELECT 1 FROM item_labels WHERE label = ? COLLATE NOCASE LIMIT 1", (label,)
        ).fetchone() is None:
            known = [str(r[0]) for r in conn.execute("SELECT DISTINCT label FROM item_labels")]
            hints.append(f"no mirrored item has the label {label!r}{_near(label, known)}")
    if kind == "issue" and filters.status:
        names = [
            str(r[0])
            for r in conn.execute(
                "SELECT DISTINCT status_name FROM issues WHERE status_name IS NOT NULL "
                "ORDER BY status_name"
            )
        ]
        if filters.status.lower() not in {n.lower() for n in names}:
            hints.append(f"no issue has the status {filters.status!r}; known: {', '.join(names)}")
    if where.state is not None:
        # "+t.state": grouping through the state index would visit rows in index order,
        # one random read each; a scan plus a tiny sort is far cheaper.
        others = conn.execute(
            f"SELECT t.state, COUNT(*) FROM {TABLES[kind]} t{where.sql(with_state=False)} "
            "GROUP BY +t.state ORDER BY 1",
            where.params(with_state=False),
        ).fetchall()
        if others:
            found = ", ".join(f"{n} {state}" for state, n in others)
            hints.append(f"nothing {filters.state} matches, but {found} do: add --state all")
    return hints


# -- references --------------------------------------------------------------------------


@dataclass(frozen=True)
class ResolvedRef:
    """One mirrored issue or MR a reference points at."""

    kind: str
    id: int
    project_id: int
    project: str
    iid: int

    @property
    def ref(self) -> str:
        return format_ref(self.kind, self.iid, self.project)


def _other_kind_hint(conn: sqlite3.Connection, ref: ItemRef, project_id: int | None) -> str:
    other = "mr" if ref.kind == "issue" else "issue"
    sql = (
        f"SELECT p.path FROM {TABLES[other]} t JOIN projects p ON p.id = t.project_id "
        "WHERE t.iid = ?"
    )
    params: list[Any] = [ref.iid]
    if project_id is not None:
        sql += " AND t.project_id = ?"
        params.append(project_id)
    row = conn.execute(sql + " ORDER BY p.path LIMIT 1", params).fetchone()
    if row is None:
        return ""
    return f"; note that {format_ref(other, ref.iid, str(row[0]))} is a {KIND_NOUN[other]}"


def resolve_ref(conn: sqlite3.Connection | None, ref: ItemRef | str) -> ResolvedRef:
    """Find the one mirrored item ``ref`` names (``#12``, ``!34``, ``group/repo#12`` or a
    web URL; a string is parsed with :func:`lore.core.refs.parse_ref`).

    NOT_FOUND when the project or item is not mirrored (with a suggestion), AMBIGUOUS
    when an unqualified ref exists in several projects (``details["candidates"]`` lists
    the qualified refs), USAGE_ERROR for malformed text.
    """
    parsed = parse_ref(ref) if isinstance(ref, str) else ref
    noun = KIND_NOUN[parsed.kind]
    if conn is None:
        raise LoreError(
            ErrorCode.NOT_FOUND,
            f"{noun} {parsed} is not in the mirror: nothing is synced yet",
            suggestion="Run `lore sync` to mirror your projects",
            actions=["lore sync"],
        )
    table = TABLES[parsed.kind]
    project_id: int | None = None
    if parsed.project is not None:
        row = conn.execute(
            "SELECT id, path FROM projects WHERE path = ? COLLATE NOCASE", (parsed.project,)
        ).fetchone()
        if row is None:
            known = [str(r[0]) for r in conn.execute("SELECT path FROM projects ORDER BY path")]
            raise project_not_found(parsed.project, known)
        project_id = int(row["id"])
        rows = conn.execute(
            f"SELECT t.id, t.project_id, p.path, t.iid FROM {table} t "
            "JOIN projects p ON p.id = t.project_id WHERE t.project_id = ? AND t.iid = ?",
            (project_id, parsed.iid),
        ).fetchall()
    else:
        rows = conn.execute(
            f"SELECT t.id, t.project_id, p.path, t.iid FROM {table} t "
            "JOIN projects p ON p.id = t.project_id WHERE t.iid = ? ORDER BY p.path",
            (parsed.iid,),
        ).fetchall()
    if len(rows) == 1:
        r = rows[0]
        return ResolvedRef(parsed.kind, int(r[0]), int(r[1]), str(r[2]), int(r[3]))
    if not rows:
        scope = f"--project {parsed.project}" if parsed.project else ""
        listing = f"{_LIST_COMMAND[parsed.kind]} {scope}".strip()
        raise LoreError(
            ErrorCode.NOT_FOUND,
            f"{noun} {parsed} is not in the mirror{_other_kind_hint(conn, parsed, project_id)}",
            suggestion=f"If it is newer than the last sync, run `lore sync`; "
            f"`{listing} --state all` lists what is mirrored",
            actions=["lore sync", f"{listing} --state all"],
        )
    candidates = [format_ref(parsed.kind, int(r[3]), str(r[2])) for r in rows]
    raise LoreError(
        ErrorCode.AMBIGUOUS,
        f"{parsed} matches {noun}s in {len(candidates)} projects",
        suggestion=f"Qualify it with the project, e.g. lore show {candidates[0]}",
        actions=[f"lore show {c}" for c in candidates],
        details={"candidates": candidates},
    )


# -- one item ----------------------------------------------------------------------------


def _position(row: sqlite3.Row) -> dict[str, Any] | None:
    if row["position_new_path"] is None and row["position_old_path"] is None:
        return None
    return {
        "old_path": row["position_old_path"],
        "new_path": row["position_new_path"],
        "old_line": row["position_old_line"],
        "new_line": row["position_new_line"],
    }


def _discussions(
    conn: sqlite3.Connection, kind: str, item_id: int, include_system: bool
) -> tuple[list[dict[str, Any]], int]:
    """Threads in the order they started, notes in the order written; and how many
    system notes were left out."""
    threads: dict[str, dict[str, Any]] = {}
    hidden = 0
    for row in conn.execute(
        "SELECT n.*, d.individual_note, a.username AS author_username FROM notes n "
        "JOIN discussions d ON d.id = n.discussion_id "
        "LEFT JOIN people a ON a.id = n.author_id "
        "WHERE n.item_kind = ? AND n.item_id = ? ORDER BY n.created_at, n.id",
        (kind, item_id),
    ):
        if row["system"] and not include_system:
            hidden += 1
            continue
        thread = threads.get(row["discussion_id"])
        if thread is None:
            thread = threads[row["discussion_id"]] = {
                "id": row["discussion_id"],
                "individual_note": bool(row["individual_note"]),
                "resolvable": False,
                "resolved": False,
                "position": None,
                "notes": [],
            }
        note = {
            "id": int(row["id"]),
            "author": row["author_username"],
            "body": row["body"],
            "system": bool(row["system"]),
            "type": row["note_type"],
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
            "resolvable": bool(row["resolvable"]),
            "resolved": bool(row["resolved"]),
            "position": _position(row),
        }
        thread["notes"].append(note)
        if thread["position"] is None:
            thread["position"] = note["position"]
    for thread in threads.values():
        resolvable = [n for n in thread["notes"] if n["resolvable"]]
        thread["resolvable"] = bool(resolvable)
        thread["resolved"] = bool(resolvable) and all(n["resolved"] for n in resolvable)
    return list(threads.values()), hidden


def get_item(
    conn: sqlite3.Connection | None, ref: ItemRef | str, *, include_system: bool = True
) -> dict[str, Any]:
    """One issue or MR for ``lore show``: its summary (see :func:`item_summaries`) plus
    ``description``, ``discussions`` (each ``{id, individual_note, resolvable, resolved,
    position, notes: [{id, author, body, system, type, created_at, updated_at,
    resolvable, resolved, position}]}``), ``counts`` and, for merge requests,
    ``changes`` (the paths it touched). Errors as :func:`resolve_ref`.
    """
    target = resolve_ref(conn, ref)
    assert conn is not None  # resolve_ref raised NOT_FOUND otherwise
    summary = item_summaries(conn, target.kind, [target.id])[0]
    row = conn.execute(
        f"SELECT description FROM {TABLES[target.kind]} WHERE id = ?", (target.id,)
    ).fetchone()
    discussions, hidden = _discussions(conn, target.kind, target.id, include_system)
    notes = [n for d in discussions for n in d["notes"]]
    item: dict[str, Any] = {
        **summary,
        "description": row["description"] if row is not None else None,
        "discussions": discussions,
        "counts": {
            "discussions": len(discussions),
            "notes": len(notes),
            "system_notes": sum(1 for n in notes if n["system"]),
            "system_notes_hidden": hidden,
            "unresolved_threads": sum(
                1 for d in discussions if d["resolvable"] and not d["resolved"]
            ),
        },
    }
    if target.kind == "mr":
        item["changes"] = [
            {
                "new_path": r["new_path"],
                "old_path": r["old_path"],
                "new_file": bool(r["new_file"]),
                "renamed_file": bool(r["renamed_file"]),
                "deleted_file": bool(r["deleted_file"]),
            }
            for r in conn.execute(
                "SELECT * FROM mr_paths WHERE mr_id = ? ORDER BY new_path", (target.id,)
            )
        ]
    return item


__all__ = [
    "ResolvedRef",
    "get_item",
    "item_summaries",
    "list_items",
    "resolve_project",
    "resolve_ref",
]
