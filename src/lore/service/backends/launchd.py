"""macOS: a launchd user agent, ``~/Library/LaunchAgents/com.gitlore.sync.{id}.plist``.

In env-file mode the plist runs a wrapper script (mode 0700) that reads the token from
the env file, so the token never appears in the plist; in embedded mode the token sits
in ``EnvironmentVariables``. The plist is written from a template with every value
XML-escaped (ERRATA 2) and is checked with ``plistlib`` in the tests.
"""

from __future__ import annotations

import os
import plistlib
import re
from pathlib import Path

from lore.service.backends.base import (
    Artifact,
    Backend,
    Check,
    InstallSpec,
    Rendered,
    env_file_artifact,
    parse_wrapper_argv,
    wrapper_artifact,
)
from lore.service.runner import run_command

LABEL_PREFIX = "com.gitlore.sync."


def xml_escape(text: str) -> str:
    """Escape ``& < > " '`` for XML text and attribute values."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&apos;")
    )


def label(service_id: str) -> str:
    return f"{LABEL_PREFIX}{service_id}"


def plist_path(service_id: str) -> Path:
    home = Path(os.environ.get("HOME") or Path.home())
    return home / "Library" / "LaunchAgents" / f"{label(service_id)}.plist"


def _plist(
    service_id: str,
    program_arguments: list[str],
    env: list[tuple[str, str]],
    interval_seconds: int,
    log_dir: Path,
) -> str:
    args = "\n".join(f"        <string>{xml_escape(a)}</string>" for a in program_arguments)
    env_block = ""
    if env:
        entries = "\n".join(
            f"        <key>{xml_escape(k)}</key>\n        <string>{xml_escape(v)}</string>"
            for k, v in env
        )
        env_block = f"    <key>EnvironmentVariables</key>\n    <dict>\n{entries}\n    </dict>\n"
    out_log = xml_escape(str(log_dir / f"service-{service_id}-stdout.log"))
    err_log = xml_escape(str(log_dir / f"service-{service_id}-stderr.log"))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" '
        '"http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n'
        '<plist version="1.0">\n'
        "<dict>\n"
        "    <key>Label</key>\n"
        f"    <string>{xml_escape(label(service_id))}</string>\n"
        "    <key>ProgramArguments</key>\n"
        "    <array>\n"
        f"{args}\n"
        "    </array>\n"
        f"{env_block}"
        "    <key>StartInterval</key>\n"
        f"    <integer>{int(interval_seconds)}</integer>\n"
        "    <key>RunAtLoad</key>\n"
        "    <true/>\n"
        "    <key>ProcessType</key>\n"
        "    <string>Background</string>\n"
        "    <key>Nice</key>\n"
        "    <integer>10</integer>\n"
        "    <key>LowPriorityIO</key>\n"
        "    <true/>\n"
        "    <key>StandardOutPath</key>\n"
        f"    <string>{out_log}</string>\n"
        "    <key>StandardErrorPath</key>\n"
        f"    <string>{err_log}</string>\n"
        "    <key>TimeOut</key>\n"
        "    <integer>600</integer>\n"
        "</dict>\n"
        "</plist>\n"
    )


def generate_plist_with_wrapper(
    service_id: str, wrapper_path: Path, interval_seconds: int, log_dir: Path
) -> str:
    """Env-file variant: launchd runs the wrapper; no token and no lore arguments here."""
    return _plist(service_id, [str(wrapper_path)], [], interval_seconds, log_dir)


def generate_plist_with_embedded(
    service_id: str,
    binary_path: str,
    config_path: str | None,
    interval_seconds: int,
    token_env_var: str,
    token_value: str,
    log_dir: Path,
    data_dir: str | None = None,
    network_env: list[tuple[str, str]] | None = None,
) -> str:
    """Embedded variant: launchd runs lore directly with the token in its environment
    (plus the CA and proxy variables of the install)."""
    env = [(token_env_var, token_value)]
    if config_path is not None:
        env.append(("LORE_CONFIG_PATH", config_path))
    if data_dir is not None:
        env.append(("LORE_DATA_DIR", data_dir))
    env.extend(network_env or [])
    argv = [binary_path, "--robot", "service", "run", "--service-id", service_id]
    return _plist(service_id, argv, env, interval_seconds, log_dir)


def _uid() -> int:
    return os.getuid() if hasattr(os, "getuid") else 0


class LaunchdBackend(Backend):
    name = "launchd"

    def render(self, spec: InstallSpec) -> Rendered:
        path = plist_path(spec.service_id)
        if spec.token_source == "embedded":
            content = generate_plist_with_embedded(
                spec.service_id,
                spec.binary_path,
                spec.config_override,
                spec.interval_seconds,
                spec.token_env_var,
                spec.token_value,
                spec.log_dir,
                spec.data_dir_override,
                spec.network_env,
            )
            artifacts = [Artifact(str(path), content, mode=0o600, secret=True)]
        else:
            content = generate_plist_with_wrapper(
                spec.service_id, spec.wrapper_path, spec.interval_seconds, spec.log_dir
            )
            artifacts = [
                env_file_artifact(spec),
                wrapper_artifact(spec),
                Artifact(str(path), content),
            ]
        domain = f"gui/{_uid()}"
        commands = [
            ["launchctl", "bootout", f"{domain}/{label(spec.service_id)}"],
            ["launchctl", "bootstrap", domain, str(path)],
        ]
        return Rendered(artifacts, commands, spec.token_source)

    def enable(self, spec: InstallSpec, rendered: Rendered) -> None:
        path = plist_path(spec.service_id)
        domain = f"gui/{_uid()}"
        # bootstrap refuses a label that is already loaded: unload a previous version first.
        run_command(["launchctl", "bootout", f"{domain}/{label(spec.service_id)}"])
        result = run_command(["launchctl", "bootstrap", domain, str(path)])
        if result.ok:
            return
        legacy = run_command(["launchctl", "load", "-w", str(path)])  # macOS before 10.10
        if not legacy.ok:
            raise result.error("loading the launchd agent")

    def disable(self, service_id: str) -> list[str]:
        result = run_command(["launchctl", "bootout", f"gui/{_uid()}/{label(service_id)}"])
        if result.ok:
            return []
        legacy = run_command(["launchctl", "unload", str(plist_path(service_id))])
        if legacy.ok:
            return []
        return [f"{result.command}: {result.stderr.strip() or result.returncode}"]

    def file_paths(self, service_id: str, data_dir: Path) -> list[Path]:
        from lore.core.paths import service_wrapper_path

        return [plist_path(service_id), service_wrapper_path(service_id, data_dir)]

    def is_installed(self, service_id: str, data_dir: Path) -> bool:
        return plist_path(service_id).exists()

    def state(self, service_id: str) -> str:
        result = run_command(["launchctl", "list", label(service_id)], timeout_seconds=10)
        if result.returncode is None:
            return "unknown"
        if not result.ok:
            return "not_loaded"
        return "running" if re.search(r'"PID"\s*=\s*\d+', result.stdout) else "loaded"

    def installed_argv(self, service_id: str, service_files: list[str]) -> list[str] | None:
        try:
            data = plistlib.loads(plist_path(service_id).read_bytes())
        except (OSError, plistlib.InvalidFileException, ValueError):
            return None
        argv = data.get("ProgramArguments") if isinstance(data, dict) else None
        if not isinstance(argv, list) or not argv:
            return None
        if len(argv) == 1 and str(argv[0]).endswith(".sh"):
            text = self.read_artifact(str(argv[0]))
            return parse_wrapper_argv(text) if text is not None else None
        return [str(a) for a in argv]

    def prerequisites(self) -> list[Check]:
        domain = f"gui/{_uid()}"
        result = run_command(["launchctl", "print", domain], timeout_seconds=10)
        if result.ok:
            return [
                Check(
                    "platform_prerequisites", "pass", f"running in a GUI login session ({domain})"
                )
            ]
        # A warning, not a block: `launchctl asuser` and similar setups can still work.
        return [
            Check(
                "platform_prerequisites",
                "warn",
                f"launchd domain {domain} is not available (no GUI login session?); the "
                "agent loads only in a GUI session",
                "Log in via the GUI, or use: lore service install --backend cron",
            )
        ]
