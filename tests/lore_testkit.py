"""Test kit shared by every test package: isolated environments (own HOME, XDG and
LORE_* directories), running the installed `lore` executable, and checking robot
output against what robot-docs publishes. Import it as `from lore_testkit import ...`
(a plain module name, so it never collides with the per-directory conftest modules)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BIN_DIR = Path(sys.executable).parent
LORE_EXE = str(BIN_DIR / "lore")
REPO_ROOT = Path(__file__).resolve().parent.parent

_SCRUB = (
    "LORE_ROBOT",
    "LORE_DEBUG",
    "LORE_CONFIG_PATH",
    "LORE_DATA_DIR",
    "GITLAB_TOKEN",
    "LORE_TEST_HOOKS",
    "LORE_TEST_NOW_MS",
    "LORE_ANN_MIN_VECTORS",
)


@dataclass
class LoreEnv:
    """An isolated environment for one test: directories plus the env for subprocesses."""

    root: Path
    home: Path
    config_path: Path
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)

    def run(
        self,
        *args: str,
        input: str | None = None,
        timeout: float = 120,
        extra_env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        env = dict(self.env)
        if extra_env:
            env.update(extra_env)
        return subprocess.run(
            [LORE_EXE, *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=str(cwd or self.root),
            check=False,
        )

    def robot(self, *args: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        """Run `lore --robot ARGS`; return the exit code and the parsed JSON document."""
        proc = self.run("--robot", *args, **kwargs)
        try:
            doc = json.loads(proc.stdout)
        except json.JSONDecodeError as exc:
            raise AssertionError(
                f"stdout is not one JSON document (exit {proc.returncode}):\n"
                f"stdout={proc.stdout!r}\nstderr={proc.stderr!r}"
            ) from exc
        return proc.returncode, doc

    def write_config(
        self,
        base_url: str,
        projects: list[str],
        token_env_var: str = "GITLAB_TOKEN",
        extra: dict[str, Any] | None = None,
    ) -> Path:
        raw: dict[str, Any] = {
            "gitlab": {"baseUrl": base_url, "tokenEnvVar": token_env_var},
            "projects": [{"path": p} for p in projects],
        }
        if extra:
            for key, value in extra.items():
                if isinstance(value, dict) and isinstance(raw.get(key), dict):
                    raw[key].update(value)
                else:
                    raw[key] = value
        self.config_path.parent.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(json.dumps(raw, indent=2))
        return self.config_path


def make_env(root: Path) -> LoreEnv:
    home = root / "home"
    dirs = {
        "HOME": home,
        "XDG_CONFIG_HOME": home / ".config",
        "XDG_DATA_HOME": home / ".local" / "share",
        "XDG_CACHE_HOME": home / ".cache",
        "XDG_STATE_HOME": home / ".local" / "state",
        "XDG_RUNTIME_DIR": root / "runtime",
    }
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    config_path = home / ".config" / "lore" / "config.json"
    data_dir = home / ".local" / "share" / "lore"
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    env.update({k: str(v) for k, v in dirs.items()})
    env["LORE_CONFIG_PATH"] = str(config_path)
    env["LORE_DATA_DIR"] = str(data_dir)
    env["NO_COLOR"] = "1"
    env["COLUMNS"] = "160"
    return LoreEnv(root=root, home=home, config_path=config_path, data_dir=data_dir, env=env)


def assert_robot_output(manifest: dict[str, Any], command: str, doc: dict[str, Any]) -> None:
    """Validate a robot document against the envelope and the command's published schema."""
    import jsonschema

    if doc.get("ok"):
        jsonschema.validate(doc, manifest["envelopes"]["success"])
        entry = next((c for c in manifest["commands"] if c["command"] == command), None)
        assert entry is not None, f"{command!r} is not in robot-docs"
        assert entry["response_schema"], f"{command!r} publishes no response schema"
        jsonschema.validate(doc["data"], entry["response_schema"])
    else:
        jsonschema.validate(doc, manifest["envelopes"]["failure"])
        entry = next((c for c in manifest["commands"] if c["command"] == command), None)
        if entry is not None:
            codes = {c["code"] for c in entry["exit_codes"]}
            assert doc["error"]["code"] in codes, (
                f"{command!r} failed with {doc['error']['code']}, which robot-docs does not list"
            )
