"""`lore init` asks interactively when it runs on a terminal."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time
from typing import Any

from lore_testkit import LORE_EXE, LoreEnv


def _read_until(fd: int, needle: str, timeout: float = 30) -> str:
    seen = ""
    deadline = time.monotonic() + timeout
    while needle not in seen:
        assert time.monotonic() < deadline, f"timed out waiting for {needle!r}; saw {seen!r}"
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                seen += os.read(fd, 4096).decode(errors="replace")
            except OSError:
                break
    return seen


def test_init_prompts_on_a_tty(lore_env: LoreEnv, sim: Any) -> None:
    project = sim.dataset.projects[0].path
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [LORE_EXE, "init"],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env={**lore_env.env, "GITLAB_TOKEN": sim.token},
        close_fds=True,
    )
    os.close(secondary)
    try:
        _read_until(primary, "GitLab URL")
        os.write(primary, f"{sim.url}\n".encode())
        _read_until(primary, "Projects")
        os.write(primary, f"{project}\n".encode())
        _read_until(primary, "Environment variable")
        os.write(primary, b"\n")  # accept the default GITLAB_TOKEN
        out = _read_until(primary, "Wrote")
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        os.close(primary)
    assert "project " + project in out
    written = json.loads(lore_env.config_path.read_text())
    assert written["gitlab"] == {"baseUrl": sim.url, "tokenEnvVar": "GITLAB_TOKEN"}
    assert written["projects"] == [{"path": project}]
