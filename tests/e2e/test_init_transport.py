"""`lore init` against HTTPS with a private CA and behind nginx's http→https redirect:
the final base URL is what gets written, TLS failures name the fix."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from lore.sim.redirect import Redirector
from lore.sim.server import Simulator
from lore_testkit import LoreEnv, assert_robot_output


@pytest.fixture
def tls_sim() -> Iterator[Simulator]:
    with Simulator.start(preset="small", seed=7, tls=True, projects=1, issues=3, mrs=2) as s:
        yield s


def test_init_resolves_http_to_https_and_writes_the_final_url(
    lore_env: LoreEnv, tls_sim: Simulator, robot_manifest: dict
) -> None:  # type: ignore[type-arg]
    project = tls_sim.dataset.projects[0].path
    assert tls_sim.ca_bundle
    with Redirector.start(tls_sim.url) as red:
        code, doc = lore_env.robot(
            "init",
            "--url",
            red.url,
            "--project",
            project,
            "--ca-bundle",
            tls_sim.ca_bundle,
            extra_env={"GITLAB_TOKEN": tls_sim.token},
        )
    assert code == 0, doc
    assert_robot_output(robot_manifest, "lore init", doc)
    written = json.loads(lore_env.config_path.read_text())
    assert written["gitlab"]["baseUrl"] == tls_sim.url  # https, not the redirector
    assert written["gitlab"]["caBundle"] == tls_sim.ca_bundle
    checks = {c["check"]: c for c in doc["data"]["checks"]}
    assert red.url in checks["redirect"]["detail"] and tls_sim.url in checks["redirect"]["detail"]
    assert tls_sim.token not in lore_env.config_path.read_text()


def test_init_redirect_warns_in_human_mode(lore_env: LoreEnv, tls_sim: Simulator) -> None:
    project = tls_sim.dataset.projects[0].path
    assert tls_sim.ca_bundle
    with Redirector.start(tls_sim.url) as red:
        proc = lore_env.run(
            "init",
            "--url",
            red.url,
            "--project",
            project,
            extra_env={"GITLAB_TOKEN": tls_sim.token, "SSL_CERT_FILE": tls_sim.ca_bundle},
        )
    assert proc.returncode == 0, proc.stderr
    assert "warning" in proc.stderr and "redirects to" in proc.stderr
    written = json.loads(lore_env.config_path.read_text())
    assert written["gitlab"]["baseUrl"] == tls_sim.url
    assert "caBundle" not in written["gitlab"]  # trusted through SSL_CERT_FILE


def test_init_without_the_ca_names_the_fix_and_writes_nothing(
    lore_env: LoreEnv, tls_sim: Simulator
) -> None:
    project = tls_sim.dataset.projects[0].path
    code, doc = lore_env.robot(
        "init",
        "--url",
        tls_sim.url,
        "--project",
        project,
        extra_env={"GITLAB_TOKEN": tls_sim.token},
    )
    assert code == 8 and doc["error"]["code"] == "NETWORK_ERROR", doc
    assert "gitlab.caBundle" in doc["error"]["message"]
    assert "SSL_CERT_FILE" in (doc["error"]["suggestion"] or "")
    assert not lore_env.config_path.exists()
    assert tls_sim.stats()["connections"] == 1  # permanent: tried once


def test_init_ca_bundle_flag_must_name_a_file(lore_env: LoreEnv, tls_sim: Simulator) -> None:
    missing = str(lore_env.root / "nope.pem")
    code, doc = lore_env.robot(
        "init",
        "--url",
        tls_sim.url,
        "--project",
        "a/b",
        "--ca-bundle",
        missing,
        extra_env={"GITLAB_TOKEN": tls_sim.token},
    )
    assert code == 2 and doc["error"]["code"] == "USAGE_ERROR", doc
    assert "--ca-bundle" in doc["error"]["message"] and missing in doc["error"]["message"]
    assert not lore_env.config_path.exists()


def test_init_no_tls_verify_writes_the_key_and_warns(lore_env: LoreEnv, tls_sim: Simulator) -> None:
    project = tls_sim.dataset.projects[0].path
    proc = lore_env.run(
        "--robot",
        "init",
        "--url",
        tls_sim.url,
        "--project",
        project,
        "--no-tls-verify",
        extra_env={"GITLAB_TOKEN": tls_sim.token},
    )
    assert proc.returncode == 0, proc.stdout
    assert proc.stderr.count("gitlab.tlsVerify is false") == 1
    assert json.loads(lore_env.config_path.read_text())["gitlab"]["tlsVerify"] is False
