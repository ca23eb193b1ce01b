"""`lore robot-docs`: the machine-readable manifest, generated from the command
definitions themselves (click parameters + the metadata attached by ``lore.cli.meta``)."""

from __future__ import annotations

from typing import Any

import click

from lore import __version__
from lore.cli.meta import ANY, BOOL, INT, STR, arr, obj, robot
from lore.cli.output import AppContext
from lore.core.errors import EXIT_CODES, ErrorCode

ERROR_SCHEMA = obj(
    {
        "code": {"type": "string", "enum": [c.value for c in ErrorCode]},
        "message": STR,
        "suggestion": {"type": ["string", "null"]},
        "actions": arr(STR),
    },
    required=["code", "message", "suggestion", "actions"],
)
META_SCHEMA = obj({"elapsed_ms": INT}, required=["elapsed_ms"])


def envelope_schemas() -> dict[str, Any]:
    return {
        "success": obj({"ok": {"const": True}, "data": ANY, "meta": META_SCHEMA}),
        "failure": obj({"ok": {"const": False}, "error": ERROR_SCHEMA, "meta": META_SCHEMA}),
    }


def _type_name(param: click.Parameter) -> str:
    if isinstance(param, click.Option) and param.is_flag:
        return "flag"
    ptype = param.type
    if isinstance(ptype, click.Choice):
        return "choice"
    if isinstance(ptype, click.types.IntParamType):
        return "integer"
    if isinstance(ptype, click.types.FloatParamType):
        return "number"
    if isinstance(ptype, click.Path):
        return "path"
    return "string"


def _param_doc(param: click.Parameter) -> dict[str, Any]:
    default = param.default
    if callable(default) or type(default).__name__ == "Sentinel":
        default = None
    if isinstance(param, click.Option) and param.is_flag and default is None:
        default = False
    doc: dict[str, Any] = {
        "name": param.name,
        "kind": "option" if isinstance(param, click.Option) else "argument",
        "flags": [*param.opts, *param.secondary_opts],
        "type": _type_name(param),
        "required": bool(param.required),
        "multiple": bool(getattr(param, "multiple", False)) or param.nargs == -1,
        "default": default
        if isinstance(default, str | int | float | bool | list | type(None))
        else str(default),
    }
    if isinstance(param.type, click.Choice):
        doc["choices"] = [str(c) for c in param.type.choices]
    if isinstance(param, click.Option) and param.help:
        doc["help"] = param.help
    return doc


def _walk(
    cmd: click.Command, ctx: click.Context, path: list[str], out: list[dict[str, Any]]
) -> None:
    meta: dict[str, Any] = getattr(cmd, "lore_meta", {}) or {}
    params = [p for p in cmd.params if not getattr(p, "hidden", False) and p.name != "help"]
    entry: dict[str, Any] = {
        "command": " ".join(path),
        "summary": (cmd.get_short_help_str(limit=200) if cmd.help else ""),
        "hidden": bool(cmd.hidden),
        "group": isinstance(cmd, click.Group),
        "params": [_param_doc(p) for p in params],
        "exit_codes": [
            {"code": c.value, "exit": EXIT_CODES[c]} for c in meta.get("exit_codes", [])
        ],
        "response_schema": meta.get("schema"),
        "examples": meta.get("examples", []),
    }
    out.append(entry)
    if isinstance(cmd, click.Group):
        sub_ctx = click.Context(cmd, parent=ctx, info_name=path[-1])
        for name in cmd.list_commands(sub_ctx):
            sub = cmd.get_command(sub_ctx, name)
            if sub is not None:
                _walk(sub, sub_ctx, [*path, name], out)


def build_manifest(root: click.Group) -> dict[str, Any]:
    ctx = click.Context(root, info_name="lore")
    commands: list[dict[str, Any]] = []
    _walk(root, ctx, ["lore"], commands)
    return {
        "name": "lore",
        "version": __version__,
        "global_flags": [_param_doc(p) for p in root.params if p.name != "help"]
        + [
            {
                "name": "robot_env",
                "kind": "env",
                "flags": ["LORE_ROBOT=1"],
                "type": "flag",
                "required": False,
                "multiple": False,
                "default": None,
            }
        ],
        "envelopes": envelope_schemas(),
        "error_codes": [
            {"code": c.value, "exit": EXIT_CODES[c], "meaning": c.meaning} for c in ErrorCode
        ],
        "commands": commands,
    }


MANIFEST_SCHEMA = obj(
    {
        "name": STR,
        "version": STR,
        "global_flags": arr(obj({"name": STR, "flags": arr(STR)}, required=["name", "flags"])),
        "envelopes": obj({"success": ANY, "failure": ANY}),
        "error_codes": arr(obj({"code": STR, "exit": INT, "meaning": STR})),
        "commands": arr(
            obj(
                {
                    "command": STR,
                    "summary": STR,
                    "hidden": BOOL,
                    "group": BOOL,
                    "params": arr(
                        obj(
                            {"name": STR, "flags": arr(STR), "type": STR},
                            required=["name", "flags", "type"],
                        )
                    ),
                    "exit_codes": arr(obj({"code": STR, "exit": INT})),
                    "response_schema": {"type": ["object", "null"]},
                    "examples": arr(STR),
                }
            )
        ),
    }
)


@robot(MANIFEST_SCHEMA, examples=["lore --robot robot-docs"])
@click.command("robot-docs")
@click.pass_obj
def robot_docs_cmd(app: AppContext) -> int:
    """Machine-readable manifest of every command, flag, exit code and response schema."""
    from lore.cli.app import cli

    manifest = build_manifest(cli)
    # robot-docs is for machines: it prints JSON in both modes, enveloped in robot mode.
    return app.emit(manifest)
