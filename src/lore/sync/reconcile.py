"""Cheap, regular reconciliation of the mirror with GitLab, without ``--full``.

Some changes never move an item's ``updated_at``, so no incremental listing shows them:
a deleted issue or MR, a deleted note, a note saved within a minute of the last update.
Once per run lore asks GitLab's GraphQL API for the number of issues and MRs of each
project (one request for both). When a count differs from the mirror's, or when the last
reconciliation is older than :data:`RECONCILE_INTERVAL_MS`, it walks an id-only listing
(``id iid updatedAt userNotesCount``, 100 per request, keyset-ordered by creation so edits
during the walk cannot hide an item) and then:

- fetches items the mirror lacks,
- re-reads items whose note count or ``updated_at`` differs,
- deletes items absent from the listing once GitLab confirms each one is gone (404).

Reconciliation is a safety net: when GraphQL is unavailable or fails it is skipped with
a warning, and the mirror stays as the incremental sync left it.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from lore.core.clock import iso_from_ms, ms_from_iso
from lore.core.errors import LoreError, as_lore_error
from lore.store import bulk, ingest
from lore.store.db import transaction
from lore.sync.stage_items import ISSUES, Capabilities, ItemSync, ProjectRef, Resource

log = logging.getLogger("lore.sync")

#: A full id listing at least this often, even when the counts agree.
RECONCILE_INTERVAL_MS = 24 * 3_600_000
KV_PREFIX = "reconcile:"


@dataclass
class ReconcileOutcome:
    checked: bool = False  # an id listing was walked
    why: str | None = None  # "count" | "interval" | None
    upstream_count: int | None = None
    mirrored_count: int = 0
    listed: int = 0
    missing: int = 0
    refetched: int = 0
    deleted: int = 0
    updated: int = 0
    warning: str | None = None
    skipped: str | None = None  # why no comparison was possible (not a problem)
    changed_iids: list[int] = field(default_factory=list)

    def to_details(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "why": self.why,
            "upstream_count": self.upstream_count,
            "mirrored_count": self.mirrored_count,
            "listed": self.listed,
            "missing": self.missing,
            "refetched": self.refetched,
            "deleted": self.deleted,
            "warning": self.warning,
            "skipped": self.skipped,
        }


def _kv_key(ref: ProjectRef, resource: Resource) -> str:
    return f"{KV_PREFIX}{ref.id}:{resource.stage}"


def _last_reconciled_ms(conn: sqlite3.Connection, key: str) -> int | None:
    row = conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
    if row is None:
        return None
    try:
        return ms_from_iso(str(json.loads(row[0])["at"]))
    except (ValueError, KeyError, TypeError):
        return None


def _mirrored(
    conn: sqlite3.Connection, resource: Resource, project_id: int
) -> dict[int, tuple[int, str, int]]:
    table = ingest.item_table(resource.kind)
    return {
        int(r[0]): (int(r[1]), str(r[2]), int(r[3] or 0))
        for r in conn.execute(
            f"SELECT id, iid, updated_at, user_notes_count FROM {table} WHERE project_id = ?",
            (project_id,),
        )
    }


def _seconds(iso: str) -> int:
    return ms_from_iso(iso) // 1000


def project_counts(
    client: Any, caps: Capabilities, ref: ProjectRef
) -> tuple[int | None, int | None]:
    """(issues, MRs) upstream, asked once per run and project (cached on ``caps``)."""
    cached = caps.counts.get(ref.id)
    if cached is not None:
        return cached
    from lore.gitlab.graphql import GraphQLClient
    from lore.gitlab.listing import item_counts

    try:
        counts = item_counts(GraphQLClient(client), ref.path)
    except LoreError as exc:
        log.info("item counts of %s unavailable: %s", ref.path, exc.message)
        counts = (None, None)
    caps.counts[ref.id] = counts
    return counts


def reconcile_resource(
    client: Any,
    conn: sqlite3.Connection,
    pool: ThreadPoolExecutor,
    ref: ProjectRef,
    resource: Resource,
    caps: Capabilities,
    *,
    force: bool = False,
    now_ms: int | None = None,
    walked_all: bool = False,
) -> ReconcileOutcome:
    """Compare one resource of one project with GitLab and repair the difference.

    ``walked_all``: this run's listing started from nothing (no cursor), so it has just
    seen every item; when the counts agree that is as good as an id listing, and the
    interval starts now without one."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    out = ReconcileOutcome()
    key = _kv_key(ref, resource)
    try:
        issues_count, mrs_count = project_counts(client, caps, ref)
        out.upstream_count = issues_count if resource is ISSUES else mrs_count
        if out.upstream_count is None and not force:
            # No GraphQL counts here (an instance without the API, a proxy in the way, MRs
            # disabled): the listing would fail the same way, so there is nothing to do.
            out.skipped = "GitLab's GraphQL API gave no count for this project"
            return out
        # A count (from a covering index), not every row: most runs stop here.
        out.mirrored_count = int(
            conn.execute(
                f"SELECT COUNT(*) FROM {ingest.item_table(resource.kind)} WHERE project_id = ?",
                (ref.id,),
            ).fetchone()[0]
        )
        last = _last_reconciled_ms(conn, key)
        if force:
            out.why = "forced"
        elif out.upstream_count is not None and out.upstream_count != out.mirrored_count:
            out.why = "count"
        elif walked_all and out.upstream_count is not None:
            out.listed = out.mirrored_count  # the walk listed every item: the interval restarts
        elif last is None or now_ms - last >= RECONCILE_INTERVAL_MS:
            out.why = "interval"
        else:
            return out
        if out.why is not None:
            bulk.restore(conn)  # repairs delete rows: every index must be there
            mirrored = _mirrored(conn, resource, ref.id)
            _walk_and_repair(client, conn, pool, ref, resource, caps, mirrored, out)
        with transaction(conn):
            ingest.set_kv(
                conn,
                key,
                json.dumps(
                    {
                        "at": iso_from_ms(now_ms),
                        "listed": out.listed,
                        "deleted": out.deleted,
                        "missing": out.missing,
                        "refetched": out.refetched,
                    }
                ),
            )
    except Exception as exc:  # a safety net must never fail the stage
        err = as_lore_error(exc, "sync")
        out.warning = f"reconciliation skipped ({err.code.value}: {err.message})"
        log.warning("%s %s: %s", resource.stage, ref.path, out.warning)
    return out


def _walk_and_repair(
    client: Any,
    conn: sqlite3.Connection,
    pool: ThreadPoolExecutor,
    ref: ProjectRef,
    resource: Resource,
    caps: Capabilities,
    mirrored: dict[int, tuple[int, str, int]],
    out: ReconcileOutcome,
) -> None:
    from lore.gitlab.graphql import GraphQLClient
    from lore.gitlab.listing import iter_item_ids

    kind = "issue" if resource is ISSUES else "mr"
    upstream = {item.id: item for item in iter_item_ids(GraphQLClient(client), ref.path, kind)}
    out.checked = True
    out.listed = len(upstream)
    fetch_iids: list[int] = []
    for item_id, item in upstream.items():
        stored = mirrored.get(item_id)
        if stored is None:
            out.missing += 1
            fetch_iids.append(item.iid)
        elif stored[2] != item.user_notes_count or _seconds(stored[1]) < _seconds(item.updated_at):
            out.refetched += 1
            fetch_iids.append(item.iid)
    sync = ItemSync(client, conn, pool, ref, resource, caps)
    if fetch_iids:
        raws = sync.fetch_by_iids(sorted(fetch_iids))
        sync.fetch_and_commit(raws, None)
        out.changed_iids.extend(sync.outcome.changed_iids)
    absent = {i: iid for i, (iid, _, _) in mirrored.items() if i not in upstream}
    if absent:
        out.deleted = sync.confirm_and_delete(absent)
    out.updated = sync.outcome.items_updated
