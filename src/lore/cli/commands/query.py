"""`lore issues`, `lore mrs` and `lore show`: thin commands over :mod:`lore.query`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from lore.cli.meta import (
    BOOL,
    DB_CODES,
    INT,
    OPT_INT,
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
from lore.query.filters import (
    DEFAULT_LIMIT,
    ISSUE_TYPES,
    SINCE_HELP,
    SORTS,
    STATE_ALIASES,
    STATES,
)

if TYPE_CHECKING:
    import sqlite3

    from rich.console import Console
    from rich.text import Text

    from lore.cli.render import Column

# -- robot schemas -----------------------------------------------------------------------

STATUS_SCHEMA = nullable(obj({"name": STR, "category": OPT_STR, "color": OPT_STR}))
_SUMMARY_COMMON: dict[str, Any] = {
    "ref": STR,
    "id": INT,
    "project": STR,
    "iid": INT,
    "title": STR,
    "author": OPT_STR,
    "assignees": arr(STR),
    "labels": arr(STR),
    "milestone": OPT_STR,
    "created_at": STR,
    "updated_at": STR,
    "closed_at": OPT_STR,
    "web_url": OPT_STR,
    "user_notes_count": INT,
}
_ISSUE_FIELDS: dict[str, Any] = {
    **_SUMMARY_COMMON,
    "kind": {"const": "issue"},
    "state": enum(*STATES["issue"][:-1]),
    "status": STATUS_SCHEMA,
    "confidential": BOOL,
    "due_date": OPT_STR,
    # GitLab's issue type: issue, incident, task, test_case (requirement, objective,
    # key_result on some instances; anything else is kept as GitLab sent it).
    "issue_type": STR,
    "moved_to_id": OPT_INT,  # global id of the issue this one was moved to
}
_MR_FIELDS: dict[str, Any] = {
    **_SUMMARY_COMMON,
    "kind": {"const": "mr"},
    "state": enum(*STATES["mr"][:-1]),
    "draft": BOOL,
    "merged_at": OPT_STR,
    "merged_by": OPT_STR,
    "source_branch": OPT_STR,
    "target_branch": OPT_STR,
    "reviewers": arr(STR),
}
ISSUE_SUMMARY = obj(_ISSUE_FIELDS)
MR_SUMMARY = obj(_MR_FIELDS)

_COMMON_FILTERS: dict[str, Any] = {
    "labels": arr(STR),
    "author": OPT_STR,
    "assignee": OPT_STR,
    "milestone": OPT_STR,
    "since": OPT_STR,
    "projects": arr(STR),
    "search": OPT_STR,
    "sort": enum(*SORTS),
    "order": enum("asc", "desc"),
    "limit": INT,
}


def _list_schema(kind: str) -> dict[str, Any]:
    if kind == "issue":
        filters = obj(
            {
                "state": enum(*STATES["issue"]),
                **_COMMON_FILTERS,
                "status": OPT_STR,
                "status_category": OPT_STR,
                "types": arr(STR),
                "all_types": BOOL,
                "hidden_types": arr(STR),
            }
        )
        item = ISSUE_SUMMARY
    else:
        filters = obj(
            {
                "state": enum(*STATES["mr"]),
                **_COMMON_FILTERS,
                "reviewer": OPT_STR,
                "draft": nullable(BOOL),
            }
        )
        item = MR_SUMMARY
    fields: dict[str, Any] = {
        "kind": {"const": kind},
        "items": arr(item),
        "total": INT,
        "count": INT,
        "filters": filters,
        "hints": arr(STR),
    }
    if kind == "issue":
        # Issues matching every other filter that the default type filter left out, by type.
        fields["hidden_by_type"] = {"type": "object", "additionalProperties": INT}
    return obj(fields)


LINE_ANCHOR_SCHEMA = obj(
    {"line_code": OPT_STR, "type": OPT_STR, "old_line": OPT_INT, "new_line": OPT_INT}
)
POSITION_SCHEMA = nullable(
    obj(
        {
            "old_path": OPT_STR,
            "new_path": OPT_STR,
            "old_line": OPT_INT,
            "new_line": OPT_INT,
            # multi-line diff notes: the first and last line commented on (None: one line)
            "line_range": nullable(obj({"start": LINE_ANCHOR_SCHEMA, "end": LINE_ANCHOR_SCHEMA})),
        }
    )
)
NOTE_SCHEMA = obj(
    {
        "id": INT,
        "author": OPT_STR,
        "body": STR,
        "system": BOOL,
        "type": OPT_STR,
        "created_at": STR,
        "updated_at": STR,
        "resolvable": BOOL,
        "resolved": BOOL,
        "internal": BOOL,  # GitLab internal note (visible to project members only)
        "position": POSITION_SCHEMA,
    }
)
DISCUSSION_SCHEMA = obj(
    {
        "id": STR,
        "individual_note": BOOL,
        "resolvable": BOOL,
        "resolved": BOOL,
        "position": POSITION_SCHEMA,
        "notes": arr(NOTE_SCHEMA),
    }
)
_SHOW_EXTRA: dict[str, Any] = {
    "description": OPT_STR,
    "discussions": arr(DISCUSSION_SCHEMA),
    "counts": obj(
        {
            "discussions": INT,
            "notes": INT,
            "system_notes": INT,
            "system_notes_hidden": INT,
            "internal_notes": INT,
            "unresolved_threads": INT,
        }
    ),
}
CHANGE_SCHEMA = obj(
    {
        "new_path": STR,
        "old_path": STR,
        "new_file": BOOL,
        "renamed_file": BOOL,
        "deleted_file": BOOL,
        # diff: in the MR's diff list; diff_note: only known because a diff note points at it
        # (a file dropped by a later push, or beyond a truncated diff list)
        "source": enum("diff", "diff_note"),
    }
)
MOVED_TO_SCHEMA = nullable(obj({"id": INT, "ref": OPT_STR, "web_url": OPT_STR, "mirrored": BOOL}))
SHOW_SCHEMA: dict[str, Any] = {
    "type": "object",
    "oneOf": [
        obj({**_ISSUE_FIELDS, **_SHOW_EXTRA, "moved_to": MOVED_TO_SCHEMA}),
        obj(
            {
                **_MR_FIELDS,
                **_SHOW_EXTRA,
                "changes": arr(CHANGE_SCHEMA),
                # GitLab cut the diff list at its limits: `changes` is incomplete
                "diffs_overflow": BOOL,
                "changes_count": OPT_STR,
            }
        ),
    ],
}

_READ_CODES = [c for c in DB_CODES if c is not ErrorCode.MIGRATION_FAILED]


# -- shared plumbing ---------------------------------------------------------------------


@contextmanager
def _store(app: AppContext) -> Iterator[sqlite3.Connection | None]:
    """The mirror for reading, or None when nothing is synced yet (never created here)."""
    from lore.core.paths import db_path
    from lore.query.store import open_for_reading

    conn = open_for_reading(db_path(app.data_dir()))
    try:
        yield conn
    finally:
        if conn is not None:
            conn.close()


class StateChoice(click.Choice):
    """A Choice that also accepts what gh users type (``open``) for GitLab's ``opened``."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str):
            value = STATE_ALIASES.get(value.lower(), value.lower())
        return super().convert(value, param, ctx)


def _list_options(kind: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The filter/sort/limit options shared by `lore issues` and `lore mrs`."""
    noun = "issues" if kind == "issue" else "merge requests"

    def deco(func: Callable[..., Any]) -> Callable[..., Any]:
        options: list[Callable[[Callable[..., Any]], Callable[..., Any]]] = [
            click.option(
                "--state",
                "-s",
                type=StateChoice(list(STATES[kind])),
                default="opened",
                show_default=True,
                help=f"Which {noun}, by state ('open' works too; open ones by default, like gh).",
            ),
            click.option(
                "--label",
                "-l",
                "labels",
                multiple=True,
                metavar="LABEL",
                help="Only items with this label; repeat (or comma-separate) to require all.",
            ),
            click.option("--author", "-a", metavar="USER", help="Only items by this username."),
            click.option(
                "--assignee", metavar="USER", help="Only items assigned to this username."
            ),
        ]
        if kind == "mr":
            options += [
                click.option(
                    "--reviewer",
                    "-r",
                    metavar="USER",
                    help="Only merge requests this username reviews.",
                ),
                click.option(
                    "--draft/--ready",
                    "draft",
                    default=None,
                    help="Only drafts, or only merge requests ready for review.",
                ),
            ]
        options += [
            click.option(
                "--milestone", "-m", metavar="TITLE", help="Only items in this milestone."
            ),
            click.option(
                "--since", metavar="WHEN", help=f"Only items updated since WHEN: {SINCE_HELP}."
            ),
        ]
        if kind == "issue":
            options += [
                click.option(
                    "--type",
                    "-t",
                    "types",
                    multiple=True,
                    metavar="TYPE",
                    help=f"Only issues of this GitLab type ({', '.join(ISSUE_TYPES[:4])}, "
                    "...); repeat or comma-separate for several. Tasks are hidden "
                    "unless asked for, as in GitLab's issue list.",
                ),
                click.option(
                    "--all-types",
                    is_flag=True,
                    default=False,
                    help="Every issue type, tasks included.",
                ),
                click.option(
                    "--status",
                    metavar="NAME",
                    help="Only issues with this work-item status (e.g. 'In progress').",
                ),
                click.option(
                    "--status-category",
                    metavar="CAT",
                    help="Only issues whose status is in this category "
                    "(triage, to_do, in_progress, done, canceled).",
                ),
            ]
        options += [
            click.option(
                "--project",
                "-p",
                "projects",
                multiple=True,
                metavar="PATH",
                help="Only this project (path or its last segment); repeatable.",
            ),
            click.option(
                "--search",
                "-S",
                metavar="TEXT",
                help="Only items whose title contains TEXT (case-insensitive).",
            ),
            click.option(
                "--sort",
                type=click.Choice(list(SORTS)),
                default="updated",
                show_default=True,
                help="Sort by last update, creation or number.",
            ),
            click.option(
                "--asc/--desc", "ascending", default=False, help="Sort order  [default: desc]"
            ),
            click.option(
                "--limit",
                "-L",
                type=click.IntRange(min=1),
                default=DEFAULT_LIMIT,
                show_default=True,
                help="At most this many items.",
            ),
        ]
        for option in reversed(options):
            func = option(func)
        return func

    return deco


def _run_list(app: AppContext, kind: str, params: dict[str, Any]) -> int:
    from lore.core.clock import default_clock
    from lore.query.filters import ItemFilters, parse_since, split_labels
    from lore.query.items import list_items

    since = params.get("since")
    filters = ItemFilters(
        state=params["state"],
        labels=split_labels(params["labels"]),
        author=params.get("author"),
        assignee=params.get("assignee"),
        reviewer=params.get("reviewer"),
        milestone=params.get("milestone"),
        since=parse_since(since, default_clock().now_ms()) if since else None,
        status=params.get("status"),
        status_category=params.get("status_category"),
        draft=params.get("draft"),
        projects=list(params["projects"]),
        search=params.get("search"),
        types=list(params.get("types") or ()),
        all_types=bool(params.get("all_types")),
        sort=params["sort"],
        ascending=params["ascending"],
        limit=params["limit"],
    )
    with _store(app) as conn:
        data = list_items(conn, kind, filters)
    return app.emit(data, _render_list)


# -- lore issues / lore mrs --------------------------------------------------------------


@robot(
    _list_schema("issue"),
    exit_codes=[ErrorCode.NOT_FOUND, ErrorCode.AMBIGUOUS, *_READ_CODES],
    examples=[
        "lore issues",
        "lore issues --label bug --label backend --since 2w",
        "lore issues --status 'In progress' --assignee alice",
        "lore issues --type incident,test_case",
        "lore issues --all-types --state all",
        "lore --robot issues --state all --project group/repo --limit 200",
    ],
)
@click.command("issues")
@_list_options("issue")
@click.pass_obj
def issues_cmd(app: AppContext, **params: Any) -> int:
    """List mirrored issues (open ones, most recently updated first)."""
    return _run_list(app, "issue", params)


@robot(
    _list_schema("mr"),
    exit_codes=[ErrorCode.NOT_FOUND, ErrorCode.AMBIGUOUS, *_READ_CODES],
    examples=[
        "lore mrs",
        "lore mrs --state merged --since 1m --author alice",
        "lore mrs --reviewer bob --draft",
        "lore --robot mrs --state all --sort created --asc",
    ],
)
@click.command("mrs")
@_list_options("mr")
@click.pass_obj
def mrs_cmd(app: AppContext, **params: Any) -> int:
    """List mirrored merge requests (open ones, most recently updated first)."""
    return _run_list(app, "mr", params)


# -- lore show ---------------------------------------------------------------------------


@robot(
    SHOW_SCHEMA,
    exit_codes=[ErrorCode.NOT_FOUND, ErrorCode.AMBIGUOUS, *_READ_CODES],
    examples=[
        "lore show '#12'",
        "lore show group/repo!34",
        "lore show https://gitlab.example.com/group/repo/-/issues/12",
        "lore --robot show '!34' --no-system",
    ],
)
@click.command("show")
@click.argument("ref", metavar="REF")
@click.option(
    "--system/--no-system",
    "include_system",
    default=True,
    show_default=True,
    help="Include system notes (label changes, mentions, pushes).",
)
@click.pass_obj
def show_cmd(app: AppContext, ref: str, include_system: bool) -> int:
    """Show one issue or merge request with its discussions.

    REF is #12 (issue), !34 (merge request), group/repo#12, or a GitLab web URL.
    """
    from lore.query.items import get_item

    with _store(app) as conn:
        data = get_item(conn, ref, include_system=include_system)
    return app.emit(data, _render_item)


# -- human rendering ---------------------------------------------------------------------


def _scope_words(kind: str, state: str) -> str:
    noun = "issues" if kind == "issue" else "merge requests"
    if state == "all":
        return noun
    return f"{'open' if state == 'opened' else state} {noun}"


#: Per column: (max width, droppable rank: the lowest rank goes first on a narrow terminal).
_LIST_COLUMNS: dict[str, tuple[int | None, int | None]] = {
    "Ref": (None, None),
    "Title": (None, None),
    "State": (None, None),
    "Status": (18, 4),
    "Author": (16, 3),
    "Assignees": (20, 1),
    "Reviewers": (20, 1),
    "Labels": (26, 2),
    "Updated": (None, None),
}
_TITLE_MIN = 30


def _fit_columns(cells: dict[str, list[Any]], width: int) -> list[Column]:
    """The list's columns for a terminal ``width``: optional columns are dropped (least
    useful first) until the title keeps a readable width, instead of squeezing them all."""
    from rich.cells import cell_len

    from lore.cli.render import Column

    def natural(name: str) -> int:
        longest = max(
            (c.cell_len if hasattr(c, "cell_len") else cell_len(str(c))) for c in cells[name]
        )
        cap = _LIST_COLUMNS[name][0]
        wanted = max(cell_len(name), longest)
        return min(wanted, cap) if cap else wanted

    names = list(cells)
    droppable = sorted(
        (n for n in names if _LIST_COLUMNS[n][1] is not None),
        key=lambda n: _LIST_COLUMNS[n][1] or 0,
    )
    title_need = min(natural("Title"), _TITLE_MIN)
    while True:
        others = sum(natural(n) for n in names if n != "Title")
        padding = 3 * (len(names) - 1)  # padding either side plus the invisible rule
        if others + padding + title_need <= width or not droppable:
            break
        names.remove(droppable.pop(0))
    return [
        Column(
            name,
            style="cyan" if name == "Ref" else None,
            no_wrap=name != "Title",
            max_width=_LIST_COLUMNS[name][0],
            justify="right" if name == "Updated" else "left",
        )
        for name in names
    ]


def _render_list(data: dict[str, Any], console: Console) -> None:
    from rich.text import Text

    from lore.cli.render import (
        issue_type_marker,
        label_chips,
        make_table,
        people,
        person,
        print_hints,
        relative_time,
        state_text,
        status_text,
    )

    kind: str = data["kind"]
    items: list[dict[str, Any]] = data["items"]
    filters: dict[str, Any] = data["filters"]
    words = _scope_words(kind, filters["state"])
    if kind == "issue" and filters.get("types"):
        words = words.replace("issues", "issues of type " + ", ".join(filters["types"]), 1)
    if not items:
        console.print(f"No {words} match.")
        print_hints(console, data["hints"])
        return
    # Short refs only when one project is in scope, so every ref shown is unambiguous.
    one_project = filters["projects"][0] if len(filters["projects"]) == 1 else None
    people_header = "Assignees" if kind == "issue" else "Reviewers"
    cells: dict[str, list[Any]] = {
        name: []
        for name in (
            "Ref",
            "Title",
            "State",
            "Status",
            "Author",
            people_header,
            "Labels",
            "Updated",
        )
    }
    for item in items:
        cells["Ref"].append(
            item["ref"] if one_project is None else item["ref"][len(item["project"]) :]
        )
        # The title never wraps: one line per item (like gh), a long one ends in "…".
        title = Text(item["title"], no_wrap=True, overflow="ellipsis")
        if kind == "mr" and item["draft"]:
            title = Text.assemble(("Draft: ", "dim"), title, no_wrap=True, overflow="ellipsis")
        marker = issue_type_marker(item.get("issue_type")) if kind == "issue" else None
        if marker is not None:
            # A type marker in the title, as GitLab puts an icon there: no extra column.
            title = Text.assemble(marker, title, no_wrap=True, overflow="ellipsis")
        cells["Title"].append(title)
        cells["State"].append(state_text(item["state"]))
        cells["Status"].append(status_text(item.get("status")))
        cells["Author"].append(person(item["author"]))
        cells[people_header].append(
            people(item["assignees"] if kind == "issue" else item["reviewers"])
        )
        cells["Labels"].append(label_chips(item["labels"], limit=4))
        cells["Updated"].append(relative_time(item["updated_at"]))
    if kind == "mr" or not any(i.get("status") for i in items):
        del cells["Status"]
    columns = _fit_columns(cells, console.width)
    rows = [[cells[c.header][i] for c in columns] for i in range(len(items))]
    console.print(make_table(columns, rows, title=one_project))
    shown, total = data["count"], data["total"]
    if shown < total:
        footer = f"showing {shown} of {total} {words} · --limit {total} shows all"
    else:
        footer = f"{total} {words}"
    hidden: dict[str, int] = data.get("hidden_by_type") or {}
    if hidden:
        from lore.cli.render import plural

        counted = ", ".join(plural(n, t.replace("_", " ")) for t, n in hidden.items())
        flags = " or ".join(f"--type {t}" for t in hidden)
        footer += f" · {counted} hidden ({flags} or --all-types shows them)"
    console.print(Text(footer, style="dim"))
    print_hints(console, data["hints"])


def _line_span(line_range: dict[str, Any] | None) -> str | None:
    """``lines 10–14`` for a multi-line diff note; ``lines -3–+5`` when one end is a
    removed line (old numbering) and the other is not; None when it covers one line."""
    if not line_range:
        return None
    ends = [line_range.get("start") or {}, line_range.get("end") or {}]
    # A removed line only has an old number; every other line is numbered in the new file.
    sides = ["old" if a.get("new_line") is None else "new" for a in ends]
    numbers = [
        a.get("old_line") if side == "old" else a.get("new_line")
        for a, side in zip(ends, sides, strict=True)
    ]
    if None in numbers or (numbers[0] == numbers[1] and sides[0] == sides[1]):
        return None
    if sides[0] == sides[1]:
        return f"lines {numbers[0]}–{numbers[1]}"
    signs = {"old": "-", "new": "+"}
    return f"lines {signs[sides[0]]}{numbers[0]}–{signs[sides[1]]}{numbers[1]}"


def _where(position: dict[str, Any] | None) -> str:
    if not position:
        return ""
    path = position.get("new_path") or position.get("old_path") or "?"
    span = _line_span(position.get("line_range"))
    if span is not None:
        return f"{path} {span}"
    line = position.get("new_line") or position.get("old_line")
    return f"{path}:{line}" if line is not None else str(path)


def _note_header(note: dict[str, Any], *, reply: bool) -> Text:
    from rich.text import Text

    from lore.cli.render import person, relative_time

    head = Text("↳ " if reply else "")
    head.append(person(note["author"]), style="bold")
    if note["position"]:
        head.append(" on ")
        head.append(_where(note["position"]), style="cyan")
    head.append(f" · {relative_time(note['created_at'])}", style="dim")
    if note.get("internal"):
        # Internal notes are for project members only: say so before anyone quotes one.
        head.append(" · ")
        head.append("internal", style="bold magenta")
    return head


def _render_discussions(item: dict[str, Any], console: Console) -> None:
    from rich.padding import Padding
    from rich.text import Text

    from lore.cli.render import person, plural, relative_time

    counts = item["counts"]
    heading = Text(
        f"Discussion ({plural(counts['discussions'], 'thread')}, {plural(counts['notes'], 'note')}",
        style="bold",
    )
    if counts["unresolved_threads"]:
        heading.append(f", {counts['unresolved_threads']} unresolved", style="bold yellow")
    heading.append(")")
    if counts["system_notes_hidden"]:
        heading.append(f"  {counts['system_notes_hidden']} system notes hidden", style="dim")
    console.print()
    console.print(heading)
    if not item["discussions"]:
        console.print(Text("No comments.", style="dim"))
        return
    for thread in item["discussions"]:
        console.print()
        for index, note in enumerate(thread["notes"]):
            indent = 2 if index else 0
            if note["system"]:
                line = Text(
                    f"· {person(note['author'])} {note['body']} · "
                    f"{relative_time(note['created_at'])}",
                    style="dim",
                )
                console.print(Padding(line, (0, 0, 0, indent), expand=False))
                continue
            header = _note_header(note, reply=index > 0)
            if index == 0 and thread["resolvable"]:
                header.append(" · ")
                header.append(
                    *(("resolved", "green") if thread["resolved"] else ("unresolved", "yellow"))
                )
            console.print(Padding(header, (0, 0, 0, indent), expand=False))
            console.print(Padding(Text(note["body"].rstrip()), (0, 0, 0, indent + 2), expand=False))


def _render_item(item: dict[str, Any], console: Console) -> None:
    from rich.text import Text

    from lore.cli.render import (
        label_chips,
        people,
        person,
        relative_time,
        short_date,
        state_text,
        status_text,
    )

    kind = item["kind"]
    title = Text(item["ref"], style="bold cyan")
    title.append("  ")
    title.append(item["title"], style="bold")
    console.print(title)
    line = state_text(item["state"], draft=bool(item.get("draft")))
    if item.get("status"):
        line.append(" · ")
        line.append_text(status_text(item["status"]))
    line.append(
        f" · {person(item['author'])} opened {relative_time(item['created_at'])}"
        f" · updated {relative_time(item['updated_at'])}"
    )
    if kind == "mr" and item["merged_at"]:
        line.append(f" · merged by {person(item['merged_by'])} {relative_time(item['merged_at'])}")
    elif item["closed_at"]:
        line.append(f" · closed {relative_time(item['closed_at'])}")
    console.print(line)
    facts: list[tuple[str, Text | str]] = []
    if item["labels"]:
        facts.append(("Labels", label_chips(item["labels"])))
    if item["assignees"]:
        facts.append(("Assignees", people(item["assignees"])))
    if kind == "mr":
        if item["reviewers"]:
            facts.append(("Reviewers", people(item["reviewers"])))
        facts.append(
            ("Branches", f"{item['source_branch'] or '?'} → {item['target_branch'] or '?'}")
        )
    if item["milestone"]:
        facts.append(("Milestone", item["milestone"]))
    if kind == "issue" and item.get("due_date"):
        facts.append(("Due", short_date(item["due_date"])))
    if kind == "issue":
        facts.append(("Type", (item.get("issue_type") or "issue").replace("_", " ")))
    if kind == "issue" and item.get("moved_to"):
        facts.append(("Moved to", _moved_words(item["moved_to"])))
    if kind == "issue" and item.get("confidential"):
        facts.append(("Confidential", "yes"))
    if item["web_url"]:
        facts.append(("URL", item["web_url"]))
    for name, value in facts:
        row = Text(f"{name + ':':<11}", style="dim")
        row.append_text(value if isinstance(value, Text) else Text(value))
        console.print(row)
    console.print()
    description = (item["description"] or "").strip()
    console.print(Text(description) if description else Text("No description.", style="dim"))
    if kind == "mr":
        _render_changes(item, console)
    _render_discussions(item, console)


def _moved_words(moved: dict[str, Any]) -> Text:
    """``acme/web#5 (url)``; an unmirrored target without a known ref by its GitLab id."""
    from rich.text import Text

    text = Text()
    text.append(moved.get("ref") or f"issue id {moved['id']}", style="bold cyan")
    if not moved.get("mirrored"):
        text.append(" (not in the mirror)", style="dim")
    if moved.get("web_url"):
        # On its own line under the ref: a URL beside it would wrap on 80 columns.
        text.append("\n" + " " * 11 + str(moved["web_url"]))
    return text


def _render_changes(item: dict[str, Any], console: Console) -> None:
    from rich.text import Text

    from lore.cli.render import plural

    every = item["changes"]
    changes = [c for c in every if c.get("source", "diff") == "diff"]
    from_notes = [c for c in every if c.get("source", "diff") != "diff"]
    console.print()
    console.print(Text(f"Changes ({plural(len(changes), 'file')})", style="bold"))
    if item.get("diffs_overflow"):
        count = item.get("changes_count")
        size = f" ({count} changes)" if count else ""
        console.print(
            Text(
                f"  ! GitLab cut this diff list at its limits{size}: files are missing",
                style="yellow",
            )
        )
    for change in changes:
        if change["new_file"]:
            console.print(Text(f"  + {change['new_path']}", style="green"))
        elif change["deleted_file"]:
            console.print(Text(f"  - {change['old_path']}", style="red"))
        elif change["renamed_file"]:
            console.print(Text(f"  ~ {change['old_path']} → {change['new_path']}", style="yellow"))
        else:
            console.print(Text(f"    {change['new_path']}"))
    if from_notes:
        console.print(Text("  Also commented on, not in the current diff:", style="dim"))
        for change in from_notes:
            console.print(Text(f"    {change['new_path']}", style="dim"))
