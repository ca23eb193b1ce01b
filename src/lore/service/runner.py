"""The one way the service runs OS commands (systemctl, launchctl, schtasks, crontab, …).

Every call has a timeout; on timeout the child is killed and reaped, so a wedged
scheduler command can never leave zombies behind or hang the next run. Failures come
back as SERVICE_COMMAND_FAILED with the exact command, exit code and stderr. Tests
replace the programs themselves with recording fakes placed first on PATH.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass

from lore.core.errors import ErrorCode, LoreError

DEFAULT_TIMEOUT_SECONDS = 30.0
_STDERR_KEPT = 2000


@dataclass
class CommandResult:
    argv: list[str]
    returncode: int | None  # None: it never ran (not found) or was killed on timeout
    stdout: str
    stderr: str
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def command(self) -> str:
        return shlex.join(self.argv)

    def error(self, what: str | None = None) -> LoreError:
        """SERVICE_COMMAND_FAILED describing this result."""
        if self.timed_out:
            detail = "timed out and was killed"
        elif self.returncode is None:
            detail = self.stderr.strip() or "could not be started"
        else:
            detail = f"exited with {self.returncode}"
        stderr = self.stderr.strip()[-_STDERR_KEPT:]
        message = f"{what or 'scheduler command'} failed: {self.command} {detail}"
        if stderr and self.returncode is not None:
            message += f": {stderr}"
        return LoreError(
            ErrorCode.SERVICE_COMMAND_FAILED,
            message,
            suggestion="Check the scheduler with: lore service doctor; then retry: "
            "lore service install",
            actions=["lore service logs", "lore service doctor", "lore service install"],
            details={
                "command": self.command,
                "exit_code": self.returncode,
                "stderr": stderr,
                "timed_out": self.timed_out,
            },
        )


def which(program: str) -> str | None:
    return shutil.which(program)


def run_command(
    argv: list[str],
    *,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    input_text: str | None = None,
    env: dict[str, str] | None = None,
) -> CommandResult:
    """Run ``argv`` and capture its output; never raises for the command's own failure.

    On timeout the process is killed and waited for (reaped) before returning. Output
    is drained concurrently by ``communicate``, so a chatty command cannot deadlock on
    a full pipe.
    """
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if input_text is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            env=env,
            # Its own process group, so a timeout kill also reaches grandchildren.
            start_new_session=os.name == "posix",
        )
    except FileNotFoundError:
        return CommandResult(list(argv), None, "", f"{argv[0]}: command not found")
    except OSError as exc:
        return CommandResult(list(argv), None, "", f"{argv[0]}: {exc.strerror or exc}")
    try:
        stdout, stderr = proc.communicate(input=input_text, timeout=timeout_seconds)
    except subprocess.TimeoutExpired:
        _kill(proc)
        stdout, stderr = proc.communicate()  # reaps the child
        return CommandResult(list(argv), None, stdout or "", stderr or "", timed_out=True)
    return CommandResult(list(argv), proc.returncode, stdout or "", stderr or "")


def _kill(proc: subprocess.Popen[str]) -> None:
    if os.name == "posix":
        import signal

        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        proc.kill()


def run_checked(
    argv: list[str],
    *,
    what: str | None = None,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    input_text: str | None = None,
) -> str:
    """Run ``argv``; return stdout, or raise SERVICE_COMMAND_FAILED."""
    result = run_command(argv, timeout_seconds=timeout_seconds, input_text=input_text)
    if not result.ok:
        raise result.error(what)
    return result.stdout
