"""install / uninstall / list / status through the real CLI, for every backend, against
recording fakes of systemctl, launchctl, schtasks and crontab on PATH. Every robot
document is validated against the schema robot-docs publishes."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import TOKEN, ServiceEnv

LORE = str(Path(sys.executable).parent / "lore")


def mode(path: Path | str) -> int:
    return stat.S_IMODE(Path(path).stat().st_mode)


def install(svc: ServiceEnv, *args: str, code: int = 0, **kwargs: Any) -> dict[str, Any]:
    return svc.checked("install", *args, code=code, **kwargs)


def expected_files(svc: ServiceEnv, backend: str, sid: str) -> list[str]:
    config = svc.home / ".config"
    data = svc.data_dir
    return {
        "systemd": [
            f"{config}/systemd/user/lore-sync-{sid}.service",
            f"{config}/systemd/user/lore-sync-{sid}.timer",
        ],
        "launchd": [
            f"{data}/service-run-{sid}.sh",
            f"{svc.home}/Library/LaunchAgents/com.gitlore.sync.{sid}.plist",
        ],
        "schtasks": [f"{data}/service-task-{sid}.xml"],
        "cron": [f"{data}/service-run-{sid}.sh", f"crontab:{sid}"],
    }[backend]


@pytest.mark.parametrize("backend", ["systemd", "launchd", "schtasks", "cron"])
def test_install_status_reinstall_uninstall(svc: ServiceEnv, backend: str) -> None:
    svc.fakes.set_crontab("MAILTO=me@example.com\n0 3 * * * /usr/bin/backup  # mine\n")
    doc = install(svc, "--backend", backend, "--interval", "15m", "--profile", "fast")
    data = doc["data"]
    sid = data["service_id"]
    assert len(sid) == 12
    assert data["platform"] == backend and data["interval_seconds"] == 900
    assert data["profile"] == "fast" and data["no_change"] is False and data["changes"] == []
    assert data["binary_path"] == LORE  # this venv's lore, never a bare one from PATH
    assert data["service_files"] == expected_files(svc, backend, sid)
    assert data["sync_command"].endswith(f"--robot service run --service-id {sid}")
    assert data["sync_command"].startswith(LORE)
    env_file = svc.data_dir / f"service-env-{sid}"
    if backend == "schtasks":
        assert data["token_source"] == "system_env" and not env_file.exists()
    else:
        assert data["token_source"] == "env_file" and mode(env_file) == 0o600
        assert env_file.read_text() == f"GITLAB_TOKEN={TOKEN}\n"
    for path in data["service_files"]:
        if not path.startswith("crontab:"):
            assert Path(path).is_file()
            assert TOKEN not in Path(path).read_bytes().decode("utf-8", "replace")
            assert TOKEN not in Path(path).read_bytes().decode("utf-16", "replace")
    if backend in ("launchd", "cron"):
        assert mode(svc.data_dir / f"service-run-{sid}.sh") == 0o700
    assert TOKEN not in json.dumps(doc)
    manifest = svc.manifest_file(sid)
    assert manifest["schema_version"] == 2 and manifest["platform"] == backend
    assert manifest["sync_command"] == data["sync_command"]

    calls = svc.fakes.calls()
    if backend == "systemd":
        assert ["systemctl", "--user", "daemon-reload"] in calls
        assert ["systemctl", "--user", "enable", "--now", f"lore-sync-{sid}.timer"] in calls
    elif backend == "launchd":
        assert ["launchctl", "bootstrap", f"gui/{os.getuid()}", data["service_files"][1]] in calls
    elif backend == "schtasks":
        assert [
            "schtasks",
            "/create",
            "/tn",
            f"LoreSync-{sid}",
            "/xml",
            data["service_files"][0],
            "/f",
        ] in calls
    else:
        crontab = svc.fakes.crontab() or ""
        assert crontab.startswith("MAILTO=me@example.com\n0 3 * * * /usr/bin/backup  # mine\n")
        assert f"# lore:{sid}:begin" in crontab and f"# lore:{sid}:end" in crontab
        assert TOKEN not in crontab

    status = svc.checked("status")["data"]
    assert status["installed"] is True and status["service_id"] == sid
    assert status["scheduler_state"] == "idle" and status["last_sync"] is None
    assert status["service_state"] == "loaded"
    assert status["drift"] == {"platform_drift": False, "spec_drift": False, "command_drift": False}
    if backend == "cron":
        assert status["next_run_iso"] is not None
    listing = svc.checked("list")["data"]
    assert [s["service_id"] for s in listing["services"]] == [sid]
    assert listing["services"][0]["platform_state"] == "loaded"
    assert listing["services"][0]["drift"] is False

    # the same install again changes nothing and runs no enable command
    before = len(svc.fakes.calls())
    again = install(svc, "--backend", backend, "--interval", "15m", "--profile", "fast")["data"]
    assert again["no_change"] is True and again["changes"] == []
    enabling = {"enable", "bootstrap", "/create", "-"}
    assert not [
        c
        for c in svc.fakes.calls()[before:]
        if len(c) > 1 and (set(c[1:3]) & enabling or c[1:2] == ["-"])
    ]
    # a different interval is reported
    changed = install(svc, "--interval", "1h")["data"]  # auto keeps the installed backend
    assert changed["platform"] == backend and changed["no_change"] is False
    assert {"field": "interval_seconds", "old": 900, "new": 3600} in changed["changes"]
    assert {"field": "profile", "old": "fast", "new": "balanced"} in changed["changes"]
    assert svc.manifest_file(sid)["installed_at_iso"] == manifest["installed_at_iso"]

    # a run history to keep
    (svc.data_dir / "logs").mkdir(exist_ok=True)
    (svc.data_dir / f"sync-status-{sid}.json").write_text(
        json.dumps({"schema_version": 2, "state": "idle", "recent_runs": []})
    )
    gone = svc.checked("uninstall")["data"]
    assert gone["was_installed"] is True and gone["service_id"] == sid
    assert str(svc.data_dir / f"service-manifest-{sid}.json") in gone["removed_files"]
    for path in data["service_files"]:
        assert path in gone["removed_files"]
        if not path.startswith("crontab:"):
            assert not Path(path).exists()
    if backend != "schtasks":
        assert str(env_file) in gone["removed_files"] and not env_file.exists()
    assert gone["kept_files"] == [
        str(svc.data_dir / f"sync-status-{sid}.json"),
        str(svc.data_dir / "logs"),
    ]
    assert (svc.data_dir / f"sync-status-{sid}.json").exists()
    if backend == "cron":
        assert svc.fakes.crontab() == "MAILTO=me@example.com\n0 3 * * * /usr/bin/backup  # mine\n"
    assert svc.checked("list")["data"]["services"] == []
    again_gone = svc.checked("uninstall")["data"]
    assert again_gone["was_installed"] is False and again_gone["removed_files"] == []
    assert svc.checked("status")["data"]["scheduler_state"] == "not_installed"


def test_auto_backend_is_systemd_with_a_user_manager_else_cron(svc: ServiceEnv) -> None:
    assert install(svc, "--dry-run")["data"]["platform"] == "systemd"
    svc.fakes.set("systemd-down")
    assert install(svc, "--dry-run")["data"]["platform"] == "cron"
    svc.fakes.remove("crontab")
    code, doc = svc.robot("service", "install")
    assert code == 21 and doc["error"]["code"] == "SERVICE_ERROR"
    assert "pre-flight" in doc["error"]["message"]
    assert "systemd user manager" in doc["error"]["message"]


def test_explicit_systemd_without_a_user_manager_fails_preflight(svc: ServiceEnv) -> None:
    svc.fakes.set("systemd-down")
    doc = install(svc, "--backend", "systemd", code=21)
    assert "systemd user manager not running" in doc["error"]["message"]
    assert "--backend cron" in doc["error"]["suggestion"]
    assert not svc.data_dir.joinpath("logs").exists()


def test_missing_user_namespaces_install_an_unsandboxed_unit_with_a_warning(
    svc: ServiceEnv,
) -> None:
    svc.fakes.set("no-userns")
    data = install(svc, "--backend", "systemd")["data"]
    assert data["sandboxed"] is False
    assert any("user namespaces" in w for w in data["warnings"])
    unit = Path(data["service_files"][0]).read_text()
    assert "ProtectSystem=" not in unit and "NoNewPrivileges=true" in unit
    svc.fakes.set("no-userns", False)
    redo = install(svc, "--backend", "systemd")["data"]
    assert redo["sandboxed"] is True
    assert {"field": "sandboxed", "old": False, "new": True} in redo["changes"]


def test_dry_run_writes_and_runs_nothing(svc: ServiceEnv) -> None:
    doc = install(svc, "--dry-run", "--token-source", "embedded")
    data = doc["data"]
    assert data["dry_run"] is True
    assert not svc.data_dir.exists()
    assert not (svc.home / ".config" / "systemd").exists()
    called = {c[1] if c[0] != "systemctl" else c[2] for c in svc.fakes.calls()}
    assert called <= {"show-environment", "show-user", "--user"}  # doctor's queries only
    rendered = {f["path"]: f for f in data["rendered_files"]}
    unit = rendered[data["service_files"][0]]
    assert unit["contains_token"] is True and "<redacted>" in unit["content"]
    assert TOKEN not in json.dumps(doc)
    assert data["planned_commands"][-1].startswith("systemctl --user enable --now lore-sync-")
    assert any("embedded" in w for w in data["warnings"])
    human = svc.run("service", "install", "--dry-run")
    assert (
        human.returncode == 0 and "Dry run" in human.stdout and "EnvironmentFile=" in human.stdout
    )
    assert TOKEN not in human.stdout + human.stderr


def test_failed_enable_leaves_nothing_behind(svc: ServiceEnv) -> None:
    svc.fakes.set("fail-enable")
    doc = install(svc, "--backend", "systemd", code=22)
    err = doc["error"]
    assert err["code"] == "SERVICE_COMMAND_FAILED"
    assert "systemctl --user enable --now lore-sync-" in err["message"]
    assert "is masked" in err["message"]  # the scheduler's stderr is in the message
    assert TOKEN not in json.dumps(doc)
    assert list(svc.data_dir.glob("service-*")) == []
    unit_dir = svc.home / ".config" / "systemd" / "user"
    assert not unit_dir.exists() or list(unit_dir.iterdir()) == []


def test_failed_reinstall_restores_the_previous_install(svc: ServiceEnv) -> None:
    first = install(svc, "--backend", "cron", "--interval", "30m")["data"]
    sid = first["service_id"]
    crontab_before = svc.fakes.crontab()
    wrapper = svc.data_dir / f"service-run-{sid}.sh"
    manifest_before = svc.manifest_file(sid)
    svc.fakes.set("fail-crontab-write")
    svc.env["GITLAB_TOKEN"] = "glpat-rotated-token"
    doc = install(svc, "--interval", "2h", code=22)
    assert "writing the crontab" in doc["error"]["message"]
    assert svc.fakes.crontab() == crontab_before
    assert svc.manifest_file(sid) == manifest_before
    assert (svc.data_dir / f"service-env-{sid}").read_text() == f"GITLAB_TOKEN={TOKEN}\n"
    assert mode(svc.data_dir / f"service-env-{sid}") == 0o600 and mode(wrapper) == 0o700
    svc.fakes.set("fail-crontab-write", False)
    rotated = install(svc, "--interval", "30m")["data"]
    assert {"field": "token", "old": None, "new": None} in rotated["changes"]
    assert "glpat-rotated-token" not in json.dumps(rotated)
    assert (svc.data_dir / f"service-env-{sid}").read_text() == "GITLAB_TOKEN=glpat-rotated-token\n"


def test_drift_is_detected_at_three_levels_and_reinstall_repairs_it(svc: ServiceEnv) -> None:
    data = install(svc, "--backend", "systemd")["data"]
    sid = data["service_id"]
    unit = Path(data["service_files"][0])
    unit.write_text(unit.read_text() + "# a manual edit\n")
    drift = svc.checked("status")["data"]["drift"]
    assert drift == {"platform_drift": False, "spec_drift": True, "command_drift": False}
    unit.write_text(unit.read_text().replace("--robot service run", "--robot sync --full"))
    drift = svc.checked("status")["data"]["drift"]
    assert drift["spec_drift"] and drift["command_drift"]
    svc.fakes.set(f"active-lore-sync-{sid}.timer", False)
    status = svc.checked("status")["data"]
    assert status["drift"]["platform_drift"] and status["service_state"] == "not_loaded"
    assert svc.checked("list")["data"]["services"][0]["drift"] is True
    human = svc.run("service", "status")
    assert "Drift:" in human.stdout and "platform" in human.stdout
    fixed = install(svc)["data"]
    fields = {c["field"] for c in fixed["changes"]}
    assert {"service_files", "platform_state"} <= fields
    assert svc.checked("status")["data"]["drift"] == {
        "platform_drift": False,
        "spec_drift": False,
        "command_drift": False,
    }


def test_switching_backend_removes_the_old_schedulers_files(svc: ServiceEnv) -> None:
    first = install(svc, "--backend", "systemd")["data"]
    sid = first["service_id"]
    second = install(svc, "--backend", "cron")["data"]
    assert {"field": "platform", "old": "systemd", "new": "cron"} in second["changes"]
    for path in first["service_files"]:
        assert not Path(path).exists()
    assert [
        "systemctl",
        "--user",
        "disable",
        "--now",
        f"lore-sync-{sid}.timer",
    ] in svc.fakes.calls()
    assert f"# lore:{sid}:begin" in (svc.fakes.crontab() or "")


def test_embedded_token_is_in_the_unit_only_and_warned_about(svc: ServiceEnv) -> None:
    data = install(svc, "--backend", "systemd", "--token-source", "embedded")["data"]
    assert data["token_source"] == "embedded" and data["env_file"] is None
    assert any("anyone who can read" in w for w in data["warnings"])
    unit = Path(data["service_files"][0])
    assert f"Environment=GITLAB_TOKEN={TOKEN}" in unit.read_text() and mode(unit) == 0o600
    assert not (svc.data_dir / f"service-env-{data['service_id']}").exists()
    human = svc.run("service", "install", "--token-source", "embedded")
    assert "Warning: --token-source embedded" in human.stdout


def test_config_and_data_dir_overrides_reach_the_scheduler(svc: ServiceEnv, tmp_path: Path) -> None:
    custom_config = tmp_path / "elsewhere" / "lore config.json"
    custom_config.parent.mkdir()
    custom_config.write_text(svc.lore.config_path.read_text())
    custom_data = tmp_path / "data dir"
    env = {"LORE_CONFIG_PATH": str(custom_config), "LORE_DATA_DIR": str(custom_data)}
    data = install(svc, "--backend", "systemd", extra_env=env)["data"]
    assert data["config_path"] == str(custom_config)
    unit = Path(data["service_files"][0]).read_text()
    assert f'Environment="LORE_CONFIG_PATH={custom_config}"' in unit
    assert f'Environment="LORE_DATA_DIR={custom_data}"' in unit
    assert f'ReadWritePaths="{custom_data}" "{custom_data}/logs"' in unit
    assert (custom_data / f"service-manifest-{data['service_id']}.json").exists()


def test_name_selection_collision_and_ambiguity(svc: ServiceEnv, tmp_path: Path) -> None:
    ws_a, ws_b, elsewhere = (tmp_path / n for n in ("ws-a", "ws-b", "elsewhere"))
    for d in (ws_a, ws_b, elsewhere):
        d.mkdir()
    a = install(svc, "--backend", "cron", "--name", "Team A!", cwd=ws_a)["data"]
    assert a["service_id"] == "team-a"
    assert svc.manifest_file("team-a")["identity_hash"] != "team-a"
    # the same name from another workspace is a different installation: refused
    clash = install(svc, "--backend", "cron", "--name", "team-a", cwd=ws_b, code=21)["error"]
    assert "already used by another installation" in clash["message"]
    assert str(ws_a) in clash["message"]
    assert "--name" in clash["suggestion"]
    b = install(svc, "--backend", "cron", "--name", "team-b", cwd=ws_b)["data"]
    assert b["service_id"] == "team-b"
    # with several installed, the current project picks its own …
    assert svc.checked("status", cwd=ws_a)["data"]["service_id"] == "team-a"
    assert svc.checked("status", cwd=ws_b)["data"]["service_id"] == "team-b"
    # … an explicit selector wins, by id or by unsanitised name …
    assert svc.checked("status", "--service", "team-b", cwd=ws_a)["data"]["service_id"] == "team-b"
    assert svc.checked("status", "--service", "Team B", cwd=ws_a)["data"]["service_id"] == "team-b"
    # … and anywhere else it is ambiguous, listing them
    amb = svc.checked("status", cwd=elsewhere, code=13)["error"]
    assert amb["code"] == "AMBIGUOUS" and "team-a" in amb["message"] + json.dumps(amb)
    assert "lore service list" in amb["suggestion"]
    for command in ("pause", "resume", "trigger", "uninstall", "logs", "repair"):
        assert svc.robot("service", command, cwd=elsewhere)[0] == 13, command
    unknown = svc.checked("status", "--service", "nope", code=7)["error"]
    assert unknown["code"] == "NOT_FOUND" and "team-a, team-b" in unknown["message"]
    assert "lore service list" in unknown["suggestion"]
    gone = svc.checked("uninstall", "--all")["data"]
    assert gone["all"] is True and {r["service_id"] for r in gone["services"]} == {
        "team-a",
        "team-b",
    }
    assert svc.fakes.crontab() == ""


def test_human_output(svc: ServiceEnv) -> None:
    proc = svc.run("service", "install", "--interval", "15m", "--profile", "fast")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for needle in (
        "Service installed:",
        "Platform:   systemd",
        "Interval:   15m (900s)",
        "Profile:    fast (--no-docs --no-embed)",
        "Token:      stored in ~/",
        "(0600)",
        "To rotate your token: lore service install",
    ):
        assert needle in out, needle
    listing = svc.run("service", "list").stdout
    assert "Installed services:" in listing and "15m" in listing and "loaded" in listing
    status = svc.run("service", "status").stdout
    assert "Installed:  yes" in status and "Scheduler:  idle" in status
    gone = svc.run("service", "uninstall").stdout
    assert "Service uninstalled" in gone and "Removed: ~/" in gone
    assert (
        svc.run("service", "uninstall").stdout.strip() == "Service is not installed. Nothing to do."
    )
    assert (
        svc.run("service", "list").stdout.strip()
        == "No services installed. Run: lore service install"
    )
