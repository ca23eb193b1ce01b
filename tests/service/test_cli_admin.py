"""pause / resume / trigger / repair / logs / doctor through the real CLI (fakes on
PATH, a dead GitLab URL so runs fail fast and transiently)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import time
from pathlib import Path

import pytest

from lore.service.logs import (
    BACKUP_COUNT,
    MAX_BYTES,
    close_logger,
    rotate_if_needed,
    service_logger,
    tail_lines,
)
from lore_testkit import LORE_EXE

from .conftest import TOKEN, ServiceEnv

NOW = 1_800_000_000_000


def installed(svc: ServiceEnv, *args: str) -> str:
    return str(svc.checked("install", "--backend", "systemd", *args)["data"]["service_id"])


def test_pause_resume_and_the_run_respecting_them(svc: ServiceEnv) -> None:
    sid = installed(svc)
    paused = svc.checked("pause", "--reason", "GitLab maintenance window")["data"]
    assert paused == {
        "service_id": sid,
        "paused": True,
        "reason": "GitLab maintenance window",
        "already_paused": False,
    }
    status = svc.status_file(sid)
    assert status["state"] == "paused"
    assert status["paused_reason"] == "MANUAL: GitLab maintenance window"
    assert svc.checked("pause")["data"]["already_paused"] is True
    assert svc.status_file(sid)["paused_reason"] == "MANUAL: Manually paused"
    view = svc.checked("status")["data"]
    assert view["scheduler_state"] == "paused" and view["paused_code"] == "MANUAL"
    before = (svc.data_dir / f"sync-status-{sid}.json").read_bytes()
    run = svc.checked("run", "--service-id", sid, extra_env=svc.hooks(NOW))["data"]
    assert run["action"] == "paused" and run["reason"] == "MANUAL"
    assert "lore service resume" in run["suggestion"]
    assert (
        svc.data_dir / f"sync-status-{sid}.json"
    ).read_bytes() == before  # a skip writes nothing
    # trigger respects the pause, even with --ignore-backoff
    trig = svc.checked("trigger", "--ignore-backoff")["data"]
    assert trig["action"] == "paused"
    resumed = svc.checked("resume")["data"]
    assert resumed["was_paused"] is True and resumed["previous_reason"] == "MANUAL"
    assert resumed["previous_message"] == "Manually paused"
    assert svc.status_file(sid)["state"] == "idle"
    again = svc.checked("resume")["data"]
    assert again["was_paused"] is False and again["message"] == "Service is not paused"
    human = svc.run("service", "pause", "--reason", "x")
    assert "Service paused" in human.stdout and "Resume with: lore service resume" in human.stdout
    human = svc.run("service", "resume")
    assert "Previous state: PAUSED (MANUAL)" in human.stdout


def test_resume_and_pause_when_not_installed(svc: ServiceEnv) -> None:
    data = svc.checked("resume")["data"]
    assert data["installed"] is False and data["message"] == "Service is not installed"
    err = svc.checked("pause", code=7)["error"]
    assert err["code"] == "NOT_FOUND" and "lore service install" in err["suggestion"]
    err = svc.checked("trigger", code=7)["error"]
    assert err["code"] == "NOT_FOUND"


def test_trigger_respects_backoff_unless_told_and_reads_the_env_file_token(svc: ServiceEnv) -> None:
    sid = installed(svc)
    env = {**svc.hooks(NOW, jitter=1.0)}
    svc.env.pop("GITLAB_TOKEN")  # the env file is the token's home; the shell need not have it
    first = svc.checked("trigger", extra_env=env)["data"]
    assert first["outcome"] == "failed" and first["scheduler_state"] == "backoff"
    assert first["stage_results"][0]["error_code"] == "NETWORK_ERROR"
    assert first["in_run_retry"]["stage"] == "issues"
    skipped = svc.checked("trigger", extra_env=env)["data"]
    assert skipped["action"] == "skipped" and skipped["reason"] == "backoff"
    assert skipped["remaining_seconds"] == 1800
    forced = svc.checked("trigger", "--ignore-backoff", extra_env=env)["data"]
    assert forced["action"] == "sync_completed" and forced["consecutive_failures"] == 2
    assert svc.status_file(sid)["consecutive_failures"] == 2
    human = svc.run("service", "trigger", extra_env=env)
    assert "Skipped: in backoff" in human.stdout and "--ignore-backoff" in human.stdout


def test_trigger_without_any_token_refuses_and_changes_nothing(svc: ServiceEnv) -> None:
    sid = str(svc.checked("install", "--backend", "schtasks")["data"]["service_id"])
    svc.env.pop("GITLAB_TOKEN")
    err = svc.checked("trigger", code=5)["error"]
    assert err["code"] == "TOKEN_NOT_SET"
    assert not (svc.data_dir / f"sync-status-{sid}.json").exists()


def test_run_is_always_robot_and_exits_zero(svc: ServiceEnv) -> None:
    proc = svc.run("service", "run", "--service-id", "not-installed")
    assert proc.returncode == 0
    doc = json.loads(proc.stdout)
    assert doc["ok"] is False and doc["error"]["code"] == "SERVICE_ERROR"
    assert "lore service list" in doc["error"]["suggestion"]
    proc = svc.run("service", "run", "--service-id", "../../etc")
    assert proc.returncode == 0 and json.loads(proc.stdout)["error"]["code"] == "SERVICE_ERROR"
    help_text = svc.run("service", "--help").stdout
    assert "run" not in [
        line.split()[0] for line in help_text.splitlines() if line.startswith("  ") and line.split()
    ]


def test_scheduled_argv_is_recognised_exactly() -> None:
    from lore.cli.service_run import scheduled_argv

    assert scheduled_argv(["--robot", "service", "run", "--service-id", "abc"]) == "abc"
    assert scheduled_argv(["-J", "service", "run", "--service-id=abc"]) == "abc"
    assert scheduled_argv(["service", "run", "--service-id", "abc"]) == "abc"
    for other in (
        ["service", "run"],
        ["service", "status"],
        ["--robot", "service", "run", "abc"],
        ["service", "run", "--service-id", "abc", "--extra"],
        ["--quiet", "service", "run", "--service-id", "abc"],
    ):
        assert scheduled_argv(other) is None, other  # left to click, with its usage errors


def test_the_scheduled_run_skips_without_importing_click(svc: ServiceEnv) -> None:
    sid = installed(svc)
    svc.checked("pause", "--reason", "quiet")
    code = (
        "import sys; from lore.cli.entry import main; "
        f"rc = main(['--robot', 'service', 'run', '--service-id', '{sid}']); "
        "heavy = sorted(m for m in ('click', 'rich', 'httpx', 'sqlite3') if m in sys.modules); "
        "print(heavy, file=sys.stderr); sys.exit(rc)"
    )
    proc = subprocess.run(
        [str(Path(LORE_EXE).parent / "python"), "-c", code],
        env=svc.env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["ok"] is True and doc["data"]["action"] == "paused"
    assert doc["data"]["reason"] == "MANUAL"
    assert proc.stderr.strip() == "[]"


def test_repair_backs_up_and_never_deletes(svc: ServiceEnv) -> None:
    sid = installed(svc)
    assert svc.checked("repair")["data"] == {
        "service_id": sid,
        "repaired": False,
        "actions": [],
        "needs_reinstall": False,
        "message": "No repair needed",
    }
    status_path = svc.data_dir / f"sync-status-{sid}.json"
    status_path.write_text("{{{ corrupt")
    err = svc.checked("status", code=23)["error"]
    assert err["code"] == "SERVICE_CORRUPT_STATE" and "not valid JSON" in err["message"]
    assert err["suggestion"].startswith("Run: lore service repair")
    data = svc.checked("repair", extra_env=svc.hooks(NOW))["data"]
    assert data["repaired"] is True and data["needs_reinstall"] is False
    [action] = data["actions"]
    assert action["action"] == "reinitialized" and action["file"] == status_path.name
    assert action["backup"] == f"{status_path.name}.corrupt.{NOW // 1000}"
    assert (svc.data_dir / action["backup"]).read_text() == "{{{ corrupt"
    assert svc.status_file(sid)["state"] == "idle"
    # a second corruption in the same second gets its own backup
    status_path.write_text("[]")
    again = svc.checked("repair", extra_env=svc.hooks(NOW))["data"]
    assert again["actions"][0]["backup"] == f"{status_path.name}.corrupt.{NOW // 1000}-1"
    # an inconsistent (hand-edited) status counts as corrupt too
    status_path.write_text(
        json.dumps(
            {"schema_version": 2, "state": "backoff", "consecutive_failures": 0, "recent_runs": []}
        )
    )
    inconsistent = svc.checked("repair")["data"]["actions"][0]
    assert "inconsistent" in inconsistent["reason"]
    manifest_path = svc.data_dir / f"service-manifest-{sid}.json"
    manifest_path.write_text(json.dumps({"schema_version": 99}))
    assert svc.checked("status", code=23)["error"]["message"].count("newer lore") == 1
    fixed = svc.checked("repair")["data"]
    assert fixed["needs_reinstall"] is True
    assert fixed["actions"][0]["action"] == "backed_up"
    assert json.loads((svc.data_dir / fixed["actions"][0]["backup"]).read_text()) == {
        "schema_version": 99
    }
    assert not manifest_path.exists()
    human = svc.run("service", "repair", "--service", sid)
    assert "No repair needed" in human.stdout
    backups = sorted(p.name for p in svc.data_dir.glob("*.corrupt.*"))
    assert len(backups) == 4


def test_logs_tail_cap_follow_and_open(svc: ServiceEnv, tmp_path: Path) -> None:
    sid = installed(svc)
    none = svc.checked("logs")["data"]
    assert none["exists"] is False and none["last_lines"] is None
    assert none["log_path"] == str(svc.data_dir / "logs" / f"service-{sid}-stderr.log")
    assert "No log file found yet" in svc.run("service", "logs").stdout
    log = Path(none["log_path"])
    log.parent.mkdir(exist_ok=True)
    log.write_text("".join(f"line {i}\n" for i in range(300)))
    meta = svc.checked("logs")["data"]
    assert meta["exists"] is True and meta["size_bytes"] == log.stat().st_size
    assert meta["last_lines"] is None  # only with --tail
    assert svc.checked("logs", "--tail", "3")["data"]["last_lines"] == [
        "line 297",
        "line 298",
        "line 299",
    ]
    capped = svc.checked("logs", "--tail", "500")["data"]["last_lines"]
    assert len(capped) == 100 and capped[-1] == "line 299"
    assert len(svc.checked("logs", "--tail")["data"]["last_lines"]) == 100
    err = svc.checked("logs", "--follow", code=2)["error"]
    assert "interactive terminal" in err["message"]
    assert svc.robot("service", "logs", "--follow", "--open")[0] == 2
    human = svc.run("service", "logs").stdout.splitlines()
    assert len(human) == 100 and human[-1] == "line 299"
    assert svc.run("service", "logs", "--tail", "2").stdout == "line 298\nline 299\n"
    # --open: $VISUAL wins over $EDITOR; the editor's exit code is ours
    editor = tmp_path / "my editor"
    editor.write_text('#!/bin/sh\necho "opened $1" > "$(dirname "$0")/opened"\nexit 3\n')
    editor.chmod(0o755)
    proc = svc.run(
        "service", "logs", "--open", extra_env={"VISUAL": f"'{editor}'", "EDITOR": "false"}
    )
    assert proc.returncode == 3
    assert (tmp_path / "opened").read_text() == f"opened {log}\n"
    # --follow streams appended lines
    follower = subprocess.Popen(
        [LORE_EXE, "service", "logs", "--follow", "--tail", "1"],
        env=svc.env,
        stdout=subprocess.PIPE,
        text=True,
        cwd=svc.lore.root,
    )
    try:
        assert follower.stdout is not None
        assert follower.stdout.readline() == "line 299\n"
        time.sleep(0.3)
        with log.open("a") as fh:
            fh.write("fresh line\n")
        assert follower.stdout.readline() == "fresh line\n"
    finally:
        follower.terminate()
        follower.wait(timeout=10)


def test_service_log_rotates_at_10mb_keeping_5(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "service-abc-stderr.log"
    for generation in range(BACKUP_COUNT + 2):
        log.write_bytes(b"x" * (MAX_BYTES - 1) + b"\n")  # reached 10 MB: the next run rolls it
        logger = service_logger("abc", tmp_path, [TOKEN])
        logger.info("generation %d with %s", generation, TOKEN)
        close_logger(logger)
    names = sorted(p.name for p in logs.iterdir())
    assert names == ["service-abc-stderr.log"] + [
        f"service-abc-stderr.log.{i}" for i in range(1, BACKUP_COUNT + 1)
    ]
    assert tail_lines(log, 1)[0].endswith(f"generation {BACKUP_COUNT + 1} with ***")
    for path in logs.iterdir():
        assert TOKEN.encode() not in path.read_bytes()
    out = logs / "service-abc-stdout.log"
    out.write_bytes(b"y" * MAX_BYTES)
    assert rotate_if_needed(out) is True
    assert (logs / "service-abc-stdout.log.1").stat().st_size == MAX_BYTES
    assert not out.exists() or out.stat().st_size == 0
    assert rotate_if_needed(out) is False


def test_client_and_pipeline_warnings_reach_the_service_log_redacted(tmp_path: Path) -> None:
    logger = service_logger("abc", tmp_path, [TOKEN])
    logging.getLogger("lore.gitlab").setLevel(logging.DEBUG)  # as LORE_LOG_LEVEL=debug would
    logging.getLogger("lore.gitlab").warning("GET /api/v4/projects -> 503; retry 1 (%s)", TOKEN)
    logging.getLogger("lore.sync").warning("stage docs failed")
    logging.getLogger("lore.gitlab").debug("below the threshold: not logged")
    close_logger(logger)
    logging.getLogger("lore.gitlab").setLevel(logging.NOTSET)
    logging.getLogger("lore.gitlab").warning("after the run: not in the service log")
    text = (tmp_path / "logs" / "service-abc-stderr.log").read_text()
    assert "GET /api/v4/projects -> 503; retry 1 (***)" in text
    assert "stage docs failed" in text
    assert TOKEN not in text and "not logged" not in text and "after the run" not in text
    assert not any(
        getattr(h, "baseFilename", None) for h in logging.getLogger("lore.gitlab").handlers
    )


def test_doctor_checks_fixes_and_fails(svc: ServiceEnv) -> None:
    doc = svc.checked("doctor", code=21)  # the data dir does not exist yet
    assert doc["error"]["code"] == "SERVICE_ERROR"
    assert "data_directory" in doc["error"]["message"]
    assert doc["error"]["suggestion"] == "lore service doctor --fix"
    fixed = svc.checked("doctor", "--fix", "--offline")["data"]
    checks = {c["name"]: c for c in fixed["checks"]}
    assert checks["data_directory"]["status"] == "fixed"
    assert "token_valid" not in checks  # --offline
    assert svc.data_dir.joinpath("logs").is_dir()
    data = svc.checked("doctor")["data"]
    names = [c["name"] for c in data["checks"]]
    assert names[:5] == ["config", "token_present", "token_valid", "binary_path", "data_directory"]
    assert {"platform_prerequisites", "linger", "sandboxing", "install_state"} <= set(names)
    assert data["overall"] == "warn"  # the dead GitLab URL: the token cannot be checked
    svc.fakes.set("linger", False)
    linger = {c["name"]: c for c in svc.checked("doctor", "--offline")["data"]["checks"]}["linger"]
    assert linger["status"] == "warn" and linger["action"].startswith("loginctl enable-linger")
    human = svc.run("service", "doctor", "--offline")
    assert "[WARN] loginctl linger not enabled" in human.stdout and "Overall: WARN" in human.stdout
    svc.env.pop("GITLAB_TOKEN")
    failing = svc.checked("doctor", "--offline", code=21)["error"]
    assert "GITLAB_TOKEN is not set" in failing["message"]
    human = svc.run("service", "doctor", "--offline")
    assert human.returncode == 21 and "[FAIL] GITLAB_TOKEN is not set" in human.stdout
    assert "error[SERVICE_ERROR]" in human.stderr


def test_doctor_token_check_talks_to_gitlab(svc: ServiceEnv, sim: object) -> None:
    svc.lore.write_config(sim.url, ["acme/platform"])  # type: ignore[attr-defined]
    svc.env["GITLAB_TOKEN"] = sim.token  # type: ignore[attr-defined]
    svc.checked("doctor", "--fix")
    checks = {c["name"]: c for c in svc.checked("doctor")["data"]["checks"]}
    assert checks["token_valid"]["status"] == "pass"
    svc.env["GITLAB_TOKEN"] = "glpat-wrong"
    failing = svc.checked("doctor", code=21)["error"]
    assert "token_valid" in failing["message"] and "rejected" in failing["message"]
    assert "glpat-wrong" not in json.dumps(failing)
    # install refuses a token GitLab rejects
    err = svc.checked("install", code=21)["error"]
    assert "pre-flight" in err["message"] and "token_valid" in err["message"]


def test_doctor_reports_and_repairs_loose_permissions_and_drift(svc: ServiceEnv) -> None:
    sid = str(svc.checked("install", "--backend", "cron")["data"]["service_id"])
    env_file = svc.data_dir / f"service-env-{sid}"
    wrapper = svc.data_dir / f"service-run-{sid}.sh"
    env_file.chmod(0o644)
    wrapper.chmod(0o755)
    err = svc.checked("doctor", "--offline", code=21)["error"]
    assert "file_permissions" in err["message"] and "0644 (want 0600)" in err["message"]
    fixed = svc.checked("doctor", "--offline", "--fix")["data"]
    perms = {c["name"]: c for c in fixed["checks"]}["file_permissions"]
    assert perms["status"] == "fixed"
    assert any("tightened permissions" in f for f in fixed["fixes_applied"])
    assert os.stat(env_file).st_mode & 0o777 == 0o600
    assert os.stat(wrapper).st_mode & 0o777 == 0o700
    svc.fakes.set_crontab("")  # someone wiped the crontab
    state = {c["name"]: c for c in svc.checked("doctor", "--offline")["data"]["checks"]}
    assert state["install_state"]["status"] == "warn"
    assert "platform_drift" in state["install_state"]["message"]
    assert state["install_state"]["action"] == "lore service install"


def test_doctor_fix_reloads_systemd_after_unit_drift(svc: ServiceEnv) -> None:
    data = svc.checked("install", "--backend", "systemd")["data"]
    Path(data["service_files"][1]).write_text("# edited\n")
    before = len(svc.fakes.calls("systemctl"))
    fixed = svc.checked("doctor", "--offline", "--fix")["data"]
    assert "ran systemctl --user daemon-reload" in fixed["fixes_applied"]
    assert ["systemctl", "--user", "daemon-reload"] in svc.fakes.calls("systemctl")[before:]


@pytest.mark.parametrize(
    "command",
    [
        "install",
        "uninstall",
        "list",
        "status",
        "logs",
        "doctor",
        "pause",
        "resume",
        "trigger",
        "repair",
    ],
)
def test_every_subcommand_is_documented(svc: ServiceEnv, command: str) -> None:
    entry = next(c for c in svc.manifest["commands"] if c["command"] == f"lore service {command}")
    assert entry["response_schema"] and entry["examples"]
    assert not entry["hidden"]
    run = next(c for c in svc.manifest["commands"] if c["command"] == "lore service run")
    assert run["hidden"] is True and run["response_schema"]
