"""The `issues` and `mrs` stages: list what changed since the cursor, fetch discussions
(and, for MRs, diffs) of the items that changed, and commit page by page.

Crash safety: each page (its items, their discussions and paths, and the cursor) is one
transaction, and pages are committed in ``updated_at`` order, so the cursor only ever
covers committed data. A re-run after a kill refetches at most one page.
"""

from __future__ import annotations

import sqlite3
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from lore.core.clock import iso_from_ms, ms_from_iso, normalize_iso
from lore.gitlab.client import GitLabClient, Page
from lore.store import ingest
from lore.store.db import transaction
from lore.sync.progress import Progress

PER_PAGE = 100


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
class ResourceOutcome:
    items_seen: int = 0
    items_updated: int = 0
    notes: int = 0
    deleted: int = 0
    changed_iids: list[int] = field(default_factory=list)
    changed_ids: list[int] = field(default_factory=list)


@dataclass
class _PendingPage:
    page: Page
    changed: list[dict[str, Any]]
    children: dict[int, Future[tuple[list[Any], list[Any]]]]


def _now_iso() -> str:
    return iso_from_ms(int(time.time() * 1000))


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
    on_page_committed: Callable[[], None] | None = None,
) -> ResourceOutcome:
    """Bring one resource of one project up to date. Raises LoreError on failure."""
    base = f"/api/v4/projects/{project.id}/{resource.api}"
    params: dict[str, Any] = {"order_by": "updated_at", "sort": "asc", "state": "all"}
    cursor = None if full else ingest.get_cursor(conn, project.id, resource.stage)
    if cursor:
        since_ms = ms_from_iso(cursor) - overlap_seconds * 1000
        params["updated_after"] = iso_from_ms(max(since_ms, 0))
    key = f"{resource.stage}:{project.path}"
    what = f"{resource.api.replace('_', ' ')} of {project.path}"
    first = client.get_page(base, params, page=1, per_page=PER_PAGE, what=what)
    progress.start(key, f"{resource.stage:<6} {project.path}", first.total)

    outcome = ResourceOutcome()
    seen_ids: set[int] = set()
    pages: deque[Future[Page]] = deque()
    if first.total_pages and first.total_pages > 1:
        # Offset pagination lets us fetch the remaining pages concurrently.
        for number in range(2, first.total_pages + 1):
            pages.append(pool.submit(client.get_page, base, params, number, PER_PAGE, what))

    def children(raw: dict[str, Any]) -> tuple[list[Any], list[Any]]:
        iid = int(raw["iid"])
        discussions = client.get_all(f"{base}/{iid}/discussions", per_page=100,
                                     what=f"discussions of {project.path}{'#' if resource.kind == 'issue' else '!'}{iid}")
        diffs: list[Any] = []
        if resource.kind == "mr":
            diffs = client.get_all(f"{base}/{iid}/diffs", per_page=100,
                                   what=f"diffs of {project.path}!{iid}")
        return discussions, diffs

    def prepare(page: Page) -> _PendingPage:
        ids = [int(raw["id"]) for raw in page.items]
        stored = ingest.stored_updated_at(conn, resource.kind, ids)
        changed = [
            raw for raw in page.items
            if full or stored.get(int(raw["id"])) != normalize_iso(raw.get("updated_at"))
        ]
        futures = {int(raw["id"]): pool.submit(children, raw) for raw in changed}
        return _PendingPage(page, changed, futures)

    def commit(pending: _PendingPage) -> None:
        results = {item_id: fut.result() for item_id, fut in pending.children.items()}
        synced_at = _now_iso()
        newest = max((normalize_iso(raw.get("updated_at")) or "" for raw in pending.page.items),
                     default="")
        with transaction(conn):
            for raw in pending.changed:
                discussions, diffs = results[int(raw["id"])]
                if resource.kind == "issue":
                    item_id = ingest.upsert_issue(conn, project.id, raw, synced_at)
                else:
                    item_id = ingest.upsert_mr(conn, project.id, raw, synced_at)
                    ingest.replace_mr_paths(conn, item_id, diffs)
                outcome.notes += ingest.replace_discussions(conn, project.id, resource.kind,
                                                           item_id, discussions)
            if newest:
                ingest.set_cursor(conn, project.id, resource.stage, newest, synced_at)
        outcome.items_updated += len(pending.changed)
        outcome.changed_iids.extend(int(raw["iid"]) for raw in pending.changed)
        outcome.changed_ids.extend(int(raw["id"]) for raw in pending.changed)
        outcome.items_seen += len(pending.page.items)
        seen_ids.update(int(raw["id"]) for raw in pending.page.items)
        progress.update(key, advance=len(pending.page.items))
        if on_page_committed is not None:
            on_page_committed()

    def next_page(previous: Page) -> Page | None:
        if pages:
            return pages.popleft().result()
        if first.total_pages is None and previous.next_page and previous.items:
            # No totals (GitLab omits them past 10,000 rows): follow x-next-page one by one.
            return client.get_page(base, params, previous.next_page, PER_PAGE, what)
        return None

    # Pipeline: children of page k+1 are fetched while page k is written.
    in_flight: _PendingPage | None = prepare(first)
    current: Page | None = first
    while in_flight is not None:
        upcoming = next_page(current) if current is not None else None
        prepared_next = prepare(upcoming) if upcoming is not None and upcoming.items else None
        commit(in_flight)
        in_flight, current = prepared_next, upcoming

    # Offset pagination can skip an item when another one moves during the walk; the
    # server's total tells us, and one more walk from the same cursor closes the gap.
    if first.total is not None and len(seen_ids) < first.total:
        for page in client.iter_pages(base, params, per_page=PER_PAGE, what=what):
            missing = [raw for raw in page.items if int(raw["id"]) not in seen_ids]
            if missing:
                commit(prepare(Page(missing, page.page, None, None, None)))

    if full:
        with transaction(conn):
            gone = ingest.item_ids(conn, resource.kind, project.id) - seen_ids
            outcome.deleted = ingest.delete_items(conn, resource.kind, sorted(gone))
    progress.finish(key, f"{outcome.items_updated} updated")
    return outcome
