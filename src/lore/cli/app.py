"""The root command, global flags, and the one place where errors become envelopes and
exit codes. Subcommands live in ``lore.cli.commands`` and are imported lazily so that
cold commands (``--version``, ``robot-docs``, ``service status``) stay fast.

click itself is imported only when a command line needs it: ``main`` runs the common
``lore [--robot] search …`` lines without it (see :mod:`lore.search.command`), which
saves ~20-30 ms, a third of such a process. The click root command ``cli`` (and
``LazyGroup``) are built on first access, ``from lore.cli.app import cli`` as before."""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import time
from functools import cache
from typing import TYPE_CHECKING, Any

from lore.cli.output import AppContext, configure_logging, emit_error
from lore.core.errors import ErrorCode, LoreError, as_lore_error

if TYPE_CHECKING:
    import click

#: name -> "module:attribute"; the order is the order of `lore --help`.
COMMANDS: dict[str, str] = {
    "init": "lore.cli.commands.init:init_cmd",
    "sync": "lore.cli.commands.sync:sync_cmd",
    "issues": "lore.cli.commands.query:issues_cmd",
    "mrs": "lore.cli.commands.query:mrs_cmd",
    "show": "lore.cli.commands.query:show_cmd",
    "search": "lore.cli.commands.search:search_cmd",
    "who": "lore.cli.commands.who:who_cmd",
    "status": "lore.cli.commands.status:status_cmd",
    "service": "lore.cli.commands.service:service_group",
    "demo": "lore.cli.commands.demo:demo_cmd",
    "robot-docs": "lore.cli.commands.robot_docs:robot_docs_cmd",
}

ROBOT_FLAGS = ("--robot", "-J")
QUIET_FLAGS = ("--quiet", "-q")


def _suggest(word: str, candidates: list[str]) -> str | None:
    import difflib  # only on an error path

    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return close[0] if close else None


@cache
def _build() -> dict[str, Any]:
    """The click root command and its group class (imports click)."""
    import click

    from lore import __version__

    class LazyGroup(click.Group):
        """A group whose subcommands are imported only when used (or listed by robot-docs)."""

        def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.lazy = dict(lazy or {})

        def list_commands(self, ctx: click.Context) -> list[str]:
            eager = [name for name in super().list_commands(ctx) if name not in self.lazy]
            return [*self.lazy, *eager]

        def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
            if cmd_name in self.lazy:
                module_name, attr = self.lazy[cmd_name].split(":")
                try:
                    module = importlib.import_module(module_name)
                except ModuleNotFoundError as exc:
                    if exc.name == module_name:  # a command not built yet is simply absent
                        return None
                    raise
                command: click.Command = getattr(module, attr)
                return command
            return super().get_command(ctx, cmd_name)

        def resolve_command(
            self, ctx: click.Context, args: list[str]
        ) -> tuple[str | None, click.Command | None, list[str]]:
            name = args[0] if args else ""
            if name and not name.startswith("-") and self.get_command(ctx, name) is None:
                visible = [
                    n
                    for n in self.list_commands(ctx)
                    if not getattr(self.get_command(ctx, n), "hidden", False)
                ]
                guess = _suggest(name, visible)
                raise LoreError(
                    ErrorCode.USAGE_ERROR,
                    f"no such command {name!r}",
                    suggestion=(f"did you mean {guess!r}? " if guess else "")
                    + f"See: {ctx.command_path} --help",
                    actions=[
                        f"{ctx.command_path} {guess}" if guess else f"{ctx.command_path} --help"
                    ],
                )
            return super().resolve_command(ctx, args)

    @click.group(
        cls=LazyGroup,
        lazy=COMMANDS,
        context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    )
    @click.option(
        "--robot",
        "-J",
        "robot",
        is_flag=True,
        help="Machine output: one JSON document on stdout. Also LORE_ROBOT=1.",
    )
    @click.option(
        "--config",
        "config_opt",
        metavar="PATH",
        help="Config file (default: $LORE_CONFIG_PATH, then XDG).",
    )
    @click.option("--quiet", "-q", is_flag=True, help="Less human output (no progress bars).")
    @click.version_option(
        __version__, "--version", "-V", prog_name="lore", message="%(prog)s %(version)s"
    )
    @click.pass_context
    def cli(ctx: click.Context, robot: bool, config_opt: str | None, quiet: bool) -> None:
        """lore — a local, always-fresh mirror of GitLab, queried offline in milliseconds."""
        app: AppContext = ctx.ensure_object(AppContext)
        app.robot = app.robot or robot
        app.quiet = app.quiet or quiet
        app.config_opt = config_opt or app.config_opt

    return {"LazyGroup": LazyGroup, "cli": cli}


def __getattr__(name: str) -> Any:
    """``cli`` and ``LazyGroup``, built (and click imported) on first access."""
    if name in ("cli", "LazyGroup"):
        return _build()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _hoist_global_flags(argv: list[str]) -> tuple[list[str], bool, bool]:
    """Accept --robot/-J/--quiet anywhere on the line (agents put them at the end)."""
    robot = os.environ.get("LORE_ROBOT", "").strip().lower() in ("1", "true", "yes")
    quiet = False
    out: list[str] = []
    passthrough = False
    for arg in argv:
        if passthrough:
            out.append(arg)
            continue
        if arg == "--":
            passthrough = True
            out.append(arg)
        elif arg in ROBOT_FLAGS:
            robot = True
        elif arg in QUIET_FLAGS:
            quiet = True
        else:
            out.append(arg)
    return out, robot, quiet


def _usage_error(exc: click.UsageError) -> LoreError:
    import click

    ctx = exc.ctx
    command_path = ctx.command_path if ctx is not None else "lore"
    suggestion: str | None = None
    actions = [f"{command_path} --help"]
    message = exc.format_message()
    if isinstance(exc, click.NoSuchOption):
        message = f"no such option: {exc.option_name}"
        possibilities = list(exc.possibilities or [])
        if not possibilities and ctx is not None:
            opts = [*ROBOT_FLAGS, *QUIET_FLAGS]
            walk: click.Context | None = ctx
            while walk is not None:
                opts += [o for p in walk.command.params for o in (*p.opts, *p.secondary_opts)]
                walk = walk.parent
            guess = _suggest(exc.option_name, opts)
            possibilities = [guess] if guess else []
        if possibilities:
            suggestion = f"did you mean {possibilities[0]}?"
    elif isinstance(exc, click.BadParameter | click.MissingParameter):
        message = exc.format_message()
    if suggestion is None:
        suggestion = f"See: {command_path} --help"
    return LoreError(ErrorCode.USAGE_ERROR, message, suggestion=suggestion, actions=actions)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    configure_logging()
    started = time.perf_counter()
    args, robot, quiet = _hoist_global_flags(args)
    app = AppContext(robot=robot, quiet=quiet, started=started)

    def elapsed() -> int:
        return int((time.perf_counter() - started) * 1000)

    failure: LoreError
    try:
        return _run(args, app)
    except LoreError as lore_err:
        failure = lore_err
    except KeyboardInterrupt:
        return _interrupted(app, elapsed())
    except BrokenPipeError:
        # stdout closed early (e.g. `lore issues | head`): not an error worth a message.
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the interpreter's flush
        return 0
    except Exception as exc:  # the one place an unexpected exception is turned into an envelope
        click = sys.modules.get("click")  # click's own exceptions, when click ran
        if click is not None and isinstance(exc, click.UsageError):
            failure = _usage_error(exc)
        elif click is not None and isinstance(exc, click.exceptions.Exit):
            return int(exc.exit_code)
        elif click is not None and isinstance(exc, click.Abort):
            return _interrupted(app, elapsed())
        else:
            failure = _unexpected(exc)
    emit_error(failure, app.robot, elapsed())
    return failure.exit_code


def _run(args: list[str], app: AppContext) -> int:
    """Run the command line: a plain ``search …`` line without click (see
    :func:`lore.search.command.parse_argv`), anything else through click."""
    if args and args[0] == "search":
        from lore.search.command import parse_argv, run

        parsed = parse_argv(args[1:])
        if parsed is not None:
            return run(app, **parsed)
    rv = _build()["cli"].main(args=args, prog_name="lore", standalone_mode=False, obj=app)
    return rv if isinstance(rv, int) else 0


def _interrupted(app: AppContext, elapsed_ms: int) -> int:
    emit_error(
        LoreError(ErrorCode.INTERNAL_ERROR, "interrupted", suggestion="Run the command again"),
        app.robot,
        elapsed_ms,
    )
    return 130


def _unexpected(exc: Exception) -> LoreError:
    if os.environ.get("LORE_DEBUG") == "1":
        import traceback

        traceback.print_exc(file=sys.stderr)
    return as_lore_error(exc)
