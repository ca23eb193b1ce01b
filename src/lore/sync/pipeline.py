"""The four-stage sync pipeline: issues → mrs → docs → embeddings.

``run_pipeline`` is the one entry point for both `lore sync` and the scheduled service.
It does not take the pipeline lock (callers do) and never raises for a stage failure:
every stage comes back as a :class:`StageResult`, and a failing stage never hides the
results of the others.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from lore.core.clock import iso_from_ms
from lore.core.config import Config
from lore.core.errors import ErrorCode, LoreError, as_lore_error
from lore.core.paths import db_path
from lore.query.store import CURRENT_USER_KEY
from lore.store import bulk, ingest
from lore.store.db import connect, transaction
from lore.sync.bulk_children import BulkSettings
from lore.sync.progress import NullProgress, Progress
from lore.sync.stage_items import (
    ISSUES,
    MRS,
    Capabilities,
    ProjectRef,
    Resource,
    ResourceOutcome,
    sync_resource,
)
from lore.sync.types import ALL_STAGES, StageResult, SyncOptions, SyncReport

log = logging.getLogger("lore.sync")

#: WAL pages (4 KiB) between automatic checkpoints while a sync writes.
SYNC_WAL_AUTOCHECKPOINT_PAGES = 16_384


def _now_iso() -> str:
    return iso_from_ms(int(time.time() * 1000))


def _failed(stage: str, err: LoreError, **details: Any) -> StageResult:
    return StageResult(
        stage=stage,
        success=False,
        error=err.message,
        error_code=err.code.value,
        retry_after_ms=err.retry_after_ms,
        details=dict(details),
    )


def select_projects(config: Config, wanted: list[str] | None) -> list[str]:
    """The configured projects to sync; NOT_FOUND for a --project that is not configured."""
    configured = config.project_paths
    if not wanted:
        return configured
    out: list[str] = []
    for raw in wanted:
        path = raw.strip().strip("/")
        if path not in configured:
            raise LoreError(
                ErrorCode.NOT_FOUND,
                f"project {path!r} is not in the config (configured: {', '.join(configured)})",
                suggestion="Add it to the config's projects list, or re-run lore init",
            )
        if path not in out:
            out.append(path)
    return out


def _record_run_start(conn: sqlite3.Connection, full: bool) -> int:
    with transaction(conn):
        cur = conn.execute(
            "INSERT INTO sync_runs(started_at, full, outcome) VALUES (?, ?, 'running')",
            (_now_iso(), int(full)),
        )
    return int(cur.lastrowid or 0)


def _record_run_end(conn: sqlite3.Connection, run_id: int, report: SyncReport) -> None:
    with transaction(conn):
        conn.execute(
            "UPDATE sync_runs SET finished_at = ?, outcome = ?, requests = ?, stage_results = ? "
            "WHERE id = ?",
            (
                report.finished_at,
                report.outcome,
                report.requests,
                json.dumps([s.to_dict() for s in report.stages]),
                run_id,
            ),
        )


def run_pipeline(
    config: Config,
    data_dir: Path,
    options: SyncOptions,
    *,
    progress: Progress | None = None,
    client_factory: Callable[[Config], Any] | None = None,
) -> SyncReport:
    """Run every stage and return their results. Callers hold the pipeline lock."""
    progress = progress or NullProgress()
    started_ms = int(time.time() * 1000)
    report = SyncReport(stages=[], started_at=iso_from_ms(started_ms))

    def finish() -> SyncReport:
        report.finished_at = _now_iso()
        report.duration_ms = int(time.time() * 1000) - started_ms
        return report

    try:
        projects = select_projects(config, options.projects)
        conn = connect(db_path(data_dir))
        try:
            bulk.restore(conn)  # indexes a killed first sync left deferred
        except Exception:
            conn.close()
            raise
    except Exception as exc:  # setup failed: every stage reports the same cause
        err = as_lore_error(exc, "sync")
        report.stages = [_failed(stage, err) for stage in ALL_STAGES]
        return finish()

    # A sync rewrites index pages many times over; checkpointing the WAL into the database
    # every 4 MB (the default) writes each of them again and again. Every 64 MB instead;
    # closing the connection checkpoints what is left.
    conn.execute(f"PRAGMA wal_autocheckpoint = {SYNC_WAL_AUTOCHECKPOINT_PAGES}")
    try:
        run_id = _record_run_start(conn, options.full)
        core, project_ids, requests = _run_core_stages(
            config, conn, projects, options, progress, client_factory
        )
        report.stages.extend(core)
        report.requests = requests
        report.stages.append(_run_docs(conn, config, project_ids, options, progress))
        report.stages.append(_run_embeddings(conn, config, project_ids, options, progress))
        report.counts = _counts(conn)
        finish()
        _record_run_end(conn, run_id, report)
        return report
    finally:
        conn.close()


def _run_core_stages(
    config: Config,
    conn: sqlite3.Connection,
    projects: list[str],
    options: SyncOptions,
    progress: Progress,
    client_factory: Callable[[Config], Any] | None,
) -> tuple[list[StageResult], list[int] | None, int]:
    try:
        client = client_factory(config) if client_factory else _make_client(config)
    except Exception as exc:
        err = as_lore_error(exc, "sync")
        return [_failed("issues", err), _failed("mrs", err)], None, 0

    results: list[StageResult] = []
    try:
        with ThreadPoolExecutor(
            max_workers=config.sync.concurrency, thread_name_prefix="lore-sync"
        ) as pool:
            refs, resolve_errors = _resolve_projects(client, conn, projects)
            caps = Capabilities()
            if refs:
                remember_current_user(client, conn, refresh=options.full)
                caps = detect_capabilities(client)
                caps.bulk_settings = BulkSettings.from_sync_config(config.sync)
                # An empty mirror: build the indexes nothing reads meanwhile at the end.
                bulk.begin(conn)
            try:
                for resource in (ISSUES, MRS):
                    results.append(
                        _run_resource_stage(
                            client,
                            conn,
                            pool,
                            config,
                            refs,
                            resolve_errors,
                            resource,
                            options,
                            progress,
                            caps,
                        )
                    )
            finally:
                bulk.restore(conn)
        project_ids = [r.id for r in refs] if options.projects else None
        return results, project_ids, int(client.stats.requests)
    finally:
        client.close()


def detect_capabilities(client: Any) -> Capabilities:
    """What this GitLab offers, from ``/version`` (one request per run). A failure leaves
    every capability at its safe default: the stages then find out by trying."""
    try:
        raw = client.version()
        version = str(raw.get("version") or "") or None
    except Exception as exc:
        log.info("GitLab version unknown: %s", as_lore_error(exc, "sync").message)
        version = None
    return Capabilities.from_version(version)


def _make_client(config: Config) -> Any:
    from lore.gitlab.client import GitLabClient

    return GitLabClient.from_config(config)


def _resolve_projects(
    client: Any, conn: sqlite3.Connection, projects: list[str]
) -> tuple[list[ProjectRef], dict[str, LoreError]]:
    refs: list[ProjectRef] = []
    errors: dict[str, LoreError] = {}
    for path in projects:
        try:
            raw = client.project(path)
            with transaction(conn):
                project_id = ingest.upsert_project(conn, raw)
            refs.append(ProjectRef(project_id, str(raw.get("path_with_namespace") or path)))
        except Exception as exc:
            errors[path] = as_lore_error(exc, "sync")
    return refs, errors


def remember_current_user(client: Any, conn: sqlite3.Connection, *, refresh: bool) -> None:
    """Record who the token belongs to (kv ``gitlab.current_user``), so that offline
    commands can answer ``@me``. One request on the first sync and on ``--full``; a
    failure here never fails the sync."""
    if (
        not refresh
        and conn.execute("SELECT 1 FROM kv WHERE key = ?", (CURRENT_USER_KEY,)).fetchone()
        is not None
    ):
        return
    try:
        user = client.current_user()
        username = str(user["username"])
        with transaction(conn):
            ingest.set_kv(
                conn, CURRENT_USER_KEY, json.dumps({"id": user.get("id"), "username": username})
            )
    except Exception as exc:  # @me stays unknown; the mirror is what matters
        log.warning("could not record the token's user: %s", as_lore_error(exc, "sync").message)


def _run_resource_stage(
    client: Any,
    conn: sqlite3.Connection,
    pool: ThreadPoolExecutor,
    config: Config,
    refs: list[ProjectRef],
    resolve_errors: dict[str, LoreError],
    resource: Resource,
    options: SyncOptions,
    progress: Progress,
    caps: Capabilities,
) -> StageResult:
    result = StageResult(stage=resource.stage, success=True)
    warnings: list[str] = []
    first_error: LoreError | None = next(iter(resolve_errors.values()), None)
    per_project: dict[str, Any] = {
        path: {"error": err.message, "error_code": err.code.value}
        for path, err in resolve_errors.items()
    }
    for ref in refs:
        try:
            try:
                outcome: ResourceOutcome = sync_resource(
                    client,
                    conn,
                    pool,
                    ref,
                    resource,
                    full=options.full,
                    overlap_seconds=config.sync.cursor_overlap_seconds,
                    progress=progress,
                    caps=caps,
                )
            except LoreError as exc:
                if not _is_unavailable(exc):
                    raise
                # 403 on the list: the resource is disabled, members-only, or beyond the
                # token's role here. Not a bad token; skip it and say why.
                reason = _unavailable_reason(resource, exc)
                _remember_unavailable(conn, ref, resource, reason)
                progress.finish(f"{resource.stage}:{ref.path}", "not available")
                per_project[ref.path] = {"skipped": True, "reason": reason, "http_status": 403}
                what = "merge requests" if resource is MRS else "issues"
                warnings.append(
                    f"{ref.path}: {what} not available for this project "
                    f"(GitLab answered 403 Forbidden: {reason})"
                )
                continue
            _remember_unavailable(conn, ref, resource, None)
            entry: dict[str, Any] = outcome.to_details()
            result.items_updated += outcome.items_updated
            if not options.full:
                from lore.sync.reconcile import reconcile_resource

                recon = reconcile_resource(
                    client, conn, pool, ref, resource, caps, walked_all=outcome.from_scratch
                )
                entry["reconcile"] = recon.to_details()
                result.items_updated += recon.updated
                if recon.warning:
                    warnings.append(f"{ref.path}: {recon.warning}")
                if resource is ISSUES:
                    outcome.changed_iids.extend(recon.changed_iids)
            warning = _after_resource(
                client, conn, config, ref, resource, outcome, options, entry, caps
            )
            if warning is not None:
                warnings.append(f"{ref.path}: {warning}")
            per_project[ref.path] = entry
            with transaction(conn):
                conn.execute(
                    "UPDATE projects SET last_synced_at = ? WHERE id = ?", (_now_iso(), ref.id)
                )
        except Exception as exc:
            err = as_lore_error(exc, "sync")
            log.warning("%s stage failed for %s: %s", resource.stage, ref.path, err.message)
            per_project[ref.path] = {"error": err.message, "error_code": err.code.value}
            progress.finish(f"{resource.stage}:{ref.path}", "failed")
            if first_error is None:
                first_error = err
    result.details["projects"] = per_project
    if warnings:
        result.warning = "; ".join(warnings)
    if first_error is not None:
        result.success = False
        result.error = first_error.message
        result.error_code = first_error.code.value
        result.retry_after_ms = first_error.retry_after_ms
    return result


def _after_resource(
    client: Any,
    conn: sqlite3.Connection,
    config: Config,
    ref: ProjectRef,
    resource: Resource,
    outcome: ResourceOutcome,
    options: SyncOptions,
    entry: dict[str, Any],
    caps: Capabilities,
) -> str | None:
    """Per-project follow-ups: work-item status for issues. Status is enrichment: its
    failure is a warning (the run is degraded), never a failed issues stage; the issues
    whose status could not be read stay pending for the next run."""
    if resource is ISSUES:
        from lore.sync.work_item_status import enrich_statuses

        status = enrich_statuses(
            client,
            conn,
            instance_url=config.base_url,
            project_path=ref.path,
            project_id=ref.id,
            iids=outcome.changed_iids,
            page_size=config.sync.work_item_page_size,
            full=options.full,
            gitlab_version=caps.version,
        )
        entry["work_item_status"] = status.to_details()
        if status.error_code:
            return (
                f"work-item status not updated ({status.error_code}: "
                f"{status.error or 'unknown error'}); it is retried on the next run"
            )
    return None


UNAVAILABLE_KV_PREFIX = "resource_unavailable:"


def _is_unavailable(exc: LoreError) -> bool:
    """A 403 on a resource list that is not about the token's scope."""
    from lore.gitlab.client import ForbiddenError

    return isinstance(exc, ForbiddenError)


def _unavailable_reason(resource: Resource, exc: LoreError) -> str:
    what = "merge requests" if resource is MRS else "issues"
    return f"{what} are disabled, limited to members, or beyond the token's role in this project"


def _remember_unavailable(
    conn: sqlite3.Connection, ref: ProjectRef, resource: Resource, reason: str | None
) -> None:
    """kv ``resource_unavailable:{project_id}:{stage}`` for `lore status` (None clears it)."""
    key = f"{UNAVAILABLE_KV_PREFIX}{ref.id}:{resource.stage}"
    with transaction(conn):
        if reason is None:
            conn.execute("DELETE FROM kv WHERE key = ?", (key,))
        else:
            ingest.set_kv(
                conn,
                key,
                json.dumps({"reason": reason, "http_status": 403, "checked_at": _now_iso()}),
            )


def _run_docs(
    conn: sqlite3.Connection,
    config: Config,
    project_ids: list[int] | None,
    options: SyncOptions,
    progress: Progress,
) -> StageResult:
    if not options.docs:
        return StageResult(stage="docs", success=True, skipped=True)
    try:
        from lore.sync.stage_docs import run_docs_stage

        return _with_progress(
            progress,
            "docs",
            "docs",
            lambda cb: run_docs_stage(
                conn, config, project_ids=project_ids, full=options.full, progress=cb
            ),
        )
    except Exception as exc:
        return _failed("docs", as_lore_error(exc, "sync"))


def _run_embeddings(
    conn: sqlite3.Connection,
    config: Config,
    project_ids: list[int] | None,
    options: SyncOptions,
    progress: Progress,
) -> StageResult:
    if not options.embed or config.embedding.provider == "none":
        return StageResult(stage="embeddings", success=True, skipped=True)
    try:
        from lore.sync.stage_embeddings import run_embeddings_stage

        return _with_progress(
            progress,
            "embeddings",
            "embed",
            lambda cb: run_embeddings_stage(
                conn, config, project_ids=project_ids, full=options.full, progress=cb
            ),
        )
    except Exception as exc:
        return _failed("embeddings", as_lore_error(exc, "sync"))


def _with_progress(
    progress: Progress,
    key: str,
    label: str,
    run: Callable[[Callable[[int, int], None]], StageResult],
) -> StageResult:
    started = False

    def callback(done: int, total: int) -> None:
        nonlocal started
        if not started:
            progress.start(key, f"{label:<6} documents", total)
            started = True
        progress.update(key, completed=done, total=total)

    result = run(callback)
    if started:
        progress.finish(key, f"{result.items_updated} updated")
    return result


def _counts(conn: sqlite3.Connection) -> dict[str, int]:
    out: dict[str, int] = {}
    for name, sql in (
        ("projects", "SELECT COUNT(*) FROM projects"),
        ("issues", "SELECT COUNT(*) FROM issues"),
        ("merge_requests", "SELECT COUNT(*) FROM merge_requests"),
        # kept exact by triggers (migration 7)
        ("notes", "SELECT COALESCE(SUM(n), 0) FROM row_counts WHERE name = 'notes'"),
        ("documents", "SELECT COUNT(*) FROM documents"),
        ("embedded_documents", "SELECT COUNT(DISTINCT document_id) FROM embeddings"),
    ):
        out[name] = int(conn.execute(sql).fetchone()[0])
    return out
