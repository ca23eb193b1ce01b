"""``lore search``: lexical (FTS5 bm25), semantic (cosine over stored vectors) and hybrid
(reciprocal rank fusion of both) search over the documents the docs stage wrote.

The default mode is hybrid when vectors of the configured model exist, else lexical; a
default hybrid search whose provider is down falls back to lexical with a warning,
while an explicit ``--mode semantic|hybrid`` fails with EMBEDDING_UNAVAILABLE.
numpy and httpx are imported only when a mode needs them.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lore.core.errors import ErrorCode, LoreError
from lore.core.refs import format_ref
from lore.search.filters import SearchFilters, check_status_filters, filter_sql, resolve_projects
from lore.search.query import FtsQuery, build_fts_query, require_query

if TYPE_CHECKING:
    from lore.core.config import EmbeddingConfig
    from lore.embed.provider import EmbeddingProvider
    from lore.search.ann import AnnIndex
    from lore.search.vectors import VectorHit, VectorIndex

MODES: tuple[str, ...] = ("lexical", "semantic", "hybrid")
#: Reciprocal rank fusion constant (Cormack et al.): score = Σ 1 / (RRF_K + rank).
RRF_K = 60
#: bm25 column weights (title, body): a word in the title counts ten times.
BM25_WEIGHTS = "bm25(10.0, 1.0)"
SNIPPET_TOKENS = 24
SNIPPET_CHARS = 220
HIGHLIGHT_OPEN, HIGHLIGHT_CLOSE = "\x02", "\x03"

_SPACE_RE = re.compile(r"\s+")


@dataclass
class Matched:
    """Why a hit was returned: the modes that found it, with its rank (1-based) and score
    in each."""

    by: list[str]
    lexical_rank: int | None = None
    lexical_score: float | None = None
    semantic_rank: int | None = None
    semantic_score: float | None = None


@dataclass
class SearchHit:
    ref: str
    kind: str
    iid: int
    project: str | None
    title: str
    web_url: str | None
    state: str | None
    status: (
        dict[str, Any] | None
    )  # issues' work-item {name, category, color}; None for MRs or unknown
    issue_type: str | None  # issues: issue, incident, task, test_case…; None for MRs
    author: str | None
    labels: list[str]
    updated_at: str | None
    score: float
    snippet: str
    highlights: list[list[int]]  # [start, end) character offsets into snippet
    matched: Matched
    document_id: int


@dataclass
class SearchResult:
    query: str
    mode: str  # the mode that ran
    requested_mode: str  # "auto" or the --mode given
    fts_query: str | None
    model: str | None
    filters: dict[str, Any]
    limit: int
    hits: list[SearchHit] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["count"] = len(self.hits)
        for hit in out["hits"]:
            hit.pop("document_id", None)
        return out


# -- lexical --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LexicalHit:
    document_id: int
    score: float  # -bm25: higher is better
    snippet: str | None  # with \x02…\x03 around matched terms; None until fetched
    match: str  # the MATCH expression that found it (its snippet highlights that)


_SNIPPET = f"snippet(documents_fts, 1, ?, ?, '…', {SNIPPET_TOKENS})"


def _lexical(
    conn: sqlite3.Connection,
    match: str,
    joins: str,
    where: str,
    params: list[Any],
    depth: int,
    snippets: bool,
) -> list[LexicalHit]:
    # FTS5 consumes ORDER BY rank, so snippet() runs only for the rows LIMIT returns; with
    # ``snippets`` False (hybrid: most candidates are not shown) it runs later, only for the
    # hits returned (:func:`_fill_snippets`).
    snippet = _SNIPPET if snippets else "NULL"
    marks = [HIGHLIGHT_OPEN, HIGHLIGHT_CLOSE] if snippets else []
    if where or joins:
        sql = (
            f"SELECT documents_fts.rowid, documents_fts.rank, {snippet} FROM documents_fts "
            f"JOIN documents d ON d.id = documents_fts.rowid{joins} "
            f"WHERE documents_fts MATCH ? AND documents_fts.rank MATCH ?{where} "
            "ORDER BY documents_fts.rank LIMIT ?"
        )
    else:
        sql = (
            f"SELECT rowid, rank, {snippet} FROM documents_fts WHERE documents_fts MATCH ? "
            "AND rank MATCH ? ORDER BY rank LIMIT ?"
        )
    rows = conn.execute(sql, [*marks, match, BM25_WEIGHTS, *params, depth])
    if snippets:
        return [LexicalHit(int(r[0]), -float(r[1]), str(r[2] or ""), match) for r in rows]
    return [LexicalHit(int(r[0]), -float(r[1]), None, match) for r in rows]


def lexical_search(
    conn: sqlite3.Connection,
    fts: FtsQuery,
    joins: str,
    where: str,
    params: list[Any],
    depth: int,
    snippets: bool = True,
) -> list[LexicalHit]:
    """Documents with every term first; when fewer than ``depth``, those with any term."""
    hits = _lexical(conn, fts.all_terms, joins, where, params, depth, snippets)
    if len(hits) < depth and fts.any_terms is not None:
        seen = {h.document_id for h in hits}
        extra = _lexical(conn, fts.any_terms, joins, where, params, depth, snippets)
        hits.extend(h for h in extra if h.document_id not in seen)
        hits = hits[:depth]
    return hits


def _fill_snippets(conn: sqlite3.Connection, hits: list[LexicalHit]) -> dict[int, str]:
    """Snippets of ``hits`` (document id → marked snippet), each computed with the MATCH
    expression that found it, exactly as the ranking query would have."""
    out: dict[int, str] = {}
    by_match: dict[str, list[int]] = {}
    for hit in hits:
        if hit.snippet is not None:
            out[hit.document_id] = hit.snippet
        else:
            by_match.setdefault(hit.match, []).append(hit.document_id)
    for match, ids in by_match.items():
        rows = conn.execute(
            f"SELECT rowid, {_SNIPPET} FROM documents_fts WHERE documents_fts MATCH ? "
            f"AND rowid IN ({','.join('?' * len(ids))})",
            [HIGHLIGHT_OPEN, HIGHLIGHT_CLOSE, match, *ids],
        )
        out.update((int(r[0]), str(r[1] or "")) for r in rows)
    return out


_MARKER_RE = re.compile(f"([{HIGHLIGHT_OPEN}{HIGHLIGHT_CLOSE}])")


def split_highlights(marked: str) -> tuple[str, list[list[int]]]:
    """Text with \x02…\x03 markers → plain text and [start, end) spans, whitespace folded."""
    plain: list[str] = []
    spans: list[list[int]] = []
    position = 0
    start: int | None = None
    for piece in _MARKER_RE.split(_SPACE_RE.sub(" ", marked).strip()):
        if piece == HIGHLIGHT_OPEN:
            start = position
        elif piece == HIGHLIGHT_CLOSE:
            if start is not None and position > start:
                spans.append([start, position])
            start = None
        else:
            plain.append(piece)
            position += len(piece)
    return "".join(plain), spans


def _excerpt(text: str, limit: int = SNIPPET_CHARS) -> str:
    text = _SPACE_RE.sub(" ", text[: limit * 4]).strip()  # no need to fold a whole long body
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit].rstrip() + " …"


# -- semantic -------------------------------------------------------------------------------


def embeddings_exist(conn: sqlite3.Connection, model: str) -> bool:
    return (
        conn.execute("SELECT 1 FROM embeddings WHERE model = ? LIMIT 1", (model,)).fetchone()
        is not None
    )


def embed_query(provider: EmbeddingProvider, query: str) -> list[float]:
    """The query's vector, with the model's query prefix."""
    from lore.embed.provider import query_prefix

    return provider.embed([query_prefix(provider.model) + query])[0]


def _allowed_ids(
    conn: sqlite3.Connection,
    joins: str,
    where: str,
    params: list[Any],
    among: list[int] | None = None,
) -> list[int]:
    """Ids of the documents that pass the filters (only among ``among`` when given)."""
    sql = f"SELECT d.id FROM documents d{joins} WHERE 1{where}"
    if among is None:
        return [int(r[0]) for r in conn.execute(sql, params)]
    out: list[int] = []
    for start in range(0, len(among), 500):
        part = among[start : start + 500]
        rows = conn.execute(sql + f" AND d.id IN ({','.join('?' * len(part))})", [*params, *part])
        out.extend(int(r[0]) for r in rows)
    return out


def _filtered_top(
    conn: sqlite3.Connection,
    index: VectorIndex | AnnIndex,
    vector: list[float],
    depth: int,
    joins: str,
    where: str,
    params: list[Any],
) -> list[VectorHit]:
    """The best ``depth`` documents that pass the filters.

    Filtering the nearest few hundred first is cheap and usually enough; only when too
    few of them pass is every allowed id computed (which costs a scan of the filters)."""
    if not where:
        return index.top(vector, depth)
    # The approximate index scores the pool roughly; only the kept hits are rescored.
    candidates = index.top(vector, depth * 10, rescore=False)
    passing = set(_allowed_ids(conn, joins, where, params, [h.document_id for h in candidates]))
    kept = [h for h in candidates if h.document_id in passing]
    if len(kept) >= depth or len(candidates) < depth * 10:
        return index.rescore(vector, kept[:depth])
    return index.top(vector, depth, _allowed_ids(conn, joins, where, params))


# -- hydration ------------------------------------------------------------------------------


def _hydrate(
    conn: sqlite3.Connection, doc_ids: list[int], issue_columns: set[str]
) -> dict[int, sqlite3.Row]:
    if not doc_ids:
        return {}
    from lore.query.store import STATUS_COLUMNS

    status = (
        "i.status_name, i.status_category, i.status_color"
        if set(STATUS_COLUMNS) <= issue_columns
        else "NULL AS status_name, NULL AS status_category, NULL AS status_color"
    )
    status += (
        ", i.issue_type"
        if "issue_type" in issue_columns
        else ", CASE WHEN i.id IS NOT NULL THEN 'issue' END AS issue_type"
    )
    marks = ",".join("?" * len(doc_ids))
    rows = conn.execute(
        f"""SELECT d.id, d.item_kind, d.item_id, d.title, d.body, p.path AS project,
                   COALESCE(i.iid, m.iid) AS iid, COALESCE(i.state, m.state) AS state,
                   COALESCE(i.web_url, m.web_url) AS web_url,
                   COALESCE(i.updated_at, m.updated_at) AS updated_at,
                   a.username AS author, {status}
            FROM documents d
            LEFT JOIN issues i ON d.item_kind = 'issue' AND i.id = d.item_id
            LEFT JOIN merge_requests m ON d.item_kind = 'mr' AND m.id = d.item_id
            LEFT JOIN projects p ON p.id = d.project_id
            LEFT JOIN people a ON a.id = COALESCE(i.author_id, m.author_id)
            WHERE d.id IN ({marks})""",
        doc_ids,
    ).fetchall()
    # A document whose item vanished (a stale cached vector, a half-finished --full) is skipped.
    return {int(r["id"]): r for r in rows if r["iid"] is not None}


def _issue_columns(conn: sqlite3.Connection) -> set[str]:
    """The columns of ``issues`` (migration 6 added ``issue_type``, later ones the work-item
    status; reading never migrates): read once per search."""
    from lore.query.store import table_columns

    return table_columns(conn, "issues")


def _status(row: sqlite3.Row) -> dict[str, Any] | None:
    if row["status_name"] is None:
        return None
    return {
        "name": row["status_name"],
        "category": row["status_category"],
        "color": row["status_color"],
    }


def _labels(conn: sqlite3.Connection, rows: list[sqlite3.Row]) -> dict[tuple[str, int], list[str]]:
    out: dict[tuple[str, int], list[str]] = {}
    for kind in ("issue", "mr"):
        ids = [int(r["item_id"]) for r in rows if r["item_kind"] == kind]
        if not ids:
            continue
        marks = ",".join("?" * len(ids))
        for row in conn.execute(
            f"SELECT item_id, label FROM item_labels WHERE item_kind = ? AND item_id IN ({marks}) "
            "ORDER BY label",
            [kind, *ids],
        ):
            out.setdefault((kind, int(row[0])), []).append(str(row[1]))
    return out


def _semantic_snippet(row: sqlite3.Row, chunk_index: int, chunk_chars: int) -> str:
    """The start of the chunk that matched (of the body, for the first chunk, which also
    holds the title)."""
    if chunk_index > 0:
        from lore.embed.chunking import chunk_text, document_text

        chunks = chunk_text(document_text(row["title"], row["body"]), chunk_chars)
        if chunk_index < len(chunks):
            return _excerpt(chunks[chunk_index])
    return _excerpt(str(row["body"]))


# -- the entry point ------------------------------------------------------------------------


def search(
    conn: sqlite3.Connection,
    query: str,
    *,
    embedding: EmbeddingConfig,
    mode: str | None = None,
    filters: SearchFilters | None = None,
    limit: int = 20,
    provider: EmbeddingProvider | None = None,
    index: VectorIndex | AnnIndex | None = None,
    vector_cache_dir: Path | None = None,
) -> SearchResult:
    """Search the mirrored documents.

    ``mode`` None picks hybrid when vectors of ``embedding.model`` exist, else lexical.
    ``provider`` and ``index`` override the configured provider and a freshly loaded
    vector index (benchmarks and tests reuse them across queries); ``vector_cache_dir``
    lets a one-shot process memory-map the vectors instead of reading them all from
    SQLite (see :func:`lore.search.vectors.load_index`).
    Raises USAGE_ERROR for an empty query or a bad mode, NOT_FOUND/AMBIGUOUS for an
    unknown ``--project``, EMBEDDING_UNAVAILABLE when an explicit semantic or hybrid
    search cannot embed the query."""
    text = require_query(query)
    if mode is not None and mode not in MODES:
        raise LoreError(
            ErrorCode.USAGE_ERROR,
            f"unknown search mode {mode!r}",
            suggestion="Use one of: " + ", ".join(MODES),
        )
    if limit < 1:
        raise LoreError(ErrorCode.USAGE_ERROR, "--limit must be at least 1")
    filters = filters or SearchFilters()
    check_status_filters(conn, filters)
    project_ids = resolve_projects(conn, filters.projects) if filters.projects else None
    issue_columns = _issue_columns(conn)
    joins, where, params = filter_sql(
        filters, project_ids, has_issue_types="issue_type" in issue_columns
    )
    model = embedding.model if (embedding.provider != "none" or provider is not None) else None
    provider_model = provider.model if provider is not None else model

    requested = mode or "auto"
    warnings: list[str] = []
    if mode is None:
        mode = "hybrid" if provider_model and embeddings_exist(conn, provider_model) else "lexical"
    if mode != "lexical" and provider_model is None:
        raise LoreError(
            ErrorCode.EMBEDDING_UNAVAILABLE,
            f'{mode} search needs an embedding provider, and embedding.provider is "none"',
            suggestion='Use --mode lexical, or set embedding.provider to "ollama" and run lore sync',
        )

    fts = build_fts_query(text)
    result = SearchResult(
        query=text,
        mode=mode,
        requested_mode=requested,
        fts_query=None,
        model=provider_model if mode != "lexical" else None,
        filters=filters.to_dict(),
        limit=limit,
        warnings=warnings,
    )
    depth = limit if mode != "hybrid" else max(limit * 2, 50)

    semantic: list[VectorHit] = []
    if mode in ("semantic", "hybrid"):
        assert provider_model is not None
        try:
            semantic = _semantic(
                conn,
                text,
                embedding,
                provider,
                index,
                vector_cache_dir,
                provider_model,
                joins,
                where,
                params,
                depth,
                warnings,
            )
        except LoreError as exc:
            if requested != "auto" or exc.code is not ErrorCode.EMBEDDING_UNAVAILABLE:
                raise
            warnings.append(f"semantic search unavailable ({exc.message}); showing lexical results")
            mode = result.mode = "lexical"
            result.model = None
            depth = limit

    lexical: list[LexicalHit] = []
    if mode in ("lexical", "hybrid"):
        if fts is None:
            warnings.append("the query has no searchable words for lexical search")
        else:
            result.fts_query = fts.all_terms
            lexical = lexical_search(
                conn, fts, joins, where, params, depth, snippets=depth <= limit
            )

    ranked = _fuse(mode, lexical, semantic)
    result.hits = _build_hits(
        conn, ranked, lexical, semantic, limit, embedding.chunk_chars, issue_columns
    )
    if not result.hits and conn.execute("SELECT 1 FROM documents LIMIT 1").fetchone() is None:
        warnings.append("no documents are indexed yet: run `lore sync` (without --no-docs)")
    return result


def _semantic(
    conn: sqlite3.Connection,
    text: str,
    embedding: EmbeddingConfig,
    provider: EmbeddingProvider | None,
    index: VectorIndex | AnnIndex | None,
    cache_dir: Path | None,
    model: str,
    joins: str,
    where: str,
    params: list[Any],
    depth: int,
    warnings: list[str],
) -> list[VectorHit]:
    from lore.search.vectors import load_index

    if index is None:
        index = load_index(conn, model, cache_dir)
    if len(index) == 0:
        warnings.append(f"no documents are embedded with {model!r} yet; run `lore sync`")
        return []
    owned = provider is None
    if provider is None:
        from lore.embed.provider import make_provider

        provider = make_provider(embedding, timeout_seconds=60.0)
        assert provider is not None
    try:
        vector = embed_query(provider, text)
    finally:
        if owned:
            close = getattr(provider, "close", None)
            if callable(close):
                close()
    # A cosine of zero or less means "unrelated" for any model: not a hit.
    return [
        hit
        for hit in _filtered_top(conn, index, vector, depth, joins, where, params)
        if hit.score > 0
    ]


def _fuse(
    mode: str, lexical: list[LexicalHit], semantic: list[VectorHit]
) -> list[tuple[int, float]]:
    """(document id, score) best first, for the mode that ran."""
    if mode == "lexical":
        return [(h.document_id, h.score) for h in lexical]
    if mode == "semantic":
        return [(h.document_id, h.score) for h in semantic]
    fused: dict[int, float] = {}
    for rank, lhit in enumerate(lexical, start=1):
        fused[lhit.document_id] = fused.get(lhit.document_id, 0.0) + 1.0 / (RRF_K + rank)
    for rank, hit in enumerate(semantic, start=1):
        fused[hit.document_id] = fused.get(hit.document_id, 0.0) + 1.0 / (RRF_K + rank)
    # Ties (same fused score) keep lexical order first, then semantic, for stable output.
    order = {h.document_id: i for i, h in enumerate(lexical)}
    for i, hit in enumerate(semantic):
        order.setdefault(hit.document_id, len(lexical) + i)
    return sorted(fused.items(), key=lambda kv: (-kv[1], order[kv[0]]))


def _build_hits(
    conn: sqlite3.Connection,
    ranked: list[tuple[int, float]],
    lexical: list[LexicalHit],
    semantic: list[VectorHit],
    limit: int,
    chunk_chars: int,
    issue_columns: set[str],
) -> list[SearchHit]:
    # Ask for a few extra rows: a stale vector may point at a document that is gone.
    wanted = [doc_id for doc_id, _ in ranked[: limit + 10]]
    rows = _hydrate(conn, wanted, issue_columns)
    lex_rank = {h.document_id: (i, h) for i, h in enumerate(lexical, start=1)}
    sem_rank = {h.document_id: (i, h) for i, h in enumerate(semantic, start=1)}
    kept = [(doc_id, score) for doc_id, score in ranked if doc_id in rows][:limit]
    labels = _labels(conn, [rows[doc_id] for doc_id, _ in kept])
    snippets = _fill_snippets(
        conn, [lex_rank[doc_id][1] for doc_id, _ in kept if doc_id in lex_rank]
    )
    hits: list[SearchHit] = []
    for doc_id, score in kept:
        row = rows[doc_id]
        by: list[str] = []
        matched = Matched(by=by)
        if doc_id in lex_rank:
            by.append("lexical")
            matched.lexical_rank = lex_rank[doc_id][0]
            matched.lexical_score = round(lex_rank[doc_id][1].score, 6)
        if doc_id in sem_rank:
            by.append("semantic")
            rank, vhit = sem_rank[doc_id]
            matched.semantic_rank, matched.semantic_score = rank, round(vhit.score, 6)
        if doc_id in lex_rank:
            snippet, spans = split_highlights(snippets.get(doc_id, ""))
        elif doc_id in sem_rank:
            snippet, spans = (
                _semantic_snippet(row, sem_rank[doc_id][1].chunk_index, chunk_chars),
                [],
            )
        else:
            snippet, spans = _excerpt(str(row["body"])), []
        kind = str(row["item_kind"])
        hits.append(
            SearchHit(
                ref=format_ref(kind, int(row["iid"]), row["project"]),
                kind=kind,
                iid=int(row["iid"]),
                project=row["project"],
                title=str(row["title"]),
                web_url=row["web_url"],
                state=row["state"],
                status=_status(row) if kind == "issue" else None,
                issue_type=(str(row["issue_type"] or "issue") if kind == "issue" else None),
                author=row["author"],
                labels=labels.get((kind, int(row["item_id"])), []),
                updated_at=row["updated_at"],
                score=round(float(score), 6),
                snippet=snippet,
                highlights=spans,
                matched=matched,
                document_id=doc_id,
            )
        )
    return hits
