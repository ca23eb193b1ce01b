"""GitLab REST v4 endpoints served by the simulator.

Offset pagination follows GitLab: ``page`` / ``per_page`` (default 20, max 100) and the
headers ``x-page``, ``x-per-page``, ``x-next-page``, ``x-prev-page`` (empty when there is
none), ``x-total``, ``x-total-pages`` and ``Link`` (rel prev/next/first/last, absolute
URLs that keep every other query parameter). List filters: ``state``, ``updated_after``,
``updated_before``, ``created_after``, ``created_before`` (inclusive, ISO-8601),
``order_by`` (``created_at``/``updated_at``/``title``, plus ``merged_at`` for MRs),
``sort`` (``asc``/``desc``), ``iids[]``, ``labels``, ``author_username``, ``search``.
Ties are broken by id so ordering is stable across pages. Like GitLab, ``x-total``,
``x-total-pages`` and ``rel="last"`` are left out when a list has more than 10,000 items.
"""

from __future__ import annotations

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


def paginate(req: Request, items: Sequence[T], base_url: str) -> tuple[list[T], list[tuple[str, str]]]:
    """Slice ``items`` for the request's page and build GitLab's pagination headers."""
    page = _int_param(req, "page") or 1
    page = max(page, 1)
    per_page = _int_param(req, "per_page")
    if per_page is None or per_page < 1:
        per_page = DEFAULT_PER_PAGE
    per_page = min(per_page, MAX_PER_PAGE)
    total = len(items)
    total_pages = max(1, math.ceil(total / per_page))
    chunk = list(items[(page - 1) * per_page: page * per_page])
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

    def _mr(self, req: Request) -> MergeRequest:
        project = self._project(req)
        mr = project.mrs.get(self._iid(req))
        if mr is None:
            raise not_found()
        return mr

    def _filter_and_sort(self, req: Request, items: list[Any], kind: str) -> list[Any]:
        states = {"issues": ("opened", "closed", "all"),
                  "mrs": ("opened", "closed", "locked", "merged", "all")}[kind]
        state = req.param("state") or "all"
        if state not in states:
            raise bad_param("state", "does not have a valid value")
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
        wanted_labels = [x.strip() for x in labels_raw.split(",") if x.strip()] \
            if labels_raw else []
        author = req.param("author_username")
        search = (req.param("search") or "").lower()

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
            if search and search not in it.title.lower() and \
                    search not in (it.description or "").lower():
                continue
            out.append(it)
        key = _ORDER_KEYS[order_by]
        out.sort(key=lambda it: (key(it), it.id), reverse=(sort == "desc"))
        return out

    def _page(self, req: Request, items: Sequence[Any],
              render: Callable[[Any], Any]) -> Response:
        chunk, headers = paginate(req, items, self.state.base_url)
        return Response.json([render(x) for x in chunk], headers=headers)

    # --- endpoints ----------------------------------------------------------------------

    def version(self, req: Request) -> Response:
        version = self.state.gitlab_version
        return Response.json({"version": version.version_string, "revision": "9a6c1e3f2b4",
                              "kas": {"enabled": False, "externalUrl": None,
                                      "externalK8sProxyUrl": None, "version": None},
                              "enterprise": version.ee})

    def user(self, req: Request) -> Response:
        user = self.ds.users[self.ds.token_user_id]
        return Response.json(self.state.renderer.current_user(user))

    def user_by_id(self, req: Request) -> Response:
        raw = req.args["user_id"]
        user = self.ds.users.get(int(raw)) if raw.isdigit() else None
        if user is None:
            raise not_found("User Not Found")
        out = dict(self.state.renderer.user(user.id))
        out.update({"created_at": iso_ms(user.created_ms), "bio": "", "location": None,
                    "public_email": None, "website_url": "", "organization": "Acme",
                    "job_title": "", "pronouns": None, "bot": user.bot,
                    "work_information": None, "local_time": None})
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
        return self._page(req, items, self.state.renderer.issue)

    def issue(self, req: Request) -> Response:
        return Response.json(self.state.renderer.issue(self._issue(req)))

    def merge_requests(self, req: Request) -> Response:
        project = self._project(req)
        items = self._filter_and_sort(req, list(project.mrs.values()), "mrs")
        return self._page(req, items, self.state.renderer.merge_request)

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
        mr = self._mr(req)
        return self._page(req, mr.diffs, self.state.renderer.diff)

    def mr_changes(self, req: Request) -> Response:
        """The deprecated ``/changes`` endpoint: the MR plus all its diffs, unpaginated."""
        mr = self._mr(req)
        body = self.state.renderer.merge_request(mr, single=True)
        body["changes"] = [self.state.renderer.diff(f) for f in mr.diffs]
        body["overflow"] = False
        return Response.json(body)


