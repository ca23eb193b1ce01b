"""What `lore search` does, without click: the command's body (:func:`run`), its human
rendering, and :func:`parse_argv`, a strict parser for the common command lines.

Why: importing click and building the command tree costs ~20-30 ms, a third of a whole
`lore --robot search` process. ``lore.cli.app.main`` hands a line that starts with
``search`` to :func:`parse_argv` first; when every word is one it understands exactly as
click would (see its doc), :func:`run` runs at once; anything else (``--help``, an unknown
or malformed option, a value that looks like an option, a bad choice or number) goes
through click as before, so every error and message is click's. The options are declared
once, in ``lore.cli.commands.search`` (click); a test checks that both parsers agree.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from lore.core.errors import ErrorCode
from lore.query.filters import STATE_ALIASES  # the one map of state aliases

if TYPE_CHECKING:
    from rich.console import Console

    from lore.cli.output import AppContext
    from lore.core.config import EmbeddingConfig

MODES = ("lexical", "semantic", "hybrid")
STATES = ("opened", "closed", "merged", "locked", "all")
LIMIT_RANGE = (1, 1000)

#: option → (parameter name, repeatable); every option of `lore search` but --help.
OPTIONS: dict[str, tuple[str, bool]] = {
    "--mode": ("mode", False),
    "--type": ("types", True),
    "--project": ("projects", True),
    "--state": ("state", False),
    "--label": ("labels", True),
    "--author": ("author", False),
    "--assignee": ("assignee", False),
    "--reviewer": ("reviewer", False),
    "--since": ("since", False),
    "--status": ("status", False),
    "--status-category": ("status_category", False),
    "--limit": ("limit", False),
    "-n": ("limit", False),
}
_DIGITS = re.compile(r"[0-9]{1,7}")


def parse_argv(args: list[str]) -> dict[str, Any] | None:
    """Keyword arguments for :func:`run` from the words after ``search``, or None when the
    line needs click. Understood: positional words (also after ``--``), ``--opt value``,
    ``--opt=value`` and ``-n value``, values that do not start with ``-``, choices and
    numbers that click would accept unchanged. Like click, a repeated single option keeps
    its last value and options may come between words."""
    values: dict[str, Any] = {
        "query": [],
        "mode": None,
        "types": [],
        "projects": [],
        "state": None,
        "labels": [],
        "author": None,
        "assignee": None,
        "reviewer": None,
        "since": None,
        "status": None,
        "status_category": None,
        "limit": 20,
    }
    i = 0
    while i < len(args):
        word = args[i]
        i += 1
        if word == "--":
            values["query"].extend(args[i:])
            break
        if not word.startswith("-") or word == "-":
            values["query"].append(word)
            continue
        name, sep, value = word.partition("=") if word.startswith("--") else (word, "", "")
        if name not in OPTIONS:
            return None
        if not sep:
            if i >= len(args) or args[i].startswith("-"):
                return None
            value = args[i]
            i += 1
        key, repeatable = OPTIONS[name]
        if key == "mode" and value not in MODES:
            return None
        if key == "state":
            value = STATE_ALIASES.get(value.lower(), value.lower())
            if value not in STATES:
                return None
        if key == "limit":
            if not _DIGITS.fullmatch(value) or not LIMIT_RANGE[0] <= int(value) <= LIMIT_RANGE[1]:
                return None
            values[key] = int(value)
        elif repeatable:
            values[key].append(value)
        else:
            values[key] = value
    return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}


def run(
    app: AppContext,
    query: tuple[str, ...],
    mode: str | None,
    types: tuple[str, ...],
    projects: tuple[str, ...],
    state: str | None,
    labels: tuple[str, ...],
    author: str | None,
    assignee: str | None,
    reviewer: str | None,
    since: str | None,
    status: str | None,
    status_category: str | None,
    limit: int,
) -> int:
    """Search issues and merge requests and emit the result (the body of `lore search`)."""
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
    filters = SearchFilters(
        kind=kind,
        issue_types=issue_types,
        projects=list(projects),
        state=normalize_state(state),
        labels=list(labels),
        author=normalize_username(author),
        assignee=normalize_username(assignee),
        reviewer=normalize_username(reviewer),
        since=since_iso,
        status=_nonblank(status, "--status"),
        status_category=_nonblank(status_category, "--status-category"),
    )
    conn = _open_store(app)
    if conn is None:
        from lore.search.engine import SearchResult

        result = SearchResult(
            query=text,
            mode=mode or "lexical",
            requested_mode=mode or "auto",
            fts_query=None,
            model=None,
            filters=filters.to_dict(),
            limit=limit,
            warnings=["nothing is synced yet: run `lore sync` to mirror your projects"],
        )
    else:
        try:
            result = search(
                conn,
                text,
                embedding=embedding,
                mode=mode,
                filters=filters,
                limit=limit,
                vector_cache_dir=app.data_dir() / "cache",
            )
        finally:
            conn.close()
    return app.emit(result.to_dict(), render)


def _nonblank(value: str | None, flag: str) -> str | None:
    if value is None:
        return None
    if not value.strip():
        from lore.core.errors import LoreError

        raise LoreError(
            ErrorCode.USAGE_ERROR, f"{flag} needs a value", suggestion=f'{flag} "In progress"'
        )
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


def render(data: dict[str, Any], console: Console) -> None:
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
        meta.append(
            state, style={"opened": "green", "merged": "magenta", "closed": "red"}.get(state, "")
        )
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
