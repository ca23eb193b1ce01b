"""Bad input through the CLI: each with the right code, a message naming the problem and
a suggestion that gets the user out."""

from __future__ import annotations

import json

import pytest

from .conftest import ServiceEnv

NOW = 1_800_000_000_000


@pytest.mark.parametrize(
    ("interval", "needle"),
    [
        ("1m", "too short"),
        ("4m", "too short"),
        ("25h", "too long"),
        ("0m", "greater than 0"),
        ("abc", "must end in m"),
        ("", "empty"),
        ("m", "not a whole number"),
        ("10x", "must end in m"),
        ("30s", "must end in m"),
        ("-5m", "not a whole number"),
        ("1.5h", "not a whole number"),
    ],
)
def test_malformed_intervals(svc: ServiceEnv, interval: str, needle: str) -> None:
    err = svc.checked("install", "--interval", interval, code=2)["error"]
    assert err["code"] == "USAGE_ERROR"
    assert needle in err["message"] and repr(interval.strip()) in err["message"] + repr(interval)
    assert "between 5m and 24h" in err["suggestion"]
    assert not svc.data_dir.exists()
    human = svc.run("service", "install", "--interval", interval)
    assert human.returncode == 2 and human.stdout == ""
    assert "error[USAGE_ERROR]" in human.stderr and "hint:" in human.stderr


@pytest.mark.parametrize(
    ("flag", "value", "message", "suggestion"),
    [
        ("--profile", "turbo", "unknown profile 'turbo'", "fast (issues + MRs)"),
        ("--token-source", "keychain", "unknown token source 'keychain'", "env-file"),
        ("--backend", "upstart", "unknown backend 'upstart'", "systemd, launchd, schtasks, cron"),
    ],
)
def test_unknown_choices(
    svc: ServiceEnv, flag: str, value: str, message: str, suggestion: str
) -> None:
    err = svc.checked("install", flag, value, code=2)["error"]
    assert err["code"] == "USAGE_ERROR" and err["message"] == message
    assert suggestion in err["suggestion"]


def test_robot_docs_lists_the_choices(svc: ServiceEnv) -> None:
    entry = next(c for c in svc.manifest["commands"] if c["command"] == "lore service install")
    params = {p["name"]: p for p in entry["params"]}
    assert params["profile"]["choices"] == ["fast", "balanced", "full"]
    assert params["profile"]["default"] == "balanced"
    assert params["token_source"]["choices"] == ["env-file", "embedded"]
    assert params["interval"]["default"] == "30m"


def test_no_config_and_no_token(svc: ServiceEnv) -> None:
    svc.env["GITLAB_TOKEN"] = ""
    err = svc.checked("install", code=5)["error"]
    assert err["code"] == "TOKEN_NOT_SET" and "GITLAB_TOKEN" in err["message"]
    svc.lore.config_path.unlink()
    err = svc.checked("install", code=3)["error"]
    assert err["code"] == "CONFIG_NOT_FOUND" and "lore init" in err["suggestion"]
    svc.lore.config_path.write_text('{"gitlab": {"baseUrl": "x"}}')
    assert svc.checked("install", code=4)["error"]["code"] == "CONFIG_INVALID"


def test_unknown_service(svc: ServiceEnv) -> None:
    svc.checked("install", "--backend", "cron", "--name", "real")
    for command in ("status", "pause", "resume", "trigger", "logs", "uninstall", "repair"):
        err = svc.checked(command, "--service", "ghost", code=7)["error"]
        assert err["code"] == "NOT_FOUND" and "'ghost'" in err["message"]
        assert "installed: real" in err["message"] and "lore service list" in err["suggestion"]


def _corrupt(svc: ServiceEnv, name: str, content: str) -> None:
    (svc.data_dir / name).write_text(content)


def test_corrupt_manifest(svc: ServiceEnv) -> None:
    sid = svc.checked("install", "--backend", "cron")["data"]["service_id"]
    _corrupt(svc, f"service-manifest-{sid}.json", '{"schema_version": 2, "service_id": ')
    for command in ("status", "install", "trigger"):
        err = svc.checked(command, code=23)["error"]
        assert err["code"] == "SERVICE_CORRUPT_STATE"
        assert f"service-manifest-{sid}.json is corrupt: not valid JSON" in err["message"]
        assert err["suggestion"].startswith("Run: lore service repair")
        assert err["actions"] == ["lore service repair", "lore service install"]
    listing = svc.checked("list")["data"]
    assert listing["services"] == [] and listing["unreadable"][0]["service_id"] == sid
    run = svc.run("service", "run", "--service-id", sid)
    assert run.returncode == 0  # the scheduler never sees a failure exit
    assert json.loads(run.stdout)["error"]["code"] == "SERVICE_CORRUPT_STATE"
    # uninstall still cleans up, and keeps the corrupt file as a backup
    gone = svc.checked("uninstall")["data"]
    assert gone["was_installed"] is True
    assert any("corrupt manifest was kept as" in w for w in gone["warnings"])
    assert f"# lore:{sid}:begin" not in (svc.fakes.crontab() or "")
    assert list(svc.data_dir.glob(f"service-manifest-{sid}.json.corrupt.*"))


def test_corrupt_status(svc: ServiceEnv) -> None:
    sid = svc.checked("install", "--backend", "cron")["data"]["service_id"]
    _corrupt(svc, f"sync-status-{sid}.json", "not valid json{{{")
    for command in ("status", "pause", "resume"):
        err = svc.checked(command, code=23)["error"]
        assert err["code"] == "SERVICE_CORRUPT_STATE" and "not valid JSON" in err["message"]
        assert "lore service repair" in err["suggestion"]
    # the scheduled run is not stopped by it: the file is backed up and a fresh one started
    out = svc.checked("run", "--service-id", sid, extra_env=svc.hooks(NOW))["data"]
    assert out["action"] == "sync_completed"
    backups = list(svc.data_dir.glob(f"sync-status-{sid}.json.corrupt.*"))
    assert len(backups) == 1 and backups[0].read_text() == "not valid json{{{"
    assert svc.status_file(sid)["consecutive_failures"] == 1
    log = (svc.data_dir / "logs" / f"service-{sid}-stderr.log").read_text()
    assert "corrupt status file moved to" in log


def test_status_from_a_newer_lore(svc: ServiceEnv) -> None:
    sid = svc.checked("install", "--backend", "cron")["data"]["service_id"]
    future = json.dumps({"schema_version": 7, "state": "warp"})
    _corrupt(svc, f"sync-status-{sid}.json", future)
    err = svc.checked("status", code=23)["error"]
    assert "written by a newer lore" in err["message"]
    assert "schema_version 7 is newer than this lore understands (2)" in err["message"]
    assert err["suggestion"].startswith("Update lore")
    run = json.loads(
        svc.run("service", "run", "--service-id", sid, extra_env=svc.hooks(NOW)).stdout
    )
    assert run["ok"] is False and run["error"]["code"] == "SERVICE_CORRUPT_STATE"
    assert (svc.data_dir / f"sync-status-{sid}.json").read_text() == future  # untouched
    manifest_path = svc.data_dir / f"service-manifest-{sid}.json"
    raw = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps({**raw, "schema_version": 3}))
    err = svc.checked("pause", code=23)["error"]
    assert "newer lore" in err["message"]


def test_flag_combinations(svc: ServiceEnv) -> None:
    svc.checked("install", "--backend", "cron")
    assert (
        svc.checked("uninstall", "--all", "--service", "x", code=2)["error"]["message"]
        == "--all and --service cannot be combined"
    )
    err = svc.checked("logs", "--tail", "-1", code=2)["error"]
    assert err["code"] == "USAGE_ERROR"
    err = svc.checked("install", "--intervl", "5m", code=2)["error"]
    assert "did you mean --interval" in err["suggestion"]
