"""`lore service doctor`: is this machine ready to run (or still running) the service?

Each check is ``pass``, ``warn`` (works, with a caveat) or ``fail`` (blocks install),
with a message and, where one exists, the command that fixes it. ``--fix`` applies only
safe, non-destructive remedies (create missing directories, tighten the env file to
0600 and the wrapper to 0700, ``systemctl --user daemon-reload``) and reports each as
``fixed``. `service install` runs the same checks as its pre-flight.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lore.core.errors import ErrorCode, LoreError
from lore.service.backends.base import Check

if TYPE_CHECKING:
    from lore.core.config import Config
    from lore.service.backends.base import Backend


@dataclass
class DoctorReport:
    checks: list[Check] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)
    backend: str = ""

    @property
    def overall(self) -> str:
        statuses = {c.status for c in self.checks}
        if "fail" in statuses:
            return "fail"
        if "warn" in statuses:
            return "warn"
        return "pass"

    def find(self, name: str) -> Check | None:
        return next((c for c in self.checks if c.name == name), None)

    def to_dict(self) -> dict[str, object]:
        return {
            "checks": [c.to_dict() for c in self.checks],
            "overall": self.overall,
            "platform": self.backend,
            "fixes_applied": list(self.fixes),
        }


def resolve_binary() -> str:
    """The absolute path of this installation's `lore` (ERRATA: ``current_exe``).

    Inside a virtualenv it is that venv's `lore`, never a bare one found on PATH.
    """
    exe_name = "lore.exe" if os.name == "nt" else "lore"
    candidates: list[Path] = []
    venv_lore = Path(sys.executable).parent / exe_name
    if sys.prefix != sys.base_prefix:
        candidates.append(venv_lore)
    if sys.argv and Path(sys.argv[0]).name in ("lore", "lore.exe"):
        candidates.append(Path(sys.argv[0]))
    candidates.append(venv_lore)
    found = shutil.which("lore")
    if found:
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate.resolve())
    raise LoreError(
        ErrorCode.SERVICE_ERROR,
        "cannot find the lore executable to schedule (looked next to "
        f"{sys.executable} and on PATH)",
        suggestion="Install lore so that a `lore` command exists (pip install ., pipx "
        "install lore), then run: lore service install",
    )


def check_config(config_file: Path) -> tuple[Check, Config | None]:
    from lore.core.config import load

    try:
        config = load(config_file)
    except LoreError as err:
        return Check("config", "fail", err.message, err.actions[0] if err.actions else None), None
    return Check("config", "pass", f"Config loaded from {config_file}"), config


def check_token_present(config: Config, env_file_token: str | None) -> Check:
    var = config.gitlab.token_env_var
    if os.environ.get(var, "").strip():
        return Check("token_present", "pass", f"{var} is set")
    if env_file_token:
        return Check("token_present", "pass", f"{var} is stored in the service's env file")
    return Check("token_present", "fail", f"{var} is not set", f"export {var}=<your GitLab token>")


def check_token_valid(config: Config, token: str) -> Check:
    """One request, no retries: 401 fails, an unreachable server only warns."""
    from lore.gitlab.client import GitLabClient, RetryPolicy

    try:
        with GitLabClient.from_config(
            config, token=token, timeout_seconds=10.0, retry=RetryPolicy(max_retries=0)
        ) as client:
            user = client.current_user()
    except LoreError as err:
        if err.code is ErrorCode.AUTH_FAILED:
            return Check(
                "token_valid",
                "fail",
                err.message,
                f"Create a new token (scope read_api) and export {config.gitlab.token_env_var}",
            )
        return Check("token_valid", "warn", f"could not check the token: {err.message}")
    who = user.get("username")
    return Check(
        "token_valid", "pass", "GitLab authentication successful" + (f" (as @{who})" if who else "")
    )


def check_binary() -> Check:
    try:
        return Check("binary_path", "pass", f"Binary: {resolve_binary()}")
    except LoreError as err:
        return Check("binary_path", "fail", err.message, "pip install lore")


def check_data_dir(data_dir: Path, fix: bool, report: DoctorReport) -> Check:
    logs = data_dir / "logs"
    missing = [d for d in (data_dir, logs) if not d.is_dir()]
    if missing and fix:
        from lore.core.paths import ensure_dir

        try:
            for d in missing:
                ensure_dir(d)
        except OSError as exc:
            return Check("data_directory", "fail", f"cannot create {missing[0]}: {exc}")
        report.fixes.append(f"created {', '.join(map(str, missing))}")
        return Check("data_directory", "fixed", f"created {', '.join(map(str, missing))}")
    if data_dir in missing:
        return Check(
            "data_directory",
            "fail",
            f"Data dir {data_dir} does not exist",
            "lore service doctor --fix",
        )
    if not os.access(data_dir, os.W_OK):
        return Check(
            "data_directory",
            "fail",
            f"Data dir {data_dir} is not writable",
            f"chmod u+w {data_dir}",
        )
    if missing:
        return Check(
            "data_directory",
            "warn",
            f"Log dir {logs} does not exist yet",
            "lore service doctor --fix",
        )
    return Check("data_directory", "pass", f"Data dir: {data_dir} (writable)")


def check_permissions(
    data_dir: Path, service_ids: list[str], fix: bool, report: DoctorReport
) -> Check | None:
    from lore.core.paths import service_env_path, service_wrapper_path
    from lore.service.tokens import ENV_FILE_MODE, WRAPPER_MODE, file_mode, fix_mode

    wrong: list[tuple[Path, int, int]] = []
    for sid in service_ids:
        for path, wanted in (
            (service_env_path(sid, data_dir), ENV_FILE_MODE),
            (service_wrapper_path(sid, data_dir), WRAPPER_MODE),
        ):
            mode = file_mode(path)
            if mode is not None and mode != wanted:
                wrong.append((path, mode, wanted))
    if not wrong:
        return (
            Check("file_permissions", "pass", "env files are 0600, wrapper scripts 0700")
            if service_ids
            else None
        )
    text = ", ".join(f"{p.name} is {m:04o} (want {w:04o})" for p, m, w in wrong)
    if fix:
        for path, _, wanted in wrong:
            fix_mode(path, wanted)
        report.fixes.append(f"tightened permissions: {text}")
        return Check("file_permissions", "fixed", f"tightened permissions: {text}")
    return Check("file_permissions", "fail", text, "lore service doctor --fix")


def check_install_state(
    data_dir: Path, service_ids: list[str], fix: bool, report: DoctorReport
) -> Check:
    from lore.service.inspect import drift_of
    from lore.service.manifest import load_manifest

    if not service_ids:
        return Check("install_state", "pass", "No existing install detected")
    problems: list[str] = []
    corrupt = False
    reload_systemd = False
    for sid in service_ids:
        try:
            manifest = load_manifest(sid, data_dir)
        except LoreError as err:
            problems.append(f"{sid}: {err.message}")
            corrupt = True
            continue
        if manifest is None:
            continue
        drift = drift_of(manifest)
        kinds = [k for k, v in drift.items() if v]
        if kinds:
            problems.append(f"{sid}: {', '.join(kinds)}")
            reload_systemd = reload_systemd or manifest.platform == "systemd"
    if not problems:
        return Check(
            "install_state",
            "pass",
            f"installed and matching the manifest: {', '.join(service_ids)}",
        )
    if fix and reload_systemd and not corrupt:
        from lore.service.runner import run_command

        if run_command(["systemctl", "--user", "daemon-reload"]).ok:
            report.fixes.append("ran systemctl --user daemon-reload")
    action = "lore service repair" if corrupt else "lore service install"
    return Check("install_state", "fail" if corrupt else "warn", "; ".join(problems), action)


def run_doctor(
    *,
    config_file: Path,
    data_dir: Path,
    backend: Backend,
    offline: bool = False,
    fix: bool = False,
    service_ids: list[str] | None = None,
    preflight: bool = False,
) -> DoctorReport:
    """Run every check. ``preflight`` is install's variant: no install-state checks."""
    report = DoctorReport(backend=backend.name)
    config_check, config = check_config(config_file)
    report.checks.append(config_check)
    ids = service_ids or []
    if config is not None:
        stored = _stored_token(config, data_dir, ids)
        report.checks.append(check_token_present(config, stored))
        token = os.environ.get(config.gitlab.token_env_var, "").strip() or stored
        if not offline and token:
            report.checks.append(check_token_valid(config, token))
    report.checks.append(check_binary())
    if preflight and not (data_dir / "logs").is_dir():
        # install creates them (after the pre-flight, so --dry-run still writes nothing)
        report.checks.append(
            Check("data_directory", "pass", f"Data dir {data_dir} (created by the install)")
        )
    else:
        report.checks.append(check_data_dir(data_dir, fix, report))
    report.checks.extend(backend.prerequisites())
    if not preflight:
        perms = check_permissions(data_dir, ids, fix, report)
        if perms is not None:
            report.checks.append(perms)
        report.checks.append(check_install_state(data_dir, ids, fix, report))
    return report


def _stored_token(config: Config, data_dir: Path, service_ids: list[str]) -> str | None:
    from lore.core.paths import service_env_path
    from lore.service.tokens import read_env_file

    for sid in service_ids:
        token = read_env_file(service_env_path(sid, data_dir), config.gitlab.token_env_var)
        if token:
            return token
    return None
