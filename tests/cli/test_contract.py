"""The robot contract and the CLI skeleton, end to end through the installed `lore`."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import jsonschema
import pytest

from lore.cli.app import COMMANDS
from lore.core.errors import EXIT_CODES, ErrorCode
from lore_testkit import LORE_EXE, LoreEnv, assert_robot_output


def test_version(lore_env: LoreEnv) -> None:
    proc = lore_env.run("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip().startswith("lore ")
    assert proc.stderr == ""


def test_python_dash_m_works(lore_env: LoreEnv) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "lore", "--version"],
        capture_output=True,
        text=True,
        env=lore_env.env,
        check=False,
    )
    assert proc.returncode == 0 and proc.stdout.startswith("lore ")


def test_robot_docs_lists_every_command_with_schema_and_codes(lore_env: LoreEnv) -> None:
    code, doc = lore_env.robot("robot-docs")
    assert code == 0 and doc["ok"] is True
    manifest = doc["data"]
    listed = {c["command"] for c in manifest["commands"]}
    for name in COMMANDS:
        assert f"lore {name}" in listed, f"lore {name} missing from robot-docs"
    for entry in manifest["commands"]:
        if entry["group"] and entry["command"] == "lore":
            continue
        if entry["group"]:
            continue
        assert entry["response_schema"], f"{entry['command']} has no response schema"
        codes = {c["code"] for c in entry["exit_codes"]}
        assert {"INTERNAL_ERROR", "USAGE_ERROR"} <= codes
        for c in entry["exit_codes"]:
            assert EXIT_CODES[ErrorCode(c["code"])] == c["exit"]
    table = {e["code"]: e["exit"] for e in manifest["error_codes"]}
    assert table == {c.value: EXIT_CODES[c] for c in ErrorCode}
    # robot-docs validates against its own published schema.
    assert_robot_output(manifest, "lore robot-docs", doc)


def test_robot_docs_documents_flags_defaults_and_choices(robot_manifest: dict) -> None:  # type: ignore[type-arg]
    sync = next(c for c in robot_manifest["commands"] if c["command"] == "lore sync")
    flags = {f for p in sync["params"] for f in p["flags"]}
    assert {"--project", "--no-docs", "--no-embed", "--full", "--wait"} <= flags
    wait = next(p for p in sync["params"] if p["name"] == "wait_seconds")
    assert wait["default"] == 0.0
    globals_ = {f for p in robot_manifest["global_flags"] for f in p["flags"]}
    assert {"--robot", "-J", "--config", "--quiet", "LORE_ROBOT=1"} <= globals_


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["sycn"], "sync"),
        (["sync", "--ful"], "--full"),
        (["robot-docs", "--robt"], "--robot"),
    ],
)
def test_usage_errors_suggest_near_misses(lore_env: LoreEnv, args: list[str], needle: str) -> None:
    code, doc = lore_env.robot(*args)
    assert code == 2
    assert doc["ok"] is False and doc["error"]["code"] == "USAGE_ERROR"
    assert needle in doc["error"]["suggestion"]
    assert "did you mean" in doc["error"]["suggestion"]
    # human mode: same exit code, message on stderr, nothing on stdout
    proc = lore_env.run(*args)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "USAGE_ERROR" in proc.stderr and needle in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_argument_and_bad_choice_are_usage_errors(lore_env: LoreEnv) -> None:
    code, doc = lore_env.robot("show")
    assert code == 2 and doc["error"]["code"] == "USAGE_ERROR"
    code, doc = lore_env.robot("search", "x", "--mode", "fuzzy")
    assert code == 2 and doc["error"]["code"] == "USAGE_ERROR"
    assert "fuzzy" in doc["error"]["message"]


def test_robot_mode_three_ways(lore_env: LoreEnv) -> None:
    for args, extra in (
        (["-J", "sync"], None),
        (["sync", "--robot"], None),
        (["sync"], {"LORE_ROBOT": "1"}),
    ):
        proc = lore_env.run(*args, extra_env=extra)
        doc = json.loads(proc.stdout)
        assert proc.returncode == 3
        assert doc["error"]["code"] == "CONFIG_NOT_FOUND"
        assert "lore init" in doc["error"]["suggestion"]
        assert isinstance(doc["meta"]["elapsed_ms"], int)


def test_config_errors_through_the_cli(lore_env: LoreEnv) -> None:
    lore_env.config_path.parent.mkdir(parents=True, exist_ok=True)
    lore_env.config_path.write_text('{"gitlab": {"baseUrl": "http://x"},\n "projects": [}')
    code, doc = lore_env.robot("sync")
    assert code == 4 and doc["error"]["code"] == "CONFIG_INVALID"
    assert "line 2" in doc["error"]["message"]
    lore_env.config_path.write_text(
        json.dumps({"gitlab": {"baseUrl": "http://x"}, "projects": [], "sync": {}})
    )
    code, doc = lore_env.robot("sync")
    assert code == 4 and "'projects'" in doc["error"]["message"]
    # --config wins over LORE_CONFIG_PATH
    other = lore_env.root / "other.json"
    code, doc = lore_env.robot("--config", str(other), "sync")
    assert code == 3 and str(other) in doc["error"]["message"]


def test_token_not_set(lore_env: LoreEnv) -> None:
    lore_env.write_config("http://127.0.0.1:9", ["a/b"], token_env_var="LORE_TEST_TOKEN_X")
    code, doc = lore_env.robot("sync")
    assert code == 5 and doc["error"]["code"] == "TOKEN_NOT_SET"
    assert "LORE_TEST_TOKEN_X" in doc["error"]["message"]


def test_unexpected_exception_is_internal_error_without_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from lore.cli import app
    from lore.cli.commands import robot_docs

    def boom(_root: object) -> dict:  # type: ignore[type-arg]
        raise RuntimeError("kaboom\nsecond line")

    monkeypatch.setattr(robot_docs, "build_manifest", boom)
    monkeypatch.delenv("LORE_DEBUG", raising=False)
    assert app.main(["--robot", "robot-docs"]) == 1
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert doc["error"]["code"] == "INTERNAL_ERROR"
    assert doc["error"]["message"] == "unexpected RuntimeError: kaboom"
    assert "Traceback" not in err
    monkeypatch.setenv("LORE_DEBUG", "1")
    lore_logger = logging.getLogger("lore")
    handlers, level = list(lore_logger.handlers), lore_logger.level
    try:
        assert app.main(["robot-docs"]) == 1
    finally:  # LORE_DEBUG configured logging in this process: undo it for later tests
        lore_logger.handlers[:] = handlers
        lore_logger.setLevel(level)
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" in err and "INTERNAL_ERROR" in err


def test_robot_stdout_is_exactly_one_document(lore_env: LoreEnv) -> None:
    proc = lore_env.run("--robot", "robot-docs")
    json.loads(proc.stdout)  # raises if there is anything else on stdout
    assert proc.stdout.count("\n") == 1


def test_envelope_schemas_are_valid_json_schema(robot_manifest: dict) -> None:  # type: ignore[type-arg]
    for schema in robot_manifest["envelopes"].values():
        jsonschema.Draft202012Validator.check_schema(schema)
    for entry in robot_manifest["commands"]:
        if entry["response_schema"]:
            jsonschema.Draft202012Validator.check_schema(entry["response_schema"])


def test_cold_commands_do_not_import_heavy_modules(lore_env: LoreEnv) -> None:
    probe = (
        "import sys, io, json\n"
        "from lore.cli.app import main\n"
        "real = sys.stdout\n"
        "for argv in (['--robot', 'robot-docs'], ['robot-docs']):\n"
        "    sys.stdout = io.StringIO()\n"
        "    main(argv)\n"
        "sys.stdout = real\n"
        "heavy = ['httpx', 'sqlite3', 'rich.table', 'rich.progress', 'numpy', 'lore.store.db']\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=lore_env.env, check=True
    )
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", LORE_EXE, "--version"],
        capture_output=True,
        text=True,
        env=lore_env.env,
        check=True,
    )
    imported = proc.stderr
    assert "click" not in imported and "httpx" not in imported
