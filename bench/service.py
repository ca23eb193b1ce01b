"""Service cold-path benchmark: what the scheduler pays every few minutes for years.

Times `lore --robot service run` on its three skip paths (paused, backoff, locked) and
`lore service status` (robot and human) against `python -c pass`, in the same run, and
checks that none of them imports httpx, rich, sqlite3 or the sync pipeline. Uses a
throwaway HOME and a cron install whose `crontab` is a tiny fake on PATH, so nothing
touches this machine's scheduler. Prints one JSON document.

Usage: .venv/bin/python bench/service.py [--runs 30]
Target: each under 150 ms median.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchkit import measure

BIN = Path(sys.executable).parent
LORE = str(BIN / "lore")
TARGET_MS = 150
HEAVY = ("httpx", "rich", "sqlite3", "lore.sync.pipeline", "numpy", "lore.store.db")

FAKE_CRONTAB = """#!/bin/sh
case "$1" in
  -l) [ -f "$CRONTAB_FILE" ] && cat "$CRONTAB_FILE" && exit 0; echo "no crontab for user" >&2; exit 1;;
  -) cat > "$CRONTAB_FILE"; exit 0;;
esac
exit 1
"""


def heavy_imports(argv: list[str], env: dict[str, str]) -> list[str]:
    """Heavy modules the command imports (via ``python -X importtime``)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "lore", *argv[1:]],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    names = {
        line.rsplit("|", 1)[-1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:")
    }
    return sorted(n for n in names if any(n == h or n.startswith(h + ".") for h in HEAVY))


def robot(argv: list[str], env: dict[str, str]) -> dict[str, Any]:
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    return dict(json.loads(proc.stdout))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    from lore.core.locks import PIPELINE_LOCK, NamedLock
    from lore.service.status import SyncStatusFile, status_path, write_status

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        fakebin = root / "bin"
        fakebin.mkdir()
        (fakebin / "crontab").write_text(FAKE_CRONTAB)
        (fakebin / "crontab").chmod(0o755)
        data_dir = root / "home" / ".local" / "share" / "lore"
        config = root / "home" / ".config" / "lore" / "config.json"
        config.parent.mkdir(parents=True)
        config.write_text(
            json.dumps(
                {"gitlab": {"baseUrl": "http://127.0.0.1:9"}, "projects": [{"path": "group/repo"}]}
            )
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LORE_", "XDG_"))}
        env.update(
            HOME=str(root / "home"),
            LORE_DATA_DIR=str(data_dir),
            LORE_CONFIG_PATH=str(config),
            GITLAB_TOKEN="glpat-bench",
            CRONTAB_FILE=str(root / "crontab"),
            NO_COLOR="1",
            PATH=f"{fakebin}{os.pathsep}{os.environ.get('PATH', '')}",
        )
        installed = robot([LORE, "--robot", "service", "install", "--backend", "cron"], env)
        sid = installed["data"]["service_id"]
        run = [LORE, "--robot", "service", "run", "--service-id", sid]
        status_file = status_path(sid, data_dir)
        results: dict[str, Any] = {}
        checks: dict[str, Any] = {}

        def scenario(name: str, argv: list[str], expect: dict[str, Any] | None) -> None:
            if expect is not None:
                data = robot(argv, env)["data"]
                assert all(data.get(k) == v for k, v in expect.items()), (name, data)
            results[name] = measure(argv, args.runs, env)
            checks[name] = heavy_imports(argv, env)

        results["python -c pass"] = measure([sys.executable, "-c", "pass"], args.runs, env)
        robot([LORE, "--robot", "service", "pause", "--reason", "bench"], env)
        scenario("service run (paused)", run, {"action": "paused", "reason": "MANUAL"})
        robot([LORE, "--robot", "service", "resume"], env)

        backing_off = SyncStatusFile(
            state="backoff",
            consecutive_failures=3,
            next_retry_at_ms=int(time.time() * 1000) + 86_400_000,
        )
        write_status(status_file, backing_off)
        scenario("service run (backoff)", run, {"action": "skipped", "reason": "backoff"})

        write_status(status_file, SyncStatusFile(state="success"))
        lock = NamedLock(data_dir, PIPELINE_LOCK).acquire(0.0, command="bench")
        try:
            scenario("service run (locked)", run, {"action": "skipped", "reason": "locked"})
        finally:
            lock.release()

        write_status(status_file, backing_off)
        scenario(
            "service status (robot)",
            [LORE, "--robot", "service", "status"],
            {"scheduler_state": "backoff"},
        )
        scenario("service status (human)", [LORE, "service", "status"], None)
    base = results["python -c pass"]["median_ms"]
    for figures in results.values():
        figures["over_python_ms"] = round(figures["median_ms"] - base, 1)
    timed = {k: v for k, v in results.items() if k != "python -c pass"}
    print(
        json.dumps(
            {
                "benchmark": "service",
                "runs": args.runs,
                "results": results,
                "heavy_imports": checks,
                "targets": {"median_ms": TARGET_MS, "heavy_imports": []},
                "met": {
                    name: figures["median_ms"] < TARGET_MS and not checks[name]
                    for name, figures in timed.items()
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
