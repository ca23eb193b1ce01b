"""Edits while lore reads: background churn and a hook that edits during a listing.

- :class:`Churn` (``sim.admin.start_churn(edits_per_second, seed, kinds)`` /
  ``POST /__sim/churn``): a daemon thread that edits random live items at a steady rate.
  Each edit is one of: a title edit, a label edit, a new note (which touches its item only
  by GitLab's throttle rule), now and then a work-item status change (issues; a system note,
  throttled too) or the deletion of a user note (never touches the item). Every edit goes
  through the admin API under the dataset lock, stamped with the simulator clock; with
  ``advance_clock`` (default) the clock also moves forward with wall time, so the one-minute
  touch throttle behaves as on a live instance. ``stop_churn()`` returns the counts.
- :class:`ListingHook` (``sim.admin.edit_during_listing(route, every_pages, count)`` /
  ``POST /__sim/listing_hook``): right after a list page of ``route`` has been computed and
  rendered, and before it is answered, bump ``updated_at`` of the page's first item. With
  offset pagination ordered by ``updated_at`` asc that item jumps to the end and the first
  item of the next page slides onto the page just read: the skip hazard of issue 9.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from lore.sim import vocab as V
from lore.sim.model import Issue, MergeRequest, iso_ms

if TYPE_CHECKING:
    from lore.sim.admin import AdminApi

_EDIT_SUFFIX = " (edited)"
_CHURN_LABEL = "churned"
_CHURN_AUTHOR = "root"
_ROUTES = ("issues", "merge_requests")


class Churn:
    """Edits random live items at ``edits_per_second`` until stopped."""

    def __init__(
        self,
        admin: AdminApi,
        edits_per_second: float,
        seed: int = 0,
        kinds: tuple[str, ...] = ("issue", "mr"),
        advance_clock: bool = True,
    ) -> None:
        if edits_per_second <= 0:
            raise ValueError("edits_per_second must be positive")
        bad = [k for k in kinds if k not in ("issue", "mr")]
        if bad or not kinds:
            raise ValueError(f"kinds must be a non-empty subset of issue, mr (got {kinds!r})")
        self.admin = admin
        self.rate = edits_per_second
        self.seed = seed
        self.kinds = kinds
        self.advance_clock = advance_clock
        self.rng = random.Random(f"churn-{seed}")
        self.counts: Counter[str] = Counter()
        self.edited_ids: set[tuple[str, int]] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lore-sim-churn", daemon=True)
        self._wall0 = 0.0
        self._sim0 = 0

    def start(self) -> None:
        ds = self.admin.ds
        self._wall0 = time.monotonic()
        self._sim0 = ds.now_ms
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and not self._stop.is_set()

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "running": self.running,
            "edits_per_second": self.rate,
            "seed": self.seed,
            "kinds": list(self.kinds),
            "edits": sum(v for k, v in self.counts.items() if k not in ("note_touched", "skipped")),
            "items_edited": len(self.edited_ids),
        }
        for key in (
            "title",
            "labels",
            "note",
            "note_touched",
            "status",
            "note_deleted",
            "skipped",
            "errors",
        ):
            out[key] = self.counts.get(key, 0)
        return out

    def _run(self) -> None:
        interval = 1.0 / self.rate
        due = time.monotonic()
        while not self._stop.is_set():
            due += interval
            try:
                self.edit_once()
            except Exception:  # churn must keep going: counted instead
                self.counts["errors"] += 1
            delay = due - time.monotonic()
            if delay > 0:
                if self._stop.wait(delay):
                    break
            else:
                due = time.monotonic()  # fell behind: do not burst to catch up

    def _tick_clock(self) -> None:
        if not self.advance_clock:
            return
        ds = self.admin.ds
        target = self._sim0 + int((time.monotonic() - self._wall0) * 1000)
        ds.now_ms = max(ds.now_ms, target)

    def edit_once(self) -> str:
        """Make one random edit now; returns its kind (also counted), or "stopped"."""
        lock = self.admin.ds.lock
        # stop() may be called by a thread that holds the dataset lock (an admin request)
        # and then waits for this thread: never block on the lock once asked to stop.
        while not lock.acquire(timeout=0.05):
            if self._stop.is_set():
                return "stopped"
        try:
            if self._stop.is_set() and threading.current_thread() is self._thread:
                return "stopped"
            return self._edit_locked()
        finally:
            lock.release()

    def _edit_locked(self) -> str:
        admin, rng = self.admin, self.rng
        ds = admin.ds
        self._tick_clock()
        kind = rng.choice(self.kinds)
        candidates = [p for p in ds.projects if (p.issues if kind == "issue" else p.mrs)]
        if not candidates:
            self.counts["skipped"] += 1
            return "skipped"
        project = rng.choice(candidates)
        table: dict[int, Any] = project.issues if kind == "issue" else project.mrs
        item: Issue | MergeRequest = table[rng.choice(list(table))]
        roll = rng.random()
        what: str
        if roll < 0.32:
            title = item.title
            title = (
                title[: -len(_EDIT_SUFFIX)]
                if title.endswith(_EDIT_SUFFIX)
                else title + _EDIT_SUFFIX
            )
            self._edit(kind, project.id, item.iid, title=title)
            what = "title"
        elif roll < 0.55:
            if _CHURN_LABEL in item.labels:
                self._edit(kind, project.id, item.iid, remove_labels=[_CHURN_LABEL])
            else:
                self._edit(kind, project.id, item.iid, add_labels=[_CHURN_LABEL])
            what = "labels"
        elif roll < 0.85:
            before = item.updated_ms
            admin.add_note(
                project.id,
                kind,
                item.iid,
                body=f"churn note {rng.getrandbits(32):08x}",
                author=_CHURN_AUTHOR,
            )
            if item.updated_ms != before:
                self.counts["note_touched"] += 1
            what = "note"
        elif roll < 0.93 and isinstance(item, Issue):
            current = item.status_index
            choices = [s[1] for i, s in enumerate(V.STATUSES) if i != current]
            admin.edit_issue(project.id, item.iid, status=rng.choice(choices))
            what = "status"
        else:
            notes = [n for d in item.discussions for n in d.notes if not n.system]
            if not notes:
                self.counts["skipped"] += 1
                return "skipped"
            admin.delete_note(project.id, kind, item.iid, rng.choice(notes).id)
            what = "note_deleted"
        self.counts[what] += 1
        self.edited_ids.add((kind, item.id))
        return what

    def _edit(self, kind: str, project_id: int, iid: int, **changes: Any) -> None:
        if kind == "issue":
            self.admin.edit_issue(project_id, iid, **changes)
        else:
            self.admin.edit_mr(project_id, iid, **changes)


class ListingHook:
    """Bumps one item of a freshly computed list page before the page is answered."""

    def __init__(
        self, admin: AdminApi, route: str = "issues", every_pages: int = 1, count: int | None = None
    ) -> None:
        if route not in _ROUTES:
            raise ValueError(f"route must be one of {', '.join(_ROUTES)}")
        if every_pages < 1:
            raise ValueError("every_pages must be at least 1")
        self.admin = admin
        self.route = route
        self.every_pages = every_pages
        self.count = count
        self.pages_seen = 0
        self.edits = 0
        self.edited: list[dict[str, Any]] = []

    def status(self) -> dict[str, Any]:
        return {
            "armed": True,
            "route": self.route,
            "every_pages": self.every_pages,
            "count": self.count,
            "pages_seen": self.pages_seen,
            "edits": self.edits,
            "edited": list(self.edited),
        }

    def after_page(self, route: str, chunk: list[Any]) -> None:
        """Called by the REST list handlers (dataset lock held) with the page's items."""
        if route != self.route or not chunk:
            return
        self.pages_seen += 1
        if self.pages_seen % self.every_pages:
            return
        if self.count is not None and self.edits >= self.count:
            return
        ds = self.admin.ds
        item = chunk[0]
        item.updated_ms = ds.stamp()
        project = ds.projects_by_id[item.project_id]
        project.last_activity_ms = item.updated_ms
        self.edits += 1
        self.edited.append(
            {
                "id": item.id,
                "iid": item.iid,
                "project_id": item.project_id,
                "updated_at": iso_ms(item.updated_ms),
            }
        )


class VanishHook:
    """Deletes chosen items right after a list page that shows them is answered: a
    client then meets an item that was listed but is gone when it reads its children
    (REST 404, absent from a GraphQL ``iids:`` answer)."""

    def __init__(self, admin: AdminApi, item_ids: list[int]) -> None:
        self.admin = admin
        self.pending = {int(i) for i in item_ids}
        self.deleted: list[dict[str, Any]] = []

    def status(self) -> dict[str, Any]:
        return {
            "armed": bool(self.pending),
            "vanish": sorted(self.pending),
            "deleted": list(self.deleted),
        }

    def after_page(self, route: str, chunk: list[Any]) -> None:
        """Called by the REST list handlers (dataset lock held) with the page's items."""
        for item in chunk:
            if item.id not in self.pending:
                continue
            self.pending.discard(item.id)
            project = self.admin.ds.projects_by_id[item.project_id]
            table: dict[int, Any] = project.mrs if hasattr(item, "diffs") else project.issues
            iid = int(item.iid)
            if iid in table and table[iid].id == item.id:
                del table[iid]
                self.deleted.append({"id": int(item.id), "iid": iid, "project": project.path})
