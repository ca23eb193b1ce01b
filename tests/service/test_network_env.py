"""`service install` carries into the scheduler what makes an interactive sync work: the
CA variables (SSL_CERT_FILE, SSL_CERT_DIR, REQUESTS_CA_BUNDLE) and the proxy variables
(HTTPS_PROXY, HTTP_PROXY, NO_PROXY, lower-case too), never the token (outside
``--token-source embedded``) and never a proxy password."""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lore.service.backends.base import (
    NETWORK_ENV_VARS,
    InstallSpec,
    capture_network_env,
    render_wrapper,
)
from lore.service.backends.launchd import generate_plist_with_embedded
from lore.service.backends.systemd import SystemdBackend, generate_service

from .conftest import TOKEN, ServiceEnv

LORE = str(Path(sys.executable).parent / "lore")


def _spec(data_dir: Path, network_env: list[tuple[str, str]], **overrides: object) -> InstallSpec:
    fields: dict[str, object] = dict(
        service_id="abc123",
        binary_path=LORE,
        interval_seconds=900,
        token_env_var="GITLAB_TOKEN",
        token_value="glpat-xxx",
        token_source="env_file",
        data_dir=data_dir,
        network_env=network_env,
    )
    fields.update(overrides)
    return InstallSpec(**fields)  # type: ignore[arg-type]


@pytest.fixture
def ca_file(tmp_path: Path) -> Path:
    path = tmp_path / "certs" / "corp ca.pem"
    path.parent.mkdir()
    path.write_text("-----BEGIN CERTIFICATE-----\n")
    return path


def test_capture_keeps_what_is_set_and_drops_what_would_leak(ca_file: Path) -> None:
    env = {
        "SSL_CERT_FILE": str(ca_file),
        "REQUESTS_CA_BUNDLE": "/no/such/ca.pem",
        "HTTPS_PROXY": "http://proxy.corp:3128",
        "https_proxy": "http://u:secret@proxy:8080",
        "NO_PROXY": "localhost,.corp",
        "HTTP_PROXY": "",
        "GITLAB_TOKEN": TOKEN,
    }
    carried, warnings = capture_network_env(env)
    assert carried == [
        ("SSL_CERT_FILE", str(ca_file.resolve())),
        ("HTTPS_PROXY", "http://proxy.corp:3128"),
        ("NO_PROXY", "localhost,.corp"),
    ]
    assert any("REQUESTS_CA_BUNDLE" in w and "does not exist" in w for w in warnings)
    assert any("https_proxy" in w and "password" in w for w in warnings)
    assert "secret" not in repr(warnings) and TOKEN not in repr(carried)


def test_capture_warns_about_tmp_under_the_sandbox(tmp_path: Path) -> None:
    ca = Path("/tmp") / f"lore-test-ca-{os.getpid()}.pem"
    ca.write_text("x")
    try:
        carried, warnings = capture_network_env({"SSL_CERT_FILE": str(ca)}, sandboxed=True)
        assert carried == [("SSL_CERT_FILE", str(ca.resolve()))]
        assert any("PrivateTmp" in w for w in warnings)
        assert capture_network_env({"SSL_CERT_FILE": str(ca)}, sandboxed=False)[1] == []
    finally:
        ca.unlink()


def test_systemd_unit_carries_the_network_env_and_verifies(tmp_path: Path, ca_file: Path) -> None:
    network = [
        ("SSL_CERT_FILE", str(ca_file)),
        ("HTTPS_PROXY", "http://proxy.corp:3128"),
        ("NO_PROXY", "localhost,127.0.0.1,.corp"),
    ]
    data_dir = tmp_path / "data"
    (data_dir / "logs").mkdir(parents=True)
    unit = generate_service(_spec(data_dir, network))
    assert f'Environment="SSL_CERT_FILE={ca_file}"' in unit
    assert "Environment=HTTPS_PROXY=http://proxy.corp:3128" in unit
    assert "Environment=NO_PROXY=localhost,127.0.0.1,.corp" in unit
    assert "glpat-xxx" not in unit  # env-file mode: the token stays in the 0600 file
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed")
    units = tmp_path / "units"
    units.mkdir()
    for artifact in SystemdBackend().render(_spec(data_dir, network)).artifacts:
        if artifact.location.endswith((".service", ".timer")):
            (units / Path(artifact.location).name).write_text(artifact.content)
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    proc = subprocess.run(
        [tool, "verify", "--user", "--man=no", *sorted(map(str, units.iterdir()))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)},
    )
    assert proc.returncode == 0, proc.stderr
    assert [line for line in proc.stderr.splitlines() if "lore-sync-abc123" in line] == []


def test_wrapper_exports_the_network_env(tmp_path: Path, ca_file: Path) -> None:
    fake_lore = tmp_path / "lore"
    fake_lore.write_text(
        '#!/bin/sh\nprintf "%s\\n" "$SSL_CERT_FILE" "$HTTPS_PROXY" "$no_proxy" "$GITLAB_TOKEN"\n'
    )
    fake_lore.chmod(0o755)
    network = [
        ("SSL_CERT_FILE", str(ca_file)),
        ("HTTPS_PROXY", "http://proxy:3128"),
        ("no_proxy", "localhost"),
    ]
    spec = _spec(tmp_path, network, binary_path=str(fake_lore))
    script = render_wrapper(spec)
    wrapper = tmp_path / "service-run-abc123.sh"
    wrapper.write_text(script)
    wrapper.chmod(0o700)
    spec.env_file.write_text("GITLAB_TOKEN=glpat-xxx\n")
    proc = subprocess.run(
        [str(wrapper)],
        capture_output=True,
        text=True,
        timeout=10,
        env={"PATH": os.environ["PATH"]},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [str(ca_file), "http://proxy:3128", "localhost", "glpat-xxx"]
    assert "glpat-xxx" not in script


def test_embedded_plist_carries_the_network_env(ca_file: Path) -> None:
    plist = generate_plist_with_embedded(
        "abc123",
        LORE,
        None,
        900,
        "GITLAB_TOKEN",
        "glpat-xxx",
        Path("/tmp/logs"),
        network_env=[("SSL_CERT_FILE", str(ca_file)), ("HTTPS_PROXY", "http://p:1")],
    )
    env = plistlib.loads(plist.encode())["EnvironmentVariables"]
    assert env == {
        "GITLAB_TOKEN": "glpat-xxx",
        "SSL_CERT_FILE": str(ca_file),
        "HTTPS_PROXY": "http://p:1",
    }


@pytest.mark.parametrize("backend", ["systemd", "cron", "launchd"])
def test_install_through_the_cli_carries_the_network_env(
    svc: ServiceEnv, ca_file: Path, backend: str
) -> None:
    for name in NETWORK_ENV_VARS:  # the machine's own settings must not leak into the test
        svc.lore.env.pop(name, None)
    env = {
        "SSL_CERT_FILE": str(ca_file),
        "HTTPS_PROXY": "http://proxy.corp:3128",
        "NO_PROXY": "localhost,.corp",
        "http_proxy": "http://user:pw@proxy.corp:3128",
    }
    code, doc = svc.robot("service", "install", "--backend", backend, extra_env=env)
    assert code == 0, doc
    data = doc["data"]
    assert any("http_proxy" in w and "password" in w for w in data["warnings"])
    texts = [Path(p).read_text() for p in data["service_files"] if not p.startswith("crontab:")]
    joined = "\n".join(texts)
    assert str(ca_file) in joined and "http://proxy.corp:3128" in joined
    assert "localhost,.corp" in joined
    assert "pw@" not in joined and TOKEN not in joined
    # a changed network env is a changed spec: the re-install says so
    again = svc.robot(
        "service",
        "install",
        "--backend",
        backend,
        extra_env={**env, "HTTPS_PROXY": "http://other:3128"},
    )[1]["data"]
    assert again["no_change"] is False
