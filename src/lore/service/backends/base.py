"""What every scheduler backend provides, and the pieces they share.

A backend turns an :class:`InstallSpec` into :class:`Artifact` texts (pure functions,
tested on their text and with the format's own tools), then enables, disables and
inspects the schedule through :mod:`lore.service.runner`.
"""

from __future__ import annotations

import hashlib
import os
import shlex
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from lore.core.paths import service_env_path, service_log_path, service_wrapper_path

CRONTAB_PREFIX = "crontab:"

#: What makes an interactive sync reach GitLab and trust its certificate; a scheduler
#: starts lore with a bare environment, so install copies these when they are set.
CA_ENV_VARS = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE")
PROXY_ENV_VARS = (
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
)
NETWORK_ENV_VARS = CA_ENV_VARS + PROXY_ENV_VARS
_TMP_DIRS = ("/tmp/", "/var/tmp/")


def capture_network_env(
    environ: Mapping[str, str] | None = None, *, sandboxed: bool = False
) -> tuple[list[tuple[str, str]], list[str]]:
    """The CA and proxy variables to carry into the service, and warnings.

    CA paths are made absolute (the service's working directory is the data dir). A CA
    path that does not exist is left out, with a warning. A proxy URL holding a password
    is left out too (unit files and wrappers are readable), with a warning. Under
    systemd's sandbox (``PrivateTmp``) a CA file in /tmp is invisible: warned."""
    env = os.environ if environ is None else environ
    out: list[tuple[str, str]] = []
    warnings: list[str] = []
    for name in NETWORK_ENV_VARS:
        value = env.get(name, "").strip()
        if not value:
            continue
        if name in CA_ENV_VARS:
            path = Path(value).expanduser()
            if not path.is_absolute():
                path = Path.cwd() / path
            if not path.exists():
                warnings.append(f"{name}={value} does not exist; not copied into the service")
                continue
            value = str(path.resolve())
            if sandboxed and value.startswith(_TMP_DIRS):
                warnings.append(
                    f"{name} points into {value.split('/')[1]} ({value}), which the "
                    "sandboxed service cannot see (PrivateTmp); move the CA file"
                )
        elif name not in ("NO_PROXY", "no_proxy"):
            try:
                has_password = (
                    urlsplit(value if "://" in value else f"http://{value}").password is not None
                )
            except ValueError:
                has_password = False
            if has_password:
                warnings.append(
                    f"{name} holds a password; not copied into the service files "
                    "(they are readable); give the scheduler a proxy without "
                    "credentials in the URL"
                )
                continue
        out.append((name, value))
    return out, warnings


@dataclass
class Check:
    """One doctor check: ``pass`` | ``warn`` | ``fail`` | ``fixed``."""

    name: str
    status: str
    message: str | None = None
    action: str | None = None

    def to_dict(self) -> dict[str, str]:
        out = {"name": self.name, "status": self.status}
        if self.message is not None:
            out["message"] = self.message
        if self.action is not None:
            out["action"] = self.action
        return out


@dataclass
class Artifact:
    """A file (or the cron block) a backend installs.

    ``location`` is an absolute path, or ``crontab:{id}`` for lines in the user's
    crontab. ``secret`` marks content that holds the token (never shown, never
    hashed into output); ``in_spec`` marks what counts for the spec hash.
    """

    location: str
    content: str
    mode: int = 0o644
    secret: bool = False
    in_spec: bool = True
    encoding: str = "utf-8"

    @property
    def is_file(self) -> bool:
        return not self.location.startswith(CRONTAB_PREFIX)


@dataclass
class InstallSpec:
    """Everything a backend needs to render and enable one service."""

    service_id: str
    binary_path: str
    interval_seconds: int
    token_env_var: str
    token_value: str
    token_source: str  # env_file | embedded
    data_dir: Path
    config_override: str | None = None  # exported as LORE_CONFIG_PATH when set
    data_dir_override: str | None = None  # exported as LORE_DATA_DIR when set
    sandboxed: bool = True
    reinstall: bool = False
    #: CA and proxy variables set at install time (see :func:`capture_network_env`).
    network_env: list[tuple[str, str]] = field(default_factory=list)

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def env_file(self) -> Path:
        return service_env_path(self.service_id, self.data_dir)

    @property
    def wrapper_path(self) -> Path:
        return service_wrapper_path(self.service_id, self.data_dir)

    def log_path(self, stream: str) -> Path:
        return service_log_path(self.service_id, stream, self.data_dir)

    @property
    def run_argv(self) -> list[str]:
        """The command the scheduler runs: this lore, always robot, one service."""
        return [self.binary_path, "--robot", "service", "run", "--service-id", self.service_id]

    @property
    def extra_env(self) -> list[tuple[str, str]]:
        env = []
        if self.config_override is not None:
            env.append(("LORE_CONFIG_PATH", self.config_override))
        if self.data_dir_override is not None:
            env.append(("LORE_DATA_DIR", self.data_dir_override))
        env.extend(self.network_env)
        return env


@dataclass
class Rendered:
    artifacts: list[Artifact]
    commands: list[list[str]]  # what enable will run, for --dry-run
    token_source: str
    warnings: list[str] = field(default_factory=list)

    def spec_hash(self) -> str:
        return spec_hash([(a.location, a.content) for a in self.artifacts if a.in_spec])


def spec_hash(items: list[tuple[str, str]]) -> str:
    """SHA-256 over the scheduler artifacts' locations and texts, in location order."""
    digest = hashlib.sha256()
    for location, content in sorted(items):
        digest.update(location.encode("utf-8"))
        digest.update(b"\0")
        digest.update(content.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


class Backend(ABC):
    """One OS scheduler. Methods that query the OS never raise for the OS's answer."""

    name: str = ""

    def format_command(self, argv: list[str]) -> str:
        """How the scheduled command is shown and compared (POSIX shell quoting)."""
        return shlex.join(argv)

    @abstractmethod
    def render(self, spec: InstallSpec) -> Rendered:
        """The artifacts and commands for ``spec`` (pure: no I/O)."""

    @abstractmethod
    def enable(self, spec: InstallSpec, rendered: Rendered) -> None:
        """Make the scheduler pick the (already written) files up; SERVICE_COMMAND_FAILED."""

    @abstractmethod
    def disable(self, service_id: str) -> list[str]:
        """Stop scheduling; best effort. Returns what failed (for the log), never raises."""

    @abstractmethod
    def file_paths(self, service_id: str, data_dir: Path) -> list[Path]:
        """Generated files this backend may have written for ``service_id``."""

    @abstractmethod
    def state(self, service_id: str) -> str:
        """``loaded`` | ``running`` | ``not_loaded`` | ``unknown``."""

    @abstractmethod
    def prerequisites(self) -> list[Check]:
        """Doctor checks for this scheduler (user manager, session, availability…)."""

    def is_installed(self, service_id: str, data_dir: Path) -> bool:
        return any(p.exists() for p in self.file_paths(service_id, data_dir))

    def read_artifact(self, location: str, encoding: str = "utf-8") -> str | None:
        """The current text at ``location`` (a file here; backends with other places
        override this), or ``None`` when it is gone."""
        try:
            return Path(location).read_bytes().decode(encoding)
        except (OSError, UnicodeDecodeError):
            return None

    def scheduled_argv(self, spec: InstallSpec) -> list[str]:
        """The command line the scheduler will run for ``spec``."""
        return spec.run_argv

    def installed_argv(self, service_id: str, service_files: list[str]) -> list[str] | None:
        """The command the installed files actually run, parsed back (command drift)."""
        return None

    def installed_command(self, service_id: str, service_files: list[str]) -> str | None:
        """:meth:`installed_argv` formatted like the manifest's ``sync_command``."""
        argv = self.installed_argv(service_id, service_files)
        return self.format_command(argv) if argv is not None else None

    def next_run_ms(self, service_id: str, interval_seconds: int, now_ms: int) -> int | None:
        """The next time the scheduler will start a run, when the platform can tell."""
        return None

    def remove_extra(self, service_id: str) -> list[str]:
        """Remove scheduler state that is not a file (the cron block); removed locations."""
        return []

    def after_remove(self) -> None:
        """Tell the scheduler its files are gone (systemd's daemon-reload); best effort."""
        return None


# -- the wrapper script (launchd and cron in env-file mode) ---------------------------------


def render_wrapper(spec: InstallSpec) -> str:
    """A POSIX sh script that reads the token from the env file and execs lore.

    The env file is read with ``sed``, never sourced or eval'd, so a hostile value in
    it stays data. Every path is single-quoted; the variable name is validated by the
    config (``[A-Za-z_][A-Za-z0-9_]*``) and the service id is ``[a-z0-9-]``.
    """
    var = spec.token_env_var
    lines = [
        "#!/bin/sh",
        "# Generated by lore service install; do not edit (re-run the install instead).",
        "set -e",
        "# Read the token from the env file (NAME=value); never source or eval it.",
        f"{var}=\"$(sed -n 's/^{var}=//p' {shlex.quote(str(spec.env_file))})\"",
        f"export {var}",
    ]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in spec.extra_env]
    lines.append("exec " + shlex.join(spec.run_argv))
    return "\n".join(lines) + "\n"


def parse_wrapper_argv(text: str) -> list[str] | None:
    """The argv of the wrapper's ``exec`` line."""
    for line in text.splitlines():
        if line.startswith("exec "):
            try:
                return shlex.split(line[len("exec ") :])
            except ValueError:
                return None
    return None


def env_file_artifact(spec: InstallSpec) -> Artifact:
    from lore.service.tokens import ENV_FILE_MODE, env_file_content

    return Artifact(
        str(spec.env_file),
        env_file_content(spec.token_env_var, spec.token_value),
        mode=ENV_FILE_MODE,
        secret=True,
        in_spec=False,
    )


def wrapper_artifact(spec: InstallSpec) -> Artifact:
    from lore.service.tokens import WRAPPER_MODE

    return Artifact(str(spec.wrapper_path), render_wrapper(spec), mode=WRAPPER_MODE)
