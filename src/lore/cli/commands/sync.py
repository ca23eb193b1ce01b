"""`lore sync`: run the pipeline under the pipeline lock, with progress bars for people
and stage results for machines."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from lore.cli.meta import (
    BOOL,
    CONFIG_CODES,
    DB_CODES,
    GITLAB_CODES,
    INT,
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
    from rich.console import Console

    from lore.sync.types import SyncReport

STAGE_SCHEMA = obj(
    {
        "stage": enum("issues", "mrs", "docs", "embeddings"),
        "success": BOOL,
        "items_updated": INT,
        "error": OPT_STR,
        "error_code": OPT_STR,
        "retry_after_ms": OPT_INT,
        "skipped": BOOL,
        "details": {"type": "object"},
        "warning": OPT_STR,
    }
)
REPORT_SCHEMA = obj(
    {
        "outcome": enum("success", "degraded", "failed"),
        "stages": arr(STAGE_SCHEMA),
        "requests": INT,
        "started_at": STR,
        "finished_at": STR,
        "duration_ms": INT,
        "counts": {"type": "object", "additionalProperties": INT},
    }
)


@robot(
    REPORT_SCHEMA,
    exit_codes=[
        *CONFIG_CODES,
        *GITLAB_CODES,
        *DB_CODES,
        ErrorCode.SYNC_IN_PROGRESS,
        ErrorCode.EMBEDDING_UNAVAILABLE,
    ],
    examples=["lore sync", "lore --robot sync --no-embed", "lore sync --full --project group/repo"],
)
@click.command("sync")
@click.option(
    "--project",
    "projects",
    multiple=True,
    metavar="PATH",
    help="Only this configured project (repeatable).",
)
@click.option("--no-docs", is_flag=True, help="Skip rendering search documents.")
@click.option("--no-embed", is_flag=True, help="Skip computing embeddings.")
@click.option("--full", is_flag=True, help="Refetch everything and drop rows deleted upstream.")
@click.option(
    "--wait",
    "wait_seconds",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    metavar="SECONDS",
    help="Wait this long for another sync to finish.",
)
@click.pass_obj
def sync_cmd(
    app: AppContext,
    projects: tuple[str, ...],
    no_docs: bool,
    no_embed: bool,
    full: bool,
    wait_seconds: float,
) -> int:
    """Mirror GitLab into the local database (issues → mrs → docs → embeddings)."""
    from lore.core.locks import acquire_pipeline_lock
    from lore.sync.pipeline import run_pipeline, select_projects
    from lore.sync.types import SyncOptions

    config = app.config()
    selected = select_projects(config, list(projects) or None)
    config.token()  # fail fast, before taking the lock, when the token is missing
    options = SyncOptions(
        projects=list(projects) or None, docs=not no_docs, embed=not no_embed, full=full
    )
    data_dir = app.data_dir()
    if not app.robot and not app.quiet:
        app.info(
            f"Syncing {len(selected)} project(s) from {config.base_url}"
            + (" (full)" if full else "")
        )
    with acquire_pipeline_lock(data_dir, wait_seconds):
        if app.robot or app.quiet:
            report = run_pipeline(config, data_dir, options)
        else:
            from lore.cli.progress import RichProgress

            with RichProgress() as progress:
                report = run_pipeline(config, data_dir, options, progress=progress)
    return _finish(app, report)


def _finish(app: AppContext, report: SyncReport) -> int:
    failure = report.first_core_failure()
    if failure is None:
        return app.emit(report.to_dict(), _render)
    code = ErrorCode(failure.error_code) if failure.error_code else ErrorCode.INTERNAL_ERROR
    if not app.robot:
        _render(report.to_dict(), _stdout())
    raise LoreError(
        code,
        f"sync failed in the {failure.stage} stage: {failure.error}",
        suggestion=_suggestion(code),
        details={"report": report.to_dict()},
        retry_after_ms=failure.retry_after_ms,
    )


def _stdout() -> Console:
    from lore.cli.output import stdout_console

    return stdout_console()


def _suggestion(code: ErrorCode) -> str:
    return {
        ErrorCode.TOKEN_NOT_SET: "Export the token variable named in the config (gitlab.tokenEnvVar)",
        ErrorCode.AUTH_FAILED: "Check the token: it needs the read_api scope",
        ErrorCode.NOT_FOUND: "Check the project paths in the config",
        ErrorCode.NETWORK_ERROR: "Check gitlab.baseUrl and your network, then run lore sync again",
        ErrorCode.RATE_LIMITED: "Wait a little, or lower sync.concurrency, then run lore sync again",
    }.get(code, "Run lore sync again; completed pages are kept")


def _render(data: dict[str, Any], console: Console) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"sync {data['outcome']}", title_justify="left", show_edge=False)
    table.add_column("stage")
    table.add_column("result")
    table.add_column("updated", justify="right")
    table.add_column("note")
    for stage in data["stages"]:
        if stage.get("skipped"):
            result = "[dim]skipped[/dim]"
        elif stage["success"] and stage.get("warning"):
            result = "[yellow]ok, with a warning[/yellow]"
        elif stage["success"]:
            result = "[green]ok[/green]"
        else:
            result = f"[red]failed[/red] {stage.get('error_code') or ''}"
        # Messages come from GitLab: never let them be read as rich markup.
        note = escape(stage.get("error") or stage.get("warning") or "")
        projects = (stage.get("details") or {}).get("projects") or {}
        wis: list[dict[str, Any]] = [
            p["work_item_status"]
            for p in projects.values()
            if isinstance(p, dict) and isinstance(p.get("work_item_status"), dict)
        ]
        if wis and not note:
            available = [w for w in wis if w.get("available")]
            note = "work-item status: " + (
                f"{sum(w.get('updated', 0) for w in available)} updated"
                if available
                else "not available on this instance"
            )
        table.add_row(stage["stage"], result, str(stage["items_updated"]), note)
    console.print(table)
    counts = data.get("counts") or {}
    console.print(
        f"[dim]{data['requests']} requests in {data['duration_ms'] / 1000:.1f}s · "
        f"{counts.get('issues', 0)} issues, {counts.get('merge_requests', 0)} MRs, "
        f"{counts.get('notes', 0)} notes, {counts.get('documents', 0)} documents[/dim]"
    )
