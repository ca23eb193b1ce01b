"""Recording fakes of the OS scheduler commands, put first on PATH.

Each fake is a small POSIX sh script that appends its argv (tab-separated) to
``$LORE_FAKE_LOG`` and answers from files in ``$LORE_FAKE_STATE``:

- ``systemctl``: ``systemd-down`` makes every --user call fail like a missing bus;
  ``fail-enable`` makes ``enable`` fail; enabled timers are files ``active-{unit}``.
- ``loginctl``: ``linger`` present -> Linger=yes.
- ``unshare``: ``no-userns`` present -> fails like a kernel without user namespaces.
- ``launchctl``: loaded labels are files ``launchd-{label}``; ``fail-bootstrap``.
- ``schtasks``: tasks are files ``task-{name}``; ``fail-create``.
- ``crontab``: the crontab is the file ``crontab`` (absent = "no crontab for user");
  ``fail-crontab-write`` makes ``crontab -`` fail.
- ``hang`` (any name you give it): sleeps, to test the runner's timeout.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_LOG = (
    'printf "%s\\t" "$(basename "$0")" "$@" >> "$LORE_FAKE_LOG"; printf "\\n" >> "$LORE_FAKE_LOG"'
)

SYSTEMCTL = f"""#!/bin/sh
{_LOG}
S="$LORE_FAKE_STATE"
if [ "$1" = "--user" ] && [ -f "$S/systemd-down" ]; then
  echo "Failed to connect to bus: No medium found" >&2; exit 1
fi
shift
case "$1" in
  show-environment) echo "HOME=$HOME"; exit 0;;
  daemon-reload) exit 0;;
  enable)
    if [ -f "$S/fail-enable" ]; then echo "Failed to enable unit: Unit $3 is masked." >&2; exit 1; fi
    touch "$S/active-$3"; exit 0;;
  restart) exit 0;;
  disable) rm -f "$S/active-$3"; exit 0;;
  is-active)
    shift; rc=3
    for unit in "$@"; do
      if [ -f "$S/active-$unit" ]; then echo active; rc=0; else echo inactive; fi
    done
    exit $rc;;
esac
exit 0
"""

LOGINCTL = f"""#!/bin/sh
{_LOG}
if [ -f "$LORE_FAKE_STATE/linger" ]; then echo "Linger=yes"; else echo "Linger=no"; fi
"""

UNSHARE = f"""#!/bin/sh
{_LOG}
if [ -f "$LORE_FAKE_STATE/no-userns" ]; then
  echo "unshare: unshare failed: Operation not permitted" >&2; exit 1
fi
exit 0
"""

LAUNCHCTL = f"""#!/bin/sh
{_LOG}
S="$LORE_FAKE_STATE"
case "$1" in
  print) exit 0;;
  bootstrap)
    if [ -f "$S/fail-bootstrap" ]; then echo "Bootstrap failed: 5: Input/output error" >&2; exit 5; fi
    label=$(basename "$3" .plist); touch "$S/launchd-$label"; exit 0;;
  load)
    if [ -f "$S/fail-bootstrap" ]; then echo "Load failed: 5: Input/output error" >&2; exit 5; fi
    label=$(basename "$3" .plist); touch "$S/launchd-$label"; exit 0;;
  bootout)
    label=$(basename "$2"); if [ -f "$S/launchd-$label" ]; then rm -f "$S/launchd-$label"; exit 0; fi
    echo "Boot-out failed: 3: No such process" >&2; exit 3;;
  unload) exit 1;;
  list)
    if [ -f "$S/launchd-$2" ]; then printf '{{\\n\\t"Label" = "%s";\\n}};\\n' "$2"; exit 0; fi
    echo "Could not find service \\"$2\\" in domain for port" >&2; exit 113;;
esac
exit 0
"""

SCHTASKS = f"""#!/bin/sh
{_LOG}
S="$LORE_FAKE_STATE"
case "$1" in
  /\\?) echo "SCHTASKS /parameter [arguments]"; exit 0;;
  /create)
    if [ -f "$S/fail-create" ]; then echo "ERROR: The task XML is malformed." >&2; exit 1; fi
    touch "$S/task-$3"; exit 0;;
  /delete) rm -f "$S/task-$3"; exit 0;;
  /query)
    if [ ! -f "$S/task-$3" ]; then echo "ERROR: The system cannot find the file specified." >&2; exit 1; fi
    if [ "$4" = "/fo" ]; then
      echo '"HostName","TaskName","Next Run Time","Status"'
      echo "\\"HOST\\",\\"\\\\$3\\",\\"N/A\\",\\"Ready\\""
    fi
    exit 0;;
esac
exit 0
"""

CRONTAB = f"""#!/bin/sh
{_LOG}
S="$LORE_FAKE_STATE"
case "$1" in
  -l)
    if [ -f "$S/crontab" ]; then cat "$S/crontab"; exit 0; fi
    echo "no crontab for $(id -un)" >&2; exit 1;;
  -)
    if [ -f "$S/fail-crontab-write" ]; then cat > /dev/null; echo "crontab: errors in crontab file, can't install." >&2; exit 1; fi
    cat > "$S/crontab.new" && mv "$S/crontab.new" "$S/crontab"; exit 0;;
esac
exit 1
"""

HANG = """#!/bin/sh
sleep 30 &
sleep 30
"""

FAKES = {
    "systemctl": SYSTEMCTL,
    "loginctl": LOGINCTL,
    "unshare": UNSHARE,
    "launchctl": LAUNCHCTL,
    "schtasks": SCHTASKS,
    "crontab": CRONTAB,
}


@dataclass
class Fakes:
    bin_dir: Path
    state: Path
    log: Path

    def calls(self, program: str | None = None) -> list[list[str]]:
        if not self.log.exists():
            return []
        out = []
        for line in self.log.read_text().splitlines():
            words = line.rstrip("\t").split("\t")
            if program is None or words[0] == program:
                out.append(words)
        return out

    def set(self, flag: str, present: bool = True) -> None:
        path = self.state / flag
        if present:
            path.touch()
        else:
            path.unlink(missing_ok=True)

    def crontab(self) -> str | None:
        path = self.state / "crontab"
        return path.read_text() if path.exists() else None

    def set_crontab(self, text: str) -> None:
        (self.state / "crontab").write_text(text)

    def remove(self, program: str) -> None:
        (self.bin_dir / program).unlink(missing_ok=True)

    def add(self, program: str, script: str) -> None:
        path = self.bin_dir / program
        path.write_text(script)
        path.chmod(0o755)


def install_fakes(root: Path, env: dict[str, str], *, crontab: bool = True) -> Fakes:
    """Write the fakes under ``root`` and point ``env`` (PATH, LORE_FAKE_*) at them."""
    bin_dir = root / "fakebin"
    state = root / "fakestate"
    bin_dir.mkdir(parents=True, exist_ok=True)
    state.mkdir(parents=True, exist_ok=True)
    fakes = Fakes(bin_dir, state, root / "fake-calls.log")
    for name, script in FAKES.items():
        if name == "crontab" and not crontab:
            continue
        fakes.add(name, script)
    fakes.set("linger")
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', os.defpath)}"
    env["LORE_FAKE_LOG"] = str(fakes.log)
    env["LORE_FAKE_STATE"] = str(state)
    return fakes
