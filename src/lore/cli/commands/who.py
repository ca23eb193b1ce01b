"""`lore who PATH` / `lore who @user`: time-decayed experts for a path, or a person's areas."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from lore.cli.meta import (
    BOOL,
    CONFIG_CODES,
    DB_CODES,
    INT,
    NUM,
    OPT_INT,
    OPT_STR,
    STR,
    arr,
    enum,
    obj,
    robot,
)
from lore.cli.output import AppContext
from lore.core.errors import ErrorCode, LoreError

if TYPE_CHECKING:
    import sqlite3

    from rich.console import Console

    from lore.who.params import WhoParams

_KINDS = ("authored_merged", "authored_unmerged", "reviewed", "approved", "discussed")
_KIND_LABELS = {
    "authored_merged": "merged",
    "authored_unmerged": "unmerged",
    "reviewed": "reviewed",
    "approved": "approved",
    "discussed": "discussed",
}

_BREAKDOWN = obj({k: obj({"score": NUM, "count": INT}) for k in _KINDS})
_EVIDENCE = obj(
    {
        "ref": STR,
        "title": STR,
        "state": STR,
        "date": STR,
        "kinds": arr(enum(*_KINDS)),
        "score": NUM,
        "web_url": OPT_STR,
    }
)
_SCORED = {
    "rank": INT,
    "score": NUM,
    "share": NUM,
    "last_activity_at": STR,
    "last_activity_age_days": INT,
    "stale": BOOL,
    "breakdown": _BREAKDOWN,
    "evidence": arr(_EVIDENCE),
}
_PARAMS = obj(
    {
        "curve": enum("exponential", "linear", "none"),
        "half_life_days": NUM,
        "window_days": NUM,
        "stale_days": NUM,
        "weights": obj({k: NUM for k in _KINDS}),
        "now": STR,
        "since": OPT_STR,
        "project": OPT_STR,
        "limit": INT,
        "exclude_bots": BOOL,
        "excluded_users": arr(STR),
        "hide_stale": BOOL,
        "depth": INT,
    }
)
_COMMON = {
    "params": _PARAMS,
    "hidden_stale": INT,
    "mrs_considered": INT,
    "total_score": NUM,
    "all_stale": BOOL,
    "last_activity_at": OPT_STR,
    "last_activity_age_days": OPT_INT,
    "note": OPT_STR,
}
PATH_SCHEMA = obj(
    {
        "mode": {"const": "path"},
        "query": obj(
            {
                "target": STR,
                "path": STR,
                "match": enum("file", "directory", "none"),
                "project": OPT_STR,
                "renamed_from": arr(STR),
            }
        ),
        "experts": arr(
            obj({"username": STR, "name": OPT_STR, "person_id": INT, "is_bot": BOOL, **_SCORED})
        ),
        "total_people": INT,
        "excluded_people": INT,
        **_COMMON,
    }
)
USER_SCHEMA = obj(
    {
        "mode": {"const": "user"},
        "query": obj(
            {
                "target": STR,
                "username": STR,
                "found": BOOL,
                "person_id": OPT_INT,
                "name": OPT_STR,
                "project": OPT_STR,
            }
        ),
        "areas": arr(obj({"project": STR, "path": STR, **_SCORED})),
        "total_areas": INT,
        **_COMMON,
    }
)
WHO_SCHEMA: dict[str, Any] = {"oneOf": [PATH_SCHEMA, USER_SCHEMA]}


@robot(
    WHO_SCHEMA,
    exit_codes=[*CONFIG_CODES, *DB_CODES, ErrorCode.NOT_FOUND],
    examples=[
        "lore who src/auth/",
        "lore --robot who src/auth/login.py --project group/repo",
        "lore who src/auth/ --curve linear --window 365 --weight reviewed=1",
        "lore who @alice",
        "lore who src/auth/ --exclude @me --exclude-bots",
    ],
)
@click.command("who")
@click.argument("target", metavar="PATH|@USER")
@click.option(
    "--curve",
    type=click.Choice(["exponential", "linear", "none"]),
    default=None,
    help="Decay curve (config who.curve; default exponential).",
)
@click.option(
    "--half-life",
    "half_life",
    type=float,
    default=None,
    metavar="DAYS",
    help="Half-life of the exponential curve (config who.halfLifeDays; default 180).",
)
@click.option(
    "--window",
    "window",
    type=float,
    default=None,
    metavar="DAYS",
    help="Days until the linear curve reaches zero (config who.windowDays; default 730).",
)
@click.option(
    "--stale-days",
    "stale_days",
    type=float,
    default=None,
    metavar="DAYS",
    help="Flag experts whose last contribution is older (config who.staleDays; default 365).",
)
@click.option(
    "--weight",
    "weights",
    multiple=True,
    metavar="KIND=VALUE",
    help="Override a weight (repeatable); KIND is authored_merged, authored_unmerged, "
    "reviewed, approved or discussed.",
)
@click.option(
    "--since",
    default=None,
    metavar="DATE",
    help="Only contributions since an ISO date or an age (30d, 6m, 1y).",
)
@click.option("--project", default=None, metavar="PATH", help="Only this project.")
@click.option(
    "--limit", type=int, default=None, metavar="N", help="Show at most N rows (default 10)."
)
@click.option(
    "--exclude-bots",
    is_flag=True,
    default=False,
    help="Leave out bots (GitLab's flag or who.botPatterns).",
)
@click.option(
    "--exclude",
    "exclude",
    multiple=True,
    metavar="@USER",
    help="Leave out this person (repeatable); @me is the token's owner.",
)
@click.option("--hide-stale", is_flag=True, default=False, help="Leave out stale experts.")
@click.option(
    "--depth",
    type=int,
    default=None,
    metavar="N",
    help="`who @user`: roll paths up to N directory levels (default 2).",
)
@click.option(
    "--now", default=None, hidden=True, help="Reference time (ISO) for reproducible output."
)
@click.pass_obj
def who_cmd(
    app: AppContext,
    target: str,
    curve: str | None,
    half_life: float | None,
    window: float | None,
    stale_days: float | None,
    weights: tuple[str, ...],
    since: str | None,
    project: str | None,
    limit: int | None,
    exclude_bots: bool,
    exclude: tuple[str, ...],
    hide_stale: bool,
    depth: int | None,
    now: str | None,
) -> int:
    """Who knows PATH now (time-decayed), or which paths @USER knows.

    PATH is a file or a directory prefix (a trailing slash forces a directory; write
    ./@scope/ for a path that starts with @). Renames are followed.
    """
    from lore.who import who
    from lore.who.params import apply_overrides

    params = apply_overrides(
        _base_params(app),
        curve=curve,
        half_life_days=half_life,
        window_days=window,
        stale_days=stale_days,
        weights=weights,
        since=since,
        project=project,
        limit=limit,
        exclude_bots=exclude_bots or None,
        exclude=exclude,
        hide_stale=hide_stale or None,
        depth=depth,
        now=now,
    )
    if target.strip() in ("", "@"):
        raise LoreError(
            ErrorCode.USAGE_ERROR,
            f"PATH|@USER must name a path or a user, got {target!r}",
            suggestion="e.g. lore who src/auth/ or lore who @alice",
        )
    conn = _open_store(app)
    try:
        target, params = _resolve_me(conn, target, params)
        data = who(conn, target, params)
    finally:
        if conn is not None:
            conn.close()
    return app.emit(data, _render)


def _resolve_me(
    conn: sqlite3.Connection | None, target: str, params: WhoParams
) -> tuple[str, WhoParams]:
    """``@me`` (as the target or in --exclude) is the token's owner, as recorded by sync."""
    is_me = target.strip().lower() == "@me"
    excluded = [u for u in params.excluded_users if u.lower() == "me"]
    if not (is_me or excluded):
        return target, params
    from dataclasses import replace

    from lore.query.store import current_username

    me = current_username(conn)
    users = tuple(dict.fromkeys(me if u.lower() == "me" else u for u in params.excluded_users))
    return (f"@{me}" if is_me else target), replace(params, excluded_users=users)


def _base_params(app: AppContext) -> WhoParams:
    from lore.core.clock import default_clock
    from lore.core.config import WhoConfig
    from lore.who.params import params_from_config

    try:
        who_config = app.config().who
    except LoreError as err:
        # Scoring needs no GitLab: without a config file the built-in defaults apply.
        if err.code is not ErrorCode.CONFIG_NOT_FOUND:
            raise
        who_config = WhoConfig()
    return params_from_config(who_config, default_clock().now_ms())


def _open_store(app: AppContext) -> sqlite3.Connection | None:
    """The mirror, or None when nothing is synced yet. Reading neither creates the file nor
    migrates it (``lore sync`` does both); scoring works without migration 3's indexes."""
    from lore.core.paths import db_path
    from lore.store.db import connect

    path = db_path(app.data_dir())
    if not path.is_file():
        return None
    conn = connect(path, migrate=False)
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'mr_paths'").fetchone() is None:
        conn.close()
        return None
    return conn


# -- human rendering -----------------------------------------------------------------------


def _fmt_score(value: float) -> str:
    return f"{value:.2f}" if value < 100 else f"{value:.0f}"


def _breakdown(row: dict[str, Any]) -> str:
    parts = [f"{_KIND_LABELS[k]} {v['count']}" for k, v in row["breakdown"].items() if v["count"]]
    return "\n".join(parts)  # one per line: the column stays narrow


def _short_ref(ref: str) -> str:
    """``group/sub/repo!34`` → ``repo!34``: the table has no room for full paths (robot
    output and `lore show` keep them)."""
    for sigil in ("!", "#"):
        path, sep, iid = ref.rpartition(sigil)
        if sep and iid.isdigit():
            return f"{path.rsplit('/', 1)[-1]}{sigil}{iid}"
    return ref


def _evidence(row: dict[str, Any], width: int) -> str:
    """One line per MR, cut with an ellipsis at ``width`` rather than wrapped."""
    lines = [f"{_short_ref(e['ref'])} {e['date'][:10]} {e['title']}" for e in row["evidence"]]
    return "\n".join(line if len(line) <= width else line[: width - 1] + "…" for line in lines)


def _render_blocks(
    console: Console, title: str, rows: list[dict[str, Any]], cells: list[list[str]]
) -> None:
    from rich.markup import escape
    from rich.text import Text

    console.print(Text(title, style="bold"))
    room = max(20, console.width - 5)
    for row, cell in zip(rows, cells, strict=True):
        name, *sub = cell[1].split("\n")
        head = Text(f"{cell[0]:>3}. ")
        head.append(name, style="bold cyan")
        if sub:
            head.append(f" ({sub[0]})", style="dim")
        head.append(f"  {cell[2]} · {cell[3]} · last {cell[4].replace(chr(10), ' ')}")
        console.print(head)
        console.print(
            f"     {escape(cell[5].replace(chr(10), ' · '))}", style="dim", highlight=False
        )
        for line in _evidence(row, room).split("\n"):
            if line:
                console.print(f"     {escape(line)}", highlight=False)


def _render(data: dict[str, Any], console: Console) -> None:
    from rich.markup import escape
    from rich.table import Table

    params = data["params"]
    user_mode = data["mode"] == "user"
    rows = data["areas"] if user_mode else data["experts"]
    q = data["query"]
    title = f"@{q['username']}'s areas" if user_mode else f"who knows {q['path']}"
    if rows:
        table = Table(title=escape(title), title_justify="left", show_edge=False, show_lines=True)
        cells: list[list[str]] = []
        for row in rows:
            if user_mode:
                who_cell = f"{row['path']}\n{row['project']}"
            else:
                who_cell = f"@{row['username']}" + (f"\n{row['name']}" if row["name"] else "")
            last = f"{row['last_activity_at'][:10]}\n{row['last_activity_age_days']}d ago"
            if row["stale"]:
                last += " stale"
            cells.append(
                [
                    str(row["rank"]),
                    who_cell,
                    _fmt_score(row["score"]),
                    f"{row['share'] * 100:.0f}%",
                    last,
                    _breakdown(row),
                ]
            )
        headers = [
            "#",
            "area" if user_mode else "person",
            "score",
            "share",
            "last active",
            "contributions",
        ]
        # Every column but the evidence keeps its width; each evidence line (one MR) is cut
        # to what is left, so nothing wraps into a tall, unreadable row.
        widths = [
            max(len(line) for cell in [h, *(c[i] for c in cells)] for line in cell.split("\n"))
            for i, h in enumerate(headers)
        ]
        room = console.width - sum(widths) - 3 * len(widths) - 1
        if room < 36:  # a narrow terminal: one block per row instead of a cramped table
            _render_blocks(console, title, rows, cells)
        else:
            for i, header in enumerate(headers):
                table.add_column(
                    header, justify="right" if i in (0, 2, 3) else "left", no_wrap=True
                )
            table.add_column("evidence")
            for row, cell in zip(rows, cells, strict=True):
                lines = cell[1].split("\n")
                who_cell = escape(lines[0]) + "".join(
                    f"\n[dim]{escape(x)}[/dim]" for x in lines[1:]
                )
                last = escape(cell[4]).replace(" stale", " [yellow]stale[/yellow]")
                table.add_row(
                    cell[0],
                    who_cell,
                    cell[2],
                    cell[3],
                    last,
                    escape(cell[5]),
                    escape(_evidence(row, room)),
                )
            console.print(table)
    elif not data["note"]:
        console.print(f"{escape(title)}: nobody")
    if data["note"]:
        console.print(f"[yellow]note:[/yellow] {escape(data['note'])}")
    curve = params["curve"]
    curve_text = {
        "exponential": f"exponential, half-life {params['half_life_days']:g}d",
        "linear": f"linear over {params['window_days']:g}d",
        "none": "no decay",
    }[curve]
    extra = ""
    if not user_mode and q["renamed_from"]:
        extra = f" · also as {', '.join(q['renamed_from'][:3])}"
    console.print(
        f"[dim]{curve_text} · stale after {params['stale_days']:g}d · "
        f"{data['mrs_considered']} MR{'' if data['mrs_considered'] == 1 else 's'} considered"
        f"{escape(extra)}[/dim]"
    )
