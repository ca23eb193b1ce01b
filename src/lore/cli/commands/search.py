"""`lore search QUERY`: lexical, semantic or hybrid search over the mirrored issues and MRs."""

from __future__ import annotations

from typing import Any

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

# MODES is kept in step with lore.search.engine.MODES (a test checks). lore.search.command
# is light (no engine, no click) and also serves the fast path of lore.cli.app.
from lore.search.command import LIMIT_RANGE, MODES, STATES
from lore.search.command import STATE_ALIASES as _STATE_ALIASES

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
    exit_codes=[
        ErrorCode.CONFIG_INVALID,
        *_READ_CODES,
        ErrorCode.NOT_FOUND,
        ErrorCode.AMBIGUOUS,
        ErrorCode.EMBEDDING_UNAVAILABLE,
    ],
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
@click.option(
    "--mode",
    type=click.Choice(MODES),
    default=None,
    help="lexical (FTS5), semantic (vectors) or hybrid (both, fused). "
    "Default: hybrid when embeddings exist, else lexical.",
)
@click.option(
    "--type",
    "types",
    multiple=True,
    metavar="TYPE",
    help="Only issues (issue) or only merge requests (mr); or only issues of GitLab "
    "issue types (incident, task, test_case...; next to those, issue is the plain "
    "issue type). Repeat or comma-separate.",
)
@click.option(
    "--project",
    "projects",
    multiple=True,
    metavar="PATH",
    help="Only this project (repeatable; a full path or its last part).",
)
@click.option(
    "--state",
    type=_StateChoice(STATES),
    default=None,
    help="Only items in this state (default: any).",
)
@click.option(
    "--label",
    "labels",
    multiple=True,
    metavar="LABEL",
    help="Only items with this label (repeatable; all must match).",
)
@click.option("--author", default=None, metavar="USER", help="Only items authored by USER.")
@click.option("--assignee", default=None, metavar="USER", help="Only items assigned to USER.")
@click.option(
    "--reviewer", default=None, metavar="USER", help="Only merge requests with USER as a reviewer."
)
@click.option(
    "--since",
    default=None,
    metavar="WHEN",
    help="Only items updated since an ISO date or an age (30d, 2w, 6m, 1y).",
)
@click.option(
    "--status",
    default=None,
    metavar="NAME",
    help="Only issues with this work-item status (case-insensitive).",
)
@click.option(
    "--status-category",
    default=None,
    metavar="CATEGORY",
    help="Only issues whose status is in this category (to do, in progress, done…).",
)
@click.option(
    "--limit",
    "-n",
    type=click.IntRange(*LIMIT_RANGE),
    default=20,
    show_default=True,
    help="Return at most N hits.",
)
@click.pass_obj
def search_cmd(
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
    """Search issues and merge requests: full-text, semantic, or both."""
    from lore.search.command import run

    return run(
        app,
        query,
        mode,
        types,
        projects,
        state,
        labels,
        author,
        assignee,
        reviewer,
        since,
        status,
        status_category,
        limit,
    )
