"""The cron backend against the real `crontab` program.

A real crontab edits the *user's* crontab in the system spool, which no HOME or XDG
variable redirects. So the test runs inside a private mount namespace with a tmpfs over
``/var/spool``: the real program, a throwaway spool, the machine's crontab untouched.
It needs root, `unshare` and `crontab` (``LORE_TEST_CRONTAB`` may point at a crontab
binary that is not on PATH, e.g. one unpacked from the distribution's cron package);
otherwise it is skipped. ``LORE_TEST_REAL_CRONTAB=1`` runs it without the namespace,
against your real crontab, restoring it afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from lore_testkit import LORE_EXE, LoreEnv

TOKEN = "glpat-100%-real"
USER_LINES = 'MAILTO=""\n# my own job, keep me\n0 3 * * * /usr/bin/true --nightly\n'

SCRIPT = r"""
set -e
if [ -n "$ISOLATE" ]; then
  mount --make-rprivate /
  mount -t tmpfs tmpfs /var/spool
  mkdir -p /var/spool/cron/crontabs
  chmod 1730 /var/spool/cron/crontabs
fi
printf '%s' "$USER_LINES" | crontab -
"$LORE" --robot service install --backend cron --interval 45m > "$OUT/install.json"
crontab -l > "$OUT/after_install.txt"
"$LORE" --robot service status > "$OUT/status.json"
"$LORE" --robot service install --backend cron --interval 7m --token-source embedded > "$OUT/reinstall.json"
crontab -l > "$OUT/after_reinstall.txt"
"$LORE" --robot service uninstall > "$OUT/uninstall.json"
crontab -l > "$OUT/after_uninstall.txt" 2>&1 || true
"""


def _crontab() -> str | None:
    explicit = os.environ.get("LORE_TEST_CRONTAB")
    if explicit and Path(explicit).is_file():
        return explicit
    return shutil.which("crontab")


def test_cron_backend_with_the_real_crontab(lore_env: LoreEnv, tmp_path: Path) -> None:
    crontab = _crontab()
    if crontab is None:
        pytest.skip("crontab is not installed on this machine")
    real = os.environ.get("LORE_TEST_REAL_CRONTAB") == "1"
    isolate = not real
    if isolate and not (hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("unshare")):
        pytest.skip(
            "cannot isolate the real crontab (needs root and unshare for a private "
            "/var/spool); set LORE_TEST_REAL_CRONTAB=1 to use your own crontab"
        )
    saved = None
    if real:
        listing = subprocess.run([crontab, "-l"], capture_output=True, text=True, check=False)
        saved = listing.stdout if listing.returncode == 0 else ""
    out = tmp_path / "out"
    out.mkdir()
    lore_env.write_config("http://127.0.0.1:9", ["group/repo"])
    env = {
        **lore_env.env,
        "GITLAB_TOKEN": TOKEN,
        "LORE": LORE_EXE,
        "OUT": str(out),
        "USER_LINES": USER_LINES,
        "ISOLATE": "1" if isolate else "",
        "PATH": f"{Path(crontab).parent}{os.pathsep}{lore_env.env['PATH']}",
    }
    argv = ["unshare", "--mount", "sh", "-c", SCRIPT] if isolate else ["sh", "-c", SCRIPT]
    try:
        proc = subprocess.run(
            argv,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            cwd=lore_env.root,
            check=False,
        )
    finally:
        if saved is not None:
            subprocess.run([crontab, "-"], input=saved, text=True, check=False)
    assert proc.returncode == 0, proc.stderr + "".join(
        f"\n{p.name}: {p.read_text()}" for p in out.iterdir()
    )

    installed = json.loads((out / "install.json").read_text())
    assert installed["ok"], installed
    sid = installed["data"]["service_id"]
    after = (out / "after_install.txt").read_text()
    # the real crontab accepted our lines and kept the user's, byte for byte, in front
    assert after.startswith(USER_LINES)
    block = after[len(USER_LINES) :]
    assert block.startswith(f"# lore:{sid}:begin\n") and block.endswith(f"# lore:{sid}:end\n")
    assert TOKEN not in after
    status = json.loads((out / "status.json").read_text())["data"]
    assert status["service_state"] == "loaded" and status["drift"]["spec_drift"] is False
    assert status["drift"]["command_drift"] is False

    reinstalled = json.loads((out / "reinstall.json").read_text())
    assert reinstalled["ok"], reinstalled
    assert any("across midnight" in w for w in reinstalled["data"]["warnings"])
    after = (out / "after_reinstall.txt").read_text()
    assert after.startswith(USER_LINES) and after.count(f"# lore:{sid}:begin") == 1
    assert "glpat-100\\%-real" in after  # '%' escaped, or cron would cut the line there

    gone = json.loads((out / "uninstall.json").read_text())
    assert gone["ok"] and gone["data"]["was_installed"] is True
    assert (out / "after_uninstall.txt").read_text() == USER_LINES
