"""Windows: a Task Scheduler task ``LoreSync-{id}`` created from a generated task XML
with ``schtasks /create /xml FILE`` (no ``/tr`` command-line quoting to get wrong).

The XML is kept at ``{data_dir}/service-task-{id}.xml`` as the service file (for spec
drift). Tasks inherit the user's environment, so the token must be set there
(``setx``); ``token_source`` is ``system_env`` and no token is written anywhere.
"""

from __future__ import annotations

import csv
import io
import subprocess
from pathlib import Path

from lore.service.backends.base import Artifact, Backend, Check, InstallSpec, Rendered
from lore.service.backends.launchd import xml_escape
from lore.service.runner import run_command

TASK_XML_ENCODING = "utf-16"  # what schtasks /xml expects


def task_name(service_id: str) -> str:
    return f"LoreSync-{service_id}"


def task_xml_path(service_id: str, data_dir: Path) -> Path:
    return data_dir / f"service-task-{service_id}.xml"


def generate_task_xml(
    service_id: str, binary_path: str, arguments: list[str], interval_seconds: int
) -> str:
    """Task Scheduler 1.2 XML: repeat every interval, forever, one instance at a time."""
    minutes = max(1, -(-interval_seconds // 60))  # round up; the parser enforces >= 5m
    args = subprocess.list2cmdline(arguments)
    return (
        '<?xml version="1.0" encoding="UTF-16"?>\n'
        '<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">\n'
        "  <RegistrationInfo>\n"
        f"    <Description>lore scheduled GitLab sync ({xml_escape(service_id)})</Description>\n"
        "  </RegistrationInfo>\n"
        "  <Triggers>\n"
        "    <TimeTrigger>\n"
        "      <Repetition>\n"
        f"        <Interval>PT{minutes}M</Interval>\n"
        "        <StopAtDurationEnd>false</StopAtDurationEnd>\n"
        "      </Repetition>\n"
        # A fixed past start keeps the XML identical across re-installs (spec hash).
        "      <StartBoundary>2000-01-01T00:00:00</StartBoundary>\n"
        "      <Enabled>true</Enabled>\n"
        "    </TimeTrigger>\n"
        "  </Triggers>\n"
        "  <Principals>\n"
        '    <Principal id="Author">\n'
        "      <LogonType>InteractiveToken</LogonType>\n"
        "      <RunLevel>LeastPrivilege</RunLevel>\n"
        "    </Principal>\n"
        "  </Principals>\n"
        "  <Settings>\n"
        "    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>\n"
        "    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>\n"
        "    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>\n"
        "    <StartWhenAvailable>true</StartWhenAvailable>\n"
        "    <ExecutionTimeLimit>PT15M</ExecutionTimeLimit>\n"
        "    <Priority>7</Priority>\n"
        "    <Enabled>true</Enabled>\n"
        "  </Settings>\n"
        '  <Actions Context="Author">\n'
        "    <Exec>\n"
        f"      <Command>{xml_escape(binary_path)}</Command>\n"
        f"      <Arguments>{xml_escape(args)}</Arguments>\n"
        "    </Exec>\n"
        "  </Actions>\n"
        "</Task>\n"
    )


def task_arguments(spec: InstallSpec) -> list[str]:
    # Tasks cannot set environment variables: a config override travels as --config.
    args = ["--robot"]
    if spec.config_override is not None:
        args += ["--config", spec.config_override]
    return [*args, "service", "run", "--service-id", spec.service_id]


class SchtasksBackend(Backend):
    name = "schtasks"

    def format_command(self, argv: list[str]) -> str:
        return subprocess.list2cmdline(argv)

    def render(self, spec: InstallSpec) -> Rendered:
        path = task_xml_path(spec.service_id, spec.data_dir)
        args = task_arguments(spec)
        content = generate_task_xml(spec.service_id, spec.binary_path, args, spec.interval_seconds)
        warnings = [
            f"the scheduled task reads {spec.token_env_var} from your user environment: "
            f"set it with setx {spec.token_env_var} <token>"
        ]
        if spec.token_source == "embedded":
            warnings.append(
                "--token-source embedded does not apply to Task Scheduler; the "
                "token is not written anywhere"
            )
        if spec.data_dir_override is not None:
            warnings.append(
                "set LORE_DATA_DIR in your user environment too: the task cannot carry it"
            )
        commands = [
            ["schtasks", "/create", "/tn", task_name(spec.service_id), "/xml", str(path), "/f"]
        ]
        artifact = Artifact(str(path), content, encoding=TASK_XML_ENCODING)
        return Rendered([artifact], commands, "system_env", warnings)

    def enable(self, spec: InstallSpec, rendered: Rendered) -> None:
        for argv in rendered.commands:
            result = run_command(argv)
            if not result.ok:
                raise result.error("creating the scheduled task")

    def disable(self, service_id: str) -> list[str]:
        result = run_command(["schtasks", "/delete", "/tn", task_name(service_id), "/f"])
        return [] if result.ok else [f"{result.command}: {result.stderr.strip()}"]

    def file_paths(self, service_id: str, data_dir: Path) -> list[Path]:
        return [task_xml_path(service_id, data_dir)]

    def is_installed(self, service_id: str, data_dir: Path) -> bool:
        return run_command(
            ["schtasks", "/query", "/tn", task_name(service_id)], timeout_seconds=15
        ).ok

    def _query(self, service_id: str) -> dict[str, str] | None:
        result = run_command(
            ["schtasks", "/query", "/tn", task_name(service_id), "/fo", "CSV", "/v"],
            timeout_seconds=15,
        )
        if not result.ok:
            return None
        rows = list(csv.DictReader(io.StringIO(result.stdout.strip())))
        return rows[0] if rows else None

    def state(self, service_id: str) -> str:
        row = self._query(service_id)
        if row is None:
            return "not_loaded"
        status = (row.get("Status") or "").strip().lower()
        if status == "running":
            return "running"
        if status in ("disabled", ""):
            return "not_loaded"
        return "loaded"

    def next_run_ms(self, service_id: str, interval_seconds: int, now_ms: int) -> int | None:
        row = self._query(service_id)
        text = (row or {}).get("Next Run Time", "").strip()
        if not text or text.upper() in ("N/A", "DISABLED"):
            return None
        from datetime import datetime

        for fmt in ("%m/%d/%Y %I:%M:%S %p", "%d/%m/%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S"):
            try:
                return int(datetime.strptime(text, fmt).astimezone().timestamp() * 1000)
            except ValueError:
                continue
        return None

    def read_artifact(self, location: str, encoding: str = TASK_XML_ENCODING) -> str | None:
        return super().read_artifact(location, TASK_XML_ENCODING)

    def scheduled_argv(self, spec: InstallSpec) -> list[str]:
        return [spec.binary_path, *task_arguments(spec)]

    def installed_command(self, service_id: str, service_files: list[str]) -> str | None:
        import xml.etree.ElementTree as ET

        text = None
        for location in service_files:
            text = self.read_artifact(location)
        if text is None:
            return None
        try:
            root = ET.fromstring(text.encode(TASK_XML_ENCODING))
        except ET.ParseError:
            return None
        ns = {"t": "http://schemas.microsoft.com/windows/2004/02/mit/task"}
        command = root.findtext("t:Actions/t:Exec/t:Command", namespaces=ns)
        arguments = root.findtext("t:Actions/t:Exec/t:Arguments", namespaces=ns) or ""
        if command is None:
            return None
        # Compared as Windows command lines: POSIX splitting would eat the backslashes.
        return subprocess.list2cmdline([command]) + (f" {arguments}" if arguments else "")

    def prerequisites(self) -> list[Check]:
        result = run_command(["schtasks", "/?"], timeout_seconds=15)
        if result.ok:
            return [Check("platform_prerequisites", "pass", "schtasks is available")]
        return [
            Check(
                "platform_prerequisites",
                "fail",
                "schtasks is not available",
                "Run lore on Windows with Task Scheduler enabled",
            )
        ]
