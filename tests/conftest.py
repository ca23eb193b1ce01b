"""Shared fixtures: every test gets its own HOME, XDG and LORE_* directories, and
end-to-end tests run the installed `lore` executable as a subprocess. The helpers live in
``lore_testkit``; they are re-exported here for convenience."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lore_testkit import (
    _SCRUB,
    LORE_EXE,
    REPO_ROOT,
    LoreEnv,
    assert_robot_output,
    make_env,
)

__all__ = ["LORE_EXE", "REPO_ROOT", "LoreEnv", "assert_robot_output", "make_env"]


@pytest.fixture
def lore_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LoreEnv:
    """Isolated dirs; also applied to this process so in-process calls are isolated too."""
    env = make_env(tmp_path)
    for key in _SCRUB:
        monkeypatch.delenv(key, raising=False)
    for key in (
        "HOME",
        "XDG_CONFIG_HOME",
        "XDG_DATA_HOME",
        "XDG_CACHE_HOME",
        "XDG_STATE_HOME",
        "XDG_RUNTIME_DIR",
        "LORE_CONFIG_PATH",
        "LORE_DATA_DIR",
    ):
        monkeypatch.setenv(key, env.env[key])
    return env


@pytest.fixture
def sim() -> Iterator[Any]:
    """A fresh `small` simulator on an ephemeral loopback port, stopped after the test."""
    from lore.sim.server import Simulator

    with Simulator.start(preset="small", seed=7) as server:
        yield server


@pytest.fixture(scope="session")
def robot_manifest() -> dict[str, Any]:
    """The manifest `lore robot-docs` publishes, built from the command definitions."""
    from lore.cli.app import cli
    from lore.cli.commands.robot_docs import build_manifest

    return build_manifest(cli)
