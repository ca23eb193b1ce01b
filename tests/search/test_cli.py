"""`lore search` end to end: the installed executable in a subprocess, a store prepared in
{LORE_DATA_DIR}/lore.db, a fake Ollama on loopback, output validated against the
schema that `lore robot-docs` publishes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from searchkit import make_config, open_store, seed_corpus

from lore.cli.app import cli
from lore.cli.commands.robot_docs import build_manifest
from lore.sim.ollama import FakeOllama
from lore.sync.stage_docs import run_docs_stage
from lore.sync.stage_embeddings import run_embeddings_stage


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return build_manifest(cli)


@pytest.fixture
def mirrored(lore_env: Any, ollama: FakeOllama) -> Iterator[Any]:
    """lore_env with a config pointing at the fake Ollama and a synced corpus."""
    lore_env.write_config(
        "https://gitlab.example.com",
        ["group/app", "group/infra"],
        extra={
            "embedding": {"provider": "ollama", "baseUrl": ollama.url, "model": "nomic-embed-text"}
        },
    )
    store = open_store(lore_env.data_dir / "lore.db")
    seed_corpus(store)
    config = make_config(ollama.url)
    assert run_docs_stage(store.conn, config, project_ids=None, full=False).success
    assert run_embeddings_stage(store.conn, config, project_ids=None, full=False).success
    store.conn.executemany(
        "INSERT INTO item_people(item_kind, item_id, role, person_id) VALUES (?, ?, ?, ?)",
        [("issue", 101, "assignee", 12), ("mr", 201, "reviewer", 10)],
    )
    store.conn.commit()
    store.conn.close()
    yield lore_env


def _command(manifest: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in manifest["commands"] if c["command"] == "lore search")


def _check_success(manifest: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    jsonschema.validate(doc, manifest["envelopes"]["success"])
    jsonschema.validate(doc["data"], _command(manifest)["response_schema"])
    data: dict[str, Any] = doc["data"]
    return data


def _check_failure(manifest: dict[str, Any], code: int, doc: dict[str, Any], expected: str) -> None:
    jsonschema.validate(doc, manifest["envelopes"]["failure"])
    assert doc["error"]["code"] == expected
    declared = {e["code"]: e["exit"] for e in _command(manifest)["exit_codes"]}
    assert declared.get(expected) == code, f"{expected} exits {code}; declared {declared}"


def test_robot_hybrid_search_matches_the_published_schema(
    mirrored: Any, manifest: dict[str, Any], ollama: FakeOllama
) -> None:
    code, doc = mirrored.robot("search", "login", "token", "cache")
    assert code == 0, doc
    data = _check_success(manifest, doc)
    assert data["mode"] == "hybrid" and data["requested_mode"] == "auto"
    assert data["query"] == "login token cache"
    assert data["count"] == len(data["hits"]) > 0
    top = data["hits"][0]
    assert top["ref"] == "group/app!1"
    assert top["matched"]["by"] == ["lexical", "semantic"]
    assert ollama.requests >= 2  # the sync's batch and the query's embedding


def test_robot_lexical_search_with_filters(mirrored: Any, manifest: dict[str, Any]) -> None:
    code, doc = mirrored.robot(
        "search",
        "login",
        "--mode",
        "lexical",
        "--type",
        "issue",
        "--state",
        "open",
        "--label",
        "auth",
        "--label",
        "bug",
        "--author",
        "@alice",
        "--since",
        "2024-05-01",
        "--project",
        "app",
        "-n",
        "5",
    )
    assert code == 0, doc
    data = _check_success(manifest, doc)
    assert [h["ref"] for h in data["hits"]] == ["group/app#1"]
    assert data["filters"] == {
        "type": "issue",
        "issue_types": [],
        "projects": ["app"],
        "state": "opened",
        "labels": ["auth", "bug"],
        "author": "alice",
        "assignee": None,
        "reviewer": None,
        "since": "2024-05-01T00:00:00.000Z",
        "status": None,
        "status_category": None,
    }
    hit = data["hits"][0]
    for start, end in hit["highlights"]:
        assert hit["snippet"][start:end].lower() == "login"


def test_fts_syntax_in_the_query_is_fine(mirrored: Any, manifest: dict[str, Any]) -> None:
    code, doc = mirrored.robot("search", '"login', "NEAR(", "*:", "--mode", "lexical")
    assert code == 0, doc
    hits = _check_success(manifest, doc)["hits"]
    assert hits and hits[0]["ref"] in {"group/app#1", "group/app!1"}


@pytest.mark.parametrize(
    "args, expected",
    [
        (["   "], "USAGE_ERROR"),
        ([], "USAGE_ERROR"),
        (["login", "--mode", "fuzzy"], "USAGE_ERROR"),
        (["login", "--since", "yesterday-ish"], "USAGE_ERROR"),
        (["login", "--project", "nope"], "NOT_FOUND"),
    ],
)
def test_robot_errors_are_declared(
    mirrored: Any, manifest: dict[str, Any], args: list[str], expected: str
) -> None:
    code, doc = mirrored.robot("search", *args)
    _check_failure(manifest, code, doc, expected)


def test_robot_search_by_assignee_and_reviewer(mirrored: Any, manifest: dict[str, Any]) -> None:
    code, doc = mirrored.robot("search", "login token", "--mode", "lexical", "--assignee", "@carol")
    assert code == 0, doc
    data = _check_success(manifest, doc)
    assert [h["ref"] for h in data["hits"]] == ["group/app#1"] and data["filters"][
        "assignee"
    ] == "carol"
    code, doc = mirrored.robot("search", "login token", "--mode", "lexical", "--reviewer", "alice")
    assert [h["ref"] for h in _check_success(manifest, doc)["hits"]] == ["group/app!1"]
    code, doc = mirrored.robot("search", "login", "--reviewer", "alice", "--type", "issue")
    _check_failure(manifest, code, doc, "USAGE_ERROR")


def test_provider_down(mirrored: Any, manifest: dict[str, Any], ollama: FakeOllama) -> None:
    ollama.stop()
    code, doc = mirrored.robot("search", "login", "--mode", "semantic")
    _check_failure(manifest, code, doc, "EMBEDDING_UNAVAILABLE")
    assert "ollama serve" in doc["error"]["actions"]
    # The default mode degrades to lexical and says so.
    code, doc = mirrored.robot("search", "login")
    assert code == 0
    data = _check_success(manifest, doc)
    assert data["mode"] == "lexical" and data["hits"]
    assert "semantic search unavailable" in data["warnings"][0]


def test_nothing_synced_yet(lore_env: Any, manifest: dict[str, Any]) -> None:
    lore_env.write_config("https://gitlab.example.com", ["group/app"])
    code, doc = lore_env.robot("search", "anything")
    assert code == 0
    data = _check_success(manifest, doc)
    assert data["hits"] == [] and "nothing is synced yet" in data["warnings"][0]
    assert not (lore_env.data_dir / "lore.db").exists()  # reading never creates the store


def test_human_output(mirrored: Any) -> None:
    proc = mirrored.run("search", "backups running out of space", "--mode", "semantic")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.index("group/infra#1") < proc.stdout.index("group/app")
    assert "Nightly database backup fails on disk full" in proc.stdout
    assert "semantic #1" in proc.stdout
    empty = mirrored.run("search", "zzzyzzx", "--mode", "lexical")
    assert empty.returncode == 0 and "No matches" in empty.stdout
    bad = mirrored.run("search", "")
    assert bad.returncode == 2 and "error[USAGE_ERROR]" in bad.stderr and bad.stdout == ""


def test_robot_docs_publishes_search(manifest: dict[str, Any]) -> None:
    entry = _command(manifest)
    flags = {f for p in entry["params"] for f in p["flags"]}
    assert {
        "--mode",
        "--type",
        "--project",
        "--state",
        "--label",
        "--author",
        "--since",
        "--limit",
    } <= flags
    codes = {e["code"] for e in entry["exit_codes"]}
    assert {"USAGE_ERROR", "EMBEDDING_UNAVAILABLE", "NOT_FOUND", "DB_ERROR"} <= codes
    assert entry["examples"] and entry["response_schema"]["properties"]["hits"]


def test_undecodable_bytes_on_the_command_line(mirrored: Any, manifest: dict[str, Any]) -> None:
    import json
    import subprocess
    import sys
    from pathlib import Path

    lore_exe = str(Path(sys.executable).parent / "lore")  # the installed executable
    proc = subprocess.run(
        [lore_exe.encode(), b"--robot", b"search", b"login\xff", b"--mode", b"lexical"],
        capture_output=True,
        env=mirrored.env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    data = _check_success(manifest, json.loads(proc.stdout))
    assert data["query"] == "login\ufffd"


def test_lexical_cli_search_loads_neither_numpy_nor_httpx(mirrored: Any) -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from lore.cli.app import main\n"
        "rc = main(['--robot', 'search', 'login', '--mode', 'lexical'])\n"
        "print(rc, sorted(m for m in ('numpy', 'httpx') if m in sys.modules), file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], env=mirrored.env, capture_output=True, text=True, check=False
    )
    assert proc.stderr.strip().splitlines()[-1] == "0 []", proc.stderr
