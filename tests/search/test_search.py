"""Search over a small corpus whose right answers are known: lexical, semantic, hybrid,
filters, modes and the FTS5 sanitiser (fuzzed with hypothesis)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from searchkit import Store, make_config, open_store, seed_corpus

from lore.core.config import EmbeddingConfig
from lore.core.errors import ErrorCode, LoreError
from lore.search.engine import MODES, SearchResult, search
from lore.search.filters import SearchFilters
from lore.search.query import build_fts_query
from lore.search.vectors import VectorIndex
from lore.sim.ollama import FakeOllama
from lore.sync.stage_docs import run_docs_stage
from lore.sync.stage_embeddings import run_embeddings_stage


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOllama]:
    with FakeOllama.start(dim=256, model="nomic-embed-text") as server:
        yield server


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, fake: FakeOllama) -> Iterator[Store]:
    """The seed corpus, rendered and embedded once for the whole module (read-only)."""
    store = open_store(tmp_path_factory.mktemp("corpus") / "lore.db")
    seed_corpus(store)
    store.conn.execute(
        "UPDATE issues SET status_name = 'In progress', status_category = "
        "'in_progress', status_color = '#1f75cb' WHERE id = 101"
    )
    config = make_config(fake.url)
    assert run_docs_stage(store.conn, config, project_ids=None, full=False).success
    assert run_embeddings_stage(store.conn, config, project_ids=None, full=False).success
    # People on items, for the --assignee/--reviewer filters (added after rendering so the
    # documents, and the rankings other tests expect, stay those of the seed corpus).
    store.conn.executemany(
        "INSERT INTO item_people(item_kind, item_id, role, person_id) VALUES (?, ?, ?, ?)",
        [
            ("issue", 101, "assignee", 12),
            ("issue", 103, "assignee", 10),
            ("mr", 201, "assignee", 12),
            ("mr", 201, "reviewer", 10),
            ("mr", 202, "reviewer", 11),
        ],
    )
    store.conn.commit()
    try:
        yield store
    finally:
        store.conn.close()


def _embedding(fake: FakeOllama) -> EmbeddingConfig:
    return make_config(fake.url).embedding


def _search(
    store: Store, fake: FakeOllama, query: str, mode: str | None = None, **filters: object
) -> SearchResult:
    return search(
        store.conn, query, embedding=_embedding(fake), mode=mode, filters=SearchFilters(**filters)
    )  # type: ignore[arg-type]


def _refs(result: SearchResult) -> list[str]:
    return [h.ref for h in result.hits]


# -- lexical --------------------------------------------------------------------------------


def test_lexical_finds_all_terms_with_highlighted_snippets(corpus: Store, fake: FakeOllama) -> None:
    result = _search(corpus, fake, "token lookup", mode="lexical")
    assert result.mode == "lexical" and result.fts_query == '"token" "lookup"'
    assert set(_refs(result)) == {"group/app#1", "group/app!1"}
    for hit in result.hits:
        assert hit.matched.by == ["lexical"] and hit.matched.semantic_rank is None
        assert hit.highlights, hit.snippet
        marked = {hit.snippet[a:b].lower() for a, b in hit.highlights}
        assert marked <= {"token", "lookup"}
    assert [h.matched.lexical_rank for h in result.hits] == [1, 2]
    assert result.hits[0].score >= result.hits[1].score > 0


def test_title_matches_outrank_body_matches(tmp_path: Path, fake: FakeOllama) -> None:
    store = open_store(tmp_path / "lore.db")
    store.project(1, "group/app")
    store.issue(1, 1, 1, "Unrelated chores", "We should look at the flamegraph of the importer.")
    store.issue(2, 1, 2, "Flamegraph of the importer", "We should look at unrelated chores.")
    run_docs_stage(store.conn, make_config(), project_ids=None, full=False)
    result = _search(store, fake, "flamegraph", mode="lexical")
    assert _refs(result) == ["group/app#2", "group/app#1"]


def test_any_term_fallback_when_no_document_has_every_term(corpus: Store, fake: FakeOllama) -> None:
    result = _search(corpus, fake, "dark backup", mode="lexical")
    assert set(_refs(result)) == {"group/app#2", "group/infra#1"}


def test_phrases_prefixes_and_exclusions(corpus: Store, fake: FakeOllama) -> None:
    assert _refs(_search(corpus, fake, '"layer caching"', mode="lexical")) == ["group/infra!1"]
    assert _refs(_search(corpus, fake, '"caching layer"', mode="lexical")) == []
    assert _refs(_search(corpus, fake, "thir*", mode="lexical")) == ["group/app#1"]  # thirty
    assert _refs(_search(corpus, fake, "login -cache", mode="lexical")) == ["group/app#1"]


def test_lexical_result_fields(corpus: Store, fake: FakeOllama) -> None:
    hit = _search(corpus, fake, "reproduce", mode="lexical").hits[0]
    assert hit.ref == "group/app#1" and hit.kind == "issue" and hit.iid == 1
    assert hit.project == "group/app"
    assert hit.title == "Login times out after thirty seconds"
    assert hit.web_url == "https://gitlab.example.com/group/app/-/issues/1"
    assert hit.state == "opened"
    assert hit.status == {"name": "In progress", "category": "in_progress", "color": "#1f75cb"}
    assert hit.author == "alice" and hit.labels == ["auth", "bug"]
    assert hit.updated_at == "2024-05-10T00:00:00.000Z"
    mr = _search(corpus, fake, "docker", mode="lexical").hits[0]
    assert mr.ref == "group/infra!1" and mr.kind == "mr" and mr.status is None
    assert mr.web_url == "https://gitlab.example.com/group/infra/-/merge_requests/1"


# -- semantic and hybrid --------------------------------------------------------------------


def test_semantic_ranks_by_meaning_without_shared_exact_terms(
    corpus: Store, fake: FakeOllama
) -> None:
    # No document has "backups" + "running" + "space" all together; the vectors still
    # put the backup issue first.
    result = _search(corpus, fake, "cron backups running out of space", mode="semantic")
    assert result.mode == "semantic" and result.model == "nomic-embed-text"
    assert result.fts_query is None
    assert _refs(result)[0] == "group/infra#1"
    top = result.hits[0]
    assert top.matched.by == ["semantic"] and top.matched.semantic_rank == 1
    assert 0 < top.score <= 1 and top.score == top.matched.semantic_score
    assert top.snippet.startswith("The backup cron job aborts")
    assert all(h.score > 0 for h in result.hits)
    assert [h.score for h in result.hits] == sorted((h.score for h in result.hits), reverse=True)


def test_hybrid_fuses_both_rankings(corpus: Store, fake: FakeOllama) -> None:
    result = _search(corpus, fake, "login token cache", mode="hybrid")
    assert result.mode == "hybrid"
    top = result.hits[0]
    assert top.ref == "group/app!1"  # first in both lists
    assert top.matched.by == ["lexical", "semantic"]
    assert top.matched.lexical_rank == 1 and top.matched.semantic_rank == 1
    assert top.score == pytest.approx(2 / 61, abs=1e-6)
    for hit in result.hits:
        expected = sum(
            1 / (60 + r) for r in (hit.matched.lexical_rank, hit.matched.semantic_rank) if r
        )
        assert hit.score == pytest.approx(expected, abs=1e-6)
    assert [h.score for h in result.hits] == sorted((h.score for h in result.hits), reverse=True)


def test_default_mode_is_hybrid_when_embeddings_exist(corpus: Store, fake: FakeOllama) -> None:
    result = _search(corpus, fake, "login")
    assert result.requested_mode == "auto" and result.mode == "hybrid"
    other_model = make_config(fake.url, model="other-model").embedding
    result = search(corpus.conn, "login", embedding=other_model)
    assert result.mode == "lexical"  # nothing embedded with that model
    no_provider = make_config(provider="none").embedding
    assert search(corpus.conn, "login", embedding=no_provider).mode == "lexical"


def test_default_mode_falls_back_to_lexical_when_the_provider_is_down(corpus: Store) -> None:
    down = make_config("http://127.0.0.1:9").embedding  # nothing listens on port 9
    result = search(corpus.conn, "login", embedding=down)
    assert result.mode == "lexical" and result.hits
    assert any("semantic search unavailable" in w for w in result.warnings)


@pytest.mark.parametrize("mode", ["semantic", "hybrid"])
def test_explicit_semantic_modes_fail_when_the_provider_is_down(corpus: Store, mode: str) -> None:
    down = make_config("http://127.0.0.1:9").embedding
    with pytest.raises(LoreError) as info:
        search(corpus.conn, "login", embedding=down, mode=mode)
    assert info.value.code is ErrorCode.EMBEDDING_UNAVAILABLE
    assert "ollama serve" in (info.value.suggestion or "")
    with pytest.raises(LoreError) as info:
        search(corpus.conn, "login", embedding=make_config(provider="none").embedding, mode=mode)
    assert info.value.code is ErrorCode.EMBEDDING_UNAVAILABLE


def test_semantic_with_nothing_embedded_warns(tmp_path: Path, fake: FakeOllama) -> None:
    store = open_store(tmp_path / "lore.db")
    seed_corpus(store)
    run_docs_stage(store.conn, make_config(), project_ids=None, full=False)
    result = _search(store, fake, "login", mode="semantic")
    assert result.hits == [] and "no documents are embedded" in result.warnings[0]
    hybrid = _search(store, fake, "login", mode="hybrid")
    assert hybrid.hits and all(h.matched.by == ["lexical"] for h in hybrid.hits)


def test_a_stale_vector_index_skips_documents_that_are_gone(
    tmp_path: Path, fake: FakeOllama
) -> None:
    store = open_store(tmp_path / "lore.db")
    seed_corpus(store)
    config = make_config(fake.url)
    run_docs_stage(store.conn, config, project_ids=None, full=False)
    run_embeddings_stage(store.conn, config, project_ids=None, full=False)
    index = VectorIndex.load(store.conn, "nomic-embed-text")
    assert index.documents == 5 and index.dimension == 256
    store.delete("issue", 103)
    run_docs_stage(store.conn, config, project_ids=None, full=True)
    result = search(
        store.conn,
        "cron backups running out of space",
        embedding=config.embedding,
        mode="semantic",
        index=index,
    )
    assert "group/infra#1" not in _refs(result) and result.hits


# -- filters --------------------------------------------------------------------------------


#: What the seed corpus holds, as an oracle for the filters.
ITEMS = {
    "group/app#1": {
        "kind": "issue",
        "project": "group/app",
        "state": "opened",
        "author": "alice",
        "labels": {"bug", "auth"},
        "updated": "2024-05-10",
        "status": "In progress",
        "assignees": {"carol"},
    },
    "group/app#2": {
        "kind": "issue",
        "project": "group/app",
        "state": "closed",
        "author": "bob",
        "labels": {"feature", "ui"},
        "updated": "2024-02-01",
    },
    "group/infra#1": {
        "kind": "issue",
        "project": "group/infra",
        "state": "opened",
        "author": "carol",
        "labels": {"bug", "ops"},
        "updated": "2024-05-20",
        "assignees": {"alice"},
    },
    "group/app!1": {
        "kind": "mr",
        "project": "group/app",
        "state": "merged",
        "author": "bob",
        "labels": {"auth", "performance"},
        "updated": "2024-05-12",
        "assignees": {"carol"},
        "reviewers": {"alice"},
    },
    "group/infra!1": {
        "kind": "mr",
        "project": "group/infra",
        "state": "opened",
        "author": "carol",
        "labels": {"ci"},
        "updated": "2024-04-01",
        "reviewers": {"bob"},
    },
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "filters, keep",
    [
        ({"kind": "mr"}, lambda i: i["kind"] == "mr"),
        ({"kind": "issue"}, lambda i: i["kind"] == "issue"),
        ({"projects": ["group/infra"]}, lambda i: i["project"] == "group/infra"),
        ({"projects": ["infra"]}, lambda i: i["project"] == "group/infra"),
        ({"state": "merged"}, lambda i: i["state"] == "merged"),
        ({"state": "closed"}, lambda i: i["state"] == "closed"),
        ({"labels": ["auth"]}, lambda i: "auth" in i["labels"]),
        ({"labels": ["auth", "BUG"]}, lambda i: {"auth", "bug"} <= i["labels"]),
        ({"labels": ["auth", "ops"]}, lambda i: False),
        ({"author": "bob"}, lambda i: i["author"] == "bob"),
        ({"author": "@carol"}, lambda i: i["author"] == "carol"),
        ({"since": "2024-05-11T00:00:00.000Z"}, lambda i: i["updated"] >= "2024-05-11"),
        ({"assignee": "carol"}, lambda i: "carol" in i.get("assignees", ())),
        ({"assignee": "ALICE"}, lambda i: "alice" in i.get("assignees", ())),
        ({"assignee": "bob"}, lambda i: False),
        ({"reviewer": "alice"}, lambda i: "alice" in i.get("reviewers", ())),
        ({"reviewer": "bob", "kind": "mr"}, lambda i: "bob" in i.get("reviewers", ())),
        (
            {"assignee": "carol", "kind": "issue"},
            lambda i: i["kind"] == "issue" and "carol" in i.get("assignees", ()),
        ),
        ({"status": "in PROGRESS"}, lambda i: i.get("status") == "In progress"),
        ({"status_category": "In progress"}, lambda i: i.get("status") == "In progress"),
        ({"status_category": "to do"}, lambda i: False),
        ({"status": "In progress", "kind": "issue"}, lambda i: i.get("status") == "In progress"),
        (
            {"kind": "issue", "labels": ["bug"], "since": "2024-05-15T00:00:00.000Z"},
            lambda i: (
                i["kind"] == "issue" and "bug" in i["labels"] and i["updated"] >= "2024-05-15"
            ),
        ),
    ],
)
def test_filters_apply_in_every_mode(
    corpus: Store, fake: FakeOllama, mode: str, filters: dict[str, object], keep: object
) -> None:
    query = "login token cache backup docker dark"
    everything = set(_refs(_search(corpus, fake, query, mode=mode)))
    assert len(everything) >= 4  # the corpus is small: every mode sees nearly all of it
    expected = {ref for ref in everything if keep(ITEMS[ref])}  # type: ignore[operator]
    assert set(_refs(_search(corpus, fake, query, mode=mode, **filters))) == expected


def test_unknown_or_ambiguous_projects_are_errors(tmp_path: Path, fake: FakeOllama) -> None:
    store = open_store(tmp_path / "lore.db")
    seed_corpus(store)
    store.project(3, "other/app")
    with pytest.raises(LoreError) as info:
        _search(store, fake, "login", mode="lexical", projects=["nope"])
    assert info.value.code is ErrorCode.NOT_FOUND
    assert "group/app" in info.value.details["known_projects"]
    with pytest.raises(LoreError) as info:
        _search(store, fake, "login", mode="lexical", projects=["app"])
    assert info.value.code is ErrorCode.AMBIGUOUS


def test_limit(corpus: Store, fake: FakeOllama) -> None:
    assert (
        len(
            search(
                corpus.conn,
                "login token cache backup docker dark",
                embedding=_embedding(fake),
                mode="hybrid",
                limit=2,
            ).hits
        )
        == 2
    )


# -- user text is never a database error ----------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_query_is_a_usage_error(corpus: Store, fake: FakeOllama, text: str) -> None:
    with pytest.raises(LoreError) as info:
        _search(corpus, fake, text)
    assert info.value.code is ErrorCode.USAGE_ERROR


@pytest.mark.parametrize(
    "text",
    [
        '"',
        '""',
        '"""',
        'login "timeout',
        "*",
        "-",
        "--",
        "-login",
        ":",
        "title:login",
        "(",
        ")",
        "(login",
        "login)",
        "NEAR",
        "NEAR(login timeout)",
        "login NEAR timeout",
        "AND",
        "OR",
        "NOT",
        "login AND",
        "OR login",
        "NOT login",
        "^login",
        "+login",
        "login*",
        "*login",
        "lo*gin",
        "{title body}:login",
        "col:",
        "'",
        "\\",
        "\x00",
        "login\x00timeout",
        "🙂",
        "ÉTÉ",
        "日本語",
        "a" * 5000,
        '- * : ( ) " NEAR AND OR NOT',
    ],
)
def test_fts_syntax_characters_are_harmless(corpus: Store, fake: FakeOllama, text: str) -> None:
    result = _search(corpus, fake, text, mode="lexical")
    assert isinstance(result.hits, list)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.text(alphabet=st.characters(), max_size=60)  # lone surrogates included
    | st.lists(
        st.sampled_from(
            [
                '"',
                "*",
                "-",
                ":",
                "(",
                ")",
                "NEAR",
                "AND",
                "OR",
                "NOT",
                "^",
                "+",
                "{",
                "}",
                "login",
                "token",
                " ",
                "\x00",
                "'",
            ]
        ),
        max_size=12,
    ).map("".join)
)
def test_fuzzed_queries_never_raise_a_database_error(
    corpus: Store, fake: FakeOllama, text: str
) -> None:
    try:
        result = _search(corpus, fake, text, mode="lexical")
        result.query.encode("utf-8")  # printable as JSON on stdout
    except LoreError as exc:
        assert exc.code is ErrorCode.USAGE_ERROR and not text.strip()
    fts = build_fts_query(text)
    if fts is not None:
        for expression in (fts.all_terms, fts.any_terms):
            if expression is not None:
                corpus.conn.execute(
                    "SELECT rowid FROM documents_fts WHERE documents_fts MATCH ?", (expression,)
                ).fetchall()


def test_sanitiser_output() -> None:
    assert build_fts_query("login timeout").all_terms == '"login" "timeout"'  # type: ignore[union-attr]
    q = build_fts_query('"token refresh" foo-bar -baz qu*')
    assert q is not None
    assert q.all_terms == '("token refresh" "foo bar" "qu"*) NOT "baz"'
    assert q.any_terms == '("token refresh" OR "foo bar" OR "qu"*) NOT "baz"'
    assert build_fts_query("NEAR AND").all_terms == '"NEAR" "AND"'  # type: ignore[union-attr]
    assert build_fts_query("-only").all_terms == '"only"'  # type: ignore[union-attr]
    assert build_fts_query("()*:") is None


def test_semantic_search_needs_no_fts_words(corpus: Store, fake: FakeOllama) -> None:
    result = _search(corpus, fake, "()*:", mode="hybrid")
    assert "no searchable words" in result.warnings[0]


def test_numpy_and_httpx_stay_unloaded_for_lexical_search(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from lore.store.db import connect\n"
        "from lore.core.config import EmbeddingConfig\n"
        "from lore.search.engine import search\n"
        f"conn = connect(Path({str(tmp_path / 'x.db')!r}))\n"
        "search(conn, 'login', embedding=EmbeddingConfig(provider='none'))\n"
        "search(conn, 'login', embedding=EmbeddingConfig(), mode='lexical')\n"
        "print(sorted(m for m in ('numpy', 'httpx') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_cli_modes_match_the_engine() -> None:
    from lore.cli.commands import search as cli_search

    assert cli_search.MODES == MODES


def test_semantic_filters_reach_past_the_nearest_candidates(
    tmp_path: Path, fake: FakeOllama
) -> None:
    # Thirty documents about caching and one about gardening with a rare label: with
    # --limit 1 the nearest ten candidates hold no labelled document, so the filter must
    # look at every allowed id rather than give up.
    store = open_store(tmp_path / "lore.db")
    store.project(1, "group/app")
    for n in range(1, 31):
        store.issue(n, 1, n, f"Cache layer {n}", f"The cache layer number {n} evicts entries.")
    store.issue(
        99, 1, 99, "Tomato seedlings", "Watering the garden beds: garden entries.", labels=["rare"]
    )
    config = make_config(fake.url)
    run_docs_stage(store.conn, config, project_ids=None, full=False)
    run_embeddings_stage(store.conn, config, project_ids=None, full=False)
    query = "cache layer evicts entries garden"
    unfiltered = search(store.conn, query, embedding=config.embedding, mode="semantic", limit=10)
    assert "group/app#99" not in _refs(unfiltered)
    result = search(
        store.conn,
        query,
        embedding=config.embedding,
        mode="semantic",
        limit=1,
        filters=SearchFilters(labels=["rare"]),
    )
    assert _refs(result) == ["group/app#99"]


def test_vector_cache_is_memory_mapped_and_follows_every_change(
    tmp_path: Path, fake: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np

    from lore.search import vectors

    monkeypatch.setattr(vectors, "CACHE_MIN_ROWS", 1)
    store = open_store(tmp_path / "lore.db")
    seed_corpus(store)
    config = make_config(fake.url)
    run_docs_stage(store.conn, config, project_ids=None, full=False)
    run_embeddings_stage(store.conn, config, project_ids=None, full=False)
    cache = tmp_path / "cache"
    query = "cron backups running out of space"

    def run() -> list[tuple[str, float]]:
        result = search(
            store.conn, query, embedding=config.embedding, mode="semantic", vector_cache_dir=cache
        )
        return [(h.ref, h.score) for h in result.hits]

    expected = run()
    assert expected == [(h.ref, h.score) for h in _search(store, fake, query, "semantic").hits]
    files = sorted(p.name for p in cache.iterdir())
    assert len(files) == 3 and files[-1].endswith(".json")
    cached = vectors.load_index(store.conn, "nomic-embed-text", cache)
    assert isinstance(cached.matrix, np.memmap) and cached.documents == 5
    assert run() == expected

    # A changed document changes the fingerprint: the cache is rebuilt, old files go.
    store.update(
        "issue",
        103,
        updated_at="2024-07-01T00:00:00.000Z",
        description="Nothing about storage any more; a typo in the docs.",
    )
    run_docs_stage(store.conn, config, project_ids=None, full=False)
    run_embeddings_stage(store.conn, config, project_ids=None, full=False)
    assert run() != expected
    assert len(list(cache.iterdir())) == 3 and sorted(p.name for p in cache.iterdir()) != files
    # A deletion elsewhere (no generation bump) changes the row count.
    store.delete("mr", 202)
    run_docs_stage(store.conn, config, project_ids=None, full=False)
    assert vectors.load_index(store.conn, "nomic-embed-text", cache).documents == 4
    # A broken description is ignored, not fatal.
    next(cache.glob("*.json")).write_text("{not json")
    assert vectors.load_index(store.conn, "nomic-embed-text", cache).documents == 4


def test_an_empty_index_says_why_nothing_matches(tmp_path: Path, fake: FakeOllama) -> None:
    store = open_store(tmp_path / "lore.db")
    seed_corpus(store)  # items mirrored, but the docs stage never ran
    result = _search(store, fake, "login")
    assert result.mode == "lexical" and result.hits == []
    assert "no documents are indexed yet" in result.warnings[-1]


@pytest.mark.parametrize(
    "filters, words",
    [
        ({"reviewer": "alice", "kind": "issue"}, "--reviewer applies to merge requests"),
        ({"reviewer": "alice", "status": "In progress"}, "can match nothing"),
        ({"status_category": "done", "kind": "mr"}, "apply to issues"),
    ],
)
def test_contradicting_kind_filters_are_usage_errors(
    corpus: Store, fake: FakeOllama, filters: dict[str, object], words: str
) -> None:
    with pytest.raises(LoreError) as info:
        _search(corpus, fake, "login", mode="lexical", **filters)
    assert info.value.code is ErrorCode.USAGE_ERROR and words in info.value.message
