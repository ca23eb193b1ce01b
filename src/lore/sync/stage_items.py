"""The `issues` and `mrs` stages: list what changed since the cursor, fetch discussions
(and, for MRs, diffs) of the items that changed, and commit page by page.

Crash safety: a page (its items, their discussions and paths, and the cursor) is written
whole inside one transaction, and pages are committed in ``updated_at`` order, so the
cursor only ever covers committed data. An incremental sync commits every page; an
initial sync or ``--full`` holds up to :data:`PAGES_PER_TRANSACTION` pages, for at most
:data:`HOLD_SECONDS`, per transaction (far fewer writes to the WAL), so a re-run after a
kill refetches at most that many.

The single writer thread only runs SQL: each fetch worker turns the discussions and diffs
it read into the exact rows they produce (:func:`prepare_children`), with a hash of them;
an item whose children hash is unchanged (every item of a ``--full``, most items of an
incremental run) has its discussions, notes and paths left as they are.

What real GitLab makes necessary (issue 9):

- the list is walked by :class:`lore.sync.listing.ItemWalk`, which cannot skip an item
  edited during the walk (offset pagination over ``updated_at`` can);
- a note saved less than a minute after its item's last update does not move the item's
  ``updated_at`` (GitLab's ThrottledTouch), and a deleted note never does. So an item is
  read again when the list's ``user_notes_count`` differs from the stored one, and when
  its discussions were read less than a minute after its ``updated_at`` (by GitLab's
  clock, its ``Date`` header); the list always starts a few minutes before the cursor so
  those items are listed again;
- before GitLab 15.7 there is no ``/merge_requests/:iid/diffs``: ``/changes`` is used,
  chosen from ``/version`` or on a 404; MRs whose diff list GitLab cut at its limits are
  flagged;
- ``--full`` deletes only items a single-item request confirms are gone (404).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from lore.core.clock import iso_from_ms, ms_from_iso, normalize_iso
from lore.core.errors import ErrorCode, LoreError
from lore.gitlab.client import GitLabClient
from lore.store import ingest
from lore.store.db import transaction
from lore.sync import bulk_children
from lore.sync.listing import ItemWalk, ListedPage
from lore.sync.progress import Progress

PER_PAGE = 100
#: GitLab's ThrottledTouch interval: notes within it of the last update do not touch.
TOUCH_INTERVAL_MS = 60_000
#: The Date header has whole seconds; a read this close to the interval is read again.
TOUCH_MARGIN_MS = 2_000
#: The list always starts at least this far before the cursor, so items read within the
#: touch interval (and items whose notes changed without a touch) are listed again.
RECHECK_WINDOW_SECONDS = 300
#: GitLab's smallest allowed ``diff_max_files``: an MR with fewer files was not cut.
OVERFLOW_MIN_FILES = 500
#: Pages written per transaction when there is no cursor yet (initial sync) or on --full:
#: each commit rewrites index pages spread over the whole file, so fewer commits write far
#: less; a transaction is also closed after :data:`HOLD_SECONDS`, so a kill loses little.
PAGES_PER_TRANSACTION = 50
HOLD_SECONDS = 20.0


@dataclass(frozen=True)
class Resource:
    stage: str  # "issues" | "mrs"
    kind: str  # "issue" | "mr"
    api: str  # "issues" | "merge_requests"


ISSUES = Resource("issues", "issue", "issues")
MRS = Resource("mrs", "mr", "merge_requests")


@dataclass
class ProjectRef:
    id: int
    path: str


@dataclass
class Capabilities:
    """What this GitLab offers, decided once per run from ``/version`` (None: unknown)."""

    version: str | None = None
    diffs_endpoint: bool = True  # /merge_requests/:iid/diffs (GitLab 15.7+)
    keyset_issues: bool = False  # pagination=keyset on project issues by updated_at (18.3+)
    #: project id → (issues, MRs) upstream, asked once per run (see ``reconcile``)
    counts: dict[int, tuple[int | None, int | None]] = field(default_factory=dict)
    #: sync.graphqlChildren / noteDetail / mrFileDetail (None: read from the config file)
    bulk_settings: bulk_children.BulkSettings | None = None
    #: the run's GraphQL children path (made by the first stage that needs it)
    bulk: bulk_children.BulkChildren | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_version(cls, version: str | None) -> Capabilities:
        numbers = _version_numbers(version)
        if numbers is None:
            return cls(version=version)
        return cls(
            version=version, diffs_endpoint=numbers >= (15, 7), keyset_issues=numbers >= (18, 3)
        )

    def no_diffs_endpoint(self) -> None:
        with self._lock:
            self.diffs_endpoint = False


def _version_numbers(version: str | None) -> tuple[int, int] | None:
    if not version:
        return None
    head = version.split("-")[0].split(".")
    try:
        return int(head[0]), int(head[1])
    except (IndexError, ValueError):
        return None


@dataclass
class ResourceOutcome:
    items_seen: int = 0
    items_updated: int = 0
    notes: int = 0
    deleted: int = 0
    rechecked: int = 0  # unchanged items read again (throttled touches, note counts)
    vanished: int = 0  # items deleted upstream between the list and their discussions
    overflowed: int = 0  # MRs whose diff list GitLab cut at its limits
    list_requests: int = 0
    walk_mode: str = "window"
    #: the walk started without a cursor (and not --full): it listed every item
    from_scratch: bool = False
    changed_iids: list[int] = field(default_factory=list)
    changed_ids: list[int] = field(default_factory=list)
    #: the GraphQL children path's counters (empty when it was not used)
    graphql: dict[str, int] = field(default_factory=dict)

    def to_details(self) -> dict[str, Any]:
        return {
            "updated": self.items_updated,
            "seen": self.items_seen,
            "notes": self.notes,
            "deleted": self.deleted,
            "rechecked": self.rechecked,
            "vanished": self.vanished,
            "overflowed": self.overflowed,
            "list_requests": self.list_requests,
            "walk": self.walk_mode,
            **({"graphql_children": self.graphql} if self.graphql else {}),
        }


@dataclass
class _Children:
    """An item's children as GitLab's REST API sends them (``/discussions``, and for an
    MR ``/diffs`` or ``/changes`` entries); :func:`prepare_children` turns them into
    rows (``prepared``) and drops the raw lists."""

    discussions: list[Any]
    diffs: list[Any]
    overflow: bool = False
    changes_count: str | None = None
    vanished: bool = False
    prepared: ingest.PreparedChildren | None = None
    #: MRs: the diffStats fingerprint the stored file list is REST's answer for (None:
    #: not known to match any; the bulk path then reads the list from REST again)
    diffstats_fp: str | None = None


def prepare_children(children: _Children, project_id: int, kind: str, item_id: int) -> _Children:
    """Parse and normalise REST-shaped children into store rows (no connection needed: a
    fetch worker runs this, so the writer only executes SQL). Idempotent."""
    if not children.vanished and children.prepared is None:
        children.prepared = ingest.prepare_children(
            project_id,
            kind,
            item_id,
            children.discussions,
            children.diffs,
            overflow=children.overflow,
            changes_count=children.changes_count,
        )
        children.discussions, children.diffs = [], []
    return children


@dataclass
class _PendingPage:
    listed: ListedPage
    changed: list[dict[str, Any]]
    rechecked: int
    children: dict[int, Future[_Children]]


def _now_iso() -> str:
    return iso_from_ms(int(time.time() * 1000))


class ItemSync:
    """Fetching and committing items of one resource of one project."""

    def __init__(
        self,
        client: GitLabClient,
        conn: sqlite3.Connection,
        pool: ThreadPoolExecutor,
        project: ProjectRef,
        resource: Resource,
        caps: Capabilities,
    ) -> None:
        self.client = client
        self.conn = conn
        self.pool = pool
        self.project = project
        self.resource = resource
        self.caps = caps
        self.base = f"/api/v4/projects/{project.id}/{resource.api}"
        self.sigil = "#" if resource.kind == "issue" else "!"
        self.outcome = ResourceOutcome()
        self._bulk: bulk_children.BulkFetcher | None = None
        self._bulk_checked = False
        #: pages written in the open transaction (0: none open)
        self.held_pages = 0
        self.txn_started = 0.0
        self._people: ingest.PeopleCache = {}

    # -- children ----------------------------------------------------------------------------

    def _ref(self, iid: int) -> str:
        return f"{self.project.path}{self.sigil}{iid}"

    def fetch_children(self, raw: dict[str, Any]) -> _Children:
        """Fetch and prepare one item's children (runs in a fetch worker)."""
        return prepare_children(
            self.children(raw), self.project.id, self.resource.kind, int(raw["id"])
        )

    # The bulk path's hooks (lore.sync.bulk_children.ItemsStage); they run in workers.

    def rest_discussions(self, raw: dict[str, Any]) -> list[Any] | None:
        """REST ``/discussions`` of one item; None when it is gone (404)."""
        iid = int(raw["iid"])
        try:
            found: list[Any] = self.client.get_all(
                f"{self.base}/{iid}/discussions",
                per_page=100,
                what=f"discussions of {self._ref(iid)}",
            )
            return found
        except LoreError as exc:
            if exc.code is ErrorCode.NOT_FOUND:
                return None
            raise

    def rest_diffs(
        self, raw: dict[str, Any], discussions: list[Any], diffstats_fp: str | None
    ) -> _Children:
        children = self._mr_diffs(int(raw["iid"]), discussions)
        if not children.vanished:
            children.diffstats_fp = diffstats_fp
        return prepare_children(children, self.project.id, self.resource.kind, int(raw["id"]))

    def make_children(
        self,
        raw: dict[str, Any],
        discussions: list[Any],
        diffs: list[Any],
        overflow: bool,
        changes_count: str | None,
        diffstats_fp: str | None,
    ) -> _Children:
        children = _Children(discussions, diffs, overflow, changes_count, diffstats_fp=diffstats_fp)
        return prepare_children(children, self.project.id, self.resource.kind, int(raw["id"]))

    def vanished_children(self) -> _Children:
        return _Children([], [], vanished=True)

    def _bulk_fetcher(self) -> bulk_children.BulkFetcher | None:
        """The GraphQL children path for this resource, or None (REST per item)."""
        if not self._bulk_checked:
            self._bulk_checked = True
            bulk = self.caps.bulk
            if bulk is not None and bulk.usable(self.conn):
                self._bulk = bulk.fetcher(self.project.path, self.resource.kind)
                # Notes a noteDetail "graphql" run wrote are not REST's: never reused as such.
                self._bulk.trust_stored = not (
                    bulk.settings.exact
                    and bulk_children.is_lossy(self.conn, self.project.id, self.resource.kind)
                )
        return self._bulk

    def _submit(self, changed: list[dict[str, Any]]) -> dict[int, Future[_Children]]:
        fetcher = self._bulk_fetcher() if changed else None
        if fetcher is None or not fetcher.capability.available:
            return {int(raw["id"]): self.pool.submit(self.fetch_children, raw) for raw in changed}
        return bulk_children.submit(self, fetcher, self.resource.kind, changed)

    def children(self, raw: dict[str, Any]) -> _Children:
        iid = int(raw["iid"])
        try:
            discussions = self.client.get_all(
                f"{self.base}/{iid}/discussions",
                per_page=100,
                what=f"discussions of {self._ref(iid)}",
            )
        except LoreError as exc:
            if exc.code is ErrorCode.NOT_FOUND:
                return _Children([], [], vanished=True)  # deleted since it was listed
            raise
        if self.resource.kind != "mr":
            return _Children(discussions, [])
        return self._mr_diffs(iid, discussions)

    def _mr_diffs(self, iid: int, discussions: list[Any]) -> _Children:
        if self.caps.diffs_endpoint:
            try:
                diffs = self.client.get_all(
                    f"{self.base}/{iid}/diffs", per_page=100, what=f"diffs of {self._ref(iid)}"
                )
            except LoreError as exc:
                if exc.code is not ErrorCode.NOT_FOUND:
                    raise
                # GitLab before 15.7 has no /diffs; a vanished MR 404s on /changes too.
                self.caps.no_diffs_endpoint()
            else:
                out = _Children(discussions, diffs)
                if len(diffs) >= OVERFLOW_MIN_FILES:
                    # Only the single MR says whether GitLab cut the list ("1000+").
                    single = self.client.get_json(f"{self.base}/{iid}", what=self._ref(iid))
                    count = single.get("changes_count") if isinstance(single, dict) else None
                    out.changes_count = str(count) if count is not None else None
                    out.overflow = bool(out.changes_count and out.changes_count.endswith("+"))
                return out
        try:
            body = self.client.get_json(
                f"{self.base}/{iid}/changes", what=f"changes of {self._ref(iid)}"
            )
        except LoreError as exc:
            if exc.code is ErrorCode.NOT_FOUND:
                return _Children([], [], vanished=True)
            raise
        body = body if isinstance(body, dict) else {}
        changes = [c for c in body.get("changes") or [] if isinstance(c, dict)]
        count = body.get("changes_count")
        count_text = str(count) if count is not None else None
        overflow = bool(body.get("overflow")) or bool(count_text and count_text.endswith("+"))
        return _Children(discussions, changes, overflow, count_text)

    # -- deciding what to read -----------------------------------------------------------------

    def prepare(self, listed: ListedPage, *, full: bool) -> _PendingPage:
        ids = [int(raw["id"]) for raw in listed.items]
        stored = ingest.stored_sync_facts(self.conn, self.resource.kind, ids)
        changed: list[dict[str, Any]] = []
        rechecked = 0
        for raw in listed.items:
            facts = stored.get(int(raw["id"]))
            updated = normalize_iso(raw.get("updated_at"))
            if full or facts is None or facts.updated_at != updated:
                changed.append(raw)
            elif _needs_recheck(facts, raw):
                changed.append(raw)
                rechecked += 1
        return _PendingPage(listed, changed, rechecked, self._submit(changed))

    # -- writing ---------------------------------------------------------------------------

    def commit(
        self,
        pending: _PendingPage,
        progress: Progress | None = None,
        key: str = "",
        advance_cursor: bool = True,
        *,
        hold: bool = False,
    ) -> None:
        """Write one page (and the cursor) and commit; with ``hold`` the transaction stays
        open for the next page (:meth:`flush` commits it). A failure while writing rolls
        back every page held."""
        results = {item_id: fut.result() for item_id, fut in pending.children.items()}
        synced_at = _now_iso()
        fetched_at = iso_from_ms(pending.listed.server_ms or int(time.time() * 1000))
        stored_rows = [raw for raw in pending.changed if not results[int(raw["id"])].vanished]
        newest = max(
            (normalize_iso(raw.get("updated_at")) or "" for raw in pending.listed.items), default=""
        )
        if self.held_pages == 0:
            self.conn.execute("BEGIN IMMEDIATE")
            self.txn_started = time.monotonic()
            self._people = {}
        try:
            notes = self._write(stored_rows, results, synced_at, fetched_at)
            if newest and advance_cursor:
                ingest.set_cursor(
                    self.conn, self.project.id, self.resource.stage, newest, synced_at
                )
        except BaseException:
            self.held_pages = 0
            self.conn.execute("ROLLBACK")
            raise
        self.held_pages += 1
        if not hold:
            self.flush()
        out = self.outcome
        out.notes += notes
        out.items_updated += len(stored_rows)
        out.rechecked += pending.rechecked
        out.vanished += len(pending.changed) - len(stored_rows)
        out.overflowed += sum(1 for r in stored_rows if results[int(r["id"])].overflow)
        out.changed_iids.extend(int(raw["iid"]) for raw in stored_rows)
        out.changed_ids.extend(int(raw["id"]) for raw in stored_rows)
        out.items_seen += len(pending.listed.items)
        if progress is not None:
            progress.update(key, advance=len(pending.listed.items))

    def flush(self) -> None:
        """Commit the pages held in the open transaction, if any."""
        if self.held_pages:
            self.held_pages = 0
            self.conn.execute("COMMIT")

    def _write(
        self,
        stored_rows: list[dict[str, Any]],
        results: dict[int, _Children],
        synced_at: str,
        fetched_at: str,
    ) -> int:
        kind = self.resource.kind
        conn, people = self.conn, self._people
        hashes = ingest.children_hashes(conn, kind, [int(raw["id"]) for raw in stored_rows])
        notes = 0
        for raw in stored_rows:
            child = prepare_children(results[int(raw["id"])], self.project.id, kind, int(raw["id"]))
            if kind == "issue":
                item_id = ingest.upsert_issue(conn, self.project.id, raw, synced_at, people)
            else:
                item_id = ingest.upsert_mr(conn, self.project.id, raw, synced_at, people)
            assert child.prepared is not None and child.prepared.item_id == item_id
            ingest.write_children(conn, child.prepared, people, hashes.get(item_id))
            if kind == "mr":
                bulk_children.record_diffstats(conn, item_id, child.diffstats_fp)
            notes += child.prepared.note_count
        if stored_rows:
            conn.executemany(
                f"UPDATE {ingest.item_table(kind)} SET children_fetched_at = ? WHERE id = ?",
                [(fetched_at, int(raw["id"])) for raw in stored_rows],
            )
        return notes

    def fetch_and_commit(self, raws: list[dict[str, Any]], server_ms: int | None) -> None:
        """Read and store items found outside the walk (reconciliation, confirmations);
        the cursor does not move for them."""
        for start in range(0, len(raws), PER_PAGE):
            chunk = raws[start : start + PER_PAGE]
            self.commit(self.prepare(ListedPage(chunk, server_ms), full=True), advance_cursor=False)

    def fetch_by_iids(self, iids: list[int]) -> list[dict[str, Any]]:
        """The list entries of the given iids (REST ``iids[]``, 100 per request)."""
        out: list[dict[str, Any]] = []
        for start in range(0, len(iids), PER_PAGE):
            chunk = iids[start : start + PER_PAGE]
            params: dict[str, Any] = {"iids[]": chunk, "state": "all", "per_page": PER_PAGE}
            out.extend(
                x
                for x in self.client.get_all(
                    self.base,
                    params,
                    per_page=PER_PAGE,
                    what=f"{self.resource.api} of {self.project.path}",
                )
                if isinstance(x, dict)
            )
        return out

    def confirm_and_delete(self, candidates: dict[int, int]) -> int:
        """Delete the items (id → iid) GitLab confirms are gone (404 on the item itself);
        an item that answers is live after all, so it is stored instead."""
        gone: list[int] = []
        alive: list[dict[str, Any]] = []
        futures = {
            item_id: self.pool.submit(self._probe, iid) for item_id, iid in candidates.items()
        }
        for item_id, fut in futures.items():
            raw = fut.result()
            if raw is None:
                gone.append(item_id)
            else:
                alive.append(raw)
        if alive:
            self.fetch_and_commit(alive, None)
        with transaction(self.conn):
            deleted = ingest.delete_items(self.conn, self.resource.kind, sorted(gone))
        self.outcome.deleted += deleted
        return deleted

    def _probe(self, iid: int) -> dict[str, Any] | None:
        try:
            raw = self.client.get_json(f"{self.base}/{iid}", what=self._ref(iid))
        except LoreError as exc:
            if exc.code is ErrorCode.NOT_FOUND:
                return None
            raise
        return raw if isinstance(raw, dict) else None


def _needs_recheck(facts: ingest.SyncFacts, raw: dict[str, Any]) -> bool:
    """An unchanged item is read again when GitLab may have hidden a change from its
    ``updated_at``: its note count moved, or it was read within the touch interval."""
    listed_notes = raw.get("user_notes_count")
    if isinstance(listed_notes, int) and listed_notes != facts.user_notes_count:
        return True
    if facts.children_fetched_at is None:
        return True
    try:
        fetched = ms_from_iso(facts.children_fetched_at)
        updated = ms_from_iso(facts.updated_at)
    except ValueError:
        return True
    return fetched < updated + TOUCH_INTERVAL_MS + TOUCH_MARGIN_MS


def sync_resource(
    client: GitLabClient,
    conn: sqlite3.Connection,
    pool: ThreadPoolExecutor,
    project: ProjectRef,
    resource: Resource,
    *,
    full: bool,
    overlap_seconds: int,
    progress: Progress,
    caps: Capabilities | None = None,
    on_page_committed: Callable[[], None] | None = None,
) -> ResourceOutcome:
    """Bring one resource of one project up to date. Raises LoreError on failure
    (a 403 on the list surfaces as the client's ForbiddenError for the caller to judge)."""
    caps = caps or Capabilities()
    if caps.bulk is None:
        caps.bulk = bulk_children.BulkChildren(
            client, caps.bulk_settings or bulk_children.BulkSettings(), caps.version
        )
    sync = ItemSync(client, conn, pool, project, resource, caps)
    since: str | None = None
    cursor = None if full else ingest.get_cursor(conn, project.id, resource.stage)
    if cursor:
        back = max(overlap_seconds, RECHECK_WINDOW_SECONDS) * 1000
        since = iso_from_ms(max(ms_from_iso(cursor) - back, 0))
    key = f"{resource.stage}:{project.path}"
    what = f"{resource.api.replace('_', ' ')} of {project.path}"
    walk = ItemWalk(
        client, sync.base, since=since, what=what, keyset=resource is ISSUES and caps.keyset_issues
    )
    pages = iter(walk)
    first = next(pages, None)
    progress.start(key, f"{resource.stage:<6} {project.path}", first.total if first else 0)

    # Pipeline: children of page k+1 are fetched while page k is written. Without a
    # cursor (nothing to lose but this run's work) several pages share a transaction.
    per_txn = PAGES_PER_TRANSACTION if (full or cursor is None) else 1
    in_flight = sync.prepare(first, full=full) if first is not None else None
    try:
        while in_flight is not None:
            upcoming = next(pages, None)
            prepared = sync.prepare(upcoming, full=full) if upcoming is not None else None
            hold = (
                prepared is not None
                and sync.held_pages + 1 < per_txn
                and time.monotonic() - sync.txn_started < HOLD_SECONDS
            )
            sync.commit(in_flight, progress, key, hold=hold)
            if not hold and on_page_committed is not None:
                on_page_committed()
            in_flight = prepared
    finally:
        # Pages held when the walk fails are whole, and so is the cursor: keep them.
        sync.flush()
    caps.bulk.save(conn)  # the batch size that worked, for the next run
    if caps.bulk.settings.enabled and not caps.bulk.settings.exact:
        # (reconciliation may write GraphQL's notes after this too)
        bulk_children.mark_lossy(conn, project.id, resource.kind, True)
    elif full and caps.bulk.settings.exact:
        bulk_children.mark_lossy(conn, project.id, resource.kind, False)
    sync.outcome.list_requests = walk.stats.requests
    if sync._bulk is not None:
        sync.outcome.graphql = sync._bulk.stats.to_details()
    sync.outcome.walk_mode = walk.stats.mode
    sync.outcome.from_scratch = cursor is None and not full

    if full:
        # The walk cannot skip, but a deletion is for ever: confirm each one.
        stored = ingest.item_iids(conn, resource.kind, project.id)
        candidates = {i: iid for i, iid in stored.items() if i not in walk.seen}
        if candidates:
            sync.confirm_and_delete(candidates)
    progress.finish(key, f"{sync.outcome.items_updated} updated")
    return sync.outcome
