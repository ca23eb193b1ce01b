"""Work-item status against every modelled GitLab version, through a real GitLabClient and
a real simulator: status is stored exactly where the version has it (with the fields that
version has), nothing fails where it has none, the capability is cached per instance and
version, changed issues go out in batches of at most 100 iids, and issues whose status a
failure left unknown stay pending and are fetched by the next run."""

from __future__ import annotations

import math
import sqlite3
from typing import Any

import pytest
from workitems_support import make_client, seed_issues, stored, truth

from lore.gitlab.graphql import FailureKind, GraphQLClient, GraphQLError
from lore.gitlab.listing import ListedItem, item_counts, iter_item_ids
from lore.sim.model import iso_ms
from lore.sim.server import Simulator
from lore.sim.versions import GitLabVersion
from lore.store.db import transaction
from lore.sync.work_item_status import enrich_statuses, read_capability


def enrich(
    sim: Any,
    conn: sqlite3.Connection,
    project: Any,
    *,
    iids: list[int] | None = None,
    max_retries: int = 1,
    full: bool = False,
) -> Any:
    client = make_client(sim, max_retries=max_retries)
    try:
        return enrich_statuses(
            client,
            conn,
            instance_url=sim.url,
            project_path=project.path,
            project_id=project.id,
            iids=sorted(project.issues) if iids is None else iids,
            page_size=100,
            full=full,
            gitlab_version=sim.state.gitlab_version.version_string,
        )
    finally:
        client.close()


def graphql_requests(sim: Any) -> int:
    return int(sim.stats()["requests_by_route"].get("POST /api/graphql", 0))


def expected(
    sim: Any, project: Any, *, category: bool, color: bool
) -> dict[int, tuple[str | None, str | None, str | None]]:
    return {
        iid: (name, cat if category and name else None, col if color and name else None)
        for iid, (name, cat, col) in truth(sim, project).items()
    }


def pending(conn: sqlite3.Connection, project_id: int) -> set[int]:
    return {
        int(r[0])
        for r in conn.execute(
            "SELECT iid FROM issues WHERE project_id = ? AND status_pending = 1", (project_id,)
        )
    }


def mark_all_pending(conn: sqlite3.Connection) -> None:
    with transaction(conn):
        conn.execute("UPDATE issues SET status_pending = 1")


# (version, stored fields: category, color) — None: no work-item status on that version.
MATRIX = [
    ("15.6", None),
    ("16.11", None),
    ("17.5-ee", None),
    ("18.5-ce", None),
    ("17.8-ee", (False, False)),
    ("17.10-ee", (False, True)),
    ("18.0-ee", (False, True)),
    ("18.5-ee", (True, True)),
]


@pytest.mark.parametrize(("version", "shape"), MATRIX)
def test_status_is_stored_exactly_where_the_version_has_it(
    db: sqlite3.Connection, version: str, shape: tuple[bool, bool] | None
) -> None:
    with Simulator.start(preset="small", seed=7, issues=40, mrs=2, gitlab_version=version) as sim:
        seed_issues(db, sim)
        mark_all_pending(db)
        project = sim.dataset.projects[0]
        result = enrich(sim, db, project)
        assert result.error_code is None, result.error
        cached = read_capability(db, sim.url)
        assert cached is not None
        assert cached.gitlab_version == sim.state.gitlab_version.version_string
        if shape is None:
            assert result.available is False and result.reason
            assert result.requests == 1  # the introspection probe, nothing else
            assert set(stored(db, project.id).values()) == {(None, None, None)}
            assert cached.available is False and not cached.errors
            # Nothing to resolve here: pending flags stay (a later version re-probes).
            assert pending(db, project.id) == set(project.issues)
            before = graphql_requests(sim)
            assert enrich(sim, db, project).available is False
            assert graphql_requests(sim) == before  # cached: not even the probe
            return
        category, color = shape
        assert result.available is True
        assert stored(db, project.id) == expected(sim, project, category=category, color=color)
        assert any(name for name, _c, _k in stored(db, project.id).values())
        assert pending(db, project.id) == set()
        assert ("category" in cached.fields) is category
        assert cached.mode == (
            "object" if GitLabVersion.parse(version).at_least(17, 11) else "flat"
        )


def test_scalar_status_means_requirements_only_and_the_reason_says_so(
    db: sqlite3.Connection,
) -> None:
    with Simulator.start(preset="small", seed=7, issues=10, mrs=2, gitlab_version="17.5-ee") as sim:
        seed_issues(db, sim)
        result = enrich(sim, db, sim.dataset.projects[0])
        assert result.available is False and result.error_code is None
        assert result.reason and "requirements verification" in result.reason


def test_a_new_version_probes_again_and_finds_the_status(db: sqlite3.Connection) -> None:
    with Simulator.start(preset="small", seed=7, issues=20, mrs=2, gitlab_version="17.5-ee") as sim:
        seed_issues(db, sim)
        mark_all_pending(db)
        project = sim.dataset.projects[0]
        assert enrich(sim, db, project).available is False
        sim.state.gitlab_version = GitLabVersion.parse("18.5-ee")  # the instance upgraded
        result = enrich(sim, db, project, iids=[])  # nothing changed: the pending ones
        assert result.available is True and result.requests >= 2  # probe + statuses
        assert stored(db, project.id) == truth(sim, project)
        cached = read_capability(db, sim.url)
        assert cached is not None and cached.gitlab_version == "18.5.0-ee"


def test_more_than_100_changed_issues_go_in_batches_of_100(db: sqlite3.Connection) -> None:
    with Simulator.start(preset="small", seed=7, issues=500, mrs=2, complexity_limit=None) as sim:
        seed_issues(db, sim)
        project = max(sim.dataset.projects, key=lambda p: len(p.issues))
        n = len(project.issues)
        assert n > 200
        before = graphql_requests(sim)
        result = enrich(sim, db, project)
        assert result.error_code is None, result.error
        # One probe, then ceil(n / 100) batches; an oversized batch would be rejected.
        assert graphql_requests(sim) - before == 1 + math.ceil(n / 100)
        assert stored(db, project.id) == truth(sim, project)


@pytest.mark.parametrize("kind", ["500", "429"])
def test_issues_a_failure_left_pending_are_fetched_on_the_next_run(
    db: sqlite3.Connection, kind: str
) -> None:
    with Simulator.start(preset="small", seed=7, issues=300, mrs=2, complexity_limit=None) as sim:
        seed_issues(db, sim)
        mark_all_pending(db)
        project = max(sim.dataset.projects, key=lambda p: len(p.issues))
        assert len(project.issues) > 100
        # The probe and the first batch get through; then GraphQL fails past the retries.
        sim.configure_faults([{"route": "graphql", "kind": kind, "after": 2, "retry_after": 1}])
        result = enrich(sim, db, project)
        assert result.error_code in ("NETWORK_ERROR", "RATE_LIMITED"), result
        first_batch = set(sorted(project.issues)[:100])
        assert pending(db, project.id) == set(project.issues) - first_batch
        cached = read_capability(db, sim.url)
        assert cached is not None and cached.errors[project.path]["code"] == result.error_code

        # The next run, with no upstream change (no changed iids at all).
        sim.configure_faults([])
        result = enrich(sim, db, project, iids=[])
        assert result.error_code is None, result.error
        assert result.pending == len(project.issues) - 100
        assert pending(db, project.id) == set()
        assert stored(db, project.id) == truth(sim, project)
        cached = read_capability(db, sim.url)
        assert cached is not None and not cached.errors


# -- the id listings -----------------------------------------------------------------------


def listed_truth(items: dict[int, Any]) -> list[ListedItem]:
    out = []
    for item in sorted(items.values(), key=lambda i: (i.created_ms, i.id)):
        notes = sum(1 for d in item.discussions for n in d.notes if not n.system)
        out.append(
            ListedItem(
                id=item.id,
                iid=item.iid,
                updated_at=iso_ms(item.updated_ms)[:-5] + "Z",
                user_notes_count=notes,
            )
        )
    return out


def test_iter_item_ids_lists_every_issue_and_mr_oldest_first() -> None:
    with Simulator.start(preset="small", seed=7, issues=250, mrs=60) as sim:
        project = max(sim.dataset.projects, key=lambda p: len(p.issues))
        client = make_client(sim)
        try:
            gql = GraphQLClient(client)
            issues = list(iter_item_ids(gql, project.path, "issue"))
            mrs = list(iter_item_ids(gql, project.path, "mr", page_size=25))
            assert issues == listed_truth(project.issues)
            assert mrs == listed_truth(project.mrs)
            before = gql.requests
            assert item_counts(gql, project.path) == (len(project.issues), len(project.mrs))
            assert gql.requests == before + 1
        finally:
            client.close()


def test_iter_item_ids_shrinks_on_complexity_and_still_lists_everything() -> None:
    # The listing has a per-item cost: at a limit of 17 only small pages pass.
    # (nodes 5 + pageInfo 3, + 1, + 1 for sort = 10; first=100 costs 21, first=50 16)
    with Simulator.start(preset="small", seed=7, issues=250, mrs=2, complexity_limit=17) as sim:
        project = max(sim.dataset.projects, key=lambda p: len(p.issues))
        assert len(project.issues) > 100
        client = make_client(sim)
        try:
            gql = GraphQLClient(client)
            assert list(iter_item_ids(gql, project.path, "issue")) == listed_truth(project.issues)
            # At least one rejected page of 100, then pages of at most 50.
            assert gql.requests >= 1 + math.ceil(len(project.issues) / 50)
        finally:
            client.close()


def test_iter_item_ids_never_skips_an_item_edited_during_the_walk() -> None:
    with Simulator.start(preset="small", seed=7, issues=60, mrs=2) as sim:
        project = max(sim.dataset.projects, key=lambda p: len(p.issues))
        client = make_client(sim)
        try:
            seen = []
            for n, item in enumerate(
                iter_item_ids(GraphQLClient(client), project.path, "issue", page_size=5)
            ):
                seen.append(item.id)
                if n % 5 == 0:  # edit an item already read, once per page
                    sim.admin.edit_issue(project.path, item.iid, title=f"edited {n}")
            assert sorted(seen) == sorted(i.id for i in project.issues.values())
        finally:
            client.close()


def test_mrs_disabled_or_unknown_project_is_not_found() -> None:
    with Simulator.start(
        preset="small", seed=7, issues=10, mrs=4, mrs_disabled=["acme/platform"]
    ) as sim:
        client = make_client(sim)
        try:
            gql = GraphQLClient(client)
            with pytest.raises(GraphQLError) as info:
                list(iter_item_ids(gql, "acme/platform", "mr"))
            assert info.value.kind is FailureKind.NOT_FOUND
            issues, mrs = item_counts(gql, "acme/platform")
            assert issues is not None and issues > 0 and mrs is None
            with pytest.raises(GraphQLError) as info:
                item_counts(gql, "acme/nope")
            assert info.value.kind is FailureKind.NOT_FOUND
            with pytest.raises(GraphQLError) as info:
                list(iter_item_ids(gql, "acme/nope", "issue"))
            assert info.value.kind is FailureKind.NOT_FOUND
        finally:
            client.close()
