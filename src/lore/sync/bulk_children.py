"""Children of changed items (discussions, notes, MR files) through GitLab's GraphQL API,
up to 100 items a request, instead of one REST request per issue and two per MR.

What GitLab's GraphQL gives, and what it does not (checked against gitlabhq's
``app/graphql/types``: ``notes/note_type.rb``, ``notes/base_note_interface.rb``,
``notes/discussion_type.rb``, ``notes/diff_position_type.rb``, ``diff_stats_type.rb``,
``time_type.rb``):

- ``Issue``/``MergeRequest.discussions`` → ``Discussion { id notes { ... } }`` and
  ``Note { id body system internal resolvable resolved author createdAt updatedAt
  position { oldPath newPath oldLine newLine } }`` (``internal`` from 15.5; before it
  ``confidential``), ``MergeRequest.diffStats { path additions deletions }``.
- **Not** there: a note's ``type`` (``DiffNote``/``DiscussionNote``/null) and its
  discussion's ``individual_note``; a diff note's ``position.line_range``; milliseconds
  (``Time`` is ``value.iso8601``, whole seconds); a diff file's old path and its
  new/renamed/deleted flags.

So the stored rows can be identical to the REST path's only where lore already holds
them. The default (``sync.noteDetail: "exact"``, ``sync.mrFileDetail: "full"``) uses
GraphQL to find out, 100 items a request, which stored items' children are unchanged:

- an item whose every discussion and note GraphQL shows matches the stored rows (ids,
  bodies, flags, authors, positions, timestamps to the second) keeps them: they are
  handed to the writer again, rebuilt in REST's shape, so the rows stay byte-identical;
- an MR whose ``diffStats`` fingerprint equals the one recorded when its file list was
  last read from REST keeps its stored files;
- anything else (a new item, a new or edited note, another file list) is read from REST,
  as before.

Opt-in, fewer requests, and what they lose:

- ``sync.noteDetail: "graphql"`` takes discussions from GraphQL alone: new notes are
  stored with whole-second timestamps, without the multi-line range of a diff note
  (``position_line_range`` NULL), and with ``note_type``/``individual_note`` derived
  (a positioned note is a ``DiffNote``; a note in a thread of several notes, or a
  resolvable one, a ``DiscussionNote``; otherwise an individual note: a one-note thread
  that GitLab does not make resolvable reads as an individual note). Notes already stored
  keep their stored values.
- ``sync.mrFileDetail: "paths"`` takes MR files from ``diffStats`` alone: every file
  is stored with ``old_path = new_path`` and no new/renamed/deleted flag, so a rename is
  known by its new path only.

``sync.graphqlChildren: "off"`` turns the whole path off (REST per item, as before).

A run with ``noteDetail: "graphql"`` marks the project and kind in ``kv``
(``graphql_children_lossy:{project_id}:{kind}``): the exact mode then reuses none of
their stored notes (they may be GraphQL's, not REST's), and an exact ``--full``, which
reads every item with notes from REST, clears the mark. ``mrFileDetail: "paths"`` forgets
the MR's diffStats fingerprint, so the exact mode reads its file list from REST again.

Batches: items per request start at the size remembered for this instance and version
(100, GitLab's iid cap, the first time), halve on a complexity, timeout or 5xx-type
failure and grow back after successes (:class:`AdaptivePageSize`). Under GitLab's
complexity rule (``BaseField``: ``issues(iids:)`` has no per-item cost, ``discussions``
and ``notes`` have no resolver and cost 1 plus their selections) the batch query costs
36 for issues and 41 for MRs at any batch size, far below the 200/250/300 limits; the
halving is for instances that answer otherwise, and for timeouts. After 4 failed
requests in a row a run stops asking GraphQL (:class:`Breaker`). Nested connections
are paginated: an item with more than 100 discussions gets follow-up queries for just
its next discussions; a discussion with more than 100 notes is re-read by itself from
the cursor before it. A failed batch, an item GraphQL leaves out (deleted since it was
listed, or not visible) or an item with errors falls back to REST for that item.

Whether the instance can do this is found by introspection (``__type`` of ``Note``,
``Issue``, ``MergeRequest``, ``DiffPosition``) and cached in ``kv`` under
``graphql_children:{instance}`` with the GitLab version (a new version probes again)
and the batch size that worked.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import sqlite3
import threading
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Protocol

from lore.core.clock import ms_from_iso
from lore.core.errors import LoreError
from lore.gitlab.client import GitLabClient
from lore.gitlab.graphql import FailureKind, GraphQLClient, GraphQLError, GraphQLResponse
from lore.store import ingest
from lore.store.db import transaction
from lore.sync.work_item_status import AdaptivePageSize

log = logging.getLogger("lore.sync.bulk_children")

KV_PREFIX = "graphql_children:"
#: GitLab's cap on iids per request and on ``first`` (``default_max_page_size``).
MAX_BATCH = 100
PAGE = 100
#: Failed GraphQL requests in a row after which a run uses REST only (:class:`Breaker`).
BREAK_AFTER = 4
#: GitLab's smallest ``diff_max_files``: an MR with this many files may have been cut.
OVERFLOW_MIN_FILES = 500

MODES = ("auto", "off")
NOTE_DETAILS = ("exact", "graphql")
MR_FILE_DETAILS = ("full", "paths")


@dataclass(frozen=True)
class BulkSettings:
    """The config keys (``sync.graphqlChildren``, ``sync.noteDetail``,
    ``sync.mrFileDetail``)."""

    mode: str = "auto"
    note_detail: str = "exact"
    mr_file_detail: str = "full"

    @property
    def enabled(self) -> bool:
        return self.mode != "off"

    @property
    def exact(self) -> bool:
        return self.note_detail == "exact"

    @classmethod
    def from_sync_config(cls, sync: Any) -> BulkSettings:
        return cls(
            mode=str(getattr(sync, "graphql_children", "auto")),
            note_detail=str(getattr(sync, "note_detail", "exact")),
            mr_file_detail=str(getattr(sync, "mr_file_detail", "full")),
        )


# -- capability ------------------------------------------------------------------------------

PROBE_QUERY = """
query LoreChildrenProbe {
  note: __type(name: "Note") { fields { name } }
  issue: __type(name: "Issue") { fields { name } }
  mr: __type(name: "MergeRequest") { fields { name } }
  position: __type(name: "DiffPosition") { fields { name } }
  stats: __type(name: "DiffStats") { fields { name } }
}
""".strip()

_NEEDED = {
    "note": {
        "id",
        "body",
        "system",
        "resolvable",
        "resolved",
        "author",
        "createdAt",
        "updatedAt",
        "position",
    },
    "issue": {"discussions"},
    "mr": {"discussions", "diffStats"},
    "position": {"oldPath", "newPath", "oldLine", "newLine"},
    "stats": {"path", "additions", "deletions"},
}


@dataclass
class ChildrenCapability:
    """Cached in kv: can this instance (at ``gitlab_version``) serve children in bulk?"""

    available: bool
    reason: str | None = None
    gitlab_version: str | None = None
    internal_field: str | None = None  # "internal" (15.5+) or "confidential"
    batch_size: int = MAX_BATCH

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def capability_key(instance_url: str) -> str:
    return KV_PREFIX + instance_url.rstrip("/")


def read_capability(conn: sqlite3.Connection, instance_url: str) -> ChildrenCapability | None:
    raw = ingest.get_kv_json(conn, capability_key(instance_url))
    if raw is None:
        return None
    try:
        return ChildrenCapability(
            available=bool(raw["available"]),
            reason=raw.get("reason"),
            gitlab_version=raw.get("gitlab_version"),
            internal_field=raw.get("internal_field"),
            batch_size=max(1, min(MAX_BATCH, int(raw.get("batch_size") or MAX_BATCH))),
        )
    except (ValueError, KeyError, TypeError):
        return None


def write_capability(conn: sqlite3.Connection, instance_url: str, cap: ChildrenCapability) -> None:
    """Store the capability; inside the writer's open transaction when there is one
    (an initial sync holds several pages in one), else in its own."""
    _write_kv(conn, capability_key(instance_url), cap.to_json())


def probe(gql: GraphQLClient, version: str | None) -> ChildrenCapability:
    """One introspection request: which of the needed fields this instance has."""
    response = gql.execute(PROBE_QUERY)
    found: dict[str, set[str]] = {}
    for alias in _NEEDED:
        node = response.data.get(alias)
        fields = node.get("fields") if isinstance(node, dict) else None
        found[alias] = {str(f.get("name")) for f in fields or [] if isinstance(f, dict)}
    missing = [
        f"{alias}.{name}"
        for alias, names in _NEEDED.items()
        for name in sorted(names - found[alias])
    ]
    internal = (
        "internal"
        if "internal" in found["note"]
        else "confidential"
        if "confidential" in found["note"]
        else None
    )
    if internal is None:
        missing.append("note.internal")
    if missing:
        return ChildrenCapability(False, "GraphQL lacks " + ", ".join(missing), version)
    return ChildrenCapability(True, None, version, internal)


# -- the stored side ---------------------------------------------------------------------------

NoteKey = tuple[Any, ...]


@dataclass
class StoredItem:
    """An item's children as stored, rebuilt in REST's shape, with a comparable key per
    note (what GraphQL can show: timestamps to the second)."""

    discussions: dict[str, dict[str, Any]] = field(default_factory=dict)
    note_keys: dict[int, NoteKey] = field(default_factory=dict)
    notes_by_id: dict[int, dict[str, Any]] = field(default_factory=dict)
    diffs: list[dict[str, Any]] = field(default_factory=list)
    overflow: bool = False
    changes_count: str | None = None
    diffstats_fp: str | None = None


def _second(iso: str | None) -> int | None:
    if not iso:
        return None
    try:
        return ms_from_iso(iso) // 1000
    except ValueError:
        return None


def _key(
    note_id: int,
    body: str,
    system: bool,
    internal: bool,
    resolvable: bool,
    resolved: bool,
    author_id: int | None,
    created: str | None,
    updated: str | None,
    position: tuple[Any, ...] | None,
) -> NoteKey:
    return (
        note_id,
        body,
        bool(system),
        bool(internal),
        bool(resolvable),
        bool(resolved),
        author_id,
        _second(created),
        _second(updated),
        position,
    )


def read_stored(conn: sqlite3.Connection, kind: str, item_ids: list[int]) -> dict[int, StoredItem]:
    """The stored children of the given items (only items that are stored)."""
    out: dict[int, StoredItem] = {}
    if not item_ids:
        return out
    table = ingest.item_table(kind)
    for start in range(0, len(item_ids), 500):
        chunk = item_ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for (item_id,) in conn.execute(f"SELECT id FROM {table} WHERE id IN ({marks})", chunk):
            out[int(item_id)] = StoredItem()
        for disc_id, item_id, individual in conn.execute(
            f"SELECT id, item_id, individual_note FROM discussions WHERE item_kind = ? "
            f"AND item_id IN ({marks})",
            [kind, *chunk],
        ):
            if int(item_id) in out:
                out[int(item_id)].discussions[str(disc_id)] = {
                    "id": str(disc_id),
                    "individual_note": bool(individual),
                    "notes": [],
                }
        rows = conn.execute(
            f"""SELECT n.id, n.discussion_id, n.item_id, n.body, n.note_type, n.system,
                       n.resolvable, n.resolved, n.created_at, n.updated_at,
                       n.position_old_path, n.position_new_path, n.position_old_line,
                       n.position_new_line, n.internal, n.position_line_range, n.author_id,
                       p.username, p.name, p.web_url, p.avatar_url
                  FROM notes n LEFT JOIN people p ON p.id = n.author_id
                 WHERE n.item_kind = ? AND n.item_id IN ({marks})
                 ORDER BY n.created_at, n.id""",
            [kind, *chunk],
        )
        for row in rows:
            item = out.get(int(row[2]))
            disc = item.discussions.get(str(row[1])) if item is not None else None
            if item is None or disc is None:
                continue
            note = _rest_note_from_row(row)
            disc["notes"].append(note)
            item.notes_by_id[int(row[0])] = note
            pos = note.get("position")
            item.note_keys[int(row[0])] = _key(
                int(row[0]),
                str(row[3]),
                bool(row[5]),
                bool(row[14]),
                bool(row[6]),
                bool(row[7]),
                row[16],
                row[8],
                row[9],
                _pos_tuple(pos),
            )
        if kind == "mr":
            for mr_id, new_path, old_path, new_file, renamed, deleted in conn.execute(
                f"SELECT mr_id, new_path, old_path, new_file, renamed_file, deleted_file "
                f"FROM mr_paths WHERE source = 'diff' AND mr_id IN ({marks}) "
                f"ORDER BY rowid",
                chunk,
            ):
                if int(mr_id) in out:
                    out[int(mr_id)].diffs.append(
                        {
                            "old_path": old_path,
                            "new_path": new_path,
                            "new_file": bool(new_file),
                            "renamed_file": bool(renamed),
                            "deleted_file": bool(deleted),
                        }
                    )
            for mr_id, overflow, count, fingerprint in conn.execute(
                f"SELECT id, diffs_overflow, changes_count, diffstats_fingerprint "
                f"FROM merge_requests WHERE id IN ({marks})",
                chunk,
            ):
                if int(mr_id) in out:
                    out[int(mr_id)].overflow = bool(overflow)
                    out[int(mr_id)].changes_count = count
                    if fingerprint is not None:
                        out[int(mr_id)].diffstats_fp = str(fingerprint)
    return out


def _rest_note_from_row(row: tuple[Any, ...]) -> dict[str, Any]:
    (
        note_id,
        _disc,
        _item,
        body,
        note_type,
        system,
        resolvable,
        resolved,
        created,
        updated,
        old_path,
        new_path,
        old_line,
        new_line,
        internal,
        line_range,
        author_id,
        username,
        name,
        web_url,
        avatar_url,
    ) = row
    note: dict[str, Any] = {
        "id": int(note_id),
        "type": note_type,
        "body": body,
        "author": (
            {
                "id": author_id,
                "username": username,
                "name": name,
                "web_url": web_url,
                "avatar_url": avatar_url,
            }
            if author_id is not None
            else None
        ),
        "created_at": created,
        "updated_at": updated,
        "system": bool(system),
        "resolvable": bool(resolvable),
        "resolved": bool(resolved),
        "internal": bool(internal),
        "confidential": bool(internal),
    }
    if old_path is not None or new_path is not None:
        rng = None
        if line_range:
            try:
                rng = json.loads(line_range)
            except ValueError:
                rng = None
        note["position"] = {
            "old_path": old_path,
            "new_path": new_path,
            "old_line": old_line,
            "new_line": new_line,
            "line_range": rng,
        }
    return note


def _pos_tuple(pos: Any) -> tuple[Any, ...] | None:
    if not isinstance(pos, dict):
        return None
    return (pos.get("old_path"), pos.get("new_path"), pos.get("old_line"), pos.get("new_line"))


def record_diffstats(conn: sqlite3.Connection, mr_id: int, fingerprint: str | None) -> None:
    """Remember (or forget, with None) the diffStats fingerprint of the MR's stored file
    list; only a list read from REST is recorded (the caller owns the transaction)."""
    conn.execute(
        "UPDATE merge_requests SET diffstats_fingerprint = ? WHERE id = ?", (fingerprint, mr_id)
    )


LOSSY_KV_PREFIX = "graphql_children_lossy:"


def _lossy_key(project_id: int, kind: str) -> str:
    return f"{LOSSY_KV_PREFIX}{project_id}:{kind}"


def is_lossy(conn: sqlite3.Connection, project_id: int, kind: str) -> bool:
    """Did ``sync.noteDetail: "graphql"`` write notes of this project and kind since the
    last exact ``--full``? Then its stored notes are not REST's and never reused as such."""
    return (
        conn.execute("SELECT 1 FROM kv WHERE key = ?", (_lossy_key(project_id, kind),)).fetchone()
        is not None
    )


def mark_lossy(conn: sqlite3.Connection, project_id: int, kind: str, lossy: bool) -> None:
    """Set (after a run with ``noteDetail: "graphql"``) or clear (after an exact
    ``--full``: every stored note is REST's again) the mark."""
    key = _lossy_key(project_id, kind)
    if lossy:
        _write_kv(conn, key, "1")
    elif is_lossy(conn, project_id, kind):
        if conn.in_transaction:
            conn.execute("DELETE FROM kv WHERE key = ?", (key,))
        else:
            with transaction(conn):
                conn.execute("DELETE FROM kv WHERE key = ?", (key,))


def _write_kv(conn: sqlite3.Connection, key: str, value: str) -> None:
    if conn.in_transaction:
        ingest.set_kv(conn, key, value)
        return
    with transaction(conn):
        ingest.set_kv(conn, key, value)


def diffstats_fingerprint(stats: Iterable[dict[str, Any]]) -> str:
    rows = sorted(
        (str(s.get("path")), int(s.get("additions") or 0), int(s.get("deletions") or 0))
        for s in stats
    )
    return hashlib.sha1(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()


# -- results ---------------------------------------------------------------------------------


@dataclass
class BulkResult:
    """What GraphQL settled for one item. ``discussions`` None: read them from REST;
    ``diffs`` None (MRs): read the file list from REST."""

    discussions: list[dict[str, Any]] | None = None
    diffs: list[dict[str, Any]] | None = None
    overflow: bool = False
    changes_count: str | None = None
    diffstats_fp: str | None = None  # the MR's diffStats fingerprint (record with REST diffs)
    reused: bool = False  # discussions rebuilt from the stored rows


@dataclass
class BulkStats:
    requests: int = 0
    batches: int = 0
    shrinks: int = 0
    follow_ups: int = 0
    rest_discussions: int = 0  # items whose discussions still needed REST
    rest_diffs: int = 0  # MRs whose file list still needed REST
    fallbacks: int = 0  # items GraphQL could not answer (REST instead)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def to_details(self) -> dict[str, int]:
        with self._lock:  # (asdict would deep-copy the lock)
            return {
                f.name: int(getattr(self, f.name))
                for f in fields(self)
                if not f.name.startswith("_")
            }


# -- queries ---------------------------------------------------------------------------------


def _note_fields(internal_field: str) -> str:
    return (
        f"id body system {internal_field} resolvable resolved createdAt updatedAt "
        "author { id username name webUrl avatarUrl } "
        "position { oldPath newPath oldLine newLine }"
    )


def _discussions_selection(internal_field: str, disc_args: str) -> str:
    return (
        f"discussions({disc_args}) {{ pageInfo {{ hasNextPage endCursor }} "
        f"edges {{ cursor node {{ id notes(first: {PAGE}) {{ "
        f"pageInfo {{ hasNextPage endCursor }} nodes {{ {_note_fields(internal_field)} }} "
        f"}} }} }} }}"
    )


def batch_query(kind: str, internal_field: str, with_stats: bool) -> str:
    connection = "issues" if kind == "issue" else "mergeRequests"
    stats = "diffStats { path additions deletions } " if with_stats else ""
    return (
        f"query LoreChildren($fullPath: ID!, $iids: [String!]) {{ "
        f"project(fullPath: $fullPath) {{ items: {connection}(iids: $iids, first: {PAGE}) "
        f"{{ nodes {{ iid {stats}"
        f"{_discussions_selection(internal_field, f'first: {PAGE}')} }} }} }} }}"
    )


def follow_query(kind: str, internal_field: str) -> str:
    """The next discussions of one item (after ``$after``)."""
    connection = "issues" if kind == "issue" else "mergeRequests"
    return (
        f"query LoreMoreDiscussions($fullPath: ID!, $iids: [String!], $after: String, "
        f"$first: Int!) {{ project(fullPath: $fullPath) {{ items: {connection}(iids: $iids) "
        f"{{ nodes {{ iid "
        f"{_discussions_selection(internal_field, 'first: $first, after: $after')} "
        f"}} }} }} }}"
    )


def notes_query(kind: str, internal_field: str) -> str:
    """The next notes of one discussion: the discussion after ``$after`` (the cursor of
    the one before it), its notes after ``$notesAfter``."""
    connection = "issues" if kind == "issue" else "mergeRequests"
    return (
        f"query LoreMoreNotes($fullPath: ID!, $iids: [String!], $after: String, "
        f"$notesAfter: String) {{ project(fullPath: $fullPath) {{ items: {connection}"
        f"(iids: $iids) {{ nodes {{ iid discussions(first: 1, after: $after) {{ edges {{ "
        f"node {{ id notes(first: {PAGE}, after: $notesAfter) {{ pageInfo {{ hasNextPage "
        f"endCursor }} nodes {{ {_note_fields(internal_field)} }} }} }} }} }} }} }} }} }}"
    )


# -- converting --------------------------------------------------------------------------------


def _gid_int(gid: Any) -> int | None:
    text = str(gid or "")
    tail = text.rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _gid_tail(gid: Any) -> str:
    return str(gid or "").rsplit("/", 1)[-1]


def _rest_author(author: Any) -> dict[str, Any] | None:
    if not isinstance(author, dict):
        return None
    user_id = _gid_int(author.get("id"))
    if user_id is None:
        return None
    # REST's UserBasic has no "bot": leave it out so people.is_bot is decided alike.
    return {
        "id": user_id,
        "username": author.get("username"),
        "name": author.get("name"),
        "web_url": author.get("webUrl"),
        "avatar_url": author.get("avatarUrl"),
    }


@dataclass
class _GqlDiscussion:
    id: str
    cursor: str | None
    notes: list[dict[str, Any]]
    notes_cut: str | None  # endCursor when more notes follow


@dataclass
class _GqlItem:
    iid: int
    discussions: list[_GqlDiscussion] = field(default_factory=list)
    disc_cursor: str | None = None  # endCursor when more discussions follow
    diff_stats: list[dict[str, Any]] | None = None
    failed: bool = False


def _read_discussions(item: _GqlItem, conn_obj: Any, before: str | None) -> None:
    if not isinstance(conn_obj, dict):
        item.failed = True
        return
    previous = before
    for edge in conn_obj.get("edges") or []:
        node = edge.get("node") if isinstance(edge, dict) else None
        if not isinstance(node, dict):
            item.failed = True
            continue
        raw_notes = node.get("notes")
        notes_obj: dict[str, Any] = raw_notes if isinstance(raw_notes, dict) else {}
        info = notes_obj.get("pageInfo") or {}
        item.discussions.append(
            _GqlDiscussion(
                _gid_tail(node.get("id")),
                previous,
                [n for n in notes_obj.get("nodes") or [] if isinstance(n, dict)],
                str(info.get("endCursor")) if info.get("hasNextPage") else None,
            )
        )
        previous = edge.get("cursor")
    info = conn_obj.get("pageInfo") or {}
    item.disc_cursor = str(info.get("endCursor")) if info.get("hasNextPage") else None


class Breaker:
    """Stops asking GraphQL for the rest of the run after :data:`BREAK_AFTER` failed
    requests in a row (an outage would otherwise cost every batch its retries and its
    halvings before REST): the items go straight to REST."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures = 0

    @property
    def open(self) -> bool:
        return self._failures >= BREAK_AFTER

    def failed(self) -> None:
        with self._lock:
            self._failures += 1

    def succeeded(self) -> None:
        with self._lock:
            self._failures = 0


class BulkFetcher:
    """Bulk children of one resource of one project (thread-safe: batches run in the
    sync pool)."""

    def __init__(
        self,
        client: GitLabClient,
        project_path: str,
        kind: str,
        settings: BulkSettings,
        capability: ChildrenCapability,
        sizes: AdaptivePageSize,
        stats: BulkStats,
        breaker: Breaker | None = None,
    ) -> None:
        self.gql = GraphQLClient(client)
        self.project_path = project_path
        self.kind = kind
        self.settings = settings
        self.capability = capability
        self.sizes = sizes
        self.stats = stats
        self.breaker = breaker or Breaker()
        self._lock = threading.Lock()
        self.internal_field = capability.internal_field or "internal"
        #: False when stored notes may be GraphQL's (see :func:`is_lossy`): exact mode
        #: then reuses none of them.
        self.trust_stored = True

    # -- the batch -------------------------------------------------------------------------

    def fetch(
        self, raws: list[dict[str, Any]], stored: dict[int, StoredItem]
    ) -> dict[int, BulkResult | None]:
        """Item id → result (None: fall back to REST for the whole item). Never raises
        for GitLab failures: a batch that cannot be answered is all None."""
        out: dict[int, BulkResult | None] = {}
        pending = list(raws)
        cap = len(pending)  # this call's own limit, below the shared size after a failure
        while pending:
            with self._lock:
                size = max(1, min(self.sizes.size, cap))
            chunk, pending = pending[:size], pending[size:]
            if self.breaker.open:
                self._give_up(chunk, out)
                continue
            try:
                items = self._query_batch(chunk)
            except GraphQLError as exc:
                if exc.kind is FailureKind.SCHEMA:
                    self.capability.available = False
                    self.capability.reason = f"GraphQL rejected the children query: {exc.message}"
                elif exc.kind.shrinkable and len(chunk) > 1:
                    with self._lock:
                        self.sizes.on_failure(exc.kind)
                    cap = max(1, len(chunk) // 2)
                    self.stats.add(shrinks=1)
                    if exc.kind is not FailureKind.COMPLEXITY:
                        self.breaker.failed()
                    pending = chunk + pending  # the same items, in smaller batches
                    continue
                else:
                    self.breaker.failed()
                log.info(
                    "children batch of %d %ss of %s failed (%s): REST instead",
                    len(chunk),
                    self.kind,
                    self.project_path,
                    exc.message,
                )
                self._give_up(chunk, out)
                continue
            except LoreError as exc:
                log.info("children batch failed (%s): REST instead", exc.message)
                self.breaker.failed()
                self._give_up(chunk, out)
                continue
            self.breaker.succeeded()
            with self._lock:
                self.sizes.on_success()
            for raw in chunk:
                item = items.get(int(raw["iid"]))
                if item is None or item.failed:
                    out[int(raw["id"])] = None  # left out or broken: REST decides (404 = gone)
                    self.stats.add(fallbacks=1)
                    continue
                out[int(raw["id"])] = self._settle(item, stored.get(int(raw["id"])))
        return out

    def _give_up(self, chunk: list[dict[str, Any]], out: dict[int, BulkResult | None]) -> None:
        for raw in chunk:
            out[int(raw["id"])] = None
        self.stats.add(fallbacks=len(chunk))

    def _execute(self, query: str, variables: dict[str, Any]) -> GraphQLResponse:
        self.stats.add(requests=1)
        return self.gql.execute(query, variables)

    def _query_batch(self, chunk: list[dict[str, Any]]) -> dict[int, _GqlItem]:
        query = batch_query(self.kind, self.internal_field, self.kind == "mr")
        iids = [str(raw["iid"]) for raw in chunk]
        self.stats.add(batches=1)
        response = self._execute(query, {"fullPath": self.project_path, "iids": iids})
        nodes = response.require("project", "items", "nodes")
        broken = _broken_nodes(response)
        items: dict[int, _GqlItem] = {}
        for index, node in enumerate(nodes or []):
            if not isinstance(node, dict) or not str(node.get("iid") or "").isdigit():
                continue
            item = _GqlItem(int(node["iid"]), failed=index in broken)
            _read_discussions(item, node.get("discussions"), None)
            if self.kind == "mr":
                stats = node.get("diffStats")
                item.diff_stats = (
                    [s for s in stats if isinstance(s, dict)] if isinstance(stats, list) else None
                )
                if item.diff_stats is None:
                    item.failed = True
            items[item.iid] = item
        if response.errors and not broken:
            # Errors GraphQL did not pin on one node: trust no item of this batch.
            for item in items.values():
                item.failed = True
        for item in items.values():
            if not item.failed:
                self._complete(item)
        return items

    def _complete(self, item: _GqlItem) -> None:
        """Follow-up queries for cut connections (more than 100 discussions or notes)."""
        try:
            while item.disc_cursor is not None:
                self.stats.add(follow_ups=1)
                response = self._execute(
                    follow_query(self.kind, self.internal_field),
                    {
                        "fullPath": self.project_path,
                        "iids": [str(item.iid)],
                        "after": item.disc_cursor,
                        "first": PAGE,
                    },
                )
                nodes = response.require("project", "items", "nodes") or []
                if response.errors or not nodes:
                    item.failed = True
                    return
                before = item.disc_cursor
                item.disc_cursor = None
                _read_discussions(item, nodes[0].get("discussions"), before)
            for disc in item.discussions:
                while disc.notes_cut is not None:
                    self.stats.add(follow_ups=1)
                    response = self._execute(
                        notes_query(self.kind, self.internal_field),
                        {
                            "fullPath": self.project_path,
                            "iids": [str(item.iid)],
                            "after": disc.cursor,
                            "notesAfter": disc.notes_cut,
                        },
                    )
                    nodes = response.require("project", "items", "nodes") or []
                    edges = (
                        ((nodes[0].get("discussions") or {}).get("edges") or [])
                        if nodes and isinstance(nodes[0], dict)
                        else []
                    )
                    node = edges[0].get("node") if edges and isinstance(edges[0], dict) else None
                    if (
                        response.errors
                        or not isinstance(node, dict)
                        or _gid_tail(node.get("id")) != disc.id
                    ):
                        item.failed = True  # the list shifted under us: REST reads it whole
                        return
                    notes_obj = node.get("notes") or {}
                    disc.notes.extend(
                        n for n in notes_obj.get("nodes") or [] if isinstance(n, dict)
                    )
                    info = notes_obj.get("pageInfo") or {}
                    disc.notes_cut = str(info.get("endCursor")) if info.get("hasNextPage") else None
        except LoreError as exc:
            log.info(
                "follow-up for %s %s failed (%s): REST instead", self.kind, item.iid, exc.message
            )
            item.failed = True

    # -- deciding --------------------------------------------------------------------------

    def _settle(self, item: _GqlItem, stored: StoredItem | None) -> BulkResult:
        result = BulkResult()
        discussions, all_known = self._convert(item, stored)
        if (
            all_known
            and stored is not None
            and len(stored.note_keys) == sum(len(d["notes"]) for d in discussions)
            and set(stored.discussions) == {d["id"] for d in discussions}
        ):
            result.discussions, result.reused = discussions, True
        elif not item.discussions:
            result.discussions = []  # none at all: REST would send [] too
        elif not self.settings.exact:
            result.discussions = discussions
        if self.kind == "mr":
            stats = item.diff_stats or []
            fingerprint = diffstats_fingerprint(stats)
            result.diffstats_fp = fingerprint
            if len(stats) >= OVERFLOW_MIN_FILES:
                pass  # GitLab may cut the REST list: only REST says whether it did
            elif self.settings.mr_file_detail == "paths":
                result.diffs = [
                    {
                        "old_path": s.get("path"),
                        "new_path": s.get("path"),
                        "new_file": False,
                        "renamed_file": False,
                        "deleted_file": False,
                    }
                    for s in stats
                ]
                result.diffstats_fp = None  # a list not from REST is never trusted as one
            elif stored is not None and stored.diffstats_fp == fingerprint:
                result.diffs = list(stored.diffs)
                result.overflow, result.changes_count = stored.overflow, stored.changes_count
        if result.discussions is None:
            self.stats.add(rest_discussions=1)
        if self.kind == "mr" and result.diffs is None:
            self.stats.add(rest_diffs=1)
        return result

    def _convert(
        self, item: _GqlItem, stored: StoredItem | None
    ) -> tuple[list[dict[str, Any]], bool]:
        """REST-shaped discussions from GraphQL; stored notes that GraphQL shows unchanged
        keep their stored (exact) values. Returns (discussions, every note was stored)."""
        all_known = True
        out: list[dict[str, Any]] = []
        for disc in item.discussions:
            notes: list[dict[str, Any]] = []
            for node in disc.notes:
                note_id = _gid_int(node.get("id"))
                if note_id is None:
                    continue
                author = _rest_author(node.get("author"))
                pos = node.get("position")
                position = None
                if isinstance(pos, dict):
                    position = {
                        "old_path": pos.get("oldPath"),
                        "new_path": pos.get("newPath"),
                        "old_line": pos.get("oldLine"),
                        "new_line": pos.get("newLine"),
                        "line_range": None,
                    }
                internal = bool(node.get(self.internal_field))
                key = _key(
                    note_id,
                    str(node.get("body") or ""),
                    bool(node.get("system")),
                    internal,
                    bool(node.get("resolvable")),
                    bool(node.get("resolved")),
                    author["id"] if author else None,
                    node.get("createdAt"),
                    node.get("updatedAt"),
                    _pos_tuple(position),
                )
                known = (
                    stored.notes_by_id.get(note_id)
                    if stored is not None and self.trust_stored
                    else None
                )
                if (
                    known is not None
                    and stored is not None
                    and stored.note_keys.get(note_id) == key
                ):
                    note = dict(known)
                    if author is not None:
                        note["author"] = author  # GitLab's current name and avatar
                    notes.append(note)
                    continue
                all_known = False
                note = {
                    "id": note_id,
                    "type": None,
                    "body": str(node.get("body") or ""),
                    "author": author,
                    "created_at": node.get("createdAt"),
                    "updated_at": node.get("updatedAt"),
                    "system": bool(node.get("system")),
                    "resolvable": bool(node.get("resolvable")),
                    "resolved": bool(node.get("resolved")),
                    "internal": internal,
                    "confidential": internal,
                }
                if position is not None:
                    note["position"] = position
                notes.append(note)
            individual = _individual(disc, notes, stored)
            for note in notes:
                if note.get("type") is None and not individual:
                    note["type"] = "DiffNote" if note.get("position") else "DiscussionNote"
            out.append({"id": disc.id, "individual_note": individual, "notes": notes})
        return out, all_known


def _individual(
    disc: _GqlDiscussion, notes: list[dict[str, Any]], stored: StoredItem | None
) -> bool:
    """REST's ``individual_note``, which GraphQL does not have: the stored value while
    the discussion's notes are the stored ones, else derived (a lone, unpositioned,
    unresolvable note is an individual note)."""
    known = stored.discussions.get(disc.id) if stored is not None else None
    if known is not None and [n["id"] for n in known["notes"]] == [n["id"] for n in notes]:
        return bool(known["individual_note"])
    if len(notes) != 1:
        return False
    note = notes[0]
    return not note.get("position") and not note.get("resolvable") and note.get("type") is None


def _broken_nodes(response: GraphQLResponse) -> set[int]:
    """Indexes of ``items.nodes`` that an error's path points into."""
    out: set[int] = set()
    for entry in response.errors:
        path = list(entry.path)
        if (
            len(path) >= 4
            and path[:3] == ["project", "items", "nodes"]
            and isinstance(path[3], int)
        ):
            out.add(path[3])
    return out


# -- per instance ------------------------------------------------------------------------------


class BulkChildren:
    """The bulk path of one sync run: capability, batch size and counters, shared by the
    resources and projects of the run. Create it on the thread that owns ``conn``."""

    def __init__(
        self, client: GitLabClient, settings: BulkSettings, gitlab_version: str | None
    ) -> None:
        self.client = client
        self.settings = settings
        self.gitlab_version = gitlab_version
        self.instance_url = str(getattr(client, "base_url", "") or "")
        self.capability: ChildrenCapability | None = None
        self.sizes: AdaptivePageSize | None = None
        self.stats = BulkStats()  # the probe
        self.breaker = Breaker()  # shared by the run's fetchers
        self._checked = False
        self._saved: str | None = None

    def usable(self, conn: sqlite3.Connection) -> bool:
        """Probe (or read the cached answer) once per run; False → REST only."""
        if not self.settings.enabled:
            return False
        if not self._checked:
            self._checked = True
            cached = read_capability(conn, self.instance_url)
            if (
                cached is not None
                and cached.gitlab_version == self.gitlab_version
                and self.gitlab_version is not None
            ):
                self.capability = cached
            else:
                try:
                    self.stats.add(requests=1)
                    self.capability = probe(GraphQLClient(self.client), self.gitlab_version)
                except LoreError as exc:
                    log.info("GraphQL children probe failed (%s): REST only this run", exc.message)
                    self.capability = None
                    return False
            self.sizes = AdaptivePageSize(self.capability.batch_size)
            self.sizes.start = MAX_BATCH  # grow back towards GitLab's cap
            self.save(conn)
        return bool(self.capability and self.capability.available)

    def fetcher(self, project_path: str, kind: str) -> BulkFetcher:
        assert self.capability is not None and self.sizes is not None
        # Counters of its own (the resource's report); capability and batch size shared.
        return BulkFetcher(
            self.client,
            project_path,
            kind,
            self.settings,
            self.capability,
            self.sizes,
            BulkStats(),
            self.breaker,
        )

    def save(self, conn: sqlite3.Connection) -> None:
        """Persist the capability and the batch size that works (main thread)."""
        if self.capability is None:
            return
        if self.sizes is not None:
            self.capability.batch_size = self.sizes.size
        text = self.capability.to_json()
        if text != self._saved:
            write_capability(conn, self.instance_url, self.capability)
            self._saved = text


# -- wiring into the items stage ---------------------------------------------------------------


class ItemsStage(Protocol):
    """What :func:`submit` needs of :class:`lore.sync.stage_items.ItemSync`."""

    client: GitLabClient
    conn: sqlite3.Connection
    pool: ThreadPoolExecutor
    base: str

    def fetch_children(self, raw: dict[str, Any]) -> Any: ...

    def rest_discussions(self, raw: dict[str, Any]) -> list[Any] | None: ...

    def rest_diffs(
        self, raw: dict[str, Any], discussions: list[Any], diffstats_fp: str | None
    ) -> Any: ...

    def make_children(
        self,
        raw: dict[str, Any],
        discussions: list[Any],
        diffs: list[Any],
        overflow: bool,
        changes_count: str | None,
        diffstats_fp: str | None,
    ) -> Any: ...

    def vanished_children(self) -> Any: ...


def submit(
    stage: ItemsStage, fetcher: BulkFetcher, kind: str, changed: list[dict[str, Any]]
) -> dict[int, Future[Any]]:
    """Futures of the children of ``changed`` (item id → the stage's children object),
    fetched in GraphQL batches; REST per item where GraphQL cannot settle them. Runs on
    the writer's thread (it reads the stored rows); nothing here blocks a pool worker on
    another pool task, so a pool of one cannot deadlock."""
    ids = [int(raw["id"]) for raw in changed]
    stored = read_stored(stage.conn, kind, ids)
    futures: dict[int, Future[Any]] = {}
    batched: list[dict[str, Any]] = []
    for raw in changed:
        item_id = int(raw["id"])
        if (
            item_id not in stored
            and fetcher.settings.exact
            and (kind == "issue" or fetcher.settings.mr_file_detail == "full")
        ):
            # Nothing stored to compare with, and REST's rows are wanted: REST at once
            # (waiting for a GraphQL batch first would only delay it). Such an MR gets its
            # diffStats fingerprint the next time it changes.
            futures[item_id] = stage.pool.submit(stage.fetch_children, raw)
        else:
            batched.append(raw)
    size = max(1, fetcher.sizes.size)
    for start in range(0, len(batched), size):
        chunk = batched[start : start + size]
        own: dict[int, Future[Any]] = {int(raw["id"]): Future() for raw in chunk}
        futures.update(own)
        batch = stage.pool.submit(fetcher.fetch, chunk, {i: stored[i] for i in own if i in stored})
        batch.add_done_callback(functools.partial(_settle_batch, stage, kind, chunk, own))
    return futures


def _settle_batch(
    stage: ItemsStage,
    kind: str,
    chunk: list[dict[str, Any]],
    own: dict[int, Future[Any]],
    done: Future[dict[int, BulkResult | None]],
) -> None:
    try:
        results = done.result()
    except BaseException as exc:  # fetch never raises for GitLab failures; a bug does
        log.warning("children batch crashed (%s): REST instead", exc)
        results = {}
    for raw in chunk:
        item_id = int(raw["id"])
        target = own[item_id]
        result = results.get(item_id)
        try:
            if result is None:
                _chain(stage.pool.submit(stage.fetch_children, raw), target)
            elif result.discussions is not None and (kind != "mr" or result.diffs is not None):
                target.set_result(
                    stage.make_children(
                        raw,
                        result.discussions,
                        result.diffs or [],
                        result.overflow,
                        result.changes_count,
                        result.diffstats_fp,
                    )
                )
            else:
                _chain(stage.pool.submit(_rest_rest, stage, kind, raw, result), target)
        except BaseException as exc:  # e.g. the pool is shutting down
            if not target.done():
                target.set_exception(exc)


def _rest_rest(stage: ItemsStage, kind: str, raw: dict[str, Any], result: BulkResult) -> Any:
    """The parts GraphQL could not settle, from REST (in a pool worker)."""
    discussions = result.discussions
    if discussions is None:
        discussions = stage.rest_discussions(raw)
        if discussions is None:
            return stage.vanished_children()  # 404: deleted since it was listed
    if kind == "mr" and result.diffs is None:
        # The REST file list, with the diffStats fingerprint it now belongs to.
        return stage.rest_diffs(raw, discussions, result.diffstats_fp)
    return stage.make_children(
        raw,
        discussions,
        result.diffs or [],
        result.overflow,
        result.changes_count,
        result.diffstats_fp,
    )


def _chain(source: Future[Any], target: Future[Any]) -> None:
    def copy(done: Future[Any]) -> None:
        if target.done():
            return
        exc = done.exception()
        if exc is not None:
            target.set_exception(exc)
        else:
            target.set_result(done.result())

    source.add_done_callback(copy)
