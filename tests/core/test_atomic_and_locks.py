"""Atomic writes and the pipeline lock, with real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lore.core.atomic import write_atomic, write_json_atomic
from lore.core.errors import ErrorCode, LoreError
from lore.core.locks import NamedLock, acquire_pipeline_lock


def test_write_atomic_sets_mode_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "state.json"
    write_json_atomic(target, {"a": 1}, mode=0o600)
    assert target.read_text().strip() == '{\n  "a": 1\n}'
    assert (target.stat().st_mode & 0o777) == 0o600
    write_atomic(target, "second", mode=0o644)
    assert target.read_text() == "second"
    assert sorted(p.name for p in target.parent.iterdir()) == ["state.json"]


def test_a_failed_write_keeps_the_old_file_and_removes_its_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "state.json"
    write_atomic(target, "old")

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(target, "new")
    monkeypatch.undo()
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]

    def rename_refused(src: str, dst: str) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", rename_refused)
    with pytest.raises(PermissionError):
        write_json_atomic(target, {"b": 2})
    monkeypatch.undo()
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_sigkill_during_writes_never_leaves_a_torn_file(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    write_json_atomic(target, {"n": -1, "pad": "x" * 100_000})
    script = textwrap.dedent(f"""
        from pathlib import Path
        from lore.core.atomic import write_json_atomic
        n = 0
        while True:
            write_json_atomic(Path({str(target)!r}), {{"n": n, "pad": "x" * 100_000}})
            n += 1
    """)
    import json
    import time

    for delay in (0.05, 0.15, 0.3):
        proc = subprocess.Popen([sys.executable, "-c", script])
        time.sleep(delay)
        proc.kill()
        proc.wait()
        value = json.loads(target.read_text())
        assert len(value["pad"]) == 100_000


def test_second_holder_is_refused_with_pid(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from lore.core.locks import acquire_pipeline_lock
        lock = acquire_pipeline_lock(Path({str(tmp_path)!r}))
        print("held", flush=True)
        time.sleep(30)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(LoreError) as info:
            acquire_pipeline_lock(tmp_path, wait_seconds=0.2)
        assert info.value.code is ErrorCode.SYNC_IN_PROGRESS
        assert f"pid {proc.pid}" in info.value.message
        assert "--wait" in (info.value.suggestion or "")
    finally:
        proc.kill()
        proc.wait()
    # The OS released the dead holder's lock: no stale-lock cleanup needed.
    lock = acquire_pipeline_lock(tmp_path)
    lock.release()


def test_wait_acquires_once_the_holder_exits(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from lore.core.locks import NamedLock
        lock = NamedLock(Path({str(tmp_path)!r}), "x").acquire()
        print("held", flush=True)
        time.sleep(0.5)
        lock.release()
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    lock = NamedLock(tmp_path, "x").acquire(wait_seconds=10)
    assert lock.read_holder()["pid"] == os.getpid()  # type: ignore[index]
    lock.release()
    proc.wait()
