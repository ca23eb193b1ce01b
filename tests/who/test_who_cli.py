"""`lore who` through the real executable on a hand-built store: config and flags, robot
output against robot-docs, human output, and bad input."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

from lore.store.db import connect

from .conftest import NOW_ISO, Store


@pytest.fixture
def cli_store(lore_env: Any) -> Iterator[Store]:
    lore_env.data_dir.mkdir(parents=True, exist_ok=True)
    conn = connect(lore_env.data_dir / "lore.db")
    store = Store(conn)
    mr = store.mr("alice", ["src/auth/login.py"], days=180, title="Rework login")
    store.note(mr, "bob", days=0, diff_path="src/auth/login.py")
    store.mr("old", ["legacy/x.py"], days=800)
    try:
        yield store
    finally:
        conn.close()


def who_schema() -> dict[str, Any]:
    from lore.cli.app import cli
    from lore.cli.commands.robot_docs import build_manifest

    manifest = build_manifest(cli)
    entry = next(c for c in manifest["commands"] if c["command"] == "lore who")
    flags = {f for p in entry["params"] for f in p["flags"]}
    assert {"--curve", "--half-life", "--window", "--weight", "--hide-stale"} <= flags
    assert "--now" not in flags  # hidden: for reproducible tests only
    return {"envelope": manifest["envelopes"]["success"], "data": entry["response_schema"]}


def check(doc: dict[str, Any]) -> dict[str, Any]:
    schemas = who_schema()
    jsonschema.validate(doc, schemas["envelope"])
    jsonschema.validate(doc["data"], schemas["data"])
    return doc["data"]


def test_robot_output_validates_and_uses_config_weights(lore_env: Any, cli_store: Store) -> None:
    lore_env.write_config(
        "http://127.0.0.1:9",
        ["g/repo"],
        extra={"who": {"weights": {"reviewed": 2.0}, "halfLifeDays": 90}},
    )
    code, doc = lore_env.robot("who", "src/auth/", "--now", NOW_ISO)
    assert code == 0, doc
    data = check(doc)
    assert data["params"]["weights"]["reviewed"] == 2.0
    assert data["params"]["half_life_days"] == 90
    assert data["params"]["now"] == NOW_ISO
    assert [e["username"] for e in data["experts"]] == ["bob", "alice"]
    assert data["experts"][1]["score"] == pytest.approx(0.25)  # 0.5^(180/90)
    assert data["experts"][1]["evidence"][0]["title"] == "Rework login"

    code, doc = lore_env.robot(
        "who",
        "src/auth/",
        "--now",
        NOW_ISO,
        "--weight",
        "reviewed=0.1",
        "--curve",
        "none",
        "--exclude",
        "@nobody",
    )
    data = check(doc)
    assert [e["username"] for e in data["experts"]] == ["alice", "bob"]
    assert data["params"]["curve"] == "none"
    assert data["params"]["excluded_users"] == ["nobody"]


def test_without_config_the_defaults_apply(lore_env: Any, cli_store: Store) -> None:
    code, doc = lore_env.robot("who", "src/auth/login.py", "--now", NOW_ISO)
    data = check(doc)
    assert code == 0
    assert data["params"]["half_life_days"] == 180
    assert [e["username"] for e in data["experts"]] == ["bob", "alice"]


def test_user_mode_validates(lore_env: Any, cli_store: Store) -> None:
    code, doc = lore_env.robot("who", "@alice", "--now", NOW_ISO)
    data = check(doc)
    assert code == 0 and data["mode"] == "user"
    assert data["areas"][0]["path"] == "src/auth/"
    code, doc = lore_env.robot("who", "@ghost", "--now", NOW_ISO)
    assert code == 0 and check(doc)["note"] == "no user @ghost in the mirror"


def test_stale_and_unknown_paths_are_notes_not_errors(lore_env: Any, cli_store: Store) -> None:
    code, doc = lore_env.robot("who", "legacy/", "--now", NOW_ISO)
    data = check(doc)
    assert code == 0 and data["all_stale"]
    assert data["note"].startswith("no one active on this path for 800 days")
    code, doc = lore_env.robot("who", "legacy/", "--now", NOW_ISO, "--hide-stale")
    assert check(doc)["experts"] == []
    code, doc = lore_env.robot("who", "no/such/path.py", "--now", NOW_ISO)
    data = check(doc)
    assert code == 0 and data["experts"] == [] and data["query"]["match"] == "none"
    assert "no merge request" in data["note"]


def test_nothing_synced_is_a_note(lore_env: Any) -> None:
    code, doc = lore_env.robot("who", "src/")
    assert code == 0
    assert "lore sync" in check(doc)["note"]
    assert not (lore_env.data_dir / "lore.db").exists()  # reading never creates the mirror


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--half-life", "-3"], "--half-life"),
        (["--window", "0"], "--window"),
        (["--curve", "cubic"], "--curve"),
        (["--weight", "reviewed"], "KIND=VALUE"),
        (["--weight", "bogus=1"], "unknown kind"),
        (["--since", "whenever"], "--since"),
    ],
)
def test_malformed_parameters_exit_2(
    lore_env: Any, cli_store: Store, args: list[str], fragment: str
) -> None:
    code, doc = lore_env.robot("who", "src/", *args)
    assert code == 2, doc
    assert doc["ok"] is False and doc["error"]["code"] == "USAGE_ERROR"
    assert fragment in doc["error"]["message"]


def test_unknown_project_is_not_found(lore_env: Any, cli_store: Store) -> None:
    code, doc = lore_env.robot("who", "src/", "--project", "g/nope")
    assert code == 7 and doc["error"]["code"] == "NOT_FOUND"


def test_human_output(lore_env: Any, cli_store: Store) -> None:
    proc = lore_env.run("who", "src/auth/", "--now", NOW_ISO)
    assert proc.returncode == 0, proc.stderr
    assert "@bob" in proc.stdout and "@alice" in proc.stdout
    assert "repo!1 " in proc.stdout and "half-life 180d" in proc.stdout
    wide = lore_env.run("who", "src/auth/", "--now", NOW_ISO, extra_env={"COLUMNS": "150"})
    assert "┃ evidence" in wide.stdout and max(len(x) for x in wide.stdout.splitlines()) <= 150
    narrow = lore_env.run("who", "src/auth/", "--now", NOW_ISO, extra_env={"COLUMNS": "60"})
    assert "evidence" not in narrow.stdout and "  1. @" in narrow.stdout  # one block per person
    assert "repo!1 " in narrow.stdout and max(len(x) for x in narrow.stdout.splitlines()) <= 60
    proc = lore_env.run("who", "legacy/", "--now", NOW_ISO)
    assert "stale" in proc.stdout and "no one active on this path for 800 days" in proc.stdout
    proc = lore_env.run("who", "@alice", "--now", NOW_ISO)
    assert proc.returncode == 0 and "src/auth/" in proc.stdout


def test_who_does_not_import_httpx(lore_env: Any, cli_store: Store) -> None:
    import subprocess
    import sys

    code = (
        "import sys; from lore.cli.app import main; "
        "rc = main(['--robot', 'who', 'src/', '--now', '2025-01-01']); "
        "assert 'httpx' not in sys.modules, 'httpx imported'; sys.exit(rc)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], env=lore_env.env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr


def test_a_bare_at_sign_is_a_usage_error(lore_env: Any, cli_store: Store) -> None:
    code, doc = lore_env.robot("who", "@")
    assert code == 2 and doc["error"]["code"] == "USAGE_ERROR"
