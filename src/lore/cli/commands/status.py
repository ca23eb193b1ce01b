"""`lore status`: what is mirrored, how fresh it is, and how big. Works before the first
sync and without a config (it then reports what it can); never imports httpx."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from lore.cli.meta import (
    BOOL,
    DB_CODES,
    INT,
    NUM,
    OPT_INT,
    OPT_STR,
    STR,
    arr,
    nullable,
    obj,
    robot,
)
from lore.cli.output import AppContext
from lore.core.errors import ErrorCode, LoreError

if TYPE_CHECKING:
    from rich.console import Console

    from lore.core.config import Config

# -- robot schema ------------------------------------------------------------------------

_CURSOR = obj(
    {"resource": STR, "updated_after": OPT_STR, "advanced_at": STR, "age_seconds": OPT_INT}
)
_PROJECT = obj(
    {
        "path": STR,
        "id": OPT_INT,
        "web_url": OPT_STR,
        "mirrored": BOOL,
        "configured": nullable(BOOL),
        "last_synced_at": OPT_STR,
        "last_synced_age_seconds": OPT_INT,
        "issues": obj({"opened": INT, "closed": INT, "total": INT}),
        "mrs": obj({"opened": INT, "merged": INT, "closed": INT, "locked": INT, "total": INT}),
        "discussions": INT,
        "notes": INT,
        "documents": INT,
        "embedded_documents": INT,
        "cursors": arr(_CURSOR),
        "unavailable": arr(
            obj({"resource": STR, "reason": STR, "http_status": OPT_INT, "checked_at": OPT_STR})
        ),
        "status_error": nullable(
            obj({"message": STR, "code": OPT_STR, "at": OPT_STR, "instance": STR})
        ),
    }
)
_STAGE = obj({"stage": STR, "success": BOOL}, required=["stage", "success"])
_RUN = nullable(
    obj(
        {
            "id": INT,
            "started_at": STR,
            "finished_at": OPT_STR,
            "age_seconds": OPT_INT,
            "duration_ms": OPT_INT,
            "full": BOOL,
            "outcome": OPT_STR,
            "requests": INT,
            "stages": arr(_STAGE),
        }
    )
)
STATUS_SCHEMA = obj(
    {
        "synced": BOOL,
        "db": obj(
            {
                "path": STR,
                "exists": BOOL,
                "size_bytes": INT,
                "wal_bytes": INT,
                "total_bytes": INT,
                "schema_version": OPT_INT,
                "latest_schema_version": INT,
                "pending_migrations": OPT_INT,
            }
        ),
        "config": obj(
            {"path": STR, "loaded": BOOL, "error": nullable(obj({"code": STR, "message": STR}))}
        ),
        "projects": arr(_PROJECT),
        "totals": obj(
            {
                "projects": INT,
                "issues": INT,
                "open_issues": INT,
                "mrs": INT,
                "open_mrs": INT,
                "discussions": INT,
                "notes": INT,
                "documents": INT,
            }
        ),
        "last_sync": _RUN,
        "last_success": _RUN,
        "embeddings": obj(
            {
                "documents": INT,
                "embedded_documents": INT,
                "coverage": nullable(NUM),
                "chunks": INT,
                "models": arr(
                    obj({"model": STR, "dimension": INT, "documents": INT, "chunks": INT})
                ),
                "configured_provider": OPT_STR,
                "configured_model": OPT_STR,
            }
        ),
        "workitem_status": nullable(
            obj(
                {
                    "columns": BOOL,
                    "issues_with_status": OPT_INT,
                    "instances": arr(
                        obj(
                            {
                                "instance": STR,
                                "available": nullable(BOOL),
                                "reason": OPT_STR,
                                "checked_at": OPT_STR,
                                "gitlab_version": OPT_STR,
                                "mode": OPT_STR,
                                "fields": arr(STR),
                                "errors": obj({}, required=[]),
                            },
                            required=["instance"],
                        )
                    ),
                }
            )
        ),
        "hints": arr(STR),
    }
)


@robot(
    STATUS_SCHEMA,
    exit_codes=[c for c in DB_CODES if c is not ErrorCode.MIGRATION_FAILED],
    examples=["lore status", "lore --robot status"],
)
@click.command("status")
@click.pass_obj
def status_cmd(app: AppContext) -> int:
    """What is mirrored: per-project counts, last sync, cursor ages, DB size, embeddings."""
    from lore.core.clock import default_clock
    from lore.core.paths import db_path
    from lore.query.status import store_status
    from lore.query.store import open_for_reading

    config: Config | None = None
    config_error: dict[str, Any] | None = None
    try:
        config = app.config()
    except LoreError as err:  # status reports the mirror even with no or a broken config
        config_error = {"code": err.code.value, "message": err.message}
    path = db_path(app.data_dir())
    conn = open_for_reading(path)
    try:
        data = store_status(conn, path, config, now_ms=default_clock().now_ms())
    finally:
        if conn is not None:
            conn.close()
    data["config"] = {
        "path": str(app.config_path()),
        "loaded": config is not None,
        "error": config_error,
    }
    return app.emit(data, _render_status)


# -- human rendering ---------------------------------------------------------------------


def _age(seconds: int | None) -> str:
    from lore.cli.render import format_duration

    return "never" if seconds is None else f"{format_duration(seconds)} ago"


def _render_status(data: dict[str, Any], console: Console) -> None:
    from rich.text import Text

    from lore.cli.render import human_bytes, print_hints

    db = data["db"]
    head = Text(f"{'Database':<12}", style="bold")
    if db["exists"]:
        head.append(f"{db['path']}  {human_bytes(db['total_bytes'])}")
        if db["wal_bytes"]:
            head.append(f" (WAL {human_bytes(db['wal_bytes'])})", style="dim")
        head.append(f" · schema v{db['schema_version']}")
        if db["pending_migrations"]:
            head.append(f" (v{db['latest_schema_version']} on next sync)", style="yellow")
    else:
        head.append(f"{db['path']} ", style="")
        head.append("(not created yet)", style="dim")
    console.print(head)
    config = data["config"]
    conf = Text(f"{'Config':<12}", style="bold")
    conf.append(config["path"])
    if config["error"]:
        conf.append(f"  {config['error']['code']}: {config['error']['message']}", style="yellow")
    console.print(conf)
    if not data["synced"]:
        console.print()
        console.print("Nothing is synced yet.")
        configured = [p["path"] for p in data["projects"] if p["configured"]]
        if configured:
            console.print(f"Configured projects: {', '.join(configured)}")
        if data["last_sync"] is not None:  # e.g. a first sync that failed before any data
            _render_last_sync(data, console)
        print_hints(console, data["hints"])
        return
    _render_last_sync(data, console)
    _render_embeddings(data["embeddings"], console)
    _render_workitem_status(data["workitem_status"], console)
    _render_unavailable(data["projects"], console)
    console.print()
    _render_projects(data["projects"], console)
    print_hints(console, data["hints"])


def _render_last_sync(data: dict[str, Any], console: Console) -> None:
    from rich.text import Text

    run = data["last_sync"]
    line = Text(f"{'Last sync':<12}", style="bold")
    if run is None:
        line.append("never", style="dim")
        console.print(line)
        return
    outcome = run["outcome"] or "unknown"
    style = {"success": "green", "degraded": "yellow", "failed": "red"}.get(outcome, "")
    line.append(outcome, style=style)
    when = run["finished_at"] and _age(run["age_seconds"])
    line.append(f" {when}" if when else f" (started {_age(run['age_seconds'])})")
    extras = [f"{run['requests']} requests"]
    if run["duration_ms"] is not None:
        extras.append(f"{run['duration_ms'] / 1000:.1f}s")
    if run["full"]:
        extras.append("full")
    line.append(f" · {', '.join(extras)}", style="dim")
    console.print(line)
    if run["stages"]:
        stages = Text(" " * 12)
        for i, stage in enumerate(run["stages"]):
            if i:
                stages.append("  ")
            ok = bool(stage.get("success"))
            mark = "–" if stage.get("skipped") else ("✓" if ok else "✗")
            stages.append(f"{stage.get('stage')} {mark}", style="green" if ok else "red")
            if ok and stage.get("items_updated"):
                stages.append(f" {stage['items_updated']}", style="dim")
            if not ok and stage.get("error_code"):
                stages.append(f" {stage['error_code']}", style="red")
        console.print(stages)
        for stage in run["stages"]:
            if not stage.get("success", True) and stage.get("error"):
                console.print(Text(f"{'':<12}{stage.get('stage')}: {stage['error']}", style="dim"))
    success = data["last_success"]
    if success is not None and success["id"] != run["id"]:
        console.print(Text(f"{'':<12}last success {_age(success['age_seconds'])}", style="dim"))


def _render_embeddings(emb: dict[str, Any], console: Console) -> None:
    from rich.text import Text

    line = Text(f"{'Embeddings':<12}", style="bold")
    if not emb["documents"]:
        line.append("no documents yet", style="dim")
    else:
        pct = 100 * (emb["coverage"] or 0)
        style = "green" if pct >= 99.95 else ("yellow" if pct > 0 else "red")
        line.append(
            f"{emb['embedded_documents']}/{emb['documents']} documents ({pct:.0f}%)", style=style
        )
        for model in emb["models"]:
            line.append(
                f" · {model['model']} ({model['dimension']}d, {model['chunks']} chunks)",
                style="dim",
            )
    if emb["configured_provider"] == "none":
        line.append(" · embeddings disabled in config", style="dim")
    elif emb["configured_model"] and not any(
        m["model"] == emb["configured_model"] for m in emb["models"]
    ):
        line.append(f" · configured: {emb['configured_model']}", style="dim")
    console.print(line)


def _render_workitem_status(info: dict[str, Any] | None, console: Console) -> None:
    from rich.text import Text

    from lore.cli.render import relative_time

    if info is None:
        return
    line = Text(f"{'Status':<12}", style="bold")
    if not info["columns"] and not info["instances"]:
        line.append("work-item status not mirrored by this schema", style="dim")
        console.print(line)
        return
    if info["issues_with_status"] is not None:
        line.append(f"{info['issues_with_status']} issues with a work-item status")
    for entry in info["instances"]:
        available = entry.get("available")
        reason = entry.get("reason") or entry.get("message")
        line.append(f"\n{'':<12}{entry['instance']}: ")
        if available is True:
            line.append("available", style="green")
            if entry.get("final_page_size") is not None:
                line.append(
                    f" · page size {entry['final_page_size']}, {entry.get('shrinks', 0)} shrinks",
                    style="dim",
                )
            if entry.get("mode"):
                shape = "status object" if entry["mode"] == "object" else "flat widget fields"
                line.append(f" · {shape}: {', '.join(entry.get('fields') or [])}", style="dim")
        elif available is False:
            text = "work-item status not available on this instance"
            if reason and "not available" in str(reason):
                text, reason = str(reason), None  # the reason says both what and why
            line.append(text, style="yellow")
        else:
            line.append("unknown", style="dim")
        if reason:
            line.append(f" ({reason})", style="dim")
        if entry.get("gitlab_version"):
            line.append(f" · GitLab {entry['gitlab_version']}", style="dim")
        if entry.get("checked_at"):
            line.append(f" · checked {relative_time(str(entry['checked_at']))}", style="dim")
        errors = entry.get("errors")
        if isinstance(errors, dict):
            for path, err in sorted(errors.items()):
                if not isinstance(err, dict):
                    continue
                line.append(f"\n{'':<14}{path}: ", style="dim")
                line.append(
                    f"last status error {err.get('code') or 'ERROR'}: {err.get('message') or ''}",
                    style="yellow",
                )
                if err.get("at"):
                    line.append(f" ({relative_time(str(err['at']))})", style="dim")
    console.print(line)


def _render_unavailable(projects: list[dict[str, Any]], console: Console) -> None:
    """Resources GitLab refused per project (e.g. merge requests disabled: 403)."""
    from rich.text import Text

    rows = [(p["path"], u) for p in projects for u in p.get("unavailable") or []]
    if not rows:
        return
    line = Text(f"{'Unavailable':<12}", style="bold")
    for n, (path, u) in enumerate(rows):
        if n:
            line.append(f"\n{'':<12}")
        what = {"mrs": "merge requests", "issues": "issues"}.get(u["resource"], u["resource"])
        line.append(f"{path}: {what} not available", style="yellow")
        status = f"HTTP {u['http_status']}: " if u.get("http_status") else ""
        line.append(f" ({status}{u['reason']})", style="dim")
    console.print(line)


def _render_projects(projects: list[dict[str, Any]], console: Console) -> None:
    from rich.text import Text

    from lore.cli.render import Column, columns_that_fit, format_duration, make_table

    rows: list[list[Any]] = []
    for p in projects:
        if not p["mirrored"]:
            rows.append([p["path"], Text("not synced yet", style="yellow"), "", "", "", "", ""])
            continue
        issues, mrs = p["issues"], p["mrs"]
        cursors = ", ".join(
            f"{c['resource']} {format_duration(c['age_seconds'])}"
            if c["age_seconds"] is not None
            else f"{c['resource']} ?"
            for c in p["cursors"]
        )
        path = Text(p["path"])
        if p["configured"] is False:
            path.append(" (not in config)", style="dim")
        rows.append(
            [
                path,
                f"{issues['opened']} open / {issues['closed']} closed",
                f"{mrs['opened']} open / {mrs['merged']} merged / {mrs['closed'] + mrs['locked']} closed",
                str(p["notes"]),
                f"{p['embedded_documents']}/{p['documents']}",
                _age(p["last_synced_age_seconds"]),
                cursors or "—",
            ]
        )
    columns = [
        Column("Project", no_wrap=True),
        Column("Issues", no_wrap=True),
        Column("Merge requests", no_wrap=True),
        Column("Notes", justify="right"),
        Column("Docs (embedded)", justify="right"),
        Column("Synced", no_wrap=True),
        Column("Cursor age", no_wrap=True),
    ]
    keep = columns_that_fit(
        [c.header for c in columns],
        rows,
        console.width,
        ["Cursor age", "Notes", "Docs (embedded)", "Synced"],
    )
    console.print(make_table([columns[i] for i in keep], [[r[i] for i in keep] for r in rows]))
