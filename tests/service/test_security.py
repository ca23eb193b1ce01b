"""Security: file modes, the token kept out of everything but its env file, tokens that
would break a line refused, and hostile names that cannot escape or inject."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from lore.core.errors import ErrorCode, LoreError
from lore.service.tokens import check_token, write_env_file

from .conftest import TOKEN, ServiceEnv

NOW = 1_800_000_000_000


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("backend", ["launchd", "cron"])
def test_modes_after_install_and_after_doctor_fix(svc: ServiceEnv, backend: str) -> None:
    sid = svc.checked("install", "--backend", backend)["data"]["service_id"]
    env_file = svc.data_dir / f"service-env-{sid}"
    wrapper = svc.data_dir / f"service-run-{sid}.sh"
    manifest = svc.data_dir / f"service-manifest-{sid}.json"
    assert (mode(env_file), mode(wrapper), mode(manifest)) == (0o600, 0o700, 0o600)
    env_file.chmod(0o666)
    wrapper.chmod(0o777)
    assert svc.robot("service", "doctor", "--offline")[0] == 21
    fixed = svc.checked("doctor", "--offline", "--fix")["data"]
    assert {c["name"]: c["status"] for c in fixed["checks"]}["file_permissions"] == "fixed"
    assert (mode(env_file), mode(wrapper)) == (0o600, 0o700)
    # a re-install also restores them
    env_file.chmod(0o644)
    svc.env["GITLAB_TOKEN"] = TOKEN + "-rotated"
    svc.checked("install")
    assert mode(env_file) == 0o600


def _everything_written(svc: ServiceEnv) -> dict[str, bytes]:
    roots = [svc.home]
    out: dict[str, bytes] = {}
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file():
                out[str(path)] = path.read_bytes()
    crontab = svc.fakes.crontab()
    if crontab is not None:
        out["crontab"] = crontab.encode()
    return out


@pytest.mark.parametrize("backend", ["systemd", "launchd", "cron"])
def test_the_token_lives_only_in_its_env_file(svc: ServiceEnv, backend: str) -> None:
    outputs: list[str] = []

    def robot(*args: str, code: int = 0, **kw: Any) -> dict[str, Any]:
        exit_code, doc = svc.robot("service", *args, **kw)
        outputs.append(json.dumps(doc))
        assert exit_code == code, doc
        return doc

    def human(*args: str, **kw: Any) -> None:
        proc = svc.run("service", *args, **kw)
        outputs.append(proc.stdout + proc.stderr)

    sid = robot("install", "--backend", backend)["data"]["service_id"]
    human("install", "--backend", backend, "--dry-run")
    robot("install", "--backend", backend, "--dry-run")
    hooks = svc.hooks(NOW, jitter=0.0)
    robot("run", "--service-id", sid, extra_env=hooks)  # fails: the dead URL
    robot("trigger", "--ignore-backoff", extra_env=hooks)
    for args in (
        ("status",),
        ("list",),
        ("logs", "--tail", "100"),
        ("doctor",),
        ("pause", "--reason", "x"),
        ("resume",),
        ("repair",),
    ):
        robot(*args)
        human(*args)
    human("logs")
    svc.env["GITLAB_TOKEN"] = TOKEN + "\nsecond line"
    robot("install", code=21)
    human("install")
    svc.env["GITLAB_TOKEN"] = TOKEN
    files = _everything_written(svc)
    env_file = str(svc.data_dir / f"service-env-{sid}")
    holders = [name for name, content in files.items() if TOKEN.encode() in content]
    assert holders == [env_file]
    for text in outputs:
        assert TOKEN not in text
    robot("uninstall")
    assert not [n for n, c in _everything_written(svc).items() if TOKEN.encode() in c]


def test_the_token_stays_out_of_logs_even_when_gitlab_rejects_it(svc: ServiceEnv, sim: Any) -> None:
    svc.env["GITLAB_TOKEN"] = sim.token
    svc.lore.write_config(
        sim.url,
        ["acme/platform"],
        extra={"sync": {"maxRetries": 0}, "embedding": {"provider": "none"}},
    )
    sid = svc.checked("install", "--backend", "cron", "--profile", "fast")["data"]["service_id"]
    sim.configure_faults({"rules": [{"route": "*", "kind": "401"}]})
    out = svc.checked("run", "--service-id", sid, extra_env=svc.hooks(NOW))["data"]
    assert out["reason"] == "AUTH_FAILED"
    for path in (svc.data_dir / "logs").iterdir():
        assert sim.token not in path.read_text()
    assert sim.token not in json.dumps(svc.status_file(sid))
    assert sim.token not in json.dumps(out)


@pytest.mark.parametrize(
    ("token", "bad"), [("abc\ndef", "LF"), ("abc\rdef", "CR"), ("a\r\nb", "CR, LF")]
)
@pytest.mark.parametrize("source", ["env-file", "embedded"])
def test_tokens_that_would_break_a_line_are_refused(
    svc: ServiceEnv, token: str, bad: str, source: str
) -> None:
    svc.env["GITLAB_TOKEN"] = token
    err = svc.checked("install", "--token-source", source, code=21)["error"]
    assert err["code"] == "SERVICE_ERROR"
    assert f"contains {bad} characters" in err["message"] and "GITLAB_TOKEN" in err["message"]
    assert "abc" not in err["message"] and "def" not in err["message"]
    assert not svc.data_dir.exists() or not list(svc.data_dir.glob("service-*"))


def test_nul_is_refused_too(tmp_path: Path) -> None:  # the OS cannot carry NUL in env vars
    with pytest.raises(LoreError) as info:
        check_token("abc\0def", "GITLAB_TOKEN")
    assert info.value.code is ErrorCode.SERVICE_ERROR and "NUL" in info.value.message
    with pytest.raises(LoreError):
        write_env_file(tmp_path / "service-env-x", "GITLAB_TOKEN", "a\0b")
    assert not (tmp_path / "service-env-x").exists()


HOSTILE_NAMES = [
    "../../etc/evil",
    "a/b\\c",
    "x'; touch PWNED; '",
    "$(touch PWNED)",
    "`touch PWNED`",
    'a"b<c>&d',
    "name with\nnewline",
    "%h%u %n",
    "semi;colon|pipe",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
@pytest.mark.parametrize("backend", ["systemd", "launchd", "cron", "schtasks"])
def test_hostile_names_cannot_escape_or_inject(
    svc: ServiceEnv, tmp_path: Path, name: str, backend: str
) -> None:
    before = {p for p in tmp_path.rglob("*")}
    data = svc.checked("install", "--backend", backend, "--name", name)["data"]
    sid = data["service_id"]
    assert all(c in "abcdefghijklmnopqrstuvwxyz0123456789-" for c in sid) and sid
    allowed = (
        svc.data_dir,
        svc.home / ".config" / "systemd" / "user",
        svc.home / "Library" / "LaunchAgents",
    )
    created = {p for p in tmp_path.rglob("*")} - before
    for path in created:
        if path.is_file() and "fakestate" not in path.parts and path.name != "fake-calls.log":
            assert any(path.is_relative_to(root) for root in allowed), path
    for path in data["service_files"]:
        if not path.startswith("crontab:"):
            assert Path(path).resolve().is_relative_to(Path(path).parent.resolve())
    crontab = svc.fakes.crontab() or ""
    for line in crontab.splitlines():
        assert (
            line.startswith(("# lore:", "# Generated"))
            or f"--service-id {sid}" in line
            or f"service-run-{sid}.sh" in line
        )
    for call in svc.fakes.calls():
        assert all("PWNED" not in arg and "\n" not in arg for arg in call)
    assert not list(tmp_path.rglob("PWNED")) and not Path("PWNED").exists()
    assert svc.checked("uninstall", "--service", name)["data"]["was_installed"] is True


@pytest.mark.parametrize("selector", ["../../etc", "/etc/passwd", "..", "a" * 40])
def test_hostile_selectors_are_not_found(svc: ServiceEnv, selector: str) -> None:
    svc.checked("install", "--backend", "cron")
    err = svc.checked("status", "--service", selector, code=7)["error"]
    assert err["code"] == "NOT_FOUND"
