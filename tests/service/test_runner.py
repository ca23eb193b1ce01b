"""The one OS-command runner: output capture, errors with context, and a timeout that
kills and reaps the child (and its children)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from lore.core.errors import ErrorCode
from lore.service.runner import run_checked, run_command


def _script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def test_captures_output_and_exit_code(tmp_path: Path) -> None:
    prog = _script(tmp_path, "say", 'echo "out $1"; echo "err" >&2; exit 3\n')
    result = run_command([prog, "x y"])
    assert (result.returncode, result.stdout, result.stderr) == (3, "out x y\n", "err\n")
    err = result.error("testing")
    assert err.code is ErrorCode.SERVICE_COMMAND_FAILED
    assert "exited with 3" in err.message and "err" in err.message
    assert err.details is not None and err.details["exit_code"] == 3
    assert "'x y'" in err.details["command"]
    assert "lore service doctor" in str(err.suggestion)


def test_feeds_stdin(tmp_path: Path) -> None:
    prog = _script(tmp_path, "cat2", "cat\n")
    assert run_checked([prog], input_text="hello\n") == "hello\n"


def test_missing_program_is_a_result_not_an_exception() -> None:
    result = run_command(["/nonexistent/definitely-not-here", "--x"])
    assert result.returncode is None and not result.ok
    assert "not found" in result.error().message


def test_timeout_kills_and_reaps_the_child_and_its_children(tmp_path: Path) -> None:
    marker = tmp_path / "grandchild.pid"
    prog = _script(tmp_path, "hang", f"sleep 60 &\necho $! > {marker}\nsleep 60\n")
    started = time.monotonic()
    result = run_command([prog], timeout_seconds=0.5)
    assert time.monotonic() - started < 10
    assert result.timed_out and result.returncode is None
    assert "timed out" in result.error().message
    # the grandchild (same process group) is gone too
    grandchild = int(marker.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(grandchild, 0)
        except ProcessLookupError:
            break
        # it may be a zombie waiting for init to reap it: that is not alive
        stat = Path(f"/proc/{grandchild}/stat")
        if stat.exists() and stat.read_text().split()[2] == "Z":
            break
        time.sleep(0.05)
    else:
        raise AssertionError("grandchild survived the timeout")
    # and no zombie of our own child is left: every child of this process is reaped
    children = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children")
    if children.exists():
        for pid in children.read_text().split():
            state = Path(f"/proc/{pid}/stat").read_text().split()[2]
            assert state != "Z", f"zombie child {pid}"
