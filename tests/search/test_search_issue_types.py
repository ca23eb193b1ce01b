"""`lore search --type`: the kind (issue, mr) as before, and GitLab issue types (incident,
task, test_case…), which imply issues; contradictions are usage errors; hits carry
``issue_type``; documents of incidents, tasks and test cases name their type."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from searchkit import Store, make_config, open_store, seed_corpus

from lore.cli.app import cli
from lore.cli.commands.robot_docs import build_manifest
from lore.core.config import EmbeddingConfig
from lore.core.errors import ErrorCode, LoreError
from lore.search.engine import SearchResult, search
from lore.search.filters import SearchFilters, parse_types
from lore.sync.stage_docs import render_items, run_docs_stage

QUERY = "login token cache backup docker dark"
#: The seed corpus's issues: 101 becomes an incident, 103 a task, 102 stays an issue.
TYPES = {101: "incident", 102: "issue", 103: "task"}
REFS = {101: "group/app#1", 102: "group/app#2", 103: "group/infra#1"}


def _typed(path: Path) -> Store:
    store = open_store(path)
    seed_corpus(store)
    for item_id, name in TYPES.items():
        store.conn.execute("UPDATE issues SET issue_type = ? WHERE id = ?", (name, item_id))
    store.conn.commit()
    assert run_docs_stage(store.conn, make_config(), project_ids=None, full=False).success
    return store


@pytest.fixture
def typed(tmp_path: Path) -> Iterator[Store]:
    store = _typed(tmp_path / "lore.db")
    try:
        yield store
    finally:
        store.conn.close()


def _search(store: Store, **filters: Any) -> SearchResult:
    return search(
        store.conn,
        QUERY,
        embedding=EmbeddingConfig(provider="none"),
        mode="lexical",
        filters=SearchFilters(**filters),
    )


def _refs(result: SearchResult) -> set[str]:
    return {h.ref for h in result.hits}


@pytest.mark.parametrize(
    "values, expected",
    [
        ((), (None, [])),
        (("issue",), ("issue", [])),
        (("mr",), ("mr", [])),
        (("MRs",), ("mr", [])),
        (("incident",), ("issue", ["incident"])),
        (("Test-Case", "tasks"), ("issue", ["test_case", "task"])),
        (("incident,task", "incident"), ("issue", ["incident", "task"])),
        (("issue,incident",), ("issue", ["issue", "incident"])),
    ],
)
def test_parse_types(values: tuple[str, ...], expected: tuple[str | None, list[str]]) -> None:
    assert parse_types(values) == expected


@pytest.mark.parametrize(
    "values, words",
    [
        (("incidnet",), "did you mean 'incident'"),
        (("mrr",), "did you mean 'mr'"),
        (("mr", "incident"), "select different kinds"),
        (("mr,issue",), "select different kinds"),
    ],
)
def test_parse_types_errors(values: tuple[str, ...], words: str) -> None:
    with pytest.raises(LoreError) as info:
        parse_types(values)
    assert info.value.code is ErrorCode.USAGE_ERROR and words in info.value.message


def test_issue_type_filters_and_hits(typed: Store) -> None:
    every = _search(typed)
    assert {h.ref: h.issue_type for h in every.hits if h.kind == "issue"} == {
        REFS[i]: t for i, t in TYPES.items()
    }
    assert all(h.issue_type is None for h in every.hits if h.kind == "mr")
    # --type issue is still every issue (tasks included: search hides nothing)
    assert _refs(_search(typed, kind="issue")) == set(REFS.values())
    assert _refs(_search(typed, kind="issue", issue_types=["incident"])) == {REFS[101]}
    assert _refs(_search(typed, kind="issue", issue_types=["task", "incident"])) == {
        REFS[101],
        REFS[103],
    }
    assert _refs(_search(typed, kind="issue", issue_types=["issue"])) == {REFS[102]}
    assert _refs(_search(typed, issue_types=["test_case"])) == set()
    # combined with the other filters
    assert _refs(_search(typed, issue_types=["incident", "task"], projects=["infra"])) == {
        REFS[103]
    }
    result = _search(typed, kind="issue", issue_types=["incident"])
    assert result.to_dict()["filters"]["issue_types"] == ["incident"]


@pytest.mark.parametrize(
    "filters, words",
    [
        (
            {"issue_types": ["incident"], "reviewer": "alice"},
            "--reviewer applies to merge requests",
        ),
        ({"issue_types": ["incident"], "kind": "mr"}, "issue types apply to issues"),
    ],
)
def test_contradictions_are_usage_errors(typed: Store, filters: dict[str, Any], words: str) -> None:
    with pytest.raises(LoreError) as info:
        _search(typed, **filters)
    assert info.value.code is ErrorCode.USAGE_ERROR and words in info.value.message


def test_documents_name_the_issue_type(typed: Store) -> None:
    docs = {d.item_id: d.body for d in render_items(typed.conn, "issue", list(TYPES))}
    assert "Incident group/app#1 · opened" in docs[101]
    assert "Task group/infra#1" in docs[103]
    assert "Issue group/app#2" in docs[102]  # a plain issue renders as before
    hits = search(
        typed.conn, "incident", embedding=EmbeddingConfig(provider="none"), mode="lexical"
    ).hits
    assert [h.ref for h in hits] == [REFS[101]]


def test_store_before_issue_types(typed: Store) -> None:
    # A mirror from before migration 6 (reading never migrates): every issue is plain.
    typed.conn.execute("DROP INDEX query_issues_type")
    typed.conn.execute("ALTER TABLE issues DROP COLUMN issue_type")
    hits = _search(typed).hits
    assert {h.issue_type for h in hits if h.kind == "issue"} == {"issue"}
    assert _refs(_search(typed, issue_types=["issue"])) == set(REFS.values())
    assert _refs(_search(typed, issue_types=["incident"])) == set()


# -- through the CLI -------------------------------------------------------------------------


def test_cli_type_flag(lore_env: Any) -> None:
    lore_env.write_config(
        "https://gitlab.example.com",
        ["group/app", "group/infra"],
        extra={"embedding": {"provider": "none"}},
    )
    _typed(lore_env.data_dir / "lore.db").conn.close()
    manifest = build_manifest(cli)
    command = next(c for c in manifest["commands"] if c["command"] == "lore search")

    code, doc = lore_env.robot("search", QUERY, "--type", "incident,task")
    assert code == 0, doc
    jsonschema.validate(doc["data"], command["response_schema"])
    data = doc["data"]
    assert {h["ref"]: h["issue_type"] for h in data["hits"]} == {
        REFS[101]: "incident",
        REFS[103]: "task",
    }
    assert data["filters"]["type"] == "issue"
    assert data["filters"]["issue_types"] == ["incident", "task"]
    code, doc = lore_env.robot("search", QUERY, "--type", "mr")
    assert code == 0 and {h["kind"] for h in doc["data"]["hits"]} == {"mr"}
    assert all(h["issue_type"] is None for h in doc["data"]["hits"])
    jsonschema.validate(doc["data"], command["response_schema"])

    for args in (
        ["--type", "mr", "--type", "incident"],
        ["--type", "incidnet"],
        ["--type", "incident", "--reviewer", "alice"],
    ):
        code, doc = lore_env.robot("search", QUERY, *args)
        assert code == 2 and doc["error"]["code"] == "USAGE_ERROR", (args, doc)

    proc = lore_env.run("search", QUERY, "--type", "incident")
    assert proc.returncode == 0, proc.stderr
    assert "Incident: Login times out" in proc.stdout
