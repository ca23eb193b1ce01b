"""`lore search` lines that lore.cli.app runs without click (lore.search.command.parse_argv)
give exactly what click gives: the same JSON (or human text), exit code and errors, and
every line the fast parser does not understand exactly goes to click."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from lore.cli import app as cli_app
from lore.search import command
from lore_testkit import LoreEnv

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "search"))
from searchkit import make_config, open_store, seed_corpus

from lore.sync.stage_docs import run_docs_stage

FAST = [
    ["--robot", "search", "login"],
    ["--robot", "search", "login", "token", "--mode", "lexical"],
    ["search", "login", "-J", "--type", "issue", "--state", "open"],
    [
        "--robot",
        "search",
        "--mode=lexical",
        "login",
        "--label",
        "bug",
        "--label",
        "AUTH",
        "-n",
        "3",
    ],
    ["--robot", "search", "cache", "--project", "app", "--author", "@bob", "--limit=2"],
    ["--robot", "search", "--", "login", "-timeout", "--state"],
    ["--robot", "search", "login", "--since", "2024-05-01", "--state", "ALL", "--limit", "007"],
    ["--robot", "search", "login", "--reviewer", "alice", "--mode", "lexical", "--mode", "hybrid"],
    ["--robot", "search", "login", "--assignee", "", "--status-category", "done"],
    ["--robot", "search", "login", "--type", "mr,incident"],  # a usage error from the engine
    ["--robot", "search"],  # an empty query
    ["--robot", "search", "login", "--project", "nope"],
    ["--robot", "search", "login", "--mode", "semantic"],
    ["search", "login", "token"],  # human output
    ["search", "nothing-matches-this"],
]
CLICK = [
    ["--robot", "search", "login", "--limit", "0"],
    ["--robot", "search", "login", "--limit", "1e3"],
    ["--robot", "search", "login", "--mode", "fuzzy"],
    ["--robot", "search", "login", "--nope"],
    ["--robot", "search", "login", "-n"],
    ["--robot", "search", "login", "--author", "-x"],
    ["--robot", "search", "login", "--state", "gone"],
    ["--robot", "search", "login", "-n5"],
    ["--robot", "search", "--help"],
    ["search", "-h"],
]


@pytest.fixture
def mirror(lore_env: LoreEnv) -> LoreEnv:
    store = open_store(lore_env.data_dir / "lore.db")
    seed_corpus(store)
    assert run_docs_stage(store.conn, make_config(), project_ids=None, full=False).success
    store.conn.close()
    return lore_env


def _run(line: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, Any, str]:
    code = cli_app.main(list(line))
    out, err = capsys.readouterr()
    try:
        doc = json.loads(out)
        doc.get("meta", {}).pop("elapsed_ms", None)
    except json.JSONDecodeError:
        doc = out
    return code, doc, err


@pytest.mark.parametrize("line", FAST + CLICK, ids=" ".join)
def test_the_fast_path_answers_as_click_does(
    mirror: LoreEnv,
    line: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    words = cli_app._hoist_global_flags(line)[0]
    assert (command.parse_argv(words[1:]) is not None) == (line in FAST)
    fast = _run(line, capsys)
    monkeypatch.setattr(command, "parse_argv", lambda args: None)  # always click
    slow = _run(line, capsys)
    assert fast == slow
    if line in FAST[:8]:
        assert fast[0] == 0 and fast[1]["ok"], fast


def test_the_fast_parser_knows_every_option_of_the_command() -> None:
    from lore.cli.commands.search import search_cmd

    options = {
        opt: (p.name, p.multiple)
        for p in search_cmd.params
        if p.param_type_name == "option"
        for opt in p.opts
    }
    assert options == {k: (name, multiple) for k, (name, multiple) in command.OPTIONS.items()}
    limit = next(p for p in search_cmd.params if p.name == "limit")
    assert (limit.type.min, limit.type.max) == command.LIMIT_RANGE  # type: ignore[attr-defined]
    assert limit.default == 20


def test_a_search_line_does_not_import_click(mirror: LoreEnv) -> None:
    import subprocess

    code = (
        "import sys; from lore.cli.app import main; rc = main(['--robot', 'search', 'login']); "
        "print('click' in sys.modules, file=sys.stderr); sys.exit(rc)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=mirror.env, check=False
    )
    assert proc.returncode == 0 and json.loads(proc.stdout)["ok"]
    assert proc.stderr.strip() == "False"
