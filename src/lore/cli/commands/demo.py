"""`lore demo`: a zero-setup tour. Starts the built-in GitLab simulator and a fake
embedding server on loopback, mirrors a sample dataset into a fresh data dir, then shows
search, show, who and status — and the commands to keep exploring."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shlex
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from lore.cli.meta import OPT_STR, STR, arr, obj, robot
from lore.cli.output import AppContext
from lore.core.errors import ErrorCode, LoreError

if TYPE_CHECKING:
    from rich.console import Console

DEMO_TOKEN_VAR = "LORE_DEMO_TOKEN"

DEMO_SCHEMA = obj(
    {
        "dir": STR,
        "config_path": STR,
        "data_dir": STR,
        "simulator_url": STR,
        "sync": {"type": "object"},
        "tour": arr(obj({"command": STR, "ok": {"type": "boolean"}, "data": {}, "error": OPT_STR})),
        "next_commands": arr(STR),
        "env": {"type": "object", "additionalProperties": STR},
    }
)


@robot(
    DEMO_SCHEMA,
    exit_codes=[ErrorCode.NETWORK_ERROR, ErrorCode.DB_ERROR],
    examples=["lore demo", "lore demo --dir ./lore-demo", "lore --robot demo --preset small"],
)
@click.command("demo")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to put the demo config and data (default: a new temp dir).",
)
@click.option(
    "--preset",
    type=click.Choice(["small", "medium"]),
    default="small",
    show_default=True,
    help="Size of the sample dataset.",
)
@click.option("--seed", type=int, default=7, show_default=True, help="Dataset seed.")
@click.pass_obj
def demo_cmd(app: AppContext, directory: Path | None, preset: str, seed: int) -> int:
    """Tour lore against a built-in GitLab simulator: sync, search, show, who, status."""
    from lore.core import config as config_mod
    from lore.core.atomic import write_atomic
    from lore.core.locks import acquire_pipeline_lock
    from lore.sim.ollama import FakeOllama
    from lore.sim.server import Simulator
    from lore.sync.pipeline import run_pipeline
    from lore.sync.types import SyncOptions

    root = (directory or Path(tempfile.mkdtemp(prefix="lore-demo-"))).resolve()
    if root.exists() and any(root.iterdir()) and not (root / "config.json").exists():
        raise LoreError(
            ErrorCode.USAGE_ERROR,
            f"{root} is not empty and is not a lore demo dir",
            suggestion="Pick an empty or new directory with --dir",
        )
    config_path = root / "config.json"
    data_dir = root / "data"
    app.info(f"[bold]lore demo[/bold] — starting a GitLab simulator ({preset} preset) on loopback")
    sim = Simulator.start(preset=preset, seed=seed)
    embedder = FakeOllama.start()
    try:
        cfg = config_mod.build(
            sim.url,
            [p.path for p in sim.dataset.projects],
            DEMO_TOKEN_VAR,
            extra={
                "embedding": {
                    "provider": "ollama",
                    "baseUrl": embedder.url,
                    "model": "nomic-embed-text",
                }
            },
        )
        write_atomic(config_path, config_mod.dumps(cfg), mode=0o644)
        os.environ[DEMO_TOKEN_VAR] = sim.token
        os.environ["LORE_CONFIG_PATH"] = str(config_path)
        os.environ["LORE_DATA_DIR"] = str(data_dir)
        app.info(f"Mirroring {', '.join(cfg.project_paths)} into {data_dir}")
        with acquire_pipeline_lock(data_dir):
            if app.robot or app.quiet:
                report = run_pipeline(cfg, data_dir, SyncOptions())
            else:
                from lore.cli.progress import RichProgress

                with RichProgress() as progress:
                    report = run_pipeline(cfg, data_dir, SyncOptions(), progress=progress)
        if report.outcome == "failed":
            failure = report.first_core_failure()
            raise LoreError(
                ErrorCode(failure.error_code or "INTERNAL_ERROR")
                if failure
                else ErrorCode.INTERNAL_ERROR,
                f"demo sync failed: {failure.error if failure else 'unknown'}",
                suggestion="Re-run with LORE_DEBUG=1 and report the problem",
            )
        if not app.robot:
            from lore.cli.commands.sync import _render as render_sync
            from lore.cli.output import stdout_console

            render_sync(report.to_dict(), stdout_console())
        picks = _pick_examples(data_dir, sim)
        tour = [_run_step(app, args) for args in picks]
    finally:
        embedder.stop()
        sim.stop()
    env = {"LORE_CONFIG_PATH": str(config_path), "LORE_DATA_DIR": str(data_dir)}
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    exe = _lore_executable()
    next_commands = [
        f"export {exports}",
        f"{exe} search {shlex.quote(picks[0][1])}",
        f"{exe} who {shlex.quote(picks[2][1])}",
        f"{exe} issues --state all --limit 20",
    ]
    data = {
        "dir": str(root),
        "config_path": str(config_path),
        "data_dir": str(data_dir),
        "simulator_url": sim.url,
        "sync": report.to_dict(),
        "tour": tour,
        "next_commands": next_commands,
        "env": env,
    }
    return app.emit(data, _render)


def _lore_executable() -> str:
    """How the user should spell `lore`: bare when PATH finds this one, else a path."""
    import shutil
    import sys

    this = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    if this is None or this.name != "lore":
        candidate = Path(sys.executable).parent / "lore"
        this = candidate if candidate.exists() else None
    if this is None:
        return "lore"
    found = shutil.which("lore")
    if found and Path(found).resolve() == this:
        return "lore"
    try:
        relative = os.path.relpath(this, Path.cwd())
    except ValueError:  # another drive on Windows
        relative = ".."
    # ./.venv/bin/lore reads well; ../../work/.venv/bin/lore does not: then the full path.
    return shlex.quote(str(this) if relative.startswith("..") else relative)


def _pick_examples(data_dir: Path, sim: Any) -> list[list[str]]:
    """Choose a query, an item and a path that show something interesting."""
    from lore.core.paths import db_path
    from lore.store.db import connect

    conn = connect(db_path(data_dir))
    try:
        row = conn.execute(
            "SELECT p.path, i.iid, i.title FROM issues i JOIN projects p ON p.id = i.project_id "
            "ORDER BY i.user_notes_count DESC, i.id LIMIT 1"
        ).fetchone()
        words = [w for w in str(row[2]).split() if len(w) > 4 and w.isalpha()][:2] if row else []
        query = " ".join(words) or "timeout"
        show_ref = f"{row[0]}#{row[1]}" if row else "#1"
        raw_truth = sim.dataset.truth
        truth = (raw_truth() if callable(raw_truth) else raw_truth).get("areas", [])
        handed_over = [a for a in truth if a.get("previous_owner")]
        area = str((handed_over or truth)[0]["path"]) if truth else None
        if area is None:
            top = conn.execute(
                "SELECT new_path FROM mr_paths GROUP BY new_path ORDER BY COUNT(*) DESC LIMIT 1"
            ).fetchone()
            area = str(Path(top[0]).parent) + "/" if top else "src/"
    finally:
        conn.close()
    return [
        ["search", query, "--limit", "5"],
        ["show", show_ref],
        ["who", area, "--limit", "5"],
        ["status"],
    ]


def _run_step(app: AppContext, args: list[str]) -> dict[str, Any]:
    """Run one lore command in this process, as the user would type it."""
    from lore.cli.app import cli

    command = "lore " + " ".join(shlex.quote(a) for a in args)
    step_ctx = AppContext(robot=app.robot, quiet=app.quiet)
    if not app.robot:
        from lore.cli.output import stdout_console

        stdout_console().rule(f"[bold cyan]$ {command}")
        try:
            cli.main(args=args, prog_name="lore", standalone_mode=False, obj=step_ctx)
            return {"command": command, "ok": True, "data": None, "error": None}
        except LoreError as err:
            stdout_console().print(f"[red]{err.code.value}[/red]: {err.message}")
            return {"command": command, "ok": False, "data": None, "error": err.message}
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            cli.main(args=args, prog_name="lore", standalone_mode=False, obj=step_ctx)
    except LoreError as err:
        return {"command": command, "ok": False, "data": None, "error": err.message}
    doc = json.loads(buffer.getvalue() or "null") or {}
    return {"command": command, "ok": bool(doc.get("ok")), "data": doc.get("data"), "error": None}


def _render(data: dict[str, Any], console: Console) -> None:
    console.rule("[bold green]Your turn")
    console.print(
        f"The demo mirror lives in [bold]{data['dir']}[/bold]. "
        "It works offline; the simulator has stopped."
    )
    console.print("Explore it with:")
    for line in data["next_commands"]:
        console.print(f"  [bold]{line}[/bold]")
