"""Issues and merge requests: filtered lists, hydration of ids into summaries, reference
resolution and the full view with discussions."""

from __future__ import annotations

import difflib
import json
import re
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
    table_columns,
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


def _col(row: sqlite3.Row, name: str, default: Any = None) -> Any:
    """``row[name]``, or ``default`` on a store from before the migration that added it
    (reading never migrates)."""
    # `name in row` would test the values: sqlite3.Row iterates over them.
    return row[name] if name in row.keys() else default  # noqa: SIM118


def _has_issue_types(conn: sqlite3.Connection) -> bool:
    """Whether ``issues`` has migration 6's ``issue_type`` (older stores: every issue is
    a plain issue until the next `lore sync` migrates and refills it)."""
    return "issue_type" in table_columns(conn, "issues")


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
    issues, ``status`` ({name, category, color} or None), ``confidential``, ``due_date``,
    ``issue_type`` (issue, incident, task, test_case…) and ``moved_to_id`` (the global id
    of the issue it was moved to, or None); for merge requests ``draft, merged_at, merged_by, source_branch, target_branch,
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
            item["issue_type"] = str(_col(row, "issue_type") or "issue")
            moved = _col(row, "moved_to_id")
            item["moved_to_id"] = int(moved) if moved is not None else None
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
        for r in conn.execute(
            "SELECT id FROM people WHERE username = ? COLLATE NOCASE", (username,)
        )
    ]


def _near(word: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _empty_result(kind: str, filters: ItemFilters, hints: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": kind,
        "items": [],
        "total": 0,
        "count": 0,
        "filters": filters.to_dict(kind),
        "hints": hints,
    }
    if kind == "issue":
        out["hidden_by_type"] = {}
    return out


def list_items(conn: sqlite3.Connection | None, kind: str, filters: ItemFilters) -> dict[str, Any]:
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
    hidden = _hidden_by_type(conn, filters, clauses) if kind == "issue" else {}
    if filters.hidden_types(kind) and clauses.types is not None:
        # Everything minus the hidden types: both counts come from indexes alone, where
        # COUNT(*) with "issue_type NOT IN" reads every row (30× slower on 200k issues).
        others = clauses.sql(with_types=False)
        total = int(
            conn.execute(
                f"SELECT COUNT(*) FROM {table} t{others}", clauses.params(with_types=False)
            ).fetchone()[0]
        )
        total -= sum(hidden.values())
    else:
        total = int(
            conn.execute(f"SELECT COUNT(*) FROM {table} t{where_sql}", params).fetchone()[0]
        )
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
        for name, n in hidden.items():
            hints.append(
                f"{_plural_type(name, n)} hidden by default match: add --type {name} or --all-types"
            )
    out: dict[str, Any] = {
        "kind": kind,
        "items": items,
        "total": total,
        "count": len(items),
        "filters": filters.to_dict(kind),
        "hints": hints,
    }
    if kind == "issue":
        out["hidden_by_type"] = hidden
    return out


def _plural_type(name: str, n: int) -> str:
    word = name.replace("_", " ")
    return f"{n} {word if n == 1 else word + 's'}"


def _hidden_by_type(
    conn: sqlite3.Connection, filters: ItemFilters, where: _Where
) -> dict[str, int]:
    """How many issues matching every other filter the default type filter left out, per
    type (only types with matches): the footer says so, as GitLab's list hides tasks."""
    hidden = filters.hidden_types("issue")
    if not hidden or not _has_issue_types(conn):
        return {}
    others = where.sql(with_types=False)
    rows = conn.execute(
        f"SELECT t.issue_type, COUNT(*) FROM issues t{others}{' AND' if others else ' WHERE'} "
        f"t.issue_type IN ({_marks(len(hidden))}) GROUP BY t.issue_type ORDER BY 1",
        [*where.params(with_types=False), *hidden],
    ).fetchall()
    return {str(name): int(n) for name, n in rows if n}


@dataclass
class _Where:
    """WHERE clauses with their parameters; ``state`` kept apart so an empty result can
    say how many items match in other states."""

    parts: list[tuple[str, list[Any]]] = field(default_factory=list)
    state: tuple[str, list[Any]] | None = None
    types: tuple[str, list[Any]] | None = None  # the issue-type filter (default: no tasks)
    hints: list[str] = field(default_factory=list)

    def add(self, clause: str, *params: Any) -> None:
        self.parts.append((clause, list(params)))

    def _all(self, with_state: bool, with_types: bool) -> list[tuple[str, list[Any]]]:
        out = list(self.parts)
        if with_state and self.state:
            out.append(self.state)
        if with_types and self.types:
            out.append(self.types)
        return out

    def sql(self, with_state: bool = True, with_types: bool = True) -> str:
        parts = self._all(with_state, with_types)
        return " WHERE " + " AND ".join(c for c, _ in parts) if parts else ""

    def params(self, with_state: bool = True, with_types: bool = True) -> list[Any]:
        return [p for _, ps in self._all(with_state, with_types) for p in ps]


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
        scan = not (
            filters.projects
            or filters.labels
            or filters.author
            or filters.assignee
            or filters.reviewer
            or filters.since
        ) and bool(filters.search or filters.status or filters.status_category or filters.milestone)
        where.state = ("+t.state = ?" if scan else "t.state = ?", [filters.state])
    if kind == "issue":
        where.types = _type_clause(conn, filters)
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
            where.add(
                f"{status_category_sql('t.status_category')} = ?",
                normalize_status_category(filters.status_category),
            )
    return where


def _type_clause(conn: sqlite3.Connection, filters: ItemFilters) -> tuple[str, list[Any]] | None:
    """``--type`` as SQL; without it, the types hidden by default (tasks) are left out."""
    column = "t.issue_type" if _has_issue_types(conn) else "'issue'"
    if filters.types:
        return f"{column} IN ({_marks(len(filters.types))})", list(filters.types)
    hidden = filters.hidden_types("issue")
    if hidden and column != "'issue'":
        return f"{column} NOT IN ({_marks(len(hidden))})", list(hidden)
    return None


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
        if (
            conn.execute(
                "SELECT 1 FROM item_labels WHERE label = ? COLLATE NOCASE LIMIT 1", (label,)
            ).fetchone()
            is None
        ):
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


_RANGE_KEYS = ("line_code", "type", "old_line", "new_line")


def _line_range(raw: Any) -> dict[str, Any] | None:
    """The stored ``position_line_range`` JSON as ``{start, end}`` (each with line_code,
    type, old_line, new_line); None for single-line notes or anything unreadable."""
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        return None
    if not isinstance(value, dict):
        return None
    out: dict[str, Any] = {}
    for end in ("start", "end"):
        anchor = value.get(end)
        if not isinstance(anchor, dict):
            return None
        out[end] = {k: anchor.get(k) for k in _RANGE_KEYS}
        for k in ("old_line", "new_line"):
            if not isinstance(out[end][k], int) or isinstance(out[end][k], bool):
                out[end][k] = None
        for k in ("line_code", "type"):
            if out[end][k] is not None:
                out[end][k] = str(out[end][k])
    return out


def _position(row: sqlite3.Row) -> dict[str, Any] | None:
    if row["position_new_path"] is None and row["position_old_path"] is None:
        return None
    return {
        "old_path": row["position_old_path"],
        "new_path": row["position_new_path"],
        "old_line": row["position_old_line"],
        "new_line": row["position_new_line"],
        "line_range": _line_range(_col(row, "position_line_range")),
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
            "internal": bool(_col(row, "internal", 0)),
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
    resolvable, resolved, internal, position}]}``, a position being ``{old_path,
    new_path, old_line, new_line, line_range}``), ``counts``; for issues ``moved_to``
    (see :func:`moved_to`); for merge requests ``changes`` (the paths it touched, each
    with its ``source``: ``diff`` or ``diff_note``), ``diffs_overflow`` and
    ``changes_count``. Errors as :func:`resolve_ref`.
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
            "internal_notes": sum(1 for n in notes if n["internal"]),
            "unresolved_threads": sum(
                1 for d in discussions if d["resolvable"] and not d["resolved"]
            ),
        },
    }
    if target.kind == "issue":
        item["moved_to"] = moved_to(conn, target, summary["moved_to_id"])
    if target.kind == "mr":
        facts = conn.execute("SELECT * FROM merge_requests WHERE id = ?", (target.id,)).fetchone()
        changes_count = _col(facts, "changes_count") if facts is not None else None
        item["changes_count"] = str(changes_count) if changes_count is not None else None
        # GitLab says so either way: `overflow: true`, or a count like "1000+".
        item["diffs_overflow"] = bool(facts is not None and _col(facts, "diffs_overflow", 0)) or (
            item["changes_count"] is not None and item["changes_count"].endswith("+")
        )
        item["changes"] = [
            {
                "new_path": r["new_path"],
                "old_path": r["old_path"],
                "new_file": bool(r["new_file"]),
                "renamed_file": bool(r["renamed_file"]),
                "deleted_file": bool(r["deleted_file"]),
                "source": str(_col(r, "source") or "diff"),
            }
            for r in conn.execute(
                "SELECT * FROM mr_paths WHERE mr_id = ? ORDER BY new_path", (target.id,)
            )
        ]
    return item


#: GitLab's system note on a moved issue: "moved to group/project#12" ("#12" in-project).
_MOVED_NOTE_RE = re.compile(r"^moved to (\S+?#\d+|#\d+)\s*$")


def moved_to(
    conn: sqlite3.Connection, issue: ResolvedRef, moved_to_id: int | None
) -> dict[str, Any] | None:
    """Where a moved issue went: ``{id, ref, web_url, mirrored}``, or None when it was
    not moved. ``ref`` and ``web_url`` come from the mirrored target when it is mirrored;
    otherwise ``ref`` is read from GitLab's "moved to …" system note (None without one)."""
    if moved_to_id is None:
        return None
    row = conn.execute(
        "SELECT i.iid, i.web_url, p.path FROM issues i JOIN projects p ON p.id = i.project_id "
        "WHERE i.id = ?",
        (moved_to_id,),
    ).fetchone()
    if row is not None:
        return {
            "id": moved_to_id,
            "ref": format_ref("issue", int(row[0]), str(row[2])),
            "web_url": row[1],
            "mirrored": True,
        }
    ref: str | None = None
    for (body,) in conn.execute(
        "SELECT body FROM notes WHERE item_kind = 'issue' AND item_id = ? AND system = 1 "
        "AND body LIKE 'moved to %' ORDER BY created_at DESC, id DESC",
        (issue.id,),
    ):
        m = _MOVED_NOTE_RE.match(str(body).strip())
        if m:
            text = m.group(1)
            ref = f"{issue.project}{text}" if text.startswith("#") else text
            break
    return {
        "id": moved_to_id,
        "ref": ref,
        "web_url": _issue_url(conn, issue, ref),
        "mirrored": False,
    }


def _issue_url(conn: sqlite3.Connection, issue: ResolvedRef, ref: str | None) -> str | None:
    """The web URL of ``group/project#N`` on the instance ``issue`` lives on (its
    project's web_url minus the project path), or None when that cannot be told."""
    if ref is None or "#" not in ref:
        return None
    path, _, iid = ref.rpartition("#")
    row = conn.execute("SELECT web_url FROM projects WHERE id = ?", (issue.project_id,)).fetchone()
    web = str(row[0]).rstrip("/") if row is not None and row[0] else ""
    if not web.endswith("/" + issue.project):
        return None
    return f"{web[: -len(issue.project)]}{path}/-/issues/{iid}"


__all__ = [
    "ResolvedRef",
    "get_item",
    "item_summaries",
    "list_items",
    "resolve_project",
    "resolve_ref",
]
