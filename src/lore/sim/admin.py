"""Admin API: change the simulated GitLab while it runs. JSON in, JSON out, no auth.

Every route lives under ``/__sim/`` and is not counted in the request stats, not
delayed by ``latency_ms`` and never faulted. ``:project`` is a numeric id or a
URL-encoded path (``acme%2Ftools%2Fcli``). Errors answer ``{"error": "..."}`` with 400
or 404. The same operations are available in Python as ``sim.admin.<method>(...)``.

Clock and stats
---------------
- ``GET  /__sim/clock`` → ``{"now": ISO}``
- ``POST /__sim/clock`` ``{"advance_seconds": N}`` or ``{"now": ISO}`` → ``{"now": ISO}``.
  Every edit is stamped with the clock and moves it forward by at least 1 ms, so edits
  are strictly ordered and always newer than every generated timestamp.
- ``GET  /__sim/stats`` → dataset counts, ``requests``, ``requests_by_route``
  (e.g. ``"GET /api/v4/projects/:id/issues": 12``), ``responses_by_status``,
  ``faults_fired``, ``now``. ``POST /__sim/stats/reset`` zeroes the counters.
- ``GET  /__sim/requests`` → ``state.request_log`` as a list of ``{"method", "path",
  "query", "auth": "bearer" | "private-token" | "none", "status"}`` (never a token);
  ``DELETE /__sim/requests`` empties it.
- ``GET  /__sim/truth`` → ``{"areas": [{"project", "path", "current_owner",
  "previous_owner", "handover_at", "reviewers"}]}`` (ground truth for ``lore who``).
- ``GET  /__sim/projects`` → ``[{"id", "path", "issues", "merge_requests", "next_issue_iid",
  "next_mr_iid", "files", "merge_requests_access_level"}]``; ``GET /__sim/users`` → ``[{"id", "username", "name", "bot",
  "state"}]``.

Knobs and faults
----------------
- ``GET/POST /__sim/config`` ``{"latency_ms": 0, "work_item_status": true,
  "complexity_limit": 250, "diff_max_files": 1000}`` (any subset; ``complexity_limit``
  null or 0 disables; ``diff_max_files`` is GitLab's per-MR diff file limit).
- ``GET /__sim/faults``, ``POST /__sim/faults`` ``{"rules": [...], "seed": 1,
  "append": false}``, ``DELETE /__sim/faults``. Rule shape: see ``lore.sim.faults``.

Issues and merge requests
-------------------------
- ``POST /__sim/projects/:project/issues`` create: ``{"title" (required), "description",
  "labels": [...], "author": username, "assignees": [usernames], "status": "In progress",
  "confidential", "milestone": title, "due_date": "YYYY-MM-DD"}`` → 201 + the issue as
  REST renders it.
- ``POST /__sim/projects/:project/merge_requests`` create: ``{"title" (required),
  "description", "author", "labels", "reviewers", "source_branch", "target_branch",
  "files": ["src/auth/session.py", ...]}`` (generated diffs for those paths) → 201 + MR.
- ``PATCH`` (or ``PUT``/``POST``) ``/__sim/projects/:project/issues/:iid`` and
  ``.../merge_requests/:iid`` edit: any of ``"title"``, ``"description"``, ``"labels"``
  (replace), ``"add_labels"``, ``"remove_labels"``, ``"assignees"``, ``"milestone"``
  (title or null), ``"confidential"``, ``"due_date"``, ``"state_event"`` (issues:
  ``close``/``reopen``; MRs also ``merge`` and ``lock``), ``"status"`` (issues: a status
  name or null), ``"reviewers"`` and ``"draft"`` (MRs), ``"actor"`` (username recorded on
  system notes and as closer/merger; default ``root``), ``"system_notes": false`` to skip
  the system notes GitLab would add ("changed the description", "added ~bug label",
  "closed", "set status to **Done**"...). Any edit bumps ``updated_at`` (except a status-only
  change, see below). Closing an issue also moves its status to Done (if it was not
  already done/canceled); reopening moves it to To do. → 200 + the rendered item.
- ``DELETE .../issues/:iid`` and ``.../merge_requests/:iid``: the item disappears from
  every list, GET, discussion and GraphQL answer → ``{"deleted": true, ...}``.
- ``POST .../issues/:iid/notes`` and ``.../merge_requests/:iid/notes`` add a note:
  ``{"body" (required), "author": username, "discussion_id": reply to this thread,
  "internal": false, "system": false, "position": {"new_path", "new_line", "old_path",
  "old_line", "line_range": {"start": {"old_line", "new_line"}, "end": {...}}}}`` (MRs
  only; makes a resolvable ``DiffNote``; without ``line_range`` the note renders
  ``"line_range": null`` as API-created notes do on GitLab) → 201 +
  ``{"discussion_id", "note"}``. Bumps the item's ``updated_at`` only as GitLab's
  ``ThrottledTouch`` does: when the item's ``updated_at`` is at least 60 s older than the
  note (simulator clock). A note saved within a minute of the last update leaves
  ``updated_at`` alone.
- ``DELETE .../issues/:iid/notes/:note_id`` (and MRs): remove a note; never touches the item
  → ``{"deleted": true, "note_id", ...}``.
- An issue edit that only changes ``status`` (plus ``actor``/``system_notes``) adds the
  system note "set status to **X**" and touches the item by the same throttle rule.
- ``POST /__sim/projects/:project/features`` ``{"merge_requests": "enabled" | "private" |
  "disabled"}``: the project's ``merge_requests_access_level`` (not enabled → every
  ``/merge_requests*`` route answers 403) → the project's features.
- ``POST /__sim/projects/:project/bulk_touch`` ``{"kind": "issue" | "mr", "iids": [...],
  "at": ISO or null}``: the same ``updated_at`` on all of them at once, as a GitLab bulk
  edit does (default: one fresh stamp) → ``{"updated_at", "touched"}``.

Truth, churn and listing hooks
------------------------------
- ``GET /__sim/snapshot`` → ``{"issues": {"<id>": {"project_id", "iid", "updated_at",
  "user_notes_count", "note_ids"}}, "merge_requests": {...}}``: everything currently
  served (MRs of projects whose MRs are not enabled are left out); ``note_ids`` sorted,
  system notes included; ``updated_at`` exactly as REST renders it.
- ``POST /__sim/churn`` ``{"edits_per_second": 5, "seed": 0, "kinds": ["issue", "mr"],
  "advance_clock": true}`` starts a background thread editing random live items (see
  ``lore.sim.churn``); ``GET /__sim/churn`` → its counts so far; ``DELETE /__sim/churn``
  stops it → its final counts (``{"running": false, "edits": N, "title": N, ...}``).
- ``POST /__sim/listing_hook`` ``{"route": "issues" | "merge_requests", "every_pages": 1,
  "count": null}``: right after a list page of that route is computed (offset or keyset)
  and before it is answered, bump ``updated_at`` of the page's first item (every N-th page,
  at most ``count`` times). ``GET`` → its counters, ``DELETE`` clears it.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from lore.sim import vocab as V
from lore.sim.model import (
    DiffFile,
    Discussion,
    Issue,
    MergeRequest,
    Note,
    Position,
    Project,
    iso_ms,
    parse_iso_ms,
)
from lore.sim.wire import Handler, Request, Response, Route

if TYPE_CHECKING:
    from lore.sim.server import SimState

_DONE_CATEGORIES = ("done", "canceled")


#: GitLab's ThrottledTouch::TOUCH_INTERVAL: a note touches its item at most once a minute.
TOUCH_INTERVAL_MS = 60_000
_ACCESS_LEVELS = ("enabled", "private", "disabled")


class AdminError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _label_ref(label: str) -> str:
    return f'~"{label}"' if any(c in label for c in " :") else f"~{label}"


def _line_range(
    position: dict[str, Any],
) -> tuple[tuple[tuple[Any, Any], tuple[Any, Any]] | None, bool]:
    """``position.line_range`` of an admin note: (range or None, render as null?). Without
    one, GitLab stores none and renders ``"line_range": null`` (API-created notes)."""
    raw = position.get("line_range")
    if raw is None:
        return None, True
    try:
        start, end = raw["start"], raw["end"]
        pair_start = (start.get("old_line"), start.get("new_line"))
        pair_end = (end.get("old_line"), end.get("new_line"))
    except (KeyError, TypeError, AttributeError):
        raise AdminError(400, "line_range needs start and end with old_line/new_line") from None
    if pair_end != (position.get("old_line"), position.get("new_line")):
        raise AdminError(400, "line_range.end must be the note's own old_line/new_line")
    return (None, False) if pair_start == pair_end else ((pair_start, pair_end), False)


def _status_index(name: Any) -> int | None:
    if name is None:
        return None
    for i, (_, status_name, _, _) in enumerate(V.STATUSES):
        if status_name.lower() == str(name).lower():
            return i
    known = ", ".join(s[1] for s in V.STATUSES)
    raise AdminError(400, f"unknown status {name!r} (known: {known})")


class AdminApi:
    """Mutations and inspection of a running simulator (HTTP and Python)."""

    def __init__(self, state: SimState) -> None:
        self.state = state

    @property
    def ds(self) -> Any:
        return self.state.dataset

    # --- routing ------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        def r(method: str, path: tuple[str, ...], handler: Handler) -> Route:
            return Route(method, ("__sim", *path), "admin", self._wrap(handler), api=False)

        issue = ("projects", ":id", "issues", ":iid")
        mr = ("projects", ":id", "merge_requests", ":iid")
        routes = [
            r("GET", ("stats",), lambda q: Response.json(self.state.stats())),
            r("POST", ("stats", "reset"), self._reset_stats),
            r("GET", ("truth",), lambda q: Response.json(self.ds.truth)),
            r("GET", ("clock",), lambda q: Response.json(self.clock())),
            r("POST", ("clock",), lambda q: Response.json(self.set_clock(**self._body(q)))),
            r("GET", ("config",), lambda q: Response.json(self.config())),
            r("POST", ("config",), lambda q: Response.json(self.configure(**self._body(q)))),
            r("GET", ("faults",), lambda q: Response.json(self.state.faults.describe())),
            r("POST", ("faults",), self._set_faults),
            r("DELETE", ("faults",), self._clear_faults),
            r("GET", ("projects",), lambda q: Response.json(self.projects())),
            r("GET", ("snapshot",), lambda q: Response.json(self.snapshot())),
            r("GET", ("requests",), lambda q: Response.json(self.request_log())),
            r("DELETE", ("requests",), lambda q: Response.json(self.clear_request_log())),
            r("GET", ("churn",), lambda q: Response.json(self.churn_status())),
            r("POST", ("churn",), lambda q: Response.json(self.start_churn(**self._body(q)))),
            r("DELETE", ("churn",), lambda q: Response.json(self.stop_churn())),
            r("GET", ("listing_hook",), lambda q: Response.json(self.listing_hook_status())),
            r(
                "POST",
                ("listing_hook",),
                lambda q: Response.json(self.edit_during_listing(**self._body(q))),
            ),
            r("DELETE", ("listing_hook",), lambda q: Response.json(self.clear_listing_hook())),
            r(
                "POST",
                ("projects", ":id", "features"),
                lambda q: Response.json(self.set_features(q.args["id"], **self._body(q))),
            ),
            r(
                "POST",
                ("projects", ":id", "bulk_touch"),
                lambda q: Response.json(self.bulk_touch(q.args["id"], **self._body(q))),
            ),
            r("GET", ("users",), lambda q: Response.json(self.users())),
            r(
                "POST",
                ("projects", ":id", "issues"),
                lambda q: Response.json(self.create_issue(q.args["id"], **self._body(q)), 201),
            ),
            r(
                "POST",
                ("projects", ":id", "merge_requests"),
                lambda q: Response.json(self.create_mr(q.args["id"], **self._body(q)), 201),
            ),
        ]
        for kind, path in (("issue", issue), ("mr", mr)):
            edit = self._edit_handler(kind)
            routes += [
                r("PATCH", path, edit),
                r("PUT", path, edit),
                r("POST", path, edit),
                r("DELETE", path, self._delete_handler(kind)),
                r("POST", (*path, "notes"), self._note_handler(kind)),
                r("DELETE", (*path, "notes", ":note_id"), self._delete_note_handler(kind)),
            ]
        return routes

    def _wrap(self, handler: Handler) -> Handler:
        def run(req: Request) -> Response:
            try:
                return handler(req)
            except AdminError as exc:
                return Response.json({"error": exc.message}, exc.status)
            except (ValueError, TypeError) as exc:
                return Response.json({"error": str(exc)}, 400)

        return run

    @staticmethod
    def _body(req: Request) -> dict[str, Any]:
        try:
            body = req.json()
        except ValueError as exc:
            raise AdminError(400, f"invalid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise AdminError(400, "body must be a JSON object")
        return body

    def _reset_stats(self, req: Request) -> Response:
        self.state.reset_stats()
        return Response.json(self.state.stats())

    def _set_faults(self, req: Request) -> Response:
        from lore.sim.faults import FaultSpecError

        try:
            self.state.faults.configure(req.json())
        except (FaultSpecError, ValueError) as exc:
            raise AdminError(400, str(exc)) from None
        return Response.json(self.state.faults.describe())

    def _clear_faults(self, req: Request) -> Response:
        self.state.faults.clear()
        return Response.json(self.state.faults.describe())

    def _edit_handler(self, kind: str) -> Handler:
        def handle(req: Request) -> Response:
            body = self._body(req)
            if kind == "issue":
                return Response.json(self.edit_issue(req.args["id"], req.args["iid"], **body))
            return Response.json(self.edit_mr(req.args["id"], req.args["iid"], **body))

        return handle

    def _delete_handler(self, kind: str) -> Handler:
        def handle(req: Request) -> Response:
            return Response.json(self.delete(req.args["id"], kind, req.args["iid"]))

        return handle

    def _note_handler(self, kind: str) -> Handler:
        def handle(req: Request) -> Response:
            return Response.json(
                self.add_note(req.args["id"], kind, req.args["iid"], **self._body(req)), 201
            )

        return handle

    def _delete_note_handler(self, kind: str) -> Handler:
        def handle(req: Request) -> Response:
            return Response.json(
                self.delete_note(req.args["id"], kind, req.args["iid"], req.args["note_id"])
            )

        return handle

    # --- lookups ------------------------------------------------------------------------

    def _project(self, ref: str | int) -> Project:
        project = self.ds.find_project(ref)
        if project is None:
            raise AdminError(404, f"project {ref!r} not found")
        return project

    def _item(self, project_ref: str | int, kind: str, iid: str | int) -> Issue | MergeRequest:
        project = self._project(project_ref)
        try:
            number = int(iid)
        except ValueError:
            raise AdminError(404, f"{kind} {iid!r} not found") from None
        table: dict[int, Any] = project.issues if kind == "issue" else project.mrs
        item = table.get(number)
        if item is None:
            raise AdminError(404, f"{kind} {project.path}#{number} not found")
        return item

    def _user_id(self, username: Any, default: str = "root") -> int:
        name = str(username or default).lstrip("@")
        user = self.ds.users_by_name.get(name)
        if user is None:
            raise AdminError(400, f"unknown user {name!r}")
        return int(user.id)

    def _milestone_id(self, project: Project, title: Any) -> int | None:
        if title is None:
            return None
        for mid in project.milestone_ids:
            if self.ds.milestones[mid].title == str(title):
                return mid
        raise AdminError(400, f"unknown milestone {title!r} for {project.path}")

    # --- inspection ---------------------------------------------------------------------

    def clock(self) -> dict[str, str]:
        return {"now": iso_ms(self.ds.now_ms)}

    def set_clock(
        self, advance_seconds: float | None = None, now: str | None = None
    ) -> dict[str, str]:
        """Move the simulator clock forward by seconds, or set it to an ISO time."""
        with self.ds.lock:
            if now is not None:
                self.ds.now_ms = parse_iso_ms(str(now))
            if advance_seconds is not None:
                self.ds.now_ms += int(float(advance_seconds) * 1000)
            return self.clock()

    def config(self) -> dict[str, Any]:
        return {
            "latency_ms": self.state.latency_ms,
            "work_item_status": self.state.work_item_status,
            "complexity_limit": self.state.complexity_limit,
            "diff_max_files": self.state.diff_max_files,
        }

    def configure(
        self,
        latency_ms: int | None = None,
        work_item_status: bool | None = None,
        complexity_limit: int | str | None = "unchanged",
        diff_max_files: int | None = None,
    ) -> dict[str, Any]:
        """Change run-time knobs; returns the resulting configuration."""
        if diff_max_files is not None:
            self.state.diff_max_files = max(1, int(diff_max_files))
            self.state.renderer.diff_max_files = self.state.diff_max_files
        if latency_ms is not None:
            self.state.latency_ms = max(0, int(latency_ms))
        if work_item_status is not None:
            self.state.work_item_status = bool(work_item_status)
        if complexity_limit != "unchanged":
            self.state.complexity_limit = int(complexity_limit) if complexity_limit else None
        return self.config()

    def projects(self) -> list[dict[str, Any]]:
        with self.ds.lock:
            return [
                {
                    "id": p.id,
                    "path": p.path,
                    "issues": len(p.issues),
                    "merge_requests": len(p.mrs),
                    "next_issue_iid": p.next_issue_iid,
                    "next_mr_iid": p.next_mr_iid,
                    "files": list(p.files),
                    "merge_requests_access_level": p.merge_requests_access_level,
                }
                for p in self.ds.projects
            ]

    def request_log(self) -> list[dict[str, Any]]:
        """The requests seen outside ``/__sim/`` (see ``SimState.request_log``)."""
        return [dict(e) for e in list(self.state.request_log)]

    def clear_request_log(self) -> dict[str, int]:
        cleared = len(self.state.request_log)
        self.state.request_log.clear()
        return {"cleared": cleared}

    def users(self) -> list[dict[str, Any]]:
        return [
            {"id": u.id, "username": u.username, "name": u.name, "bot": u.bot, "state": u.state}
            for u in self.ds.users.values()
        ]

    # --- notes --------------------------------------------------------------------------

    def _throttled_touch(self, item: Issue | MergeRequest, ms: int) -> bool:
        """GitLab's ThrottledTouch: bump ``updated_at`` only if it is a minute old or more."""
        if ms - item.updated_ms >= TOUCH_INTERVAL_MS:
            item.updated_ms = ms
            self.ds.projects_by_id[item.project_id].last_activity_ms = ms
            return True
        return False

    def delete_note(
        self, project: str | int, kind: str, iid: str | int, note_id: str | int
    ) -> dict[str, Any]:
        """Remove one note (its thread too if it was the last one); never touches the item."""
        with self.ds.lock:
            item = self._item(project, kind, iid)
            try:
                wanted = int(note_id)
            except ValueError:
                raise AdminError(404, f"note {note_id!r} not found") from None
            for thread in item.discussions:
                for note in thread.notes:
                    if note.id == wanted:
                        thread.notes.remove(note)
                        if not thread.notes:
                            item.discussions.remove(thread)
                        return {
                            "deleted": True,
                            "note_id": wanted,
                            "kind": kind,
                            "iid": item.iid,
                            "discussion_id": thread.id,
                            "system": note.system,
                        }
            raise AdminError(404, f"note {wanted} not found on {kind} {item.iid}")

    def _new_discussion_id(self) -> str:
        rng = random.Random(f"{self.ds.seed}-discussion-{self.ds.next_ids['note']}")
        return f"{rng.getrandbits(160):040x}"

    def _system_note(self, item: Issue | MergeRequest, actor: int, body: str, ms: int) -> None:
        note = Note(self.ds.next_id("note"), actor, body, ms, ms, system=True)
        item.discussions.append(Discussion(self._new_discussion_id(), True, [note]))

    def add_note(
        self,
        project: str | int,
        kind: str,
        iid: str | int,
        body: str | None = None,
        author: str | None = None,
        discussion_id: str | None = None,
        internal: bool = False,
        system: bool = False,
        position: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Add a note (optionally a reply, or a diff note on an MR); touches the item only
        when its updated_at is a minute old or more (GitLab's ThrottledTouch)."""
        if not body:
            raise AdminError(400, "body is required")
        with self.ds.lock:
            item = self._item(project, kind, iid)
            author_id = self._user_id(author)
            ms = self.ds.stamp()
            pos = None
            if position is not None:
                if not isinstance(item, MergeRequest):
                    raise AdminError(400, "position is only valid on merge requests")
                new_path = position.get("new_path") or position.get("old_path")
                if not new_path:
                    raise AdminError(400, "position needs new_path or old_path")
                pos = Position(
                    item.base_sha,
                    item.start_sha,
                    item.sha,
                    str(position.get("old_path") or new_path),
                    str(new_path),
                    position.get("old_line"),
                    position.get("new_line"),
                )
                pos.line_range, pos.null_line_range = _line_range(position)
            note = Note(
                self.ds.next_id("note"),
                author_id,
                str(body),
                ms,
                ms,
                system=bool(system),
                internal=bool(internal),
            )
            if pos is not None:
                note.type, note.position, note.resolvable = "DiffNote", pos, True
            if discussion_id:
                thread = next((d for d in item.discussions if d.id == discussion_id), None)
                if thread is None:
                    raise AdminError(404, f"discussion {discussion_id} not found")
                first = thread.notes[0]
                if thread.individual_note:
                    thread.individual_note = False
                    first.type = first.type or "DiscussionNote"
                note.type = first.type
                note.position = note.position or first.position
                note.resolvable = first.resolvable or isinstance(item, MergeRequest)
                if isinstance(item, MergeRequest) and not first.resolvable:
                    for n in thread.notes:
                        n.resolvable = True
                thread.notes.append(note)
            else:
                # A plain comment is an individual note; a diff note starts a thread.
                thread = Discussion(self._new_discussion_id(), pos is None, [note])
                item.discussions.append(thread)
            self._throttled_touch(item, ms)
            return {"discussion_id": thread.id, "note": self.state.renderer.note(note, item)}

    # --- issues -------------------------------------------------------------------------

    def create_issue(
        self,
        project: str | int,
        title: str | None = None,
        description: str | None = None,
        labels: list[str] | None = None,
        author: str | None = None,
        assignees: list[str] | None = None,
        status: str | None = "To do",
        confidential: bool = False,
        milestone: str | None = None,
        due_date: str | None = None,
    ) -> dict[str, Any]:
        """Create an issue at the current clock; returns its REST rendering."""
        if not title:
            raise AdminError(400, "title is required")
        with self.ds.lock:
            p = self._project(project)
            ms = self.ds.stamp()
            issue = Issue(
                id=self.ds.next_id("issue"),
                iid=p.next_issue_iid,
                project_id=p.id,
                title=str(title),
                description=description,
                state="opened",
                author_id=self._user_id(author),
                created_ms=ms,
                updated_ms=ms,
                labels=[str(x) for x in labels or []],
                assignee_ids=[self._user_id(a) for a in assignees or []],
                milestone_id=self._milestone_id(p, milestone),
                due_date=due_date,
                confidential=bool(confidential),
                status_index=_status_index(status),
            )
            p.next_issue_iid += 1
            p.issues[issue.iid] = issue
            p.last_activity_ms = ms
            return self.state.renderer.issue(issue)

    def edit_issue(self, project: str | int, iid: str | int, **changes: Any) -> dict[str, Any]:
        """Apply changes (see the module docstring) and bump updated_at."""
        with self.ds.lock:
            item = self._item(project, "issue", iid)
            assert isinstance(item, Issue)
            self._edit(item, changes)
            return self.state.renderer.issue(item)

    # --- merge requests -----------------------------------------------------------------

    def create_mr(
        self,
        project: str | int,
        title: str | None = None,
        description: str | None = None,
        author: str | None = None,
        labels: list[str] | None = None,
        reviewers: list[str] | None = None,
        source_branch: str | None = None,
        target_branch: str | None = None,
        files: list[str] | None = None,
        draft: bool = False,
    ) -> dict[str, Any]:
        """Create an open MR touching ``files`` (diffs are generated); returns its rendering."""
        from lore.sim.text import TextGen

        if not title:
            raise AdminError(400, "title is required")
        with self.ds.lock:
            p = self._project(project)
            ms = self.ds.stamp()
            mr_id = self.ds.next_id("mr")
            rng = random.Random(f"{self.ds.seed}-mr-{mr_id}")
            text = TextGen(rng)
            author_id = self._user_id(author)
            area = next(
                (a for a in p.areas if any(f.startswith(a.path) for f in files or [])), p.areas[0]
            )
            ctx = text.context(V.AREAS[area.vocab], area.files, ["root"])
            diffs = []
            for path in files or [area.files[0]]:
                exists = path in p.files
                body, anchors = text.diff(path, p.language, ctx, "modify" if exists else "new")
                diffs.append(
                    DiffFile(
                        path,
                        path,
                        body,
                        new_file=not exists,
                        a_mode="100644" if exists else "0",
                        anchors=anchors,
                    )
                )
            sha = f"{rng.getrandbits(160):040x}"
            base = f"{rng.getrandbits(160):040x}"
            mr = MergeRequest(
                id=mr_id,
                iid=p.next_mr_iid,
                project_id=p.id,
                title=("Draft: " + str(title)) if draft else str(title),
                description=description,
                state="opened",
                author_id=author_id,
                created_ms=ms,
                updated_ms=ms,
                source_branch=source_branch or f"feature/{p.next_mr_iid}",
                target_branch=target_branch or p.default_branch,
                sha=sha,
                base_sha=base,
                start_sha=base,
                labels=[str(x) for x in labels or []],
                assignee_ids=[author_id],
                reviewer_ids=[self._user_id(r) for r in reviewers or []],
                draft=bool(draft),
                area=area.path,
                diffs=diffs,
            )
            p.next_mr_iid += 1
            p.mrs[mr.iid] = mr
            p.last_activity_ms = ms
            return self.state.renderer.merge_request(mr, single=True)

    def edit_mr(self, project: str | int, iid: str | int, **changes: Any) -> dict[str, Any]:
        """Apply changes (see the module docstring) and bump updated_at."""
        with self.ds.lock:
            item = self._item(project, "mr", iid)
            assert isinstance(item, MergeRequest)
            self._edit(item, changes)
            return self.state.renderer.merge_request(item, single=True)

    # --- shared editing -----------------------------------------------------------------

    def _edit(self, item: Issue | MergeRequest, changes: dict[str, Any]) -> None:
        is_mr = isinstance(item, MergeRequest)
        allowed = {
            "title",
            "description",
            "labels",
            "add_labels",
            "remove_labels",
            "assignees",
            "milestone",
            "confidential",
            "due_date",
            "state_event",
            "status",
            "actor",
            "system_notes",
        }
        allowed |= {"reviewers", "draft"} if is_mr else set()
        unknown = set(changes) - allowed
        if unknown:
            raise AdminError(400, f"unknown field(s): {', '.join(sorted(unknown))}")
        if is_mr and "status" in changes:
            raise AdminError(400, "work-item status applies to issues only")
        actor = self._user_id(changes.get("actor"))
        notes_on = changes.get("system_notes", True) is not False
        ms = self.ds.stamp()
        sys_notes: list[str] = []
        project = self.ds.projects_by_id[item.project_id]

        if "title" in changes and changes["title"] != item.title:
            sys_notes.append(f"changed title from **{item.title}** to **{changes['title']}**")
            item.title = str(changes["title"])
        if "description" in changes and changes["description"] != item.description:
            item.description = changes["description"]
            sys_notes.append("changed the description")
        labels = list(item.labels)
        if "labels" in changes:
            labels = [str(x) for x in changes["labels"] or []]
        labels += [str(x) for x in changes.get("add_labels") or [] if str(x) not in labels]
        labels = [
            x for x in labels if x not in {str(y) for y in changes.get("remove_labels") or []}
        ]
        added = [x for x in labels if x not in item.labels]
        removed = [x for x in item.labels if x not in labels]
        if added:
            refs = " ".join(_label_ref(x) for x in added)
            sys_notes.append(f"added {refs} label{'s' if len(added) > 1 else ''}")
        if removed:
            refs = " ".join(_label_ref(x) for x in removed)
            sys_notes.append(f"removed {refs} label{'s' if len(removed) > 1 else ''}")
        item.labels = labels
        if "assignees" in changes:
            new_ids = [self._user_id(u) for u in changes["assignees"] or []]
            for uid in new_ids:
                if uid not in item.assignee_ids:
                    sys_notes.append(f"assigned to @{self.ds.users[uid].username}")
            for uid in item.assignee_ids:
                if uid not in new_ids:
                    sys_notes.append(f"unassigned @{self.ds.users[uid].username}")
            item.assignee_ids = new_ids
        if "milestone" in changes:
            item.milestone_id = self._milestone_id(project, changes["milestone"])
            title = changes["milestone"]
            sys_notes.append(f"changed milestone to %{title}" if title else "removed milestone")
        if "confidential" in changes and isinstance(item, Issue):
            item.confidential = bool(changes["confidential"])
        if "due_date" in changes and isinstance(item, Issue):
            item.due_date = changes["due_date"]
        if isinstance(item, MergeRequest):
            if "reviewers" in changes:
                ids = [self._user_id(u) for u in changes["reviewers"] or []]
                fresh = [self.ds.users[i].username for i in ids if i not in item.reviewer_ids]
                if fresh:
                    sys_notes.append(
                        "requested review from " + " and ".join("@" + n for n in fresh)
                    )
                item.reviewer_ids = ids
            if "draft" in changes and bool(changes["draft"]) != item.draft:
                item.draft = bool(changes["draft"])
                if item.draft:
                    item.title = "Draft: " + item.title.removeprefix("Draft: ")
                    sys_notes.append("marked this merge request as **draft**")
                else:
                    item.title = item.title.removeprefix("Draft: ")
                    sys_notes.append("marked this merge request as **ready**")
        event = changes.get("state_event")
        if event is not None:
            sys_notes += self._state_event(item, str(event), actor, ms)
        if "status" in changes and isinstance(item, Issue):
            index = _status_index(changes["status"])
            if index != item.status_index:
                item.status_index = index
                if index is not None:
                    sys_notes.append(f"set status to **{V.STATUSES[index][1]}**")
        if notes_on:
            for body in sys_notes:
                self._system_note(item, actor, body, ms)
        if "status" in changes and set(changes) <= {"status", "actor", "system_notes"}:
            # A work-item status change alone only adds its system note; the note touches
            # the issue the way every note does (throttled), nothing else does.
            self._throttled_touch(item, ms)
            return
        item.updated_ms = ms
        project.last_activity_ms = ms

    def _state_event(
        self, item: Issue | MergeRequest, event: str, actor: int, ms: int
    ) -> list[str]:
        is_mr = isinstance(item, MergeRequest)
        events = ("close", "reopen", "merge", "lock") if is_mr else ("close", "reopen")
        if event not in events:
            raise AdminError(400, f"state_event must be one of {', '.join(events)}")
        if event == "close":
            if item.state == "closed":
                return []  # like GitLab: closing a closed item changes nothing
            if item.state != "opened":
                raise AdminError(400, f"cannot close an item that is {item.state}")
            item.state, item.closed_ms, item.closed_by_id = "closed", ms, actor
            notes = ["closed"]
            if isinstance(item, Issue) and (
                item.status_index is None
                or V.STATUSES[item.status_index][2] not in _DONE_CATEGORIES
            ):
                item.status_index = 2  # GitLab moves the status to Done on close
            return notes
        if event == "reopen":
            if item.state == "opened":
                return []
            if item.state not in ("closed", "locked"):
                raise AdminError(400, f"cannot reopen an item that is {item.state}")
            item.state, item.closed_ms, item.closed_by_id = "opened", None, None
            if isinstance(item, Issue):
                item.status_index = 0
            return ["reopened"]
        assert isinstance(item, MergeRequest)
        if item.state != "opened":
            raise AdminError(400, f"cannot {event} a merge request that is {item.state}")
        if event == "lock":
            item.state, item.discussion_locked = "locked", True
            return ["locked the discussion in this merge request"]
        rng = random.Random(f"{self.ds.seed}-merge-{item.id}")
        item.state, item.merged_ms, item.merged_by_id = "merged", ms, actor
        item.merge_commit_sha = f"{rng.getrandbits(160):040x}"
        item.draft = False
        return ["merged"]

    # --- project features, bulk edits ---------------------------------------------------

    def set_features(self, project: str | int, merge_requests: str | None = None) -> dict[str, Any]:
        """Set ``merge_requests_access_level`` ("enabled" | "private" | "disabled")."""
        with self.ds.lock:
            p = self._project(project)
            if merge_requests is not None:
                level = str(merge_requests)
                if level not in _ACCESS_LEVELS:
                    raise AdminError(
                        400, f"merge_requests must be one of {', '.join(_ACCESS_LEVELS)}"
                    )
                p.merge_requests_access_level = level
            return {"project": p.path, "merge_requests": p.merge_requests_access_level}

    def bulk_touch(
        self,
        project: str | int,
        kind: str = "issue",
        iids: list[int] | None = None,
        at: str | None = None,
    ) -> dict[str, Any]:
        """Give many items the very same ``updated_at`` (a GitLab bulk edit does this)."""
        if kind not in ("issue", "mr"):
            raise AdminError(400, "kind must be issue or mr")
        with self.ds.lock:
            items = [self._item(project, kind, iid) for iid in iids or []]
            ms = parse_iso_ms(str(at)) if at is not None else self.ds.stamp()
            for item in items:
                item.updated_ms = ms
            if items:
                p = self.ds.projects_by_id[items[0].project_id]
                p.last_activity_ms = max(p.last_activity_ms, ms)
            return {"updated_at": iso_ms(ms), "touched": [it.iid for it in items]}

    # --- truth for "mirror equals upstream" ---------------------------------------------

    def snapshot(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Every served issue and MR: project_id, iid, updated_at, user_notes_count, note_ids."""

        def entry(item: Issue | MergeRequest) -> dict[str, Any]:
            notes = [n for d in item.discussions for n in d.notes]
            return {
                "project_id": item.project_id,
                "iid": item.iid,
                "updated_at": iso_ms(item.updated_ms),
                "user_notes_count": sum(1 for n in notes if not n.system),
                "note_ids": sorted(n.id for n in notes),
            }

        with self.ds.lock:
            issues: dict[str, dict[str, Any]] = {}
            mrs: dict[str, dict[str, Any]] = {}
            for p in self.ds.projects:
                for issue in p.issues.values():
                    issues[str(issue.id)] = entry(issue)
                if p.merge_requests_access_level == "enabled":
                    for mr in p.mrs.values():
                        mrs[str(mr.id)] = entry(mr)
            return {"issues": issues, "merge_requests": mrs}

    # --- churn and listing hooks (lore.sim.churn) ---------------------------------------

    def start_churn(
        self,
        edits_per_second: float = 1.0,
        seed: int = 0,
        kinds: tuple[str, ...] | list[str] = ("issue", "mr"),
        advance_clock: bool = True,
    ) -> dict[str, Any]:
        """Start editing random live items in the background (replaces a running churn)."""
        from lore.sim.churn import Churn

        if self.state.churn is not None:
            self.stop_churn()
        churn = Churn(
            self,
            float(edits_per_second),
            int(seed),
            tuple(kinds),
            advance_clock=bool(advance_clock),
        )
        self.state.churn = churn
        churn.start()
        return churn.status()

    def stop_churn(self) -> dict[str, Any]:
        """Stop the churn thread; returns what it did (zeros if none was running)."""
        churn = self.state.churn
        self.state.churn = None
        if churn is None:
            return {"running": False, "edits": 0}
        churn.stop()
        return churn.status()

    def churn_status(self) -> dict[str, Any]:
        churn = self.state.churn
        return churn.status() if churn is not None else {"running": False, "edits": 0}

    def edit_during_listing(
        self, route: str = "issues", every_pages: int = 1, count: int | None = None
    ) -> dict[str, Any]:
        """Arm the listing hook (see the module docstring); replaces any previous one."""
        from lore.sim.churn import ListingHook

        hook = ListingHook(self, route, int(every_pages), None if count is None else int(count))
        self.state.listing_hook = hook
        return hook.status()

    def vanish_after_listing(self, item_ids: list[int]) -> dict[str, Any]:
        """Arm a hook that deletes these items (global ids) right after a list page shows
        them; replaces any previous listing hook."""
        from lore.sim.churn import VanishHook

        hook = VanishHook(self, list(item_ids))
        self.state.listing_hook = hook
        return hook.status()

    def clear_listing_hook(self) -> dict[str, Any]:
        hook = self.state.listing_hook
        self.state.listing_hook = None
        return hook.status() if hook is not None else {"armed": False}

    def listing_hook_status(self) -> dict[str, Any]:
        hook = self.state.listing_hook
        return hook.status() if hook is not None else {"armed": False}

    # --- deletion -----------------------------------------------------------------------

    def delete(self, project: str | int, kind: str, iid: str | int) -> dict[str, Any]:
        """Remove an issue (kind "issue") or MR ("mr") from everything the API serves."""
        with self.ds.lock:
            item = self._item(project, kind, iid)
            p = self.ds.projects_by_id[item.project_id]
            table: dict[int, Any] = p.issues if kind == "issue" else p.mrs
            del table[item.iid]
            return {
                "deleted": True,
                "project": p.path,
                "kind": kind,
                "iid": item.iid,
                "id": item.id,
            }
