"""Helpers for the work-item status tests: a store seeded with the simulator's issues, a
real GitLabClient pointed at the simulator (optionally through a transport that tampers
with chosen GraphQL answers), and the simulator's ground truth for statuses."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any

import httpx

from lore.gitlab.client import GitLabClient, RetryPolicy
from lore.sim import vocab
from lore.sim.model import iso_ms
from lore.store.db import transaction

StatusTriple = tuple[str | None, str | None, str | None]
#: Decides per GraphQL request: return a Response to replace the real one, or None.
Tamper = Callable[[int, dict[str, Any], httpx.Response | None], httpx.Response | None]


class TamperingTransport(httpx.BaseTransport):
    """Forwards to the real simulator; lets a test rewrite chosen GraphQL answers.

    ``tamper(n, request_json, real_response)`` is called twice per GraphQL request: first
    with ``real_response=None`` (return a Response to answer without asking the server),
    then with the server's answer (return a Response to replace it)."""

    def __init__(self, tamper: Tamper) -> None:
        self._inner = httpx.HTTPTransport()
        self._tamper = tamper
        self.graphql_requests = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path != "/api/graphql":
            return self._inner.handle_request(request)
        self.graphql_requests += 1
        body = json.loads(request.read())
        early = self._tamper(self.graphql_requests, body, None)
        if early is not None:
            return early
        real = self._inner.handle_request(request)
        real.read()
        replaced = self._tamper(self.graphql_requests, body, real)
        return replaced if replaced is not None else real

    def close(self) -> None:
        self._inner.close()


def make_client(
    sim: Any, *, max_retries: int = 1, transport: httpx.BaseTransport | None = None
) -> GitLabClient:
    """A real client with the real retry policy, minus the sleeping."""
    retry = RetryPolicy(max_retries=max_retries, sleep=lambda _s: None, rng=lambda: 0.0)
    return GitLabClient(sim.url, sim.token, retry=retry, transport=transport)


def seed_issues(conn: sqlite3.Connection, sim: Any) -> None:
    """Insert every simulator project and issue (the columns enrichment needs) without
    running the issues stage, so these tests exercise enrichment alone."""
    now = iso_ms(sim.dataset.now_ms)
    with sim.dataset.lock, transaction(conn):
        for project in sim.dataset.projects:
            conn.execute("INSERT INTO projects(id, path) VALUES (?, ?)", (project.id, project.path))
            for issue in project.issues.values():
                conn.execute(
                    "INSERT INTO issues(id, project_id, iid, title, state, created_at, "
                    "updated_at, synced_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        issue.id,
                        project.id,
                        issue.iid,
                        issue.title,
                        issue.state,
                        iso_ms(issue.created_ms),
                        iso_ms(issue.updated_ms),
                        now,
                    ),
                )


def truth(sim: Any, project: Any) -> dict[int, StatusTriple]:
    """The simulator's status per iid of ``project`` (name, category, color)."""
    out: dict[int, StatusTriple] = {}
    with sim.dataset.lock:
        for iid, issue in project.issues.items():
            if issue.status_index is None:
                out[iid] = (None, None, None)
            else:
                _gid, name, category, color = vocab.STATUSES[issue.status_index]
                out[iid] = (name, category, color)
    return out


def stored(conn: sqlite3.Connection, project_id: int) -> dict[int, StatusTriple]:
    rows = conn.execute(
        "SELECT iid, status_name, status_category, status_color FROM issues WHERE project_id = ?",
        (project_id,),
    )
    return {int(r[0]): (r[1], r[2], r[3]) for r in rows}
