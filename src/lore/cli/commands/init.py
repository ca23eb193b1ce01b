"""`lore init`: write a config and check it against the server."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from lore.cli.meta import BOOL, GITLAB_CODES, STR, arr, obj, robot
from lore.cli.output import AppContext
from lore.core.errors import ErrorCode, LoreError

if TYPE_CHECKING:
    from rich.console import Console

    from lore.core.config import Config

CHECK_SCHEMA = obj({"check": STR, "ok": BOOL, "detail": STR})
INIT_SCHEMA = obj(
    {
        "config_path": STR,
        "written": BOOL,
        "config": {"type": "object"},
        "checks": arr(CHECK_SCHEMA),
    }
)


@robot(
    INIT_SCHEMA,
    exit_codes=[ErrorCode.CONFIG_INVALID, *GITLAB_CODES],
    examples=[
        "lore init --url https://gitlab.example.com --project group/repo",
        "lore --robot init --url http://127.0.0.1:8080 --project a/b --project a/c --force",
    ],
)
@click.command("init")
@click.option("--url", help="GitLab base URL, e.g. https://gitlab.example.com")
@click.option(
    "--project",
    "projects",
    multiple=True,
    metavar="PATH",
    help="Project path like group/sub/repo (repeatable).",
)
@click.option(
    "--token-env-var",
    default=None,
    metavar="NAME",
    help="Environment variable holding the token  [default: GITLAB_TOKEN]",
)
@click.option(
    "--ca-bundle",
    default=None,
    metavar="PATH",
    help="PEM file of the CA that signed GitLab's certificate (gitlab.caBundle).",
)
@click.option(
    "--no-tls-verify",
    is_flag=True,
    help="Do not check GitLab's certificate (gitlab.tlsVerify: false; unsafe).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing config.")
@click.option("--skip-checks", is_flag=True, help="Write the config without contacting GitLab.")
@click.pass_obj
def init_cmd(
    app: AppContext,
    url: str | None,
    projects: tuple[str, ...],
    token_env_var: str | None,
    ca_bundle: str | None,
    no_tls_verify: bool,
    force: bool,
    skip_checks: bool,
) -> int:
    """Write a config (asks on a TTY) and check the URL, token and projects against GitLab.

    When GitLab redirects the URL (e.g. http:// to https:// on the same host) the final
    base URL is what gets written, with a warning."""
    from lore.core import config as config_mod

    path = app.config_path()
    if path.exists() and not force:
        raise LoreError(
            ErrorCode.USAGE_ERROR,
            f"a config already exists at {path}; not overwriting it",
            suggestion="Re-run with --force to replace it, or edit the file",
            actions=["lore init --force"],
        )
    if app.interactive:
        url = url or click.prompt("GitLab URL", default="https://gitlab.com", err=True)
        if not projects:
            answer = click.prompt("Projects (comma-separated paths like group/repo)", err=True)
            projects = tuple(p.strip() for p in answer.split(",") if p.strip())
        token_env_var = token_env_var or click.prompt(
            "Environment variable holding the token", default="GITLAB_TOKEN", err=True
        )
    if not url:
        raise LoreError(
            ErrorCode.USAGE_ERROR,
            "missing --url",
            suggestion="lore init --url https://gitlab.example.com --project group/repo",
        )
    if not projects:
        raise LoreError(
            ErrorCode.USAGE_ERROR,
            "missing --project (give at least one)",
            suggestion="lore init --url URL --project group/repo",
        )
    try:
        cfg = config_mod.build(
            url,
            list(projects),
            token_env_var or "GITLAB_TOKEN",
            ca_bundle=ca_bundle,
            tls_verify=not no_tls_verify,
        )
    except LoreError as err:
        # Flags, not a file: report the flag that was wrong.
        flag = {
            "gitlab.baseUrl": "--url",
            "gitlab.tokenEnvVar": "--token-env-var",
            "gitlab.caBundle": "--ca-bundle",
        }.get(str((err.details or {}).get("key")), "--project")
        raise LoreError(
            ErrorCode.USAGE_ERROR,
            f"{flag}: {err.message}",
            suggestion=f"Check the value given to {flag}",
        ) from None

    checks: list[dict[str, Any]] = []
    if not skip_checks:
        final_url = _check_server(cfg, checks)
        if final_url != cfg.base_url:
            app.info(
                f"[yellow]warning:[/yellow] {cfg.base_url} redirects to {final_url}; "
                f"writing {final_url} as gitlab.baseUrl"
            )
            cfg.gitlab.base_url = final_url
    from lore.core.atomic import write_atomic

    write_atomic(path, config_mod.dumps(cfg), mode=0o644)
    data = {"config_path": str(path), "written": True, "config": cfg.to_dict(), "checks": checks}
    return app.emit(data, _render)


def _check_server(cfg: Config, checks: list[dict[str, Any]]) -> str:
    """Run the checks in order; on the first failure raise it with every check so far.
    Returns the base URL GitLab answered at (after a same-host redirect)."""
    from lore.gitlab.client import GitLabClient, RetryPolicy

    def fail(err: LoreError) -> LoreError:
        err.details = {**(err.details or {}), "checks": checks}
        return err

    try:
        cfg.token()
    except LoreError as err:
        checks.append({"check": "token", "ok": False, "detail": err.message})
        raise fail(err) from None
    try:
        client = GitLabClient.from_config(
            cfg, concurrency=2, timeout_seconds=15, retry=RetryPolicy(max_retries=1)
        )
    except LoreError as err:
        checks.append({"check": "tls", "ok": False, "detail": err.message})
        raise fail(err) from None

    def url_step() -> str:
        return f"GitLab {client.version().get('version', '?')} at {client.base_url}"

    with client:
        steps: list[tuple[str, Any]] = [
            ("url", url_step),
            ("token", lambda: f"authenticated as @{client.current_user().get('username', '?')}"),
        ]
        for project in cfg.project_paths:
            steps.append(
                (f"project {project}", lambda p=project: _project_detail(client.project(p)))
            )
        for name, run in steps:
            try:
                detail = run()
            except LoreError as err:
                checks.append({"check": name, "ok": False, "detail": err.message})
                raise fail(err) from None
            checks.append({"check": name, "ok": True, "detail": detail})
            if name == "url" and client.base_url != cfg.base_url:
                # Same-host redirect (http→https): the client moved; so does the config.
                checks.append(
                    {
                        "check": "redirect",
                        "ok": True,
                        "detail": f"{cfg.base_url} redirects to {client.base_url}; "
                        f"writing {client.base_url}",
                    }
                )
        return client.base_url


def _project_detail(raw: dict[str, Any]) -> str:
    return f"found {raw.get('path_with_namespace')} (id {raw.get('id')})"


def _render(data: dict[str, Any], console: Console) -> None:
    for check in data["checks"]:
        mark = "[green]✓[/green]" if check["ok"] else "[red]✗[/red]"
        console.print(f"{mark} {check['check']}: {check['detail']}")
    console.print(f"Wrote {data['config_path']}")
    console.print("Next: [bold]lore sync[/bold]")
