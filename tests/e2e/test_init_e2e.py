"""`lore init` end to end against the simulator: every check reported, every failure coded."""

from __future__ import annotations

import json
import socket
from typing import Any

from lore_testkit import LoreEnv, assert_robot_output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_init_writes_config_after_checks(lore_env: LoreEnv, sim: Any, robot_manifest: dict) -> None:  # type: ignore[type-arg]
    projects = [p.path for p in sim.dataset.projects]
    args = ["init", "--url", sim.url]
    for p in projects:
        args += ["--project", p]
    code, doc = lore_env.robot(*args, extra_env={"GITLAB_TOKEN": sim.token})
    assert code == 0, doc
    assert_robot_output(robot_manifest, "lore init", doc)
    checks = doc["data"]["checks"]
    assert [c["check"] for c in checks] == ["url", "token", *(f"project {p}" for p in projects)]
    assert all(c["ok"] for c in checks)
    written = json.loads(lore_env.config_path.read_text())
    assert written["gitlab"]["baseUrl"] == sim.url
    assert [p["path"] for p in written["projects"]] == projects
    assert sim.token not in lore_env.config_path.read_text()
    assert sim.token not in json.dumps(doc)


def test_init_never_overwrites_without_force(lore_env: LoreEnv, sim: Any) -> None:
    lore_env.write_config("http://127.0.0.1:1", ["keep/me"])
    before = lore_env.config_path.read_text()
    code, doc = lore_env.robot(
        "init", "--url", sim.url, "--project", "a/b", extra_env={"GITLAB_TOKEN": sim.token}
    )
    assert code == 2 and doc["error"]["code"] == "USAGE_ERROR"
    assert "--force" in doc["error"]["suggestion"]
    assert lore_env.config_path.read_text() == before
    project = sim.dataset.projects[0].path
    code, doc = lore_env.robot(
        "init",
        "--url",
        sim.url,
        "--project",
        project,
        "--force",
        extra_env={"GITLAB_TOKEN": sim.token},
    )
    assert code == 0 and json.loads(lore_env.config_path.read_text())["projects"] == [
        {"path": project}
    ]


def test_init_failures_have_the_right_codes(lore_env: LoreEnv, sim: Any) -> None:
    project = sim.dataset.projects[0].path
    cases = [
        (
            {"GITLAB_TOKEN": "wrong-token"},
            ["--url", sim.url, "--project", project],
            6,
            "AUTH_FAILED",
        ),
        (
            {"GITLAB_TOKEN": sim.token},
            ["--url", sim.url, "--project", "no/such-project"],
            7,
            "NOT_FOUND",
        ),
        (
            {"GITLAB_TOKEN": sim.token},
            ["--url", f"http://127.0.0.1:{_free_port()}", "--project", project],
            8,
            "NETWORK_ERROR",
        ),
        ({"GITLAB_TOKEN": ""}, ["--url", sim.url, "--project", project], 5, "TOKEN_NOT_SET"),
        (
            {"GITLAB_TOKEN": sim.token},
            ["--url", "not-a-url", "--project", project],
            2,
            "USAGE_ERROR",
        ),
        ({"GITLAB_TOKEN": sim.token}, ["--url", sim.url, "--project", "noslash"], 2, "USAGE_ERROR"),
    ]
    for env, args, exit_code, code in cases:
        got, doc = lore_env.robot("init", *args, extra_env=env)
        assert (got, doc["error"]["code"]) == (exit_code, code), (args, doc)
        assert doc["error"]["suggestion"]
        assert not lore_env.config_path.exists(), "a failed init must not write a config"
        assert sim.token not in json.dumps(doc)
    # human mode lists the checks that ran
    proc = lore_env.run(
        "init",
        "--url",
        sim.url,
        "--project",
        "no/such-project",
        extra_env={"GITLAB_TOKEN": sim.token},
    )
    assert proc.returncode == 7
    assert "[ok  ] url" in proc.stderr and "[FAIL] project no/such-project" in proc.stderr
