"""`lore search QUERY`: lexical, semantic or hybrid search over the mirrored issues and MRs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from lore.cli.meta import (
    DB_CODES,
    INT,
    NUM,
    OPT_INT,
    OPT_NUM,
    OPT_STR,
    STR,
    arr,
    enum,
    nullable,
    obj,
    robot,
)
from lore.cli.output import AppContext
from lore.core.errors import ErrorCode

if TYPE_CHECKING:
    from rich.console import Console

    from lore.core.config import EmbeddingConfig

# Kept in step with lore.search.engine.MODES (a test checks); not imported so that
# `robot-docs` and `--help` do not load the search engine.
MODES = ("lexical", "semantic", "hybrid")
STATES = ("opened", "closed", "merged", "locked", "all")
_STATE_ALIASES = {"open": "opened", "close": "closed", "merge": "merged"}

HIT_SCHEMA = obj(
    {
        "ref": STR,
        "kind": enum("issue", "mr"),
        "iid": INT,
        "project": OPT_STR,
        "title": STR,
        "web_url": OPT_STR,
        "state": OPT_STR,
        "status": nullable(obj({"name": STR, "category": OPT_STR, "color": OPT_STR}, extra=False)),
        # issues: GitLab's issue type (issue, incident, task, test_case…); null for MRs
        "issue_type": OPT_STR,
        "author": OPT_STR,
        "labels": arr(STR),
        "updated_at": OPT_STR,
        "score": NUM,
        "snippet": STR,
        "highlights": arr({"type": "array", "items": INT, "minItems": 2, "maxItems": 2}),
        "matched": obj(
            {
                "by": {**arr(enum("lexical", "semantic")), "minItems": 1},
                "lexical_rank": OPT_INT,
                "lexical_score": OPT_NUM,
                "semantic_rank": OPT_INT,
                "semantic_score": OPT_NUM,
            },
            extra=False,
        ),
    },
    extra=False,
)
SEARCH_SCHEMA = obj(
    {
        "query": STR,
        "mode": enum(*MODES),
        "requested_mode": enum("auto", *MODES),
        "fts_query": OPT_STR,
        "model": OPT_STR,
        "filters": obj(
            {
                "type": nullable(enum("issue", "mr")),
                # issue types asked for (--type incident…: kind issue); [] = every type
                "issue_types": arr(STR),
                "projects": arr(STR),
                "state": OPT_STR,
                "labels": arr(STR),
                "author": OPT_STR,
                "assignee": OPT_STR,
                "reviewer": OPT_STR,
                "since": OPT_STR,
                "status": OPT_STR,
                "status_category": OPT_STR,
            },
            extra=False,
        ),
        "limit": INT,
        "count": INT,
        "hits": arr(HIT_SCHEMA),
        "warnings": arr(STR),
    },
    extra=False,
)


_READ_CODES = [c for c in DB_CODES if c is not ErrorCode.MIGRATION_FAILED]


class _StateChoice(click.Choice):
    """Accepts what gh users type (``open``) for GitLab's ``opened``."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str):
            value = _STATE_ALIASES.get(value.lower(), value.lower())
        return super().convert(value, param, ctx)


@robot(
    SEARCH_SCHEMA,
    exit_codes=[ErrorCode.CONFIG_INVALID, *_READ_CODES, ErrorCode.NOT_FOUND, ErrorCode.AMBIGUOUS,
                ErrorCode.EMBEDDING_UNAVAILABLE],
    examples=[
        'lore search "login timeout"',
        'lore --robot search "token refresh" --type mr --state merged --limit 5',
        'lore search "database down" --type incident',
        'lore search "flaky test" --mode lexical --label bug --since 30d',
        'lore search "how do we rotate keys" --mode semantic --project group/repo',
        'lore search "login" --status-category "in progress"',
    ],
)
@click.command("search")
@click.argument("query", nargs=-1)
@click.option("--mode", type=click.Choice(MODES), default=None,
              help="lexical (FTS5), semantic (vectors) or hybrid (both, fused). "
              "Default: hybrid when embeddings exist, else lexical.")
@click.option("--type", "types", multiple=True, metavar="TYPE",
              help="Only issues (issue) or only merge requests (mr); or only issues of GitLab "
              "issue types (incident, task, test_case...; next to those, issue is the plain "
              "issue type). Repeat or comma-separate.")
@click.option("--project", "projects", multiple=True, metavar="PATH",
              help="Only this project (repeatable; a full path or its last part).")
@click.option("--state", type=_StateChoice(STATES), default=None,
              help="Only items in this state (default: any).")
@click.option("--label", "labels", multiple=True, metavar="LABEL",
              help="Only items with this label (repeatable; all must match).")
@click.option("--author", default=None, metavar="USER", help="Only items authored by USER.")
@click.option("--assignee", default=None, metavar="USER", help="Only items assigned to USER.")
@click.option("--reviewer", default=None, metavar="USER",
              help="Only merge requests with USER as a reviewer.")
@click.option("--since", default=None, metavar="WHEN",
              help="Only items updated since an ISO date or an age (30d, 2w, 6m, 1y).")
@click.option("--status", default=None, metavar="NAME",
              help="Only issues with this work-item status (case-insensitive).")
@click.option("--status-category", default=None, metavar="CATEGORY",
              help="Only issues whose status is in this category (to do, in progress, done…).")
@click.option("--limit", "-n", type=click.IntRange(1, 1000), default=20, show_default=True,
              help="Return at most N hits.")
@click.pass_obj
def search_cmd(app: AppContext, query: tuple[str, ...], mode: str | None, types: tuple[str, ...],
               projects: tuple[str, ...], state: str | None, labels: tuple[str, ...],
               author: str | None, assignee: str | None, reviewer: str | None,
               since: str | None, status: str | None,
               status_category: str | None, limit: int) -> int:
    """Search issues and merge requests: full-text, semantic, or both."""
    from lore.query.filters import normalize_username
    from lore.search.engine import search
    from lore.search.filters import SearchFilters, normalize_state, parse_types
    from lore.search.query import require_query

    text = require_query(" ".join(query))
    embedding = _embedding_config(app)
    since_iso = None
    if since:
        from lore.core.clock import default_clock
        from lore.query.filters import parse_since

        since_iso = parse_since(since, default_clock().now_ms())
    kind, issue_types = parse_types(types)
    filters = SearchFilters(kind=kind, issue_types=issue_types, projects=list(projects),
                            state=normalize_state(state),
                            labels=list(labels), author=normalize_username(author),
                            assignee=normalize_username(assignee),
                            reviewer=normalize_username(reviewer),
                            since=since_iso, status=_nonblank(status, "--status"),
                            status_category=_nonblank(status_category, "--status-category"))
    conn = _open_store(app)
    if conn is None:
        from lore.search.engine import SearchResult

        result = SearchResult(query=text, mode=mode or "lexical", requested_mode=mode or "auto",
                              fts_query=None, model=None, filters=filters.to_dict(), limit=limit,
                              warnings=["nothing is synced yet: run `lore sync` to mirror your projects"])
    else:
        try:
            result = search(conn, text, embedding=embedding, mode=mode, filters=filters,
                            limit=limit, vector_cache_dir=app.data_dir() / "cache")
        finally:
            conn.close()
    return app.emit(result.to_dict(), _render)


def _nonblank(value: str | None, flag: str) -> str | None:
    if value is None:
        return None
    if not value.strip():
        from lore.core.errors import LoreError

        raise LoreError(ErrorCode.USAGE_ERROR, f"{flag} needs a value", suggestion=f"{flag} \"In progress\"")
    return value.strip()


def _embedding_config(app: AppContext) -> EmbeddingConfig:
    from lore.core.config import EmbeddingConfig
    from lore.core.errors import LoreError

    try:
        return app.config().embedding
    except LoreError as err:
        # Searching needs no GitLab: without a config file the built-in defaults apply.
        if err.code is not ErrorCode.CONFIG_NOT_FOUND:
            raise
        return EmbeddingConfig()


def _open_store(app: AppContext) -> Any:
    """The mirror for reading, or None when nothing is synced yet (never created here)."""
    from lore.core.paths import db_path
    from lore.query.store import open_for_reading

    return open_for_reading(db_path(app.data_dir()))


# -- human rendering -----------------------------------------------------------------------


def _render(data: dict[str, Any], console: Console) -> None:
    from rich.markup import escape
    from rich.text import Text

    from lore.cli.output import stderr_console

    for warning in data["warnings"]:
        stderr_console().print(f"[yellow]warning:[/yellow] {escape(warning)}")
    hits = data["hits"]
    summary = f"{data['count']} hit{'s' if data['count'] != 1 else ''} · {data['mode']}"
    if data.get("model"):
        summary += f" ({data['model']})"
    if not hits:
        console.print(Text(f"No matches for {data['query']!r} · {data['mode']}", style="dim"))
        return
    console.print(Text(f"Search {data['query']!r}: {summary}", style="bold"))
    width = len(str(len(hits)))
    for number, hit in enumerate(hits, start=1):
        console.print()
        line = Text(f"{number:>{width}}. ", style="dim")
        line.append(hit["ref"], style="bold cyan")
        line.append("  ")
        from lore.cli.render import issue_type_marker

        marker = issue_type_marker(hit.get("issue_type"))
        if marker is not None:
            line.append(*marker)
        line.append(hit["title"], style="bold")
        console.print(line)
        indent = " " * (width + 2)
        meta = Text(indent)
        state = hit["state"] or "?"
        meta.append(state, style={"opened": "green", "merged": "magenta", "closed": "red"}.get(state, ""))
        if hit.get("status"):
            from lore.cli.render import status_text

            meta.append(" · ")
            meta.append(status_text(hit["status"]))
        if hit["author"]:
            meta.append(f" · @{hit['author']}")
        if hit["updated_at"]:
            meta.append(f" · updated {hit['updated_at'][:10]}")
        if hit["labels"]:
            meta.append(" · " + ", ".join(hit["labels"]), style="blue")
        meta.append(f" · {_why(hit)}", style="dim")
        console.print(meta)
        if hit["snippet"]:
            snippet = Text(indent + hit["snippet"])
            for start, end in hit["highlights"]:
                snippet.stylize("bold yellow", len(indent) + start, len(indent) + end)
            console.print(snippet)


def _why(hit: dict[str, Any]) -> str:
    matched = hit["matched"]
    parts = []
    if matched["lexical_rank"] is not None:
        parts.append(f"lexical #{matched['lexical_rank']}")
    if matched["semantic_rank"] is not None:
        parts.append(f"semantic #{matched['semantic_rank']} ({matched['semantic_score']:.2f})")
    return " + ".join(parts) + f" · score {hit['score']:.4g}"
