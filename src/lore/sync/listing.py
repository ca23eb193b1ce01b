"""Walking a project's issue or MR list in ``updated_at`` order without ever skipping one.

Offset pagination over a list ordered by ``updated_at`` is not safe on a live GitLab: an
item edited during the walk jumps to the end, every item after it slides one place back,
and the one that slides onto a page already read is never seen — its ``updated_at`` is
below the cursor lore then stores, so no later run fetches it either. Above 10,000
matches GitLab sends no ``x-total``, so a count cannot catch it.

Two walks that cannot skip:

- **keyset** (``pagination=keyset``, project issues ordered by ``updated_at`` from GitLab
  18.3): the server's cursor is ``(updated_at, id)``; an edited item moves behind the
  cursor and is simply met again later.
- **moving window** (everything else): always ask for *page 1* of ``updated_after=T``
  (GitLab's ``updated_after`` is inclusive), where T is the newest ``updated_at`` seen so
  far, and drop ids already seen. Each answer is one consistent snapshot holding the
  smallest ``(updated_at, id)`` at or after T, so nothing below the new T can be missed.
  A page whose items all carry T itself (a bulk edit gives hundreds of items one
  timestamp) is a *run*: it is walked the same way by ``created_at`` inside
  ``updated_after=T&updated_before=T``, then T moves 1 ms on.

Each yielded :class:`ListedPage` carries GitLab's clock (the ``Date`` header), which the
stage compares with ``updated_at`` to spot items whose later notes GitLab did not
announce (ThrottledTouch, see ``stage_items``).
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from lore.core.clock import iso_from_ms, ms_from_iso, normalize_iso
from lore.core.errors import ErrorCode, LoreError

log = logging.getLogger("lore.sync")

PER_PAGE = 100


@dataclass
class ListedPage:
    """Items not seen before in this walk, in the order GitLab listed them."""

    items: list[dict[str, Any]]
    server_ms: int | None  # GitLab's clock when it answered (Date header)
    total: int | None = None  # x-total of the first answer, when GitLab counted


@dataclass
class WalkStats:
    requests: int = 0
    duplicates: int = 0  # items listed again (window overlap, runs) and dropped
    runs: int = 0  # runs of ≥ PER_PAGE items sharing one updated_at
    mode: str = "window"  # "window" | "keyset"
    keyset_fallback: str | None = None  # why keyset was asked for but not used
    extra: dict[str, Any] = field(default_factory=dict)


def _server_ms(headers: Any) -> int | None:
    value = headers.get("date")
    if not value:
        return None
    try:
        return int(email.utils.parsedate_to_datetime(value).timestamp() * 1000)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _decode_list(response: Any, path: str) -> list[dict[str, Any]]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, list):
        raise LoreError(
            ErrorCode.NETWORK_ERROR,
            f"GitLab sent something other than a JSON list for {path}",
            suggestion="Check that gitlab.baseUrl points at GitLab and not at a "
            "proxy or login page",
        )
    return [x for x in body if isinstance(x, dict) and x.get("id") is not None]


def _int_header(headers: Any, name: str) -> int | None:
    value = headers.get(name)
    return int(value) if value is not None and str(value).strip().isdigit() else None


def _next_link(headers: Any) -> str | None:
    link = headers.get("link")
    if not link:
        return None
    for part in str(link).split(","):
        if 'rel="next"' in part:
            return part.split(";")[0].strip().strip("<>")
    return None


class ItemWalk:
    """One walk over ``base`` (``/api/v4/projects/:id/issues`` or ``.../merge_requests``).

    ``since`` is the inclusive ``updated_after`` to start from (None: from the start).
    Iterate to get :class:`ListedPage` objects; ``seen`` ends up holding every id met.
    """

    def __init__(
        self,
        client: Any,
        base: str,
        *,
        since: str | None,
        what: str,
        keyset: bool = False,
        extra_params: dict[str, Any] | None = None,
    ) -> None:
        self.client = client
        self.base = base
        self.since = since
        self.what = what
        self.keyset = keyset
        self.params: dict[str, Any] = {
            "order_by": "updated_at",
            "sort": "asc",
            "state": "all",
            **(extra_params or {}),
        }
        self.seen: set[int] = set()
        self.stats = WalkStats()
        self._first = True

    # -- plumbing ---------------------------------------------------------------------------

    def _get(self, path: str, params: dict[str, Any] | None) -> Any:
        self.stats.requests += 1
        return self.client.request("GET", path, params=params, what=self.what)

    def _fresh(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for raw in items:
            item_id = int(raw["id"])
            if item_id in self.seen:
                self.stats.duplicates += 1
                continue
            self.seen.add(item_id)
            out.append(raw)
        return out

    def _page(self, response: Any, items: list[dict[str, Any]]) -> ListedPage:
        total = _int_header(response.headers, "x-total") if self._first else None
        self._first = False
        return ListedPage(self._fresh(items), _server_ms(response.headers), total)

    # -- the walks --------------------------------------------------------------------------

    def __iter__(self) -> Iterator[ListedPage]:
        if self.keyset:
            keyset = self._keyset()
            try:
                first = next(keyset)
            except _KeysetUnavailable as exc:
                self.stats.keyset_fallback = str(exc)
                log.info(
                    "keyset pagination unavailable for %s (%s); using the moving window",
                    self.what,
                    exc,
                )
            except StopIteration:
                return
            else:
                self.stats.mode = "keyset"
                yield first
                yield from keyset
                return
        yield from self._window()

    def _keyset(self) -> Iterator[ListedPage]:
        params = dict(self.params, pagination="keyset", per_page=PER_PAGE)
        if self.since:
            params["updated_after"] = self.since
        try:
            response = self._get(self.base, params)
        except LoreError as exc:
            if exc.code in (ErrorCode.NETWORK_ERROR, ErrorCode.NOT_FOUND) and "405" in exc.message:
                raise _KeysetUnavailable("GitLab answered 405 to pagination=keyset") from None
            raise
        if "x-page" in response.headers or "x-next-page" in response.headers:
            # GitLab ignored the keyset request and answered an offset page.
            raise _KeysetUnavailable("GitLab answered with offset pagination")
        while True:
            items = _decode_list(response, self.base)
            yield self._page(response, items)
            next_url = _next_link(response.headers)
            if not next_url or not items:
                return
            response = self._get(next_url, None)

    def _window(self) -> Iterator[ListedPage]:
        since = self.since
        while True:
            params = dict(self.params, page=1, per_page=PER_PAGE)
            if since:
                params["updated_after"] = since
            response = self._get(self.base, params)
            items = _decode_list(response, self.base)
            yield self._page(response, items)
            if len(items) < PER_PAGE:
                return
            newest = normalize_iso(items[-1].get("updated_at"))
            if not newest:
                raise LoreError(
                    ErrorCode.NETWORK_ERROR,
                    f"GitLab listed {self.what} without updated_at",
                    suggestion="Retry with LORE_DEBUG=1 and report the response",
                )
            if since is not None and newest == normalize_iso(since):
                # Every item of the page carries `since`: walk that run on its own.
                self.stats.runs += 1
                yield from self._run(newest)
                since = iso_from_ms(ms_from_iso(newest) + 1)
            else:
                since = newest

    def _run(self, stamp: str) -> Iterator[ListedPage]:
        """Items whose updated_at is exactly ``stamp``, walked by created_at."""
        created_after: str | None = None
        offset_page = 1
        while True:
            params = dict(
                self.params,
                order_by="created_at",
                sort="asc",
                updated_after=stamp,
                updated_before=stamp,
                page=offset_page,
                per_page=PER_PAGE,
            )
            if created_after:
                params["created_after"] = created_after
            response = self._get(self.base, params)
            items = _decode_list(response, self.base)
            yield self._page(response, items)
            if len(items) < PER_PAGE:
                return
            newest_created = normalize_iso(items[-1].get("created_at"))
            if created_after is not None and newest_created == normalize_iso(created_after):
                # Even created_at is shared by a whole page (an import): GitLab offers no
                # finer order, so page by offset inside this tiny set.
                offset_page += 1
                continue
            created_after, offset_page = newest_created, 1


class _KeysetUnavailable(Exception):
    pass


def now_ms() -> int:
    return int(time.time() * 1000)
