"""`lore demo` end to end: a newcomer's first command."""

from __future__ import annotations

import json
import shlex

from lore_testkit import LoreEnv, assert_robot_output


def test_demo_robot_tour_and_offline_follow_up(lore_env: LoreEnv, robot_manifest: dict) -> None:  # type: ignore[type-arg]
    target = lore_env.root / "demo"
    code, doc = lore_env.robot("demo", "--dir", str(target), timeout=300)
    assert code == 0, doc
    assert_robot_output(robot_manifest, "lore demo", doc)
    data = doc["data"]
    assert data["sync"]["outcome"] == "success"
    assert [s["stage"] for s in data["sync"]["stages"]] == ["issues", "mrs", "docs", "embeddings"]
    assert all(not s["skipped"] for s in data["sync"]["stages"])
    steps = {step["command"].split()[1]: step for step in data["tour"]}
    assert set(steps) == {"search", "show", "who", "status"}
    assert all(step["ok"] for step in steps.values()), data["tour"]
    assert steps["search"]["data"]["hits"], "the demo search should find something"
    assert steps["who"]["data"]["experts"], "the demo who should name experts"
    assert (target / "config.json").exists() and (target / "data" / "lore.db").exists()
    # The printed follow-up commands work offline (the simulator is gone).
    env = {**data["env"], "LORE_ROBOT": "1"}
    for line in data["next_commands"][1:]:
        args = shlex.split(line)[1:]
        proc = lore_env.run(*args, extra_env=env)
        assert proc.returncode == 0, (line, proc.stdout, proc.stderr)
        assert json.loads(proc.stdout)["ok"] is True


def test_demo_human_mode(lore_env: LoreEnv) -> None:
    proc = lore_env.run("demo", "--dir", str(lore_env.root / "d"), timeout=300)
    assert proc.returncode == 0, proc.stderr
    for needle in (
        "sync success",
        "$ lore search",
        "$ lore show",
        "$ lore who",
        "$ lore status",
        "Your turn",
        "export LORE_CONFIG_PATH=",
    ):
        assert needle in proc.stdout, needle


def test_demo_refuses_a_foreign_directory(lore_env: LoreEnv) -> None:
    target = lore_env.root / "busy"
    target.mkdir()
    (target / "precious.txt").write_text("keep me")
    code, doc = lore_env.robot("demo", "--dir", str(target))
    assert code == 2 and doc["error"]["code"] == "USAGE_ERROR"
    assert (target / "precious.txt").read_text() == "keep me"
