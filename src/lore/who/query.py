"""Expert scoring: who knows a path now, and which paths a person knows.

A *contribution* is one person's part in one merge request, of one kind:

- ``authored_merged`` / ``authored_unmerged``: the MR's author; dated ``merged_at`` (merged)
  or ``updated_at`` (opened, closed, locked).
- ``reviewed``: DiffNotes positioned on the path (old or new side) by someone other than the
  author; dated by that person's newest such note on the MR. A diff note is a review of
  *its* path only: it is never a discussion of the MR's other paths.
- ``discussed``: any other non-system note on the MR (not positioned on a diff) by someone
  other than the author.

The paths an MR touched are its ``mr_paths``: the diff list (``source = 'diff'``) and the
paths its diff notes point at (``source = 'diff_note'``: files dropped by a later push, or
beyond a diff list GitLab cut at its limits), so a diff note is evidence that the MR
touched its path even when the current diff list lacks it.
- ``approved``: GitLab's "approved this merge request" system note, or a row in
  ``mr_approvals`` (when a sync fills it), by someone other than the author; dated by the
  note (``approved_at``, else the MR's date).

Several notes of one kind by one person on one MR make a single contribution dated by the
newest of them, so each note-based contribution decays from its own note's date, not the
MR's. A contribution is worth ``weight(kind) · decay(age)``; a person's part in one MR is
credited once, under the kind worth most (so a chatty review that also approves never
outweighs writing the change), and a person's score is the sum over MRs.

Everything is read through indexes (migration 3 adds the covering ones): the MRs that
touched the path via ``mr_paths``, their notes via ``notes(item_kind, item_id, …)``, and
SQLite turns timestamps into milliseconds and classifies notes so Python only sums.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from lore.core.clock import iso_from_ms
from lore.core.refs import format_ref
from lore.who.decay import MS_PER_DAY, age_days, decay_function
from lore.who.params import EVIDENCE_LIMIT, KINDS, WhoParams
from lore.who.scope import PathScope, candidate_mr_ids, resolve_scope

NOTHING_SYNCED = "nothing is synced yet: run `lore sync` to mirror your projects"

#: Row of the scoring loop: (group key, MR id, kind, epoch ms).
ContributionRow = tuple[Any, int, str, int]


def _ms(expr: str) -> str:
    # julianday() parses the store's ISO-8601 (with Z) in C; far cheaper than in Python.
    return f"CAST(ROUND((julianday({expr}) - 2440587.5) * 86400000) AS INTEGER)"


def _json_ids(ids: Iterable[int]) -> str:
    return json.dumps(sorted(ids))


def _since_sql(params: WhoParams, column: str) -> tuple[str, list[Any]]:
    if params.since_ms is None:
        return "", []
    return f" AND {column} >= ?", [iso_from_ms(params.since_ms)]


# -- merge requests, people, approvals ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Mr:
    project_id: int
    author_id: int | None
    merged: bool
    at_ms: int  # merged_at, else updated_at, else created_at


def _load_mrs(
    conn: sqlite3.Connection, ids: Iterable[int], project_id: int | None
) -> dict[int, _Mr]:
    sql = (
        "SELECT id, project_id, author_id, state = 'merged', "
        + _ms("COALESCE(CASE WHEN state = 'merged' THEN merged_at END, updated_at, created_at)")
        + " FROM merge_requests WHERE id IN (SELECT value FROM json_each(?))"
    )
    args: list[Any] = [_json_ids(ids)]
    if project_id is not None:
        sql += " AND project_id = ?"
        args.append(project_id)
    return {r[0]: _Mr(r[1], r[2], bool(r[3]), r[4]) for r in conn.execute(sql, args)}


def _authorship(mrs: dict[int, _Mr], only: int | None = None) -> list[tuple[int, int, str, int]]:
    """(person, mr, kind, ms) for each MR's author (``only``: just this person)."""
    return [
        (mr.author_id, mr_id, "authored_merged" if mr.merged else "authored_unmerged", mr.at_ms)
        for mr_id, mr in mrs.items()
        if mr.author_id is not None and (only is None or mr.author_id == only)
    ]


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).fetchone()
    return row is not None


#: The system note GitLab writes for each approval (the API's approvals are not synced).
APPROVAL_NOTE = "approved this merge request"


def _approvals(
    conn: sqlite3.Connection, mrs: dict[int, _Mr], only: int | None = None
) -> list[tuple[int, int, str, int]]:
    """(person, mr, 'approved', ms) from approval system notes and, when a sync fills it,
    the ``mr_approvals`` table; one per person and MR, the newest."""
    if not mrs:
        return []
    ids = _json_ids(mrs)
    who_filter = "" if only is None else " AND author_id = ?"
    extra: list[Any] = [] if only is None else [only]
    newest: dict[tuple[int, int], int] = {}
    sources = [
        (
            f"SELECT item_id, author_id, {_ms('MAX(created_at)')} FROM notes "
            "WHERE item_kind = 'mr' AND item_id IN (SELECT value FROM json_each(?)) "
            f"AND system = 1 AND body = '{APPROVAL_NOTE}' AND author_id IS NOT NULL{who_filter} "
            "GROUP BY item_id, author_id"
        )
    ]
    if _has_table(conn, "mr_approvals"):
        sources.append(
            f"SELECT mr_id, person_id, {_ms('approved_at')} FROM mr_approvals "
            f"WHERE mr_id IN (SELECT value FROM json_each(?)){who_filter.replace('author_id', 'person_id')}"
        )
    for sql in sources:
        for mr_id, person_id, at_ms in conn.execute(sql, [ids, *extra]):
            mr = mrs[mr_id]
            if person_id == mr.author_id:
                continue  # self-approval says nothing new about the author
            at = at_ms if at_ms is not None else mr.at_ms
            if at > newest.get((person_id, mr_id), -(2**62)):
                newest[(person_id, mr_id)] = at
    return [(pid, mr_id, "approved", at) for (pid, mr_id), at in newest.items()]


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    username: str
    name: str | None
    is_bot: bool


def _load_people(conn: sqlite3.Connection, ids: Iterable[int]) -> dict[int, Person]:
    rows = conn.execute(
        "SELECT id, username, name, is_bot FROM people WHERE id IN (SELECT value FROM json_each(?))",
        (_json_ids(ids),),
    )
    return {r[0]: Person(r[0], r[1], r[2], bool(r[3])) for r in rows}


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    # '*' and '?' are wildcards; brackets are literal ("[bot]" is GitLab's bot suffix).
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern.lower())
    if "*" in pattern or "?" in pattern:
        return re.compile(f"^{body}$")
    if pattern[:1].isalnum():
        return re.compile(f"^(?:.*[-_.])?{body}$")  # "bot": "ci-bot", "release_bot", not "talbot"
    return re.compile(f"^.*{body}$")  # "[bot]" matches "dependabot[bot]"


def is_bot(person: Person, patterns: Iterable[str]) -> bool:
    """GitLab's bot flag, or a username matching one of the configured bot patterns."""
    if person.is_bot:
        return True
    name = person.username.lower()
    return any(_pattern_regex(p).match(name) for p in patterns if p)


def _project_id(conn: sqlite3.Connection, project: str | None) -> int | None:
    if project is None:
        return None
    from lore.query.store import resolve_project

    return resolve_project(conn, project)[0]


# -- scoring ----------------------------------------------------------------------------------


class _Tally:
    """One person's (or one area's) running totals."""

    __slots__ = ("items", "kinds", "last_at_ms", "score")

    def __init__(self) -> None:
        self.score = 0.0
        self.last_at_ms = -(2**62)
        self.kinds: dict[str, list[float]] = {k: [0.0, 0] for k in KINDS}
        self.items: list[tuple[int, float, set[str], int]] = []  # (mr, value, kinds, newest ms)


_KIND_ORDER = {kind: i for i, kind in enumerate(KINDS)}


def _tally(rows: Iterable[ContributionRow], params: WhoParams) -> dict[Any, _Tally]:
    """Score rows per key. A person's part in one MR is credited once, under the role
    worth most after decay: reviewing, approving and commenting on one MR is one review,
    and must not outweigh writing the change (0.6 + 0.5 + 0.2 > 1.0 if summed)."""
    weights = params.weights
    since = params.since_ms
    now = params.now_ms
    factor = decay_function(params.curve, params.half_life_days, params.window_days)
    per_mr: dict[tuple[Any, int], list[Any]] = {}  # → [value, kind, kinds, newest ms]
    for key, mr_id, kind, at_ms in rows:
        weight = weights.get(kind, 0.0)
        if weight <= 0 or (since is not None and at_ms < since):
            continue  # a kind weighted 0 does not count at all, not even as activity
        age = (now - at_ms) / MS_PER_DAY
        value = weight * factor(age if age > 0 else 0.0)
        slot = per_mr.get((key, mr_id))
        if slot is None:
            per_mr[(key, mr_id)] = [value, kind, {kind}, at_ms]
            continue
        if value > slot[0] or (value == slot[0] and _KIND_ORDER[kind] < _KIND_ORDER[slot[1]]):
            slot[0], slot[1] = value, kind
        slot[2].add(kind)
        if at_ms > slot[3]:
            slot[3] = at_ms
    out: dict[Any, _Tally] = {}
    for (key, mr_id), (value, kind, kinds, at_ms) in per_mr.items():
        t = out.get(key)
        if t is None:
            t = out[key] = _Tally()
        t.score += value
        if at_ms > t.last_at_ms:
            t.last_at_ms = at_ms
        credited = t.kinds[kind]
        credited[0] += value
        credited[1] += 1
        t.items.append((mr_id, value, kinds, at_ms))
    return out


def _top_mrs(t: _Tally) -> list[tuple[int, float, set[str], int]]:
    return sorted(t.items, key=lambda item: (-item[1], -item[3], item[0]))[:EVIDENCE_LIMIT]


def _mr_meta(conn: sqlite3.Connection, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    rows = conn.execute(
        "SELECT m.id, m.iid, m.title, m.state, m.web_url, p.path FROM merge_requests m "
        "JOIN projects p ON p.id = m.project_id WHERE m.id IN (SELECT value FROM json_each(?))",
        (_json_ids(ids),),
    )
    return {
        r[0]: {"ref": format_ref("mr", r[1], r[5]), "title": r[2], "state": r[3], "web_url": r[4]}
        for r in rows
    }


def _rank(
    conn: sqlite3.Connection,
    tallies: dict[Any, _Tally],
    params: WhoParams,
    describe: dict[Any, dict[str, Any]],
) -> tuple[list[dict[str, Any]], int, int, float]:
    """Rows sorted by score, stale ones hidden if asked, limited, with evidence.

    Returns (visible rows, rows before hiding, hidden stale, total score)."""
    total = sum(t.score for t in tallies.values())
    rows: list[tuple[Any, _Tally, dict[str, Any]]] = []
    for key, t in tallies.items():
        age = age_days(params.now_ms, t.last_at_ms)
        row: dict[str, Any] = {"rank": 0, **describe[key]}
        row.update(
            {
                "score": t.score,
                "share": (t.score / total) if total > 0 else 0.0,
                "last_activity_at": iso_from_ms(t.last_at_ms),
                "last_activity_age_days": int(age),
                "stale": age > params.stale_days,
                "breakdown": {k: {"score": v[0], "count": int(v[1])} for k, v in t.kinds.items()},
                "evidence": [],
            }
        )
        rows.append((key, t, row))
    rows.sort(
        key=lambda r: (
            -r[1].score,
            -r[1].last_at_ms,
            r[2].get("username", ""),
            r[2].get("project", ""),
            r[2].get("path", ""),
        )
    )
    visible = [r for r in rows if not (params.hide_stale and r[2]["stale"])]
    shown = visible[: params.limit]
    top = {key: _top_mrs(t) for key, t, _ in shown}
    meta = _mr_meta(conn, {mr_id for items in top.values() for mr_id, *_ in items})
    out = []
    for i, (key, _t, row) in enumerate(shown, 1):
        row["rank"] = i
        row["evidence"] = [
            {
                **meta[mr_id],
                "date": iso_from_ms(at_ms),
                "kinds": [k for k in KINDS if k in kinds],
                "score": score,
            }
            for mr_id, score, kinds, at_ms in top[key]
        ]
        out.append(row)
    return out, len(rows), len(rows) - len(visible), total


def _freshest(tallies: dict[Any, _Tally], params: WhoParams) -> tuple[str | None, int | None]:
    if not tallies:
        return None, None
    newest = max(t.last_at_ms for t in tallies.values())
    return iso_from_ms(newest), int(age_days(params.now_ms, newest))


# -- who PATH ---------------------------------------------------------------------------------


#: A note positioned on a diff (GitLab's DiffNote; its replies carry the same position).
_IS_DIFF_NOTE = (
    "(note_type = 'DiffNote' OR position_new_path IS NOT NULL OR position_old_path IS NOT NULL)"
)


def _path_note_rows(
    conn: sqlite3.Connection, mrs: dict[int, _Mr], scope: PathScope, params: WhoParams
) -> list[ContributionRow]:
    """Reviews (diff notes on the scope's paths) and discussion (notes not on a diff) of
    the MRs; diff notes on the MR's other paths are neither."""
    if not mrs:
        return []
    on_new, args_new = scope.match_sql("position_new_path", "project_id")
    on_old, args_old = scope.match_sql("position_old_path", "project_id")
    since, args_since = _since_sql(params, "created_at")
    sql = (
        f"SELECT author_id, item_id, CASE WHEN {on_new} OR {on_old} THEN 'reviewed' "
        f"WHEN {_IS_DIFF_NOTE} THEN NULL ELSE 'discussed' END AS kind, "
        f"{_ms('MAX(created_at)')} FROM notes "
        "WHERE item_kind = 'mr' AND item_id IN (SELECT value FROM json_each(?)) "
        f"AND system = 0 AND author_id IS NOT NULL{since} GROUP BY author_id, item_id, 3"
    )
    out: list[ContributionRow] = []
    for author, mr_id, kind, at_ms in conn.execute(
        sql, [*args_new, *args_old, _json_ids(mrs), *args_since]
    ):
        # The author's own notes are part of authoring; a diff note elsewhere is nothing here.
        if kind is not None and author != mrs[mr_id].author_id:
            out.append((author, mr_id, kind, at_ms))
    return out


def _excluded_ids(people: dict[int, Person], params: WhoParams) -> set[int]:
    wanted = {u.lower() for u in params.excluded_users}
    return {
        pid
        for pid, p in people.items()
        if p.username.lower() in wanted or (params.exclude_bots and is_bot(p, params.bot_patterns))
    }


def who_path(conn: sqlite3.Connection, target: str, params: WhoParams) -> dict[str, Any]:
    """Rank the people who know ``target`` (a file or a directory prefix) now.

    Returns the robot ``data`` shape of ``lore who PATH`` (see the command's schema).
    """
    project_id = _project_id(conn, params.project)
    scope = resolve_scope(conn, target)
    mrs = _load_mrs(conn, candidate_mr_ids(conn, scope), project_id)
    rows: list[ContributionRow] = [*_authorship(mrs), *_approvals(conn, mrs)]
    rows += _path_note_rows(conn, mrs, scope, params)
    people = _load_people(conn, {r[0] for r in rows})
    excluded = _excluded_ids(people, params)
    tallies = _tally((r for r in rows if r[0] not in excluded), params)
    describe = {}
    for pid in tallies:
        person = people.get(pid) or Person(pid, f"user-{pid}", None, False)
        describe[pid] = {
            "username": person.username,
            "name": person.name,
            "person_id": pid,
            "is_bot": is_bot(person, params.bot_patterns),
        }
    experts, total_people, hidden, total = _rank(conn, tallies, params, describe)
    last_at, last_age = _freshest(tallies, params)
    data: dict[str, Any] = {
        "mode": "path",
        "query": {
            "target": target,
            "path": scope.query,
            "match": scope.match,
            "project": params.project,
            "renamed_from": scope.alias_list(),
        },
        "params": params.to_dict(),
        "experts": experts,
        "total_people": total_people,
        "hidden_stale": hidden,
        "excluded_people": len(excluded),
        "mrs_considered": len(mrs),
        "total_score": total,
        "all_stale": bool(tallies)
        and all(
            age_days(params.now_ms, t.last_at_ms) > params.stale_days for t in tallies.values()
        ),
        "last_activity_at": last_at,
        "last_activity_age_days": last_age,
        "note": None,
    }
    data["note"] = _path_note(conn, scope, data, params)
    return data


def _path_note(
    conn: sqlite3.Connection, scope: PathScope, data: dict[str, Any], params: WhoParams
) -> str | None:
    if scope.match == "none":
        if conn.execute("SELECT 1 FROM merge_requests LIMIT 1").fetchone() is None:
            return NOTHING_SYNCED
        return f"no merge request in the mirror touched {scope.query!r}" + _cut_lists(conn)
    if data["mrs_considered"] == 0:
        return f"no merge request in project {params.project!r} touched {scope.query!r}"
    if data["total_people"] == 0:
        if data["excluded_people"]:
            return "every contributor to this path was excluded by --exclude/--exclude-bots"
        return "no contributions to this path match the filters"
    if data["all_stale"]:
        hidden = (
            f" ({data['hidden_stale']} stale hidden by --hide-stale)"
            if data["hidden_stale"]
            else ""
        )
        return (
            f"no one active on this path for {data['last_activity_age_days']} days"
            f"{hidden}: every expert is stale (threshold {params.stale_days:g} days)"
        )
    return None


def _cut_lists(conn: sqlite3.Connection) -> str:
    """A warning that some diff lists are incomplete (GitLab cut them at its limits), so a
    path that is not found may still have been touched; empty when none was cut."""
    try:
        row = conn.execute(
            "SELECT COUNT(*) FROM merge_requests WHERE diffs_overflow = 1"
            " OR changes_count LIKE '%+'"
        ).fetchone()
    except sqlite3.OperationalError:  # a store from before migration 6
        return ""
    cut = int(row[0]) if row else 0
    if not cut:
        return ""
    noun = "merge request's diff list was" if cut == 1 else "merge requests' diff lists were"
    return f" (but {cut} {noun} cut at GitLab's limits, so paths beyond them are not known)"


# -- who @USER --------------------------------------------------------------------------------


def area_of(path: str, depth: int) -> str:
    """Roll a file path up to its directory at ``depth`` levels (``src/auth/``); a file at
    the top of the tree is its own area."""
    parts = path.split("/")[:-1]
    if not parts:
        return path
    return "/".join(parts[:depth]) + "/"


def _find_person(conn: sqlite3.Connection, username: str) -> Person | None:
    row = conn.execute(
        "SELECT id, username, name, is_bot FROM people WHERE username = ? ORDER BY id LIMIT 1",
        (username,),
    ).fetchone()
    if row is None:  # GitLab usernames are case-insensitive
        row = conn.execute(
            "SELECT id, username, name, is_bot FROM people WHERE username = ? COLLATE NOCASE "
            "ORDER BY id LIMIT 1",
            (username,),
        ).fetchone()
    return Person(row[0], row[1], row[2], bool(row[3])) if row else None


def who_user(conn: sqlite3.Connection, target: str, params: WhoParams) -> dict[str, Any]:
    """The areas (directories rolled up to ``params.depth`` levels) where a person scores
    highest. Returns the robot ``data`` shape of ``lore who @user``."""
    username = target.strip().lstrip("@")
    project_id = _project_id(conn, params.project)
    person = _find_person(conn, username) if username else None
    data: dict[str, Any] = {
        "mode": "user",
        "query": {
            "target": target,
            "username": username,
            "found": person is not None,
            "person_id": person.id if person else None,
            "name": person.name if person else None,
            "project": params.project,
        },
        "params": params.to_dict(),
        "areas": [],
        "total_areas": 0,
        "hidden_stale": 0,
        "mrs_considered": 0,
        "total_score": 0.0,
        "all_stale": False,
        "last_activity_at": None,
        "last_activity_age_days": None,
        "note": None,
    }
    if person is None:
        data["note"] = f"no user @{username} in the mirror"
        return data
    pid = person.id
    since, args_since = _since_sql(params, "created_at")
    note_rows = conn.execute(
        f"SELECT item_id, {_IS_DIFF_NOTE}, position_new_path, position_old_path, "
        f"{_ms('MAX(created_at)')} FROM notes "
        f"WHERE author_id = ? AND item_kind = 'mr' AND system = 0{since} "
        "GROUP BY item_id, 2, 3, 4",
        [pid, *args_since],
    ).fetchall()
    ids = {r[0] for r in conn.execute("SELECT id FROM merge_requests WHERE author_id = ?", (pid,))}
    ids.update(r[0] for r in note_rows)
    ids.update(
        r[0]
        for r in conn.execute(
            "SELECT item_id FROM notes WHERE author_id = ? AND item_kind = 'mr' AND system = 1 "
            f"AND body = '{APPROVAL_NOTE}'",
            (pid,),
        )
    )
    if _has_table(conn, "mr_approvals"):
        ids.update(
            r[0] for r in conn.execute("SELECT mr_id FROM mr_approvals WHERE person_id = ?", (pid,))
        )
    mrs = _load_mrs(conn, ids, project_id)
    areas_of_mr: dict[int, set[str]] = {}
    for mr_id, new_path, old_path in conn.execute(
        "SELECT mr_id, new_path, old_path FROM mr_paths WHERE mr_id IN "
        "(SELECT value FROM json_each(?))",
        (_json_ids(mrs),),
    ):
        areas_of_mr.setdefault(mr_id, set()).update(
            (area_of(new_path, params.depth), area_of(old_path, params.depth))
        )

    # Authorship, discussion and approval count for every area the MR touched (its diff
    # list and its diff notes' paths); a diff note is a review of the areas of its own
    # paths, and nothing for the MR's other areas.
    newest: dict[tuple[tuple[int, str], int, str], int] = {}

    def add(area: str, mr_id: int, kind: str, at_ms: int) -> None:
        key = ((mrs[mr_id].project_id, area), mr_id, kind)
        if at_ms > newest.get(key, -(2**62)):
            newest[key] = at_ms

    for _person, mr_id, kind, at_ms in [*_authorship(mrs, pid), *_approvals(conn, mrs, pid)]:
        for area in areas_of_mr.get(mr_id, ()):
            add(area, mr_id, kind, at_ms)
    for mr_id, is_diff, new_path, old_path, at_ms in note_rows:
        mr = mrs.get(mr_id)
        if mr is None or mr.author_id == pid:
            continue
        if is_diff:
            for area in {area_of(p, params.depth) for p in (new_path, old_path) if p}:
                add(area, mr_id, "reviewed", at_ms)
            continue
        for area in areas_of_mr.get(mr_id, ()):
            add(area, mr_id, "discussed", at_ms)
    tallies = _tally(((k[0], k[1], k[2], at) for k, at in newest.items()), params)
    project_paths = dict(conn.execute("SELECT id, path FROM projects").fetchall())
    describe = {
        key: {"project": project_paths.get(key[0], str(key[0])), "path": key[1]} for key in tallies
    }
    areas, total_areas, hidden, total = _rank(conn, tallies, params, describe)
    last_at, last_age = _freshest(tallies, params)
    all_stale = bool(tallies) and all(
        age_days(params.now_ms, t.last_at_ms) > params.stale_days for t in tallies.values()
    )
    data.update(
        {
            "areas": areas,
            "total_areas": total_areas,
            "hidden_stale": hidden,
            "mrs_considered": len(mrs),
            "total_score": total,
            "all_stale": all_stale,
            "last_activity_at": last_at,
            "last_activity_age_days": last_age,
        }
    )
    if not tallies:
        data["note"] = (
            f"@{person.username} has no contributions to merge requests that match the filters"
        )
    elif all_stale:
        data["note"] = (
            f"@{person.username} has not been active on any path for {last_age} days "
            f"(threshold {params.stale_days:g} days)"
        )
    return data


def who(conn: sqlite3.Connection | None, target: str, params: WhoParams) -> dict[str, Any]:
    """``@user`` → :func:`who_user`; anything else is a path → :func:`who_path`.

    ``conn`` None means nothing has been mirrored yet: an empty answer saying so.
    """
    if conn is None:
        conn = sqlite3.connect(":memory:")
        try:
            from lore.store.migrations import migrate

            migrate(conn)  # the real (empty) schema gives the real (empty) answer shape
            data = who(conn, target, params)
        finally:
            conn.close()
        data["note"] = NOTHING_SYNCED
        return data
    if target.strip().startswith("@"):
        return who_user(conn, target, params)
    return who_path(conn, target, params)
