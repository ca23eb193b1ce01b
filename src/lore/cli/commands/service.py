"""`lore service …`: the OS-native scheduled sync (see lore-service-plan.md).

Thin commands over :mod:`lore.service`: each parses flags, calls one library function
and renders the returned dict as robot JSON or as human text. The hidden `run` is what
the scheduler starts: always robot, always exit 0 (lore manages its own retries).
Heavy modules (rich, httpx, sqlite, the pipeline) are imported only on the paths that
use them, so the scheduler's skip paths and `status` stay cheap.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import click

from lore.cli.meta import (
    BOOL,
    CONFIG_CODES,
    INT,
    NUM,
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
from lore.core.errors import ErrorCode, LoreError

if TYPE_CHECKING:
    from lore.service.identity import ProjectIdentity
    from lore.service.targets import Target

# -- robot schemas ---------------------------------------------------------------------------

STATES = (
    "idle",
    "running",
    "running_stale",
    "success",
    "degraded",
    "backoff",
    "half_open",
    "paused",
    "not_installed",
)
PLATFORMS = ("systemd", "launchd", "schtasks", "cron")
PLATFORM_STATES = ("loaded", "running", "not_loaded", "unknown")

STAGE = obj(
    {
        "stage": enum("issues", "mrs", "docs", "embeddings"),
        "success": BOOL,
        "items_updated": INT,
        "error": STR,
        "error_code": STR,
        "retry_after_ms": INT,
        "retried": BOOL,
        "warning": STR,
    },
    required=["stage", "success", "items_updated"],
)
RUN_SUMMARY = obj(
    {
        "timestamp_iso": STR,
        "outcome": enum("success", "degraded", "failed"),
        "duration_seconds": NUM,
        "error_message": STR,
    },
    required=["timestamp_iso", "outcome", "duration_seconds"],
)
DRIFT = obj({"platform_drift": BOOL, "spec_drift": BOOL, "command_drift": BOOL})
CHANGE = obj({"field": STR, "old": {}, "new": {}})
RENDERED_FILE = obj({"path": STR, "mode": STR, "content": STR, "contains_token": BOOL})

INSTALL_SCHEMA = obj(
    {
        "platform": enum(*PLATFORMS),
        "service_id": STR,
        "interval_seconds": INT,
        "profile": enum("fast", "balanced", "full"),
        "binary_path": STR,
        "config_path": OPT_STR,
        "service_files": arr(STR),
        "sync_command": STR,
        "token_env_var": STR,
        "token_source": enum("env_file", "embedded", "system_env"),
        "env_file": OPT_STR,
        "sandboxed": nullable(BOOL),
        "no_change": BOOL,
        "changes": arr(CHANGE),
        "dry_run": BOOL,
        "warnings": arr(STR),
        "rendered_files": arr(RENDERED_FILE),
        "planned_commands": arr(STR),
    },
    required=[
        "platform",
        "service_id",
        "interval_seconds",
        "profile",
        "binary_path",
        "config_path",
        "service_files",
        "sync_command",
        "token_env_var",
        "token_source",
        "env_file",
        "sandboxed",
        "no_change",
        "changes",
        "dry_run",
        "warnings",
    ],
)
UNINSTALL_ONE = obj(
    {
        "was_installed": BOOL,
        "service_id": OPT_STR,
        "platform": STR,
        "removed_files": arr(STR),
        "kept_files": arr(STR),
        "warnings": arr(STR),
    }
)
UNINSTALL_SCHEMA = {
    "type": "object",
    "anyOf": [
        UNINSTALL_ONE,
        obj({"all": {"const": True}, "was_installed": BOOL, "services": arr(UNINSTALL_ONE)}),
    ],
}
LIST_SCHEMA = obj(
    {
        "services": arr(
            obj(
                {
                    "service_id": STR,
                    "platform": STR,
                    "interval_seconds": INT,
                    "profile": STR,
                    "installed_at_iso": STR,
                    "platform_state": enum(*PLATFORM_STATES),
                    "drift": BOOL,
                }
            )
        ),
        "unreadable": arr(obj({"service_id": STR, "path": STR, "error": STR})),
    }
)
STATUS_SCHEMA = obj(
    {
        "installed": BOOL,
        "service_id": OPT_STR,
        "platform": OPT_STR,
        "interval_seconds": OPT_INT,
        "profile": OPT_STR,
        "service_state": nullable(enum(*PLATFORM_STATES)),
        "scheduler_state": enum(*STATES),
        "last_sync": nullable(
            obj(
                {
                    "timestamp_iso": STR,
                    "duration_seconds": NUM,
                    "outcome": enum("success", "degraded", "failed"),
                    "stage_results": arr(STAGE),
                    "consecutive_failures": INT,
                    "error_message": OPT_STR,
                }
            )
        ),
        "recent_runs": arr(RUN_SUMMARY),
        "backoff": nullable(
            obj(
                {
                    "consecutive_failures": INT,
                    "next_retry_iso": STR,
                    "remaining_seconds": INT,
                    "reason": enum("computed", "server_hint"),
                    "circuit_breaker_cooldown_expired": BOOL,
                    "cooldown_remaining_seconds": INT,
                    "message": STR,
                },
                required=["consecutive_failures"],
            )
        ),
        "paused_reason": OPT_STR,
        "paused_code": OPT_STR,
        "paused_message": OPT_STR,
        "current_run": nullable(
            obj({"pid": INT, "started_at_iso": STR, "probe": BOOL, "stale": BOOL})
        ),
        "next_run_iso": OPT_STR,
        "drift": nullable(DRIFT),
    }
)
LOGS_SCHEMA = obj(
    {
        "service_id": STR,
        "stream": enum("stderr", "stdout"),
        "log_path": STR,
        "exists": BOOL,
        "size_bytes": INT,
        "last_lines": nullable(arr(STR)),
    }
)
DOCTOR_SCHEMA = obj(
    {
        "checks": arr(
            obj(
                {
                    "name": STR,
                    "status": enum("pass", "warn", "fail", "fixed"),
                    "message": STR,
                    "action": STR,
                },
                required=["name", "status"],
            )
        ),
        "overall": enum("pass", "warn", "fail"),
        "platform": enum(*PLATFORMS),
        "fixes_applied": arr(STR),
        "offline": BOOL,
    }
)
PAUSE_SCHEMA = obj(
    {"service_id": STR, "paused": {"const": True}, "reason": STR, "already_paused": BOOL}
)
RESUME_SCHEMA = obj(
    {
        "service_id": OPT_STR,
        "installed": BOOL,
        "was_paused": BOOL,
        "previous_reason": OPT_STR,
        "previous_message": OPT_STR,
        "consecutive_failures_cleared": INT,
        "message": STR,
    }
)
REPAIR_SCHEMA = obj(
    {
        "service_id": STR,
        "repaired": BOOL,
        "needs_reinstall": BOOL,
        "message": STR,
        "actions": arr(
            obj(
                {
                    "file": STR,
                    "action": enum("reinitialized", "backed_up"),
                    "backup": STR,
                    "reason": STR,
                },
                required=["file", "action", "backup"],
            )
        ),
    }
)
_RUN_DONE = obj(
    {
        "action": enum("sync_completed", "paused"),
        "service_id": STR,
        "outcome": enum("success", "degraded", "failed"),
        "profile": enum("fast", "balanced", "full"),
        "duration_seconds": NUM,
        "stage_results": arr(STAGE),
        "consecutive_failures": INT,
        "scheduler_state": enum(*STATES),
        "probe": BOOL,
        "in_run_retry": nullable(
            obj(
                {"stage": STR, "delay_seconds": NUM, "first_error_code": OPT_STR, "recovered": BOOL}
            )
        ),
        "next_retry_iso": OPT_STR,
        "reason": STR,
        "message": STR,
        "suggestion": STR,
    },
    required=[
        "action",
        "service_id",
        "outcome",
        "profile",
        "duration_seconds",
        "stage_results",
        "consecutive_failures",
        "scheduler_state",
        "probe",
        "in_run_retry",
        "next_retry_iso",
    ],
)
_RUN_PAUSED = obj(
    {
        "action": {"const": "paused"},
        "service_id": STR,
        "reason": OPT_STR,
        "message": OPT_STR,
        "suggestion": STR,
        "consecutive_failures": INT,
        "cooldown_remaining_seconds": INT,
    },
    required=["action", "service_id", "reason", "message", "suggestion", "consecutive_failures"],
)
_RUN_BACKOFF = obj(
    {
        "action": {"const": "skipped"},
        "service_id": STR,
        "reason": {"const": "backoff"},
        "consecutive_failures": INT,
        "next_retry_iso": STR,
        "remaining_seconds": INT,
    }
)
_RUN_LOCKED = obj(
    {
        "action": {"const": "skipped"},
        "service_id": STR,
        "reason": {"const": "locked"},
        "holder": nullable(obj({"pid": OPT_INT, "started_at": OPT_STR, "command": OPT_STR})),
    }
)
RUN_SCHEMA = {"type": "object", "anyOf": [_RUN_DONE, _RUN_PAUSED, _RUN_BACKOFF, _RUN_LOCKED]}

SERVICE_CODES = (
    ErrorCode.SERVICE_ERROR,
    ErrorCode.SERVICE_COMMAND_FAILED,
    ErrorCode.SERVICE_CORRUPT_STATE,
)
SELECT_CODES = (ErrorCode.NOT_FOUND, ErrorCode.AMBIGUOUS, ErrorCode.SERVICE_CORRUPT_STATE)


# -- option types with errors that say what would be accepted ----------------------------------


class _Choice(click.Choice):  # type: ignore[type-arg,unused-ignore]
    """A choice listed in robot-docs whose refusal is a LoreError with a real suggestion."""

    def __init__(self, choices: tuple[str, ...], check: Callable[[str], Any]) -> None:
        super().__init__(choices)
        self._check = check

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value in self.choices:
            return value
        self._check(str(value))  # raises USAGE_ERROR naming the value and the choices
        return value


def _choices() -> dict[str, tuple[tuple[str, ...], Callable[[str], Any]]]:
    from lore.service import options

    return {
        "profile": (tuple(options.PROFILES), options.check_profile),
        "token_source": (tuple(options.TOKEN_SOURCES), options.check_token_source),
        "backend": (options.BACKEND_CHOICES, options.check_backend),
    }


_CHOICES = _choices()


def _choice(kind: str) -> _Choice:
    values, check = _CHOICES[kind]
    return _Choice(values, check)


def _service_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--service",
        "selector",
        metavar="ID|NAME",
        help="Target a specific service by id or name (default: the current "
        "project's, or the only one installed).",
    )(func)


# -- shared helpers ------------------------------------------------------------------------------


def _identity_loader(app: AppContext) -> Callable[[], ProjectIdentity | None]:
    def load() -> ProjectIdentity | None:
        from lore.core.paths import workspace_root
        from lore.service.identity import current_identity

        try:
            config = app.config()
        except LoreError:
            return None
        return current_identity(
            app.config_path(), config.base_url, config.project_paths, workspace_root()
        )

    return load


def _resolve(app: AppContext, selector: str | None, *, accept_status_only: bool = False) -> Target:
    from lore.service.targets import resolve

    return resolve(
        app.data_dir(), selector, _identity_loader(app), accept_status_only=accept_status_only
    )


def _clock() -> Any:
    from lore.core.clock import default_clock

    return default_clock()


class Console:
    """Line output for the service commands: plain text, coloured on a terminal.

    The service's human output is a handful of lines; rich would cost more to import
    than `lore service status` is allowed to take (its cold path is benchmarked).
    """

    _COLORS: ClassVar[dict[str, str]] = {"red": "31", "green": "32", "yellow": "33", "cyan": "36"}

    def __init__(self) -> None:
        import os

        self.color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")

    def line(self, text: str, style: str | None = None) -> None:
        code = self._COLORS.get(style or "") if self.color else None
        sys.stdout.write(f"\x1b[{code}m{text}\x1b[0m\n" if code else text + "\n")


def _say(console: Console, text: str = "", style: str | None = None) -> None:
    console.line(text, style)


def _emit(
    app: AppContext, data: dict[str, Any], human: Callable[[dict[str, Any], Console], None]
) -> int:
    """Robot: the envelope; human: the renderer over plain lines (no rich import)."""
    if app.robot:
        return app.emit(data)
    human(data, Console())
    sys.stdout.flush()
    return 0


def _fmt_interval(seconds: int | None) -> str:
    from lore.service.options import format_interval

    return f"{format_interval(seconds)} ({seconds}s)" if seconds else "-"


def _home_short(path: str) -> str:
    import os

    home = os.environ.get("HOME")
    if home and path.startswith(home.rstrip("/") + "/"):
        return "~" + path[len(home.rstrip("/")) :]
    return path


# -- the group -------------------------------------------------------------------------------------


@click.group("service")
def service_group() -> None:
    """Scheduled sync through the OS scheduler (systemd, launchd, Task Scheduler, cron)."""


# -- install ---------------------------------------------------------------------------------------


@robot(
    INSTALL_SCHEMA,
    exit_codes=[*CONFIG_CODES, ErrorCode.TOKEN_NOT_SET, *SERVICE_CODES],
    examples=[
        "lore service install --interval 15m --profile fast",
        "lore --robot service install --dry-run",
        "lore service install --name my-project --backend cron",
    ],
)
@click.command("install")
@click.option(
    "--interval",
    default="30m",
    show_default=True,
    metavar="DURATION",
    help="How often to sync: 5m to 24h, in minutes (m) or hours (h).",
)
@click.option(
    "--profile",
    type=_choice("profile"),
    default="balanced",
    show_default=True,
    help="fast (issues+MRs), balanced (+ docs), full (+ embeddings).",
)
@click.option(
    "--token-source",
    type=_choice("token_source"),
    default="env-file",
    show_default=True,
    help="env-file (a 0600 file the scheduler reads) or embedded (in the service file).",
)
@click.option(
    "--name",
    metavar="NAME",
    help="Service name instead of the project fingerprint ([a-z0-9-], at most 32).",
)
@click.option(
    "--backend",
    type=_choice("backend"),
    default="auto",
    show_default=True,
    help="Scheduler: auto picks launchd/schtasks, or systemd when a user manager runs, else cron.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Validate and show the files and commands; write and run nothing.",
)
@click.pass_obj
def install_cmd(
    app: AppContext,
    interval: str,
    profile: str,
    token_source: str,
    name: str | None,
    backend: str,
    dry_run: bool,
) -> int:
    """Install (or update) the scheduled sync for the current project."""
    from lore.core.paths import workspace_root
    from lore.service.install import InstallRequest, install_service
    from lore.service.options import check_token_source, parse_interval

    request = InstallRequest(
        interval_seconds=parse_interval(interval),
        profile=profile,
        token_source=check_token_source(token_source),
        name=name,
        backend=backend,
        dry_run=dry_run,
    )
    data = install_service(
        request,
        config_file=app.config_path(),
        data_dir=app.data_dir(),
        workspace=workspace_root(),
        clock=_clock(),
    )
    return _emit(app, data, _render_install)


def _render_install(data: dict[str, Any], console: Console) -> None:
    from lore.service.options import PROFILES

    if data["dry_run"]:
        title = "Dry run: nothing was written or run. The install would be:"
    elif data["no_change"]:
        title = "Service already installed; nothing changed:"
    elif data["changes"]:
        title = "Service updated:"
    else:
        title = "Service installed:"
    _say(console, title)
    flags = " ".join(PROFILES.get(data["profile"], ())) or "all stages"
    rows = [
        ("Platform", data["platform"]),
        ("Service ID", data["service_id"]),
        ("Interval", _fmt_interval(data["interval_seconds"])),
        ("Profile", f"{data['profile']} ({flags})"),
        ("Binary", data["binary_path"]),
    ]
    rows += [("Service", _home_short(f)) for f in data["service_files"]]
    rows.append(("Command", data["sync_command"]))
    if data["token_source"] == "env_file":
        rows.append(("Token", f"stored in {_home_short(data['env_file'])} (0600)"))
    elif data["token_source"] == "embedded":
        rows.append(("Token", "embedded in the service file"))
    else:
        rows.append(("Token", f"read from your user environment ({data['token_env_var']})"))
    for label, value in rows:
        _say(console, f"  {label + ':':<12}{value}")
    for change in data["changes"]:
        if change["old"] is None and change["new"] is None:
            _say(console, f"  Changed:    {change['field']}")
        else:
            _say(console, f"  Changed:    {change['field']}: {change['old']} -> {change['new']}")
    for warning in data["warnings"]:
        _say(console, f"  Warning: {warning}", style="yellow")
    if data["dry_run"]:
        for rendered in data.get("rendered_files", []):
            _say(console, f"\n--- {rendered['path']} (mode {rendered['mode']})")
            _say(console, rendered["content"].rstrip("\n"))
        _say(console, "\nCommands:")
        for command in data.get("planned_commands", []):
            _say(console, f"  {command}")
    else:
        _say(console, "To rotate your token: lore service install")


# -- uninstall ----------------------------------------------------------------------------------


@robot(
    UNINSTALL_SCHEMA,
    exit_codes=[*SELECT_CODES, *SERVICE_CODES],
    examples=[
        "lore service uninstall",
        "lore service uninstall --service my-project",
        "lore --robot service uninstall --all",
    ],
)
@click.command("uninstall")
@_service_option
@click.option("--all", "all_", is_flag=True, help="Uninstall every installed service.")
@click.pass_obj
def uninstall_cmd(app: AppContext, selector: str | None, all_: bool) -> int:
    """Remove the scheduled sync (keeps the status file and logs)."""
    from lore.service.identity import installed_service_ids
    from lore.service.install import uninstall_service
    from lore.service.targets import Target

    if all_ and selector:
        raise LoreError(
            ErrorCode.USAGE_ERROR,
            "--all and --service cannot be combined",
            suggestion="Use one of them",
        )
    data_dir = app.data_dir()
    if all_:
        ids = installed_service_ids(data_dir)
        results = [uninstall_service(data_dir, Target(sid, True, ids), _clock()) for sid in ids]
        data: dict[str, Any] = {"all": True, "was_installed": bool(results), "services": results}
    else:
        data = uninstall_service(data_dir, _resolve(app, selector), _clock())
    return _emit(app, data, _render_uninstall)


def _render_uninstall(data: dict[str, Any], console: Console) -> None:
    results = data["services"] if data.get("all") else [data]
    if not results or not any(r["was_installed"] for r in results):
        _say(console, "Service is not installed. Nothing to do.")
        return
    for result in results:
        if not result["was_installed"]:
            continue
        _say(console, f"Service uninstalled ({result['service_id']}):")
        for path in result["removed_files"]:
            _say(console, f"  Removed: {_home_short(path)}")
        for path in result["kept_files"]:
            what = "(service logs)" if path.endswith("logs") else "(run history)"
            _say(console, f"  Kept:    {_home_short(path)} {what}")
        for warning in result["warnings"]:
            _say(console, f"  Warning: {warning}", style="yellow")


# -- list ------------------------------------------------------------------------------------------


@robot(LIST_SCHEMA, examples=["lore service list", "lore --robot service list"])
@click.command("list")
@click.pass_obj
def list_cmd(app: AppContext) -> int:
    """List every installed service."""
    from lore.service.inspect import list_services

    return _emit(app, list_services(app.data_dir()), _render_list)


def _render_list(data: dict[str, Any], console: Console) -> None:
    from lore.service.options import format_interval

    if not data["services"] and not data["unreadable"]:
        _say(console, "No services installed. Run: lore service install")
        return
    if data["services"]:
        _say(console, "Installed services:")
    for s in data["services"]:
        drift = "  DRIFT (see lore service status)" if s["drift"] else ""
        _say(
            console,
            f"  {s['service_id']:<14}{s['platform']:<10}"
            f"{format_interval(s['interval_seconds']):<6}{s['profile']:<10}"
            f"installed {s['installed_at_iso'][:10]}  {s['platform_state']}{drift}",
        )
    for bad in data["unreadable"]:
        _say(console, f"  {bad['service_id']:<14}unreadable manifest: {bad['error']}", style="red")


# -- status ----------------------------------------------------------------------------------------


@robot(
    STATUS_SCHEMA,
    exit_codes=[*SELECT_CODES],
    examples=["lore service status", "lore --robot service status --service my-project"],
)
@click.command("status")
@_service_option
@click.pass_obj
def status_cmd(app: AppContext, selector: str | None) -> int:
    """Install state, scheduler state, last sync, recent runs and drift."""
    from lore.service.inspect import service_status
    from lore.service.targets import pid_alive

    target = _resolve(app, selector)

    def platform_hint() -> str:
        from lore.service.backends import detect_backend_name

        return detect_backend_name()

    data = service_status(
        app.data_dir(), target.service_id, target.installed, _clock(), pid_alive, platform_hint
    )
    return _emit(app, data, _render_status)


def _render_status(data: dict[str, Any], console: Console) -> None:
    if not data["installed"]:
        sid = f" ({data['service_id']})" if data["service_id"] else ""
        _say(console, f"Service status{sid}:")
        _say(console, "  Installed:  no")
        _say(console, f"  Scheduler:  {data['platform']}")
        _say(console, "  Install it with: lore service install")
        return
    _say(console, f"Service status ({data['service_id']}):")
    rows = [
        ("Installed", "yes"),
        ("Platform", data["platform"]),
        ("Interval", _fmt_interval(data["interval_seconds"])),
        ("Profile", data["profile"]),
        ("State", data["service_state"]),
    ]
    if data["next_run_iso"]:
        rows.append(("Next run", data["next_run_iso"]))
    for label, value in rows:
        _say(console, f"  {label + ':':<12}{value}")
    state = data["scheduler_state"]
    last = data["last_sync"]
    if state == "paused":
        _say(console, f"  Scheduler:  PAUSED - {data['paused_code']}", style="red")
        _say(console, f"    {data['paused_message']}")
        if data["paused_code"] == "CIRCUIT_BREAKER":
            _say(
                console, "    Fix: check network/GitLab availability, then run: lore service resume"
            )
        elif data["paused_code"] == "MANUAL":
            _say(console, "    Resume with: lore service resume")
        else:
            _say(
                console,
                "    Fix: rotate the token or fix the config, then run: lore service resume",
            )
    elif state == "half_open":
        _say(console, "  Scheduler:  HALF_OPEN", style="yellow")
        _say(console, "    Circuit breaker cooldown expired. Next run will probe.")
        _say(console, "    If the probe succeeds, the scheduler returns to normal.")
    elif state == "backoff" and data["backoff"]:
        b = data["backoff"]
        _say(
            console,
            f"  Scheduler:  BACKOFF ({b['consecutive_failures']} consecutive failures)",
            style="yellow",
        )
        _say(
            console,
            f"    Next retry: {b['next_retry_iso']} (in {b['remaining_seconds']}s"
            + (", server hint" if b.get("reason") == "server_hint" else "")
            + ")",
        )
    elif state == "degraded" and last:
        ok = [s for s in last["stage_results"] if s["success"]]
        bad = [s for s in last["stage_results"] if not s["success"]]
        _say(console, "  Scheduler:  DEGRADED", style="yellow")
        _say(
            console,
            "    Core stages OK: " + ", ".join(f"{s['stage']} ({s['items_updated']})" for s in ok),
        )
        _say(
            console,
            "    Failed stages: " + ", ".join(f"{s['stage']} ({s.get('error')})" for s in bad),
        )
        _say(console, "    Core data is fresh. Optional stages will retry next run.")
    elif state in ("running", "running_stale") and data["current_run"]:
        run = data["current_run"]
        label = "RUNNING_STALE" if state == "running_stale" else "running"
        _say(
            console,
            f"  Scheduler:  {label} (pid {run['pid']}, started {run['started_at_iso']})",
            style="red" if state == "running_stale" else None,
        )
        if state == "running_stale":
            _say(console, "    That run crashed or was killed; the next run replaces it.")
    else:
        _say(console, f"  Scheduler:  {state}")
    if last:
        _say(console, "  Last sync:")
        _say(console, f"    Time:      {last['timestamp_iso']}")
        _say(console, f"    Duration:  {last['duration_seconds']}s")
        _say(console, f"    Outcome:   {last['outcome']}")
        _say(
            console,
            "    Stages:    "
            + ", ".join(
                f"{s['stage']} ({s['items_updated']})" if s["success"] else f"{s['stage']} (failed)"
                for s in last["stage_results"]
            ),
        )
        _say(console, f"    Failures:  {last['consecutive_failures']} consecutive")
    if data["recent_runs"]:
        _say(console, f"  Recent runs (last {len(data['recent_runs'])}):")
        for run in data["recent_runs"]:
            _say(
                console,
                f"    {run['timestamp_iso'][:16].replace('T', ' ')} UTC  "
                f"{run['outcome']:<9}{run['duration_seconds']}s",
            )
    drift = data["drift"] or {}
    kinds = [k.replace("_drift", "") for k, v in drift.items() if v]
    if kinds:
        _say(
            console,
            f"  Drift:      {', '.join(kinds)} (re-run: lore service install)",
            style="yellow",
        )


# -- logs ------------------------------------------------------------------------------------------


@robot(
    LOGS_SCHEMA,
    exit_codes=[*SELECT_CODES, ErrorCode.SERVICE_ERROR],
    examples=[
        "lore service logs",
        "lore service logs --tail 50 --follow",
        "lore --robot service logs --tail 20",
    ],
)
@click.command("logs")
@click.option(
    "--tail",
    type=click.IntRange(min=0),
    is_flag=False,
    flag_value=100,
    default=None,
    metavar="N",
    help="Show the last N lines (100 if N is omitted).",
)
@click.option("--follow", is_flag=True, help="Stream new lines as they arrive (Ctrl-C stops).")
@click.option("--open", "open_", is_flag=True, help="Open the log in $VISUAL, $EDITOR or less.")
@click.option(
    "--stream",
    type=click.Choice(["stderr", "stdout"]),
    default="stderr",
    show_default=True,
    help="stderr: lore's log lines; stdout: each run's JSON result.",
)
@_service_option
@click.pass_obj
def logs_cmd(
    app: AppContext, tail: int | None, follow: bool, open_: bool, stream: str, selector: str | None
) -> int:
    """Show, follow or open the service log."""
    from lore.service.logs import ROBOT_TAIL_CAP, TAIL_DEFAULT, log_path, tail_lines

    if follow and open_:
        raise LoreError(
            ErrorCode.USAGE_ERROR,
            "--follow and --open cannot be combined",
            suggestion="Use --follow to stream, or --open to read in an editor",
        )
    if follow and app.robot:
        raise LoreError(
            ErrorCode.USAGE_ERROR,
            "follow mode requires an interactive terminal (not --robot)",
            suggestion="Use: lore --robot service logs --tail 100",
        )
    target = _resolve(app, selector, accept_status_only=True)
    if target.service_id is None:
        from lore.service.targets import require_installed

        require_installed(target)
    sid = str(target.service_id)
    path = log_path(sid, app.data_dir(), stream)
    exists = path.is_file()
    if app.robot:
        lines = (
            tail_lines(path, min(tail, ROBOT_TAIL_CAP))
            if tail is not None and exists
            else ([] if tail is not None else None)
        )
        return app.emit(
            {
                "service_id": sid,
                "stream": stream,
                "log_path": str(path),
                "exists": exists,
                "size_bytes": path.stat().st_size if exists else 0,
                "last_lines": lines,
            }
        )
    if open_:
        return _open_editor(path)
    out = sys.stdout
    if not exists and not follow:
        out.write(f"No log file found yet. It will be written to: {path}\n")
        return 0
    count = tail if tail is not None else (10 if follow else TAIL_DEFAULT)
    for line in tail_lines(path, count):
        out.write(line + "\n")
    out.flush()
    if follow:
        from lore.service.logs import follow as follow_lines

        try:
            for line in follow_lines(path):
                out.write(line + "\n")
                out.flush()
        except KeyboardInterrupt:
            return 0
    return 0


def _open_editor(path: Any) -> int:
    import subprocess

    from lore.service.logs import editor_command

    if not path.is_file():
        sys.stdout.write(f"No log file found yet. It will be written to: {path}\n")
        return 0
    editor = editor_command()
    if editor is None:
        raise LoreError(
            ErrorCode.SERVICE_ERROR,
            "no editor found: $VISUAL and $EDITOR are unset and less/notepad are not installed",
            suggestion=f"Set EDITOR, or read it with: lore service logs --tail 100 (file: {path})",
        )
    try:
        return subprocess.call([*editor, str(path)])
    except OSError as exc:
        raise LoreError(
            ErrorCode.SERVICE_ERROR,
            f"cannot start the editor {editor[0]}: {exc}",
            suggestion="Set VISUAL or EDITOR to an installed editor",
        ) from None


# -- doctor ----------------------------------------------------------------------------------------


@robot(
    DOCTOR_SCHEMA,
    exit_codes=[ErrorCode.SERVICE_ERROR],
    examples=[
        "lore service doctor",
        "lore --robot service doctor --offline",
        "lore service doctor --fix",
    ],
)
@click.command("doctor")
@click.option("--offline", is_flag=True, help="Skip the network check of the token.")
@click.option(
    "--fix",
    is_flag=True,
    help="Apply safe fixes: create directories, tighten file permissions, reload systemd.",
)
@click.option(
    "--backend",
    type=_choice("backend"),
    default="auto",
    show_default=True,
    help="Check this scheduler (default: the installed one, else this machine's).",
)
@click.pass_obj
def doctor_cmd(app: AppContext, offline: bool, fix: bool, backend: str) -> int:
    """Check that the service can run here: config, token, binary, scheduler, files.

    Exits non-zero (SERVICE_ERROR) when a check fails.
    """
    from lore.service.backends import choose_backend
    from lore.service.doctor import run_doctor
    from lore.service.identity import installed_service_ids
    from lore.service.manifest import load_manifest

    data_dir = app.data_dir()
    ids = installed_service_ids(data_dir)
    if backend == "auto":
        for sid in ids:
            try:
                manifest = load_manifest(sid, data_dir)
            except LoreError:
                continue
            if manifest is not None:
                backend = manifest.platform
                break
    report = run_doctor(
        config_file=app.config_path(),
        data_dir=data_dir,
        backend=choose_backend(backend),
        offline=offline,
        fix=fix,
        service_ids=ids,
    )
    data = {**report.to_dict(), "offline": offline}
    if report.overall != "fail":
        return _emit(app, data, _render_doctor)
    if not app.robot:
        _render_doctor(data, Console())
    failing = [c for c in report.checks if c.status == "fail"]
    raise LoreError(
        ErrorCode.SERVICE_ERROR,
        f"service doctor found {len(failing)} failing check(s): "
        + "; ".join(f"{c.name}: {c.message}" for c in failing),
        suggestion=next((c.action for c in failing if c.action), "See the checks above"),
        actions=[c.action for c in failing if c.action],
        # not "checks": the human error printer gives that key another shape (lore init's)
        details={"doctor": data},
    )


def _render_doctor(data: dict[str, Any], console: Console) -> None:
    _say(console, f"Service doctor ({data['platform']}):")
    styles = {"pass": "green", "warn": "yellow", "fail": "red", "fixed": "cyan"}
    for check in data["checks"]:
        status = check["status"]
        _say(
            console,
            f"  [{status.upper()}] {check.get('message') or check['name']}",
            style=styles.get(status),
        )
        if check.get("action") and status in ("warn", "fail"):
            _say(console, f"         Fix: {check['action']}")
    warns = sum(1 for c in data["checks"] if c["status"] == "warn")
    fails = sum(1 for c in data["checks"] if c["status"] == "fail")
    detail = ", ".join(
        p
        for p in (
            f"{fails} failing" if fails else "",
            f"{warns} warning{'s' if warns != 1 else ''}" if warns else "",
        )
        if p
    )
    _say(console, f"Overall: {data['overall'].upper()}" + (f" ({detail})" if detail else ""))


# -- pause / resume / repair -----------------------------------------------------------------------


@robot(
    PAUSE_SCHEMA,
    exit_codes=[*SELECT_CODES, ErrorCode.SERVICE_ERROR],
    examples=["lore service pause --reason 'GitLab maintenance window'"],
)
@click.command("pause")
@click.option("--reason", metavar="TEXT", help="Why (shown by status; default: Manually paused).")
@_service_option
@click.pass_obj
def pause_cmd(app: AppContext, reason: str | None, selector: str | None) -> int:
    """Stop scheduled runs without uninstalling (the scheduler keeps firing; runs no-op)."""
    from lore.service.admin import pause_service
    from lore.service.targets import require_installed

    sid = require_installed(_resolve(app, selector))
    data = pause_service(app.data_dir(), sid, reason, _clock())

    def human(d: dict[str, Any], console: Console) -> None:
        _say(
            console,
            f"Service {'already paused; reason updated' if d['already_paused'] else 'paused'}"
            f" ({d['service_id']}):",
        )
        _say(console, f"  Reason: {d['reason']}")
        _say(console, "  Resume with: lore service resume")

    return _emit(app, data, human)


@robot(
    RESUME_SCHEMA,
    exit_codes=[*SELECT_CODES, ErrorCode.SERVICE_ERROR],
    examples=["lore service resume", "lore --robot service resume --service my-project"],
)
@click.command("resume")
@_service_option
@click.pass_obj
def resume_cmd(app: AppContext, selector: str | None) -> int:
    """Clear a pause (manual, error or circuit breaker) and the failure count."""
    from lore.service.admin import resume_service

    target = _resolve(app, selector)
    data = resume_service(app.data_dir(), target.service_id, target.installed, _clock())

    def human(d: dict[str, Any], console: Console) -> None:
        if not d["was_paused"]:
            _say(console, d["message"])
            return
        reason = d["previous_reason"]
        if reason == "CIRCUIT_BREAKER":
            reason = f"CIRCUIT_BREAKER, {d['consecutive_failures_cleared']} transient failures"
        _say(console, "Service resumed:")
        _say(console, f"  Previous state: PAUSED ({reason})")
        _say(console, f"  Failures cleared: {d['consecutive_failures_cleared']}")
        _say(console, f"  {d['message']}")

    return _emit(app, data, human)


@robot(
    REPAIR_SCHEMA,
    exit_codes=[*SELECT_CODES, ErrorCode.SERVICE_ERROR],
    examples=["lore service repair", "lore --robot service repair --service my-project"],
)
@click.command("repair")
@_service_option
@click.pass_obj
def repair_cmd(app: AppContext, selector: str | None) -> int:
    """Back up corrupt manifest/status files (.corrupt.{timestamp}) and reinitialise."""
    from lore.service.admin import repair_service
    from lore.service.targets import require_installed

    target = _resolve(app, selector, accept_status_only=True)
    sid = (
        target.service_id
        if target.service_id and (target.installed or selector is not None)
        else require_installed(target)
    )
    data = repair_service(app.data_dir(), sid, _clock())

    def human(d: dict[str, Any], console: Console) -> None:
        if not d["repaired"]:
            _say(console, f"No repair needed ({d['service_id']}).")
            return
        _say(console, f"Service repaired ({d['service_id']}):")
        for action in d["actions"]:
            verb = "Reinitialized" if action["action"] == "reinitialized" else "Moved aside"
            _say(console, f"  {verb}: {action['file']}")
            _say(console, f"  Backed up: {action['backup']}")
        if d["needs_reinstall"]:
            _say(console, "  The manifest was corrupt: reinstall with: lore service install")

    return _emit(app, data, human)


# -- trigger and the hidden run ----------------------------------------------------------------------


@robot(
    RUN_SCHEMA,
    exit_codes=[*SELECT_CODES, ErrorCode.TOKEN_NOT_SET, ErrorCode.SERVICE_ERROR],
    examples=["lore service trigger", "lore --robot service trigger --ignore-backoff"],
)
@click.command("trigger")
@click.option(
    "--ignore-backoff",
    is_flag=True,
    help="Run even inside the backoff window (a pause still wins: use resume).",
)
@_service_option
@click.pass_obj
def trigger_cmd(app: AppContext, ignore_backoff: bool, selector: str | None) -> int:
    """Run one sync now through the service policy, with the installed profile."""
    from lore.service.run import (
        deps_from_env,
        load_token_from_env_file,
        require_manifest,
        run_service,
    )
    from lore.service.targets import require_installed

    sid = require_installed(_resolve(app, selector))
    data_dir = app.data_dir()
    manifest = require_manifest(sid, data_dir)
    if not load_token_from_env_file(manifest, data_dir):
        # Without a token the run would fail "permanently" and pause the service for
        # everyone; refuse here instead, touching nothing.
        var = manifest.token_env_var
        raise LoreError(
            ErrorCode.TOKEN_NOT_SET,
            f"environment variable {var} is not set and the service stores no token",
            suggestion=f"export {var}=<token>, or reinstall: lore service install",
            actions=["lore service install"],
        )
    if not app.robot and not app.quiet:
        app.info(f"Running service {sid} now (profile {manifest.profile})…")
    data = run_service(sid, data_dir, deps_from_env(_clock()), ignore_backoff=ignore_backoff)
    return _emit(app, data, _render_run)


def _render_run(data: dict[str, Any], console: Console) -> None:
    action = data["action"]
    if action == "skipped" and data["reason"] == "backoff":
        _say(
            console,
            f"Skipped: in backoff after {data['consecutive_failures']} failures; next "
            f"retry {data['next_retry_iso']} (in {data['remaining_seconds']}s).",
        )
        _say(console, "Run anyway with: lore service trigger --ignore-backoff")
        return
    if action == "skipped":
        holder = data.get("holder") or {}
        _say(
            console,
            "Skipped: another sync holds the pipeline lock"
            + (f" (pid {holder.get('pid')})" if holder.get("pid") else "")
            + ".",
        )
        return
    if "outcome" not in data:
        _say(console, f"Paused ({data['reason']}): {data['message']}", style="red")
        _say(console, data["suggestion"])
        return
    stages = ", ".join(
        f"{s['stage']} ({s['items_updated']})"
        if s["success"]
        else f"{s['stage']} (failed: {s.get('error_code')}: {s.get('error')})"
        for s in data["stage_results"]
    )
    style = {"success": "green", "degraded": "yellow", "failed": "red"}[data["outcome"]]
    _say(
        console,
        f"Sync {data['outcome']} in {data['duration_seconds']}s"
        + (" (half-open probe)" if data["probe"] else "")
        + f": {stages}",
        style=style,
    )
    if data.get("in_run_retry"):
        retry = data["in_run_retry"]
        _say(
            console,
            f"  Retried {retry['stage']} once after {retry['delay_seconds']}s: "
            + ("recovered" if retry["recovered"] else "failed again"),
        )
    _say(
        console,
        f"  Scheduler: {data['scheduler_state']}; consecutive failures: "
        f"{data['consecutive_failures']}",
    )
    if data.get("next_retry_iso"):
        _say(console, f"  Next retry not before {data['next_retry_iso']}")
    if action == "paused":
        _say(console, f"  Paused ({data['reason']}): {data['message']}", style="red")
        _say(console, f"  {data['suggestion']}")


@robot(
    RUN_SCHEMA,
    exit_codes=[ErrorCode.SERVICE_ERROR, ErrorCode.SERVICE_CORRUPT_STATE],
    examples=["lore --robot service run --service-id a1b2c3d4e5f6"],
)
@click.command("run", hidden=True)
@click.option(
    "--service-id",
    "service_id",
    required=True,
    metavar="ID",
    help="The service whose manifest and status file this run uses.",
)
@click.pass_obj
def run_cmd(app: AppContext, service_id: str) -> int:
    """One scheduled attempt (started by the OS scheduler). Always robot, always exit 0."""
    from lore.cli.service_run import run_scheduled

    return run_scheduled(app, service_id)


for _command in (
    install_cmd,
    uninstall_cmd,
    list_cmd,
    status_cmd,
    logs_cmd,
    doctor_cmd,
    pause_cmd,
    resume_cmd,
    trigger_cmd,
    repair_cmd,
    run_cmd,
):
    service_group.add_command(_command)
