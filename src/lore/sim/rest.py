"""GitLab REST v4 endpoints served by the simulator.

Offset pagination follows GitLab: ``page`` / ``per_page`` (default 20, max 100) and the
headers ``x-page``, ``x-per-page``, ``x-next-page``, ``x-prev-page`` (empty when there is
none), ``x-total``, ``x-total-pages`` and ``Link`` (rel prev/next/first/last, absolute
URLs that keep every other query parameter). List filters: ``state``, ``updated_after``,
``updated_before``, ``created_after``, ``created_before`` (inclusive, ISO-8601),
``order_by`` (``created_at``/``updated_at``/``title``, plus ``merged_at`` for MRs),
``sort`` (``asc``/``desc``), ``iids[]``, ``labels``, ``author_username``, ``search``,
``issue_type`` (issues: ``issue``/``incident``/``test_case``/``task``; without it every
type is listed).
Ties are broken by id so ordering is stable across pages. Like GitLab, ``x-total``,
``x-total-pages`` and ``rel="last"`` are left out when a list has more than 10,000 items.
Offset pages are computed from live data on every request, so an item edited during a
walk ordered by ``updated_at`` moves and its neighbours shift between pages (the real
hazard).

Version- and project-dependent behaviour (as GitLab has it):

- ``pagination=keyset`` works only on the project issues list and only from 18.3
  (ordered by ``created_at``, ``updated_at`` or ``title``, either direction). Anywhere else,
  or before 18.3, it answers 405 ``{"error": "Keyset pagination is not yet available for
  this type of request"}``. Keyset pages carry no ``x-total``/``x-total-pages``/
  ``x-page``/``x-next-page``; a ``Link: <...&cursor=...>; rel="next"`` (every other
  parameter kept) is present only when there is a next page. The opaque cursor encodes the
  last item's (sort key, id), so edits during a walk never make an item be skipped: an
  edited item simply turns up again later.
- ``/merge_requests/:iid/diffs`` does not exist before 15.7 (404 ``{"error": "404 Not
  Found"}``, as for any unknown route: see ``server.build_routes``); ``/changes`` always does.
- Diffs are capped at ``diff_max_files`` (GitLab's limit, default 1000): above it the single
  MR says ``changes_count: "1000+"``, ``/changes`` returns the first files with
  ``"overflow": true`` and ``/diffs`` stops at the cap.
- A project whose ``merge_requests_access_level`` is ``disabled`` or ``private`` answers
  403 ``{"message": "403 Forbidden"}`` on every ``/merge_requests*`` route.
- ``GET /projects/:id/issues_statistics`` → ``{"statistics": {"counts": {"all", "closed",
  "opened"}}}`` honouring the list filters (``state`` aside).
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlencode

from lore.sim.model import Issue, MergeRequest, Project, iso_ms, parse_iso_ms
from lore.sim.wire import Request, Response

if TYPE_CHECKING:
    from lore.sim.server import SimState

T = TypeVar("T")

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
#: Above this many items GitLab stops counting (no x-total / x-total-pages / last link).
COUNT_LIMIT = 10_000
KEYSET_UNAVAILABLE = "Keyset pagination is not yet available for this type of request"
_FORBIDDEN = {"message": "403 Forbidden"}
_ISSUE_TYPES = ("issue", "incident", "test_case", "task")


class ApiError(Exception):
    """An error answered with GitLab's JSON error shape."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(str(body))
        self.status = status
        self.body = body

    def response(self) -> Response:
        return Response.json(self.body, self.status)


def bad_param(name: str, problem: str = "is invalid") -> ApiError:
    return ApiError(400, {"error": f"{name} {problem}"})


def not_found(what: str = "Not found") -> ApiError:
    return ApiError(404, {"message": f"404 {what}"})


def _int_param(req: Request, name: str) -> int | None:
    raw = req.param(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise bad_param(name) from None


def _time_param(req: Request, name: str) -> int | None:
    raw = req.param(name)
    if raw is None or raw == "":
        return None
    try:
        return parse_iso_ms(raw)
    except ValueError:
        raise bad_param(name) from None


def _per_page(req: Request) -> int:
    per_page = _int_param(req, "per_page")
    if per_page is None or per_page < 1:
        per_page = DEFAULT_PER_PAGE
    return min(per_page, MAX_PER_PAGE)


def keyset_requested(req: Request) -> bool:
    return req.param("pagination") == "keyset"


def keyset_unavailable() -> ApiError:
    return ApiError(405, {"error": KEYSET_UNAVAILABLE})


def encode_cursor(order_by: str, item: Any) -> str:
    """An opaque cursor naming the last item of a keyset page: its sort key and id."""
    key: Any = _CURSOR_KEYS[order_by](item)
    payload = {order_by: key, "id": str(item.id), "_kd": "n"}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(order_by: str, cursor: str) -> tuple[Any, int]:
    """(sort key, id) from a cursor made by :func:`encode_cursor` for the same order."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
        key = payload[order_by]
        item_id = int(payload["id"])
        if order_by in ("created_at", "updated_at"):
            key = parse_iso_ms(str(key))
        elif not isinstance(key, str):
            raise ValueError(key)
        return key, item_id
    except (ValueError, KeyError, TypeError):
        raise bad_param("cursor") from None


def paginate_keyset(
    req: Request, items: Sequence[Any], order_by: str, sort: str, base_url: str
) -> tuple[list[Any], list[tuple[str, str]]]:
    """One keyset page of ``items`` (already sorted by (key, id) in ``sort`` order) after
    the request's ``cursor``, and the Link header to the next page if there is one."""
    per_page = _per_page(req)
    cursor = req.param("cursor")
    start = 0
    if cursor:
        ck, cid = decode_cursor(order_by, cursor)
        key = _ORDER_KEYS[order_by]
        ck_sort = ck.lower() if order_by == "title" else ck
        for start, it in enumerate(items):  # noqa: B007 - the index is the result
            here = (key(it), it.id)
            if (here > (ck_sort, cid)) if sort == "asc" else (here < (ck_sort, cid)):
                break
        else:
            start = len(items)
    chunk = list(items[start : start + per_page])
    headers: list[tuple[str, str]] = [("x-per-page", str(per_page))]
    if start + per_page < len(items) and chunk:
        kept = [(k, v) for k, v in req.query if k not in ("cursor", "per_page")]
        query = urlencode(
            [*kept, ("per_page", str(per_page)), ("cursor", encode_cursor(order_by, chunk[-1]))]
        )
        headers.append(("Link", f'<{base_url}{req.path}?{query}>; rel="next"'))
    return chunk, headers


def paginate(
    req: Request, items: Sequence[T], base_url: str
) -> tuple[list[T], list[tuple[str, str]]]:
    """Slice ``items`` for the request's page and build GitLab's pagination headers."""
    page = _int_param(req, "page") or 1
    page = max(page, 1)
    per_page = _per_page(req)
    total = len(items)
    total_pages = max(1, math.ceil(total / per_page))
    chunk = list(items[(page - 1) * per_page : page * per_page])
    next_page = page + 1 if page < total_pages else None
    prev_page = page - 1 if 1 < page <= total_pages + 1 else None

    # Link URLs keep every other parameter in order, with page/per_page set explicitly.
    kept = [(k, v) for k, v in req.query if k not in ("page", "per_page")]

    def url(p: int) -> str:
        query = urlencode([*kept, ("page", str(p)), ("per_page", str(per_page))])
        return f"{base_url}{req.path}?{query}"

    counted = total <= COUNT_LIMIT
    links = []
    if prev_page is not None:
        links.append(f'<{url(prev_page)}>; rel="prev"')
    if next_page is not None:
        links.append(f'<{url(next_page)}>; rel="next"')
    links.append(f'<{url(1)}>; rel="first"')
    if counted:
        links.append(f'<{url(total_pages)}>; rel="last"')
    headers = [
        ("x-next-page", str(next_page) if next_page else ""),
        ("x-page", str(page)),
        ("x-per-page", str(per_page)),
        ("x-prev-page", str(prev_page) if prev_page else ""),
    ]
    if counted:
        headers += [("x-total", str(total)), ("x-total-pages", str(total_pages))]
    headers.append(("Link", ", ".join(links)))
    return chunk, headers


Item = Issue | MergeRequest

_ORDER_KEYS: dict[str, Callable[[Any], Any]] = {
    "created_at": lambda it: it.created_ms,
    "updated_at": lambda it: it.updated_ms,
    "title": lambda it: it.title.lower(),
    "merged_at": lambda it: it.merged_ms or 0,
}
# What a keyset cursor stores per order (ISO timestamps, like GitLab's cursors).
_CURSOR_KEYS: dict[str, Callable[[Any], Any]] = {
    "created_at": lambda it: iso_ms(it.created_ms),
    "updated_at": lambda it: iso_ms(it.updated_ms),
    "title": lambda it: it.title,
}


class RestApi:
    """Handlers for ``/api/v4``. Each takes a :class:`Request` and returns a Response."""

    def __init__(self, state: SimState) -> None:
        self.state = state

    @property
    def ds(self) -> Any:
        return self.state.dataset

    # --- helpers ------------------------------------------------------------------------

    def _project(self, req: Request) -> Project:
        project = self.ds.find_project(req.args["id"])
        if project is None:
            raise ApiError(404, {"message": "404 Project Not Found"})
        return project

    def _iid(self, req: Request) -> int:
        raw = req.args["iid"]
        if not raw.isdigit():
            raise not_found()
        return int(raw)

    def _issue(self, req: Request) -> Issue:
        project = self._project(req)
        issue = project.issues.get(self._iid(req))
        if issue is None:
            raise not_found()
        return issue

    def _mr_project(self, req: Request) -> Project:
        """The project, if its merge requests are visible to the token (else 403)."""
        project = self._project(req)
        if project.merge_requests_access_level != "enabled":
            # "private" means members only; the simulator's token is never a member there.
            raise ApiError(403, dict(_FORBIDDEN))
        return project

    def _mr(self, req: Request) -> MergeRequest:
        project = self._mr_project(req)
        mr = project.mrs.get(self._iid(req))
        if mr is None:
            raise not_found()
        return mr

    def _filter_and_sort(
        self, req: Request, items: list[Any], kind: str, ignore_state: bool = False
    ) -> list[Any]:
        states = {
            "issues": ("opened", "closed", "all"),
            "mrs": ("opened", "closed", "locked", "merged", "all"),
        }[kind]
        state = req.param("state") or "all"
        if state not in states:
            raise bad_param("state", "does not have a valid value")
        if ignore_state:
            state = "all"
        order_by = req.param("order_by") or "created_at"
        allowed = ("created_at", "updated_at", "title") + (("merged_at",) if kind == "mrs" else ())
        if order_by not in allowed:
            raise bad_param("order_by", "does not have a valid value")
        sort = req.param("sort") or "desc"
        if sort not in ("asc", "desc"):
            raise bad_param("sort", "does not have a valid value")
        updated_after = _time_param(req, "updated_after")
        updated_before = _time_param(req, "updated_before")
        created_after = _time_param(req, "created_after")
        created_before = _time_param(req, "created_before")
        iid_values = req.params("iids[]") + req.params("iids")
        iids: set[int] | None = None
        if iid_values:
            try:
                iids = {int(v) for raw in iid_values for v in raw.split(",") if v}
            except ValueError:
                raise bad_param("iids") from None
        labels_raw = req.param("labels")
        wanted_labels = (
            [x.strip() for x in labels_raw.split(",") if x.strip()] if labels_raw else []
        )
        author = req.param("author_username")
        search = (req.param("search") or "").lower()
        issue_type = req.param("issue_type") if kind == "issues" else None
        if issue_type is not None and issue_type not in _ISSUE_TYPES:
            raise bad_param("issue_type", "does not have a valid value")

        out = []
        for it in items:
            if state != "all" and it.state != state:
                continue
            if updated_after is not None and it.updated_ms < updated_after:
                continue
            if updated_before is not None and it.updated_ms > updated_before:
                continue
            if created_after is not None and it.created_ms < created_after:
                continue
            if created_before is not None and it.created_ms > created_before:
                continue
            if iids is not None and it.iid not in iids:
                continue
            if wanted_labels:
                if wanted_labels == ["None"]:
                    if it.labels:
                        continue
                elif wanted_labels == ["Any"]:
                    if not it.labels:
                        continue
                elif not all(lbl in it.labels for lbl in wanted_labels):
                    continue
            if author and self.ds.users[it.author_id].username != author:
                continue
            if issue_type is not None and it.issue_type != issue_type:
                continue
            if (
                search
                and search not in it.title.lower()
                and search not in (it.description or "").lower()
            ):
                continue
            out.append(it)
        key = _ORDER_KEYS[order_by]
        out.sort(key=lambda it: (key(it), it.id), reverse=(sort == "desc"))
        return out

    def _page(
        self,
        req: Request,
        items: Sequence[Any],
        render: Callable[[Any], Any],
        route: str | None = None,
    ) -> Response:
        if keyset_requested(req):
            raise keyset_unavailable()
        chunk, headers = paginate(req, items, self.state.base_url)
        return self._answer(chunk, headers, render, route)

    def _answer(
        self,
        chunk: list[Any],
        headers: list[tuple[str, str]],
        render: Callable[[Any], Any],
        route: str | None,
    ) -> Response:
        # Render first: the answer shows the data as it was when the page was computed.
        response = Response.json([render(x) for x in chunk], headers=headers)
        hook = getattr(self.state, "listing_hook", None)
        if route is not None and hook is not None:
            hook.after_page(route, chunk)
        return response

    # --- endpoints ----------------------------------------------------------------------

    def version(self, req: Request) -> Response:
        version = self.state.gitlab_version
        return Response.json(
            {
                "version": version.version_string,
                "revision": "9a6c1e3f2b4",
                "kas": {
                    "enabled": False,
                    "externalUrl": None,
                    "externalK8sProxyUrl": None,
                    "version": None,
                },
                "enterprise": version.ee,
            }
        )

    def user(self, req: Request) -> Response:
        user = self.ds.users[self.ds.token_user_id]
        return Response.json(self.state.renderer.current_user(user))

    def user_by_id(self, req: Request) -> Response:
        raw = req.args["user_id"]
        user = self.ds.users.get(int(raw)) if raw.isdigit() else None
        if user is None:
            raise not_found("User Not Found")
        out = dict(self.state.renderer.user(user.id))
        out.update(
            {
                "created_at": iso_ms(user.created_ms),
                "bio": "",
                "location": None,
                "public_email": None,
                "website_url": "",
                "organization": "Acme",
                "job_title": "",
                "pronouns": None,
                "bot": user.bot,
                "work_information": None,
                "local_time": None,
            }
        )
        return Response.json(out)

    def projects(self, req: Request) -> Response:
        search = (req.param("search") or "").lower()
        items = [p for p in self.ds.projects if search in p.path.lower()]
        items.sort(key=lambda p: p.id, reverse=(req.param("sort") or "desc") == "desc")
        return self._page(req, items, self.state.renderer.project)

    def project(self, req: Request) -> Response:
        return Response.json(self.state.renderer.project(self._project(req)))

    def issues(self, req: Request) -> Response:
        project = self._project(req)
        items = self._filter_and_sort(req, list(project.issues.values()), "issues")
        if keyset_requested(req):
            # GitLab 18.3 added keyset pagination to the project issues list.
            if not self.state.gitlab_version.at_least(18, 3):
                raise keyset_unavailable()
            order_by = req.param("order_by") or "created_at"
            sort = req.param("sort") or "desc"
            if order_by not in _CURSOR_KEYS:
                raise keyset_unavailable()
            chunk, headers = paginate_keyset(req, items, order_by, sort, self.state.base_url)
            return self._answer(chunk, headers, self.state.renderer.issue, "issues")
        return self._page(req, items, self.state.renderer.issue, "issues")

    def issues_statistics(self, req: Request) -> Response:
        """Counts per state for the list filters (like the issues list, ``state`` aside)."""
        project = self._project(req)
        items = self._filter_and_sort(
            req, list(project.issues.values()), "issues", ignore_state=True
        )
        opened = sum(1 for it in items if it.state == "opened")
        return Response.json(
            {
                "statistics": {
                    "counts": {"all": len(items), "closed": len(items) - opened, "opened": opened}
                }
            }
        )

    def issue(self, req: Request) -> Response:
        return Response.json(self.state.renderer.issue(self._issue(req)))

    def merge_requests(self, req: Request) -> Response:
        project = self._mr_project(req)
        items = self._filter_and_sort(req, list(project.mrs.values()), "mrs")
        return self._page(req, items, self.state.renderer.merge_request, "merge_requests")

    def merge_request(self, req: Request) -> Response:
        return Response.json(self.state.renderer.merge_request(self._mr(req), single=True))

    def issue_discussions(self, req: Request) -> Response:
        issue = self._issue(req)
        render = self.state.renderer.discussion
        return self._page(req, issue.discussions, lambda d: render(d, issue))

    def mr_discussions(self, req: Request) -> Response:
        mr = self._mr(req)
        render = self.state.renderer.discussion
        return self._page(req, mr.discussions, lambda d: render(d, mr))

    def _notes(self, req: Request, item: Item) -> Response:
        notes = [n for d in item.discussions for n in d.notes]
        order_by = req.param("order_by") or "created_at"
        if order_by not in ("created_at", "updated_at"):
            raise bad_param("order_by", "does not have a valid value")
        sort = req.param("sort") or "desc"
        if sort not in ("asc", "desc"):
            raise bad_param("sort", "does not have a valid value")
        attr = "created_ms" if order_by == "created_at" else "updated_ms"
        notes.sort(key=lambda n: (getattr(n, attr), n.id), reverse=sort == "desc")
        render = self.state.renderer.note
        return self._page(req, notes, lambda n: render(n, item))

    def issue_notes(self, req: Request) -> Response:
        return self._notes(req, self._issue(req))

    def mr_notes(self, req: Request) -> Response:
        return self._notes(req, self._mr(req))

    def mr_diffs(self, req: Request) -> Response:
        """``/diffs`` (15.7+; the route is absent before): paginated, stops at the cap."""
        mr = self._mr(req)
        files, _overflow = self.state.renderer.capped_diffs(mr)
        return self._page(req, files, self.state.renderer.diff)

    def mr_changes(self, req: Request) -> Response:
        """The deprecated ``/changes`` endpoint: the MR plus its diffs (up to the cap),
        unpaginated, with ``overflow`` saying whether files were left out."""
        mr = self._mr(req)
        body = self.state.renderer.merge_request(mr, single=True)
        files, overflow = self.state.renderer.capped_diffs(mr)
        body["changes"] = [self.state.renderer.diff(f) for f in files]
        body["overflow"] = overflow
        return Response.json(body)
