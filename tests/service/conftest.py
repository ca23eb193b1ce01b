"""Fixtures for the service tests: an isolated lore environment whose scheduler
commands are recording fakes first on PATH, so nothing touches the real machine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lore_testkit import LoreEnv, assert_robot_output

from .fakes import Fakes, install_fakes

TOKEN = "glpat-SECRETtoken-1234567890"
# A loopback port nothing listens on: the pre-flight token check fails fast (warn).
DEAD_URL = "http://127.0.0.1:9"


@dataclass
class ServiceEnv:
    lore: LoreEnv
    fakes: Fakes
    manifest: dict[str, Any]

    @property
    def env(self) -> dict[str, str]:
        return self.lore.env

    @property
    def data_dir(self) -> Path:
        return self.lore.data_dir

    @property
    def home(self) -> Path:
        return self.lore.home

    def robot(self, *args: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        return self.lore.robot(*args, **kwargs)

    def run(self, *args: str, **kwargs: Any) -> Any:
        return self.lore.run(*args, **kwargs)

    def checked(self, command: str, *args: str, code: int = 0, **kwargs: Any) -> dict[str, Any]:
        """Run ``lore --robot service COMMAND ARGS``, check the exit code and validate the
        document against the schema robot-docs publishes for the command."""
        exit_code, doc = self.robot("service", command, *args, **kwargs)
        assert exit_code == code, (exit_code, doc)
        assert_robot_output(self.manifest, f"lore service {command}", doc)
        return doc

    def hooks(self, now_ms: int | None = None, jitter: float | None = None) -> dict[str, str]:
        """Env for the test hooks: a pinned clock, a pinned jitter, no retry sleep."""
        env = {"LORE_TEST_HOOKS": "1", "LORE_TEST_NO_SLEEP": "1"}
        if now_ms is not None:
            env["LORE_TEST_NOW_MS"] = str(now_ms)
        if jitter is not None:
            env["LORE_TEST_JITTER"] = str(jitter)
        return env

    def status_file(self, service_id: str) -> dict[str, Any]:
        return json.loads((self.data_dir / f"sync-status-{service_id}.json").read_text())

    def manifest_file(self, service_id: str) -> dict[str, Any]:
        return json.loads((self.data_dir / f"service-manifest-{service_id}.json").read_text())


@pytest.fixture
def svc(
    lore_env: LoreEnv, monkeypatch: pytest.MonkeyPatch, robot_manifest: dict[str, Any]
) -> Iterator[ServiceEnv]:
    """lore_env + fake schedulers on PATH (also for in-process calls) + a token + a config."""
    fakes = install_fakes(lore_env.root, lore_env.env)
    lore_env.env["GITLAB_TOKEN"] = TOKEN
    for key in ("PATH", "LORE_FAKE_LOG", "LORE_FAKE_STATE", "GITLAB_TOKEN"):
        monkeypatch.setenv(key, lore_env.env[key])
    # No HTTP retries: a failing run fails at once (the service's own retry is tested).
    lore_env.write_config(DEAD_URL, ["group/repo"], extra={"sync": {"maxRetries": 0}})
    yield ServiceEnv(lore_env, fakes, robot_manifest)
