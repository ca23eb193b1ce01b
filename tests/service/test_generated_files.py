"""Every backend's generated files, checked as text and with the format's own tools:
`systemd-analyze verify` for units, `plistlib` for plists, an XML parser for the task
XML, `sh -n` (and a real execution) for the wrapper script and the crontab command."""

from __future__ import annotations

import itertools
import os
import plistlib
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from lore.core.errors import LoreError
from lore.service.backends.base import InstallSpec, parse_wrapper_argv, render_wrapper
from lore.service.backends.cron import (
    CronBackend,
    command_line,
    fire_times,
    render_block,
    replace_block,
    schedules,
    split_block,
)
from lore.service.backends.launchd import (
    generate_plist_with_embedded,
    generate_plist_with_wrapper,
    xml_escape,
)
from lore.service.backends.schtasks import TASK_XML_ENCODING, SchtasksBackend
from lore.service.backends.systemd import (
    SystemdBackend,
    generate_service,
    generate_timer,
    parse_exec_start,
)

LORE = str(Path(sys.executable).parent / "lore")
HOSTILE_TOKEN = "tok&en<>\"'$(touch PWNED)`id`;%x\\y z"


def spec(data_dir: Path, **overrides: object) -> InstallSpec:
    fields: dict[str, object] = dict(
        service_id="abc123",
        binary_path=LORE,
        interval_seconds=900,
        token_env_var="GITLAB_TOKEN",
        token_value="glpat-xxx",
        token_source="env_file",
        data_dir=data_dir,
    )
    fields.update(overrides)
    return InstallSpec(**fields)  # type: ignore[arg-type]


# -- systemd ------------------------------------------------------------------------------------


def test_service_unit_is_hardened_and_reads_the_env_file() -> None:
    unit = generate_service(spec(Path("/data")))
    for line in (
        "Type=oneshot",
        "NoNewPrivileges=true",
        "PrivateTmp=true",
        "ProtectSystem=strict",
        "ProtectHome=read-only",
        "TimeoutStartSec=900",
        "WorkingDirectory=/data",
        "SuccessExitStatus=0",
        "EnvironmentFile=/data/service-env-abc123",
        "ReadWritePaths=/data /data/logs",
        f"ExecStart={LORE} --robot service run --service-id abc123",
        "StandardError=append:/data/logs/service-abc123-stderr.log",
    ):
        assert line in unit.splitlines(), line
    assert "Environment=GITLAB_TOKEN" not in unit and "glpat" not in unit


def test_service_unit_embedded_mode() -> None:
    unit = generate_service(spec(Path("/data"), token_source="embedded"))
    assert "Environment=GITLAB_TOKEN=glpat-xxx" in unit.splitlines()
    assert "EnvironmentFile=" not in unit


def test_service_unit_without_user_namespaces_drops_only_the_sandbox() -> None:  # ERRATA 4
    unit = generate_service(spec(Path("/data"), sandboxed=False))
    for directive in ("PrivateTmp=", "ProtectSystem=", "ProtectHome=", "ReadWritePaths="):
        assert directive not in unit
    assert "NoNewPrivileges=true" in unit


def test_read_write_paths_follow_a_moved_data_dir() -> None:  # ERRATA 4
    unit = generate_service(spec(Path("/srv/lore data"), data_dir_override="/srv/lore data"))
    assert 'ReadWritePaths="/srv/lore data" "/srv/lore data/logs"' in unit
    assert 'Environment="LORE_DATA_DIR=/srv/lore data"' in unit


def test_timer_is_honest() -> None:  # ERRATA 3
    timer = generate_timer("abc123", 900)
    assert "abc123" in timer
    lines = timer.splitlines()
    for line in (
        "OnUnitInactiveSec=900s",
        "OnActiveSec=1min",
        "OnBootSec=5min",
        "Unit=lore-sync-abc123.service",
        "WantedBy=timers.target",
    ):
        assert line in lines
    assert "Persistent=" not in timer  # only meaningful with OnCalendar=


def test_exec_start_round_trips_hostile_paths() -> None:
    argv = ['/opt/my lore/bin/lore%h$HOME"x', "--robot", "service", "run", "--service-id", "abc123"]
    unit = generate_service(spec(Path("/d"), binary_path=argv[0]))
    assert parse_exec_start(unit) == argv


def _verify(unit_dir: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed")
    runtime = tmp_path / "runtime"
    runtime.mkdir(exist_ok=True)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "SYSTEMD_LOG_COLOR": "0"}
    files = sorted(str(p) for p in unit_dir.iterdir())
    return subprocess.run(
        [tool, "verify", "--user", "--man=no", *files],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "variant",
    [
        {},
        {"token_source": "embedded", "token_value": HOSTILE_TOKEN},
        {"sandboxed": False},
        {"config_override": "/etc/lore %i/conf ig.json", "data_dir_override": "SET"},
    ],
    ids=["env-file", "embedded-hostile-token", "unsandboxed", "overrides-with-specifiers"],
)
def test_generated_units_pass_systemd_analyze_verify(
    tmp_path: Path, variant: dict[str, object]
) -> None:
    data_dir = tmp_path / "data dir %n $x"
    (data_dir / "logs").mkdir(parents=True)
    if variant.get("data_dir_override") == "SET":
        variant = {**variant, "data_dir_override": str(data_dir)}
    s = spec(data_dir, **variant)
    backend_dir = tmp_path / "units"
    backend_dir.mkdir()
    rendered = SystemdBackend().render(s)
    for artifact in rendered.artifacts:
        if artifact.location.endswith((".service", ".timer")):
            (backend_dir / Path(artifact.location).name).write_text(artifact.content)
    proc = _verify(backend_dir, tmp_path)
    assert proc.returncode == 0, proc.stderr
    ours = [line for line in proc.stderr.splitlines() if "lore-sync-abc123" in line]
    assert ours == [], ours  # no warning (unknown key, bad value…) about our units


# -- launchd -------------------------------------------------------------------------------------


def test_plist_with_wrapper_runs_the_wrapper_and_holds_no_token() -> None:
    plist = generate_plist_with_wrapper(
        "abc123", Path("/data/service-run-abc123.sh"), 1800, Path("/tmp/logs")
    )
    assert "<string>com.gitlore.sync.abc123</string>" in plist
    assert "<string>/data/service-run-abc123.sh</string>" in plist
    assert "<string>--robot</string>" not in plist and "<string>service</string>" not in plist
    assert "GITLAB_TOKEN" not in plist and "glpat" not in plist
    assert "<string>Background</string>" in plist and "<integer>10</integer>" in plist
    data = plistlib.loads(plist.encode())
    assert data["Label"] == "com.gitlore.sync.abc123"
    assert data["ProgramArguments"] == ["/data/service-run-abc123.sh"]
    assert data["StartInterval"] == 1800 and data["RunAtLoad"] is True
    assert data["StandardErrorPath"] == "/tmp/logs/service-abc123-stderr.log"
    assert "EnvironmentVariables" not in data


def test_plist_embedded_runs_lore_with_the_token_in_its_environment() -> None:
    plist = generate_plist_with_embedded(
        "abc123",
        "/usr/local/bin/lore",
        "/custom/config.json",
        900,
        "GITLAB_TOKEN",
        "glpat-xxx",
        Path("/tmp/logs"),
    )
    data = plistlib.loads(plist.encode())
    assert data["ProgramArguments"] == [
        "/usr/local/bin/lore",
        "--robot",
        "service",
        "run",
        "--service-id",
        "abc123",
    ]
    assert data["EnvironmentVariables"] == {
        "GITLAB_TOKEN": "glpat-xxx",
        "LORE_CONFIG_PATH": "/custom/config.json",
    }
    assert data["StartInterval"] == 900


def test_plist_escapes_xml() -> None:  # ERRATA 2
    plist = generate_plist_with_embedded(
        "abc123",
        "/Users/O'Brien/bin/lore",
        None,
        1800,
        "GITLAB_TOKEN",
        "tok&en<>",
        Path("/tmp/<logs>"),
    )
    assert "tok&amp;en&lt;&gt;" in plist and "tok&en<>" not in plist
    assert "O&apos;Brien" in plist and "O'Brien" not in plist
    data = plistlib.loads(plist.encode())
    assert data["EnvironmentVariables"]["GITLAB_TOKEN"] == "tok&en<>"
    assert data["ProgramArguments"][0] == "/Users/O'Brien/bin/lore"
    assert data["StandardOutPath"] == "/tmp/<logs>/service-abc123-stdout.log"
    hostile = generate_plist_with_embedded(
        "abc123", LORE, None, 900, "GITLAB_TOKEN", HOSTILE_TOKEN, Path("/l")
    )
    assert plistlib.loads(hostile.encode())["EnvironmentVariables"]["GITLAB_TOKEN"] == HOSTILE_TOKEN
    assert xml_escape("&<>\"'") == "&amp;&lt;&gt;&quot;&apos;"


# -- the wrapper script ------------------------------------------------------------------------


def test_wrapper_script_is_valid_sh_and_reads_the_token_without_eval(tmp_path: Path) -> None:
    data_dir = tmp_path / "data 'dir'"
    data_dir.mkdir()
    # A stand-in for lore that prints what it got.
    fake_lore = tmp_path / "bin dir" / "lore"
    fake_lore.parent.mkdir()
    fake_lore.write_text(
        '#!/bin/sh\nprintf "%s\\n" "TOKEN=$GITLAB_TOKEN" "CONFIG=$LORE_CONFIG_PATH" "$@"\n'
    )
    fake_lore.chmod(0o755)
    s = spec(
        data_dir,
        binary_path=str(fake_lore),
        token_value=HOSTILE_TOKEN,
        config_override=str(tmp_path / "it's a config.json"),
    )
    script = render_wrapper(s)
    wrapper = tmp_path / "service-run-abc123.sh"
    wrapper.write_text(script)
    wrapper.chmod(0o700)
    assert subprocess.run(["sh", "-n", str(wrapper)], check=False).returncode == 0
    code = [line for line in script.splitlines() if not line.startswith("#")]
    assert not any(line.split()[0] in ("source", ".", "eval") for line in code)
    s.env_file.write_text(f"GITLAB_TOKEN={HOSTILE_TOKEN}\n")
    proc = subprocess.run(
        [str(wrapper)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"]},
        timeout=10,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"TOKEN={HOSTILE_TOKEN}"  # read verbatim …
    assert not (tmp_path / "PWNED").exists()  # … and never executed
    assert lines[1] == f"CONFIG={tmp_path}/it's a config.json"
    assert lines[2:] == ["--robot", "service", "run", "--service-id", "abc123"]
    assert parse_wrapper_argv(script) == [
        str(fake_lore),
        "--robot",
        "service",
        "run",
        "--service-id",
        "abc123",
    ]


# -- Task Scheduler -------------------------------------------------------------------------------


def test_task_xml_parses_and_schedules_the_command(tmp_path: Path) -> None:
    s = spec(
        tmp_path,
        binary_path=r"C:\Program Files\lore\lore.exe",
        config_override=r"C:\Users\O'Brien & co\config.json",
    )
    backend = SchtasksBackend()
    rendered = backend.render(s)
    assert rendered.token_source == "system_env"
    [artifact] = rendered.artifacts
    raw = artifact.content.encode(TASK_XML_ENCODING)
    assert raw[:2] in (b"\xff\xfe", b"\xfe\xff")  # UTF-16 with a BOM, as schtasks wants
    root = ET.fromstring(raw)
    ns = {"t": "http://schemas.microsoft.com/windows/2004/02/mit/task"}
    assert (
        root.findtext("t:Triggers/t:TimeTrigger/t:Repetition/t:Interval", namespaces=ns) == "PT15M"
    )
    assert (
        root.findtext("t:Actions/t:Exec/t:Command", namespaces=ns)
        == r"C:\Program Files\lore\lore.exe"
    )
    assert (
        root.findtext("t:Actions/t:Exec/t:Arguments", namespaces=ns)
        == '--robot --config "C:\\Users\\O\'Brien & co\\config.json" service run --service-id abc123'
    )
    assert root.findtext("t:Settings/t:MultipleInstancesPolicy", namespaces=ns) == "IgnoreNew"
    assert "glpat" not in artifact.content
    assert rendered.commands == [
        ["schtasks", "/create", "/tn", "LoreSync-abc123", "/xml", artifact.location, "/f"]
    ]
    path = Path(artifact.location)
    path.write_bytes(raw)
    assert backend.installed_command("abc123", [str(path)]) == backend.format_command(
        backend.scheduled_argv(s)
    )


# -- cron ------------------------------------------------------------------------------------------


def test_cron_schedules_are_exact_for_intervals_that_divide_a_day() -> None:
    for seconds in (300, 900, 1800, 2700, 3600, 5400, 7200, 43200, 86400):
        times = fire_times("abc123", seconds)
        gaps = {b - a for a, b in itertools.pairwise(times)}
        assert gaps <= {seconds // 60}
        assert (24 * 60 - times[-1] + times[0]) == seconds // 60  # across midnight too
        covered = sorted(
            h * 60 + int(m)
            for line in schedules("abc123", seconds)
            for m in line.split()[0].split(",")
            for h in (range(24) if line.split()[1] == "*" else map(int, line.split()[1].split(",")))
        )
        assert covered == times
    assert len(schedules("abc123", 1800)) == 1


def test_cron_warns_when_the_interval_does_not_divide_a_day(tmp_path: Path) -> None:
    rendered = CronBackend().render(spec(tmp_path, interval_seconds=7 * 60))
    assert any("across midnight" in w for w in rendered.warnings)
    assert not CronBackend().render(spec(tmp_path, interval_seconds=45 * 60)).warnings


def test_cron_block_is_marked_and_its_command_is_valid_sh(tmp_path: Path) -> None:
    s = spec(tmp_path / "da%ta dir")
    block = render_block(s)
    lines = block.splitlines()
    assert lines[0] == "# lore:abc123:begin" and lines[-1] == "# lore:abc123:end"
    command = command_line(s)
    assert "\\%" in command and "%" not in command.replace("\\%", "")
    unescaped = command.replace("\\%", "%")
    assert subprocess.run(["sh", "-n", "-c", unescaped], check=False).returncode == 0
    assert "glpat" not in block  # env-file mode: the wrapper reads the token
    embedded = command_line(spec(tmp_path, token_source="embedded", token_value=HOSTILE_TOKEN))
    assert (
        subprocess.run(["sh", "-n", "-c", embedded.replace("\\%", "%")], check=False).returncode
        == 0
    )
    # What the shell would pass as the token is the token, unexpanded.
    probe = subprocess.run(
        [
            "sh",
            "-c",
            embedded.replace("\\%", "%").split(" " + LORE)[0]
            + " sh -c 'printf %s \"$GITLAB_TOKEN\"'",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert probe.stdout == HOSTILE_TOKEN
    assert not (tmp_path / "PWNED").exists()


def test_replace_block_touches_nothing_else() -> None:
    user = "MAILTO=me@example.com\n# my backup\n0 3 * * * /usr/bin/backup --all  # keep\n"
    block_a = "# lore:abc123:begin\n*/5 * * * * a\n# lore:abc123:end\n"
    block_b = "# lore:abc123:begin\n*/9 * * * * b\n# lore:abc123:end\n"
    other = "# lore:other:begin\n1 * * * * other\n# lore:other:end\n"
    added = replace_block(user, "abc123", block_a)
    assert added == user + block_a
    with_tail = added + other + "@reboot /usr/bin/thing\n"
    replaced = replace_block(with_tail, "abc123", block_b)
    assert replaced == user + block_b + other + "@reboot /usr/bin/thing\n"  # in place
    removed = replace_block(replaced, "abc123", None)
    assert removed == user + other + "@reboot /usr/bin/thing\n"
    assert replace_block(removed, "abc123", None) == removed
    assert replace_block("no newline at end", "abc123", block_a) == "no newline at end\n" + block_a
    assert replace_block("", "abc123", block_a) == block_a


@pytest.mark.parametrize(
    "crontab",
    [
        "# lore:abc123:begin\n* * * * * x\n",  # no end
        "* * * * * x\n# lore:abc123:end\n",  # no begin
        "# lore:abc123:begin\n# lore:abc123:end\n# lore:abc123:begin\n# lore:abc123:end\n",
    ],
)
def test_damaged_markers_are_refused_rather_than_guessed(crontab: str) -> None:
    with pytest.raises(LoreError) as info:
        split_block(crontab, "abc123")
    assert "crontab -e" in str(info.value.suggestion)
    with pytest.raises(LoreError):
        replace_block(crontab, "abc123", None)
