"""Expert scoring: who knows a path now, and which paths a person knows.

A *contribution* is one person's part in one merge request, of one kind:

- ``authored_merged`` / ``authored_unmerged``: the MR's author; dated ``merged_at`` (merged)
  or ``updated_at`` (opened, closed, locked).
- ``reviewed``: DiffNotes positioned on the path (old or new side) by someone other than the
  author; dated by that person's latest such note on the MR.
- ``discussed``: any other non-system note on the MR by someone other than the author.
- ``approved``: a row in ``mr_approvals`` (when a sync fills it), by someone other than the
  author.

Several notes by one person on one MR make a single contribution dated by the newest of
them, so a chatty review never outweighs authorship; ``notes`` keeps the raw count.
Each contribution scores ``weight(kind) · decay(age)`` and a person's score is the sum.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

from lore.core.clock import iso_from_ms, ms_from_iso
from lore.core.errors import ErrorCode, LoreError
from lore.core.refs import format_ref
from lore.who.decay import age_days, decay
from lore.who.params import EVIDENCE_LIMIT, KINDS, WhoParams
from lore.who.scope import PathScope, candidate_mr_ids, resolve_scope

# -- data gathered from the store --------------------------------------------------------


@dataclass(frozen=True)
class MrInfo:
    id: int
    project_id: int
    project_path: str
    iid: int
    title: str
    state: str
    author_id: int | None
    authored_at_ms: int  # merged_at, else updated_at, else created_at
    web_url: str | None


@dataclass
class Contribution:
    person_id: int
    mr_id: int
    kind: str
    at_ms: int
    notes: int = 0  # notes behind a reviewed/discussed contribution
    area: str | None = None  # `who @user` only: the rolled-up directory it counts for


@dataclass
class Person:
    id: int
    username: str
    name: str | None
    is_bot: bool


def _json_ids(ids: Iterable[int]) -> str:
    return json.dumps(sorted(ids))


def _load_mrs(conn: sqlite3.Connection, ids: Iterable[int], project_id: int | None) -> dict[int, MrInfo]:
    sql = (
        "SELECT m.id, m.project_id, p.path, m.iid, m.title, m.state, m.author_id, "
        "m.created_at, m.updated_at, m.merged_at, m.web_url "
        "FROM merge_requests m JOIN projects p ON p.id = m.project_id "
        "WHERE m.id IN (SELECT value FROM json_each(?))"
    )
    args: list[Any] = [_json_ids(ids)]
    if project_id is not None:
        sql += " AND m.project_id = ?"
        args.append(project_id)
    out: dict[int, MrInfo] = {}
    for row in conn.execute(sql, args):
        mid, pid, ppath, iid, title, state, author, created, updated, merged, url = tuple(row)
        stamp = merged if state == "merged" and merged else (updated or created)
        out[mid] = MrInfo(mid, pid, ppath, iid, title, state, author, ms_from_iso(stamp), url)
    return out


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).fetchone()
    return row is not None


def _authorship(mrs: dict[int, MrInfo]) -> list[Contribution]:
    out = []
    for mr in mrs.values():
        if mr.author_id is None:
            continue
        kind = "authored_merged" if mr.state == "merged" else "authored_unmerged"
        out.append(Contribution(mr.author_id, mr.id, kind, mr.authored_at_ms))
    return out


def _approvals(conn: sqlite3.Connection, mrs: dict[int, MrInfo], person_id: int | None = None) -> list[Contribution]:
    # GitLab approvals are not synced yet; the table exists (migration 3) and may be empty.
    if not mrs or not _has_table(conn, "mr_approvals"):
        return []
    sql = (
        "SELECT mr_id, person_id, approved_at FROM mr_approvals "
        "WHERE mr_id IN (SELECT value FROM json_each(?))"
    )
    args: list[Any] = [_json_ids(mrs)]
    if person_id is not None:
        sql += " AND person_id = ?"
        args.append(person_id)
    out = []
    for mr_id, pid, approved_at in conn.execute(sql, args):
        mr = mrs[mr_id]
        if pid == mr.author_id:
            continue  # self-approval says nothing new about the author
        at_ms = ms_from_iso(approved_at) if approved_at else mr.authored_at_ms
        out.append(Contribution(pid, mr_id, "approved", at_ms))
    return out


_NOTE_GROUPS_SQL = (
    "SELECT item_id, author_id, note_type = 'DiffNote', position_new_path, position_old_path, "
    "MAX(created_at), COUNT(*) FROM notes "
    "WHERE item_kind = 'mr' AND item_id IN (SELECT value FROM json_each(?)) "
    "AND system = 0 AND author_id IS NOT NULL{since} "
    "GROUP BY item_id, author_id, 3, position_new_path, position_old_path"
)


def _merge(into: dict[tuple[int, int, str], Contribution], person: int, mr: int, kind: str,
           at_ms: int, notes: int) -> None:
    key = (person, mr, kind)
    have = into.get(key)
    if have is None:
        into[key] = Contribution(person, mr, kind, at_ms, notes)
    else:
        have.at_ms = max(have.at_ms, at_ms)
        have.notes += notes


def _path_notes(conn: sqlite3.Connection, mrs: dict[int, MrInfo], scope: PathScope,
                since_ms: int | None) -> list[Contribution]:
    if not mrs:
        return []
    args: list[Any] = [_json_ids(mrs)]
    since = ""
    if since_ms is not None:
        since = " AND created_at >= ?"
        args.append(iso_from_ms(since_ms))
    merged: dict[tuple[int, int, str], Contribution] = {}
    for mr_id, author, is_diff, new_path, old_path, last_at, count in conn.execute(
        _NOTE_GROUPS_SQL.format(since=since), args
    ):
        mr = mrs[mr_id]
        if author == mr.author_id:
            continue  # the author's own notes are part of authoring
        on_path = bool(is_diff) and (
            scope.matches(mr.project_id, new_path) or scope.matches(mr.project_id, old_path)
        )
        _merge(merged, author, mr_id, "reviewed" if on_path else "discussed",
               ms_from_iso(last_at), count)
    return list(merged.values())


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
        # "bot" matches "bot", "ci-bot", "release_bot" but not "talbot".
        return re.compile(f"^(?:.*[-_.])?{body}$")
    return re.compile(f"^.*{body}$")  # "[bot]" matches "dependabot[bot]"


def is_bot(person: Person, patterns: Iterable[str]) -> bool:
    """GitLab's bot flag, or a username matching one of the configured bot patterns."""
    if person.is_bot:
        return True
    name = person.username.lower()
    return any(_pattern_regex(p).match(name) for p in patterns if p)


# -- scoring -------------------------------------------------------------------------------


@dataclass
class _Tally:
    score: float = 0.0
    last_at_ms: int = 0
    breakdown: dict[str, list[float]] = field(
        default_factory=lambda: {k: [0.0, 0] for k in KINDS}
    )
    per_mr: dict[int, list[Any]] = field(default_factory=dict)  # mr → [score, kinds, last_at]


def _kind_value(params: WhoParams, kind: str, at_ms: int) -> float:
    age = age_days(params.now_ms, at_ms)
    return params.weights[kind] * decay(params.curve, age, params.half_life_days, params.window_days)


def _tally(contribs: Iterable[Contribution], params: WhoParams,
           key: Callable[[Contribution], Iterable[Hashable]]) -> dict[Hashable, _Tally]:
    tallies: dict[Hashable, _Tally] = defaultdict(_Tally)
    for c in contribs:
        if params.weights.get(c.kind, 0.0) <= 0:
            continue  # a kind weighted 0 does not count at all, not even as activity
        if params.since_ms is not None and c.at_ms < params.since_ms:
            continue
        value = _kind_value(params, c.kind, c.at_ms)
        for k in key(c):
            t = tallies[k]
            t.score += value
            t.last_at_ms = max(t.last_at_ms, c.at_ms)
            t.breakdown[c.kind][0] += value
            t.breakdown[c.kind][1] += 1
            slot = t.per_mr.setdefault(c.mr_id, [0.0, set(), 0])
            slot[0] += value
            slot[1].add(c.kind)
            slot[2] = max(slot[2], c.at_ms)
    return tallies


def _evidence(t: _Tally, mrs: dict[int, MrInfo]) -> list[dict[str, Any]]:
    ranked = sorted(t.per_mr.items(), key=lambda kv: (-kv[1][0], -kv[1][2], kv[0]))
    out = []
    for mr_id, (score, kinds, last_at) in ranked[:EVIDENCE_LIMIT]:
        mr = mrs[mr_id]
        out.append({
            "ref": format_ref("mr", mr.iid, mr.project_path),
            "title": mr.title,
            "state": mr.state,
            "date": iso_from_ms(last_at),
            "kinds": [k for k in KINDS if k in kinds],
            "score": score,
            "web_url": mr.web_url,
        })
    return out


def _row(t: _Tally, total: float, params: WhoParams, mrs: dict[int, MrInfo]) -> dict[str, Any]:
    age = int(age_days(params.now_ms, t.last_at_ms))
    return {
        "score": t.score,
        "share": (t.score / total) if total > 0 else 0.0,
        "last_activity_at": iso_from_ms(t.last_at_ms),
        "last_activity_age_days": age,
        "stale": age_days(params.now_ms, t.last_at_ms) > params.stale_days,
        "breakdown": {k: {"score": v[0], "count": int(v[1])} for k, v in t.breakdown.items()},
        "evidence": _evidence(t, mrs),
    }


def _project_id(conn: sqlite3.Connection, project: str | None) -> int | None:
    if project is None:
        return None
    row = conn.execute("SELECT id FROM projects WHERE path = ?", (project,)).fetchone()
    if row is None and project.isdigit():
        row = conn.execute("SELECT id FROM projects WHERE id = ?", (int(project),)).fetchone()
    if row is None:
        known = [r[0] for r in conn.execute("SELECT path FROM projects ORDER BY path LIMIT 20")]
        raise LoreError(
            ErrorCode.NOT_FOUND,
            f"project {project!r} is not in the mirror",
            suggestion=("Mirrored projects: " + ", ".join(known)) if known
            else "Nothing is mirrored yet: run lore sync",
            actions=["lore status"],
        )
    return int(row[0])


def _store_is_empty(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM merge_requests LIMIT 1").fetchone() is None


def _age_or_none(params: WhoParams, at_ms: int | None) -> int | None:
    return None if at_ms is None else int(age_days(params.now_ms, at_ms))


# -- public API -------------------------------------------------------------------------


def who_path(conn: sqlite3.Connection, target: str, params: WhoParams) -> dict[str, Any]:
    """Rank the people who know ``target`` (a file or a directory prefix) now.

    Returns the robot ``data`` shape of ``lore who PATH`` (see the command's schema).
    """
    project_id = _project_id(conn, params.project)
    scope = resolve_scope(conn, target)
    mrs = _load_mrs(conn, candidate_mr_ids(conn, scope), project_id)
    contribs = _authorship(mrs) + _path_notes(conn, mrs, scope, params.since_ms)
    contribs += _approvals(conn, mrs)
    people = _load_people(conn, {c.person_id for c in contribs})
    excluded = _excluded_ids(people, params)
    tallies = _tally(
        (c for c in contribs if c.person_id not in excluded), params, lambda c: (c.person_id,)
    )
    total = sum(t.score for t in tallies.values())
    rows: list[dict[str, Any]] = []
    for pid, t in tallies.items():
        assert isinstance(pid, int)
        person = people.get(pid) or Person(pid, f"user-{pid}", None, False)
        row = {"rank": 0, "username": person.username, "name": person.name, "person_id": pid,
               "is_bot": is_bot(person, params.bot_patterns)}
        row.update(_row(t, total, params, mrs))
        rows.append(row)
    rows.sort(key=lambda r: (-r["score"], r["last_activity_age_days"], r["username"]))
    freshest = max((t.last_at_ms for t in tallies.values()), default=None)
    visible = [r for r in rows if not (params.hide_stale and r["stale"])]
    for i, r in enumerate(visible, 1):
        r["rank"] = i
    all_stale = bool(rows) and all(r["stale"] for r in rows)
    data = {
        "mode": "path",
        "query": {
            "target": target,
            "path": scope.query,
            "match": scope.match,
            "project": params.project,
            "renamed_from": scope.alias_list(),
        },
        "params": params.to_dict(),
        "experts": visible[: params.limit],
        "total_people": len(rows),
        "hidden_stale": len(rows) - len(visible),
        "excluded_people": len(excluded),
        "mrs_considered": len(mrs),
        "total_score": total,
        "all_stale": all_stale,
        "last_activity_at": iso_from_ms(freshest) if freshest is not None else None,
        "last_activity_age_days": _age_or_none(params, freshest),
        "note": None,
    }
    data["note"] = _path_note(conn, scope, data, params)
    return data


def _excluded_ids(people: dict[int, Person], params: WhoParams) -> set[int]:
    wanted = {u.lower() for u in params.excluded_users}
    return {
        pid for pid, p in people.items()
        if p.username.lower() in wanted or (params.exclude_bots and is_bot(p, params.bot_patterns))
    }


def _path_note(conn: sqlite3.Connection, scope: PathScope, data: dict[str, Any],
               params: WhoParams) -> str | None:
    if scope.match == "none":
        if _store_is_empty(conn):
            return NOTHING_SYNCED
        return f"no merge request in the mirror touched {scope.query!r}"
    if data["mrs_considered"] == 0:
        return f"no merge request in project {params.project!r} touched {scope.query!r}"
    if data["total_people"] == 0:
        if data["excluded_people"]:
            return "every contributor to this path was excluded by --exclude/--exclude-bots"
        return "no contributions to this path match the filters"
    if data["all_stale"]:
        hidden = f" ({data['hidden_stale']} stale hidden by --hide-stale)" if data["hidden_stale"] else ""
        return (f"no one active on this path for {data['last_activity_age_days']} days"
                f"{hidden}: every expert is stale (threshold {params.stale_days:g} days)")
    return None


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
            "SELECT id, username, name, is_bot FROM people WHERE lower(username) = lower(?) "
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
    base: dict[str, Any] = {
        "mode": "user",
        "query": {"target": target, "username": username, "found": person is not None,
                  "person_id": person.id if person else None,
                  "name": person.name if person else None, "project": params.project},
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
        base["note"] = f"no user @{username} in the mirror"
        return base
    pid = person.id
    authored = {r[0] for r in conn.execute("SELECT id FROM merge_requests WHERE author_id = ?", (pid,))}
    args: list[Any] = [pid]
    since = ""
    if params.since_ms is not None:
        since = " AND created_at >= ?"
        args.append(iso_from_ms(params.since_ms))
    note_rows = conn.execute(
        "SELECT item_id, note_type = 'DiffNote', position_new_path, position_old_path, "
        "MAX(created_at), COUNT(*) FROM notes "
        f"WHERE author_id = ? AND item_kind = 'mr' AND system = 0{since} "
        "GROUP BY item_id, 2, position_new_path, position_old_path",
        args,
    ).fetchall()
    approval_ids: set[int] = set()
    if _has_table(conn, "mr_approvals"):
        approval_ids = {r[0] for r in conn.execute(
            "SELECT mr_id FROM mr_approvals WHERE person_id = ?", (pid,))}
    mrs = _load_mrs(conn, authored | {r[0] for r in note_rows} | approval_ids, project_id)
    areas_of_mr: dict[int, set[str]] = defaultdict(set)
    for mr_id, new_path, old_path in conn.execute(
        "SELECT mr_id, new_path, old_path FROM mr_paths WHERE mr_id IN (SELECT value FROM json_each(?))",
        (_json_ids(mrs),),
    ):
        areas_of_mr[mr_id].update({area_of(new_path, params.depth), area_of(old_path, params.depth)})

    # Each contribution is attributed to areas: authorship/discussion/approval to every
    # area the MR touched, a review to the areas its DiffNotes sit in.
    attributed: dict[tuple[int, int, str, str], Contribution] = {}

    def add(area: str, mr_id: int, kind: str, at_ms: int, notes: int) -> None:
        key = (pid, mr_id, kind, area)
        have = attributed.get(key)
        if have is None:
            attributed[key] = Contribution(pid, mr_id, kind, at_ms, notes, area)
        else:
            have.at_ms = max(have.at_ms, at_ms)
            have.notes += notes

    for c in _authorship(mrs) + _approvals(conn, mrs, pid):
        if c.person_id == pid:
            for area in areas_of_mr.get(c.mr_id, ()):
                add(area, c.mr_id, c.kind, c.at_ms, 0)
    for mr_id, is_diff, new_path, old_path, last_at, count in note_rows:
        mr = mrs.get(mr_id)
        if mr is None or mr.author_id == pid:
            continue
        at_ms = ms_from_iso(last_at)
        touched = areas_of_mr.get(mr_id, set())
        reviewed = set()
        if is_diff:
            reviewed = {area_of(p, params.depth) for p in (new_path, old_path) if p} & touched
        for area in touched:
            add(area, mr_id, "reviewed" if area in reviewed else "discussed", at_ms, count)
    tallies = _tally(
        attributed.values(), params, lambda c: ((mrs[c.mr_id].project_path, c.area),)
    )
    total = sum(t.score for t in tallies.values())
    rows = []
    for k, t in tallies.items():
        assert isinstance(k, tuple)
        row: dict[str, Any] = {"rank": 0, "project": k[0], "path": k[1]}
        row.update(_row(t, total, params, mrs))
        rows.append(row)
    rows.sort(key=lambda r: (-r["score"], r["last_activity_age_days"], r["project"], r["path"]))
    visible = [r for r in rows if not (params.hide_stale and r["stale"])]
    for i, r in enumerate(visible, 1):
        r["rank"] = i
    freshest = max((t.last_at_ms for t in tallies.values()), default=None)
    base.update({
        "areas": visible[: params.limit],
        "total_areas": len(rows),
        "hidden_stale": len(rows) - len(visible),
        "mrs_considered": len(mrs),
        "total_score": total,
        "all_stale": bool(rows) and all(r["stale"] for r in rows),
        "last_activity_at": iso_from_ms(freshest) if freshest is not None else None,
        "last_activity_age_days": _age_or_none(params, freshest),
    })
    if not rows:
        base["note"] = f"@{person.username} has no contributions to merge requests that match the filters"
    elif base["all_stale"]:
        base["note"] = (f"@{person.username} has not been active on any path for "
                        f"{base['last_activity_age_days']} days (threshold {params.stale_days:g} days)")
    return base


NOTHING_SYNCED = "nothing is synced yet: run `lore sync` to mirror your projects"


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
