"""`python -m lore.sim serve` prints one JSON line, serves, and stops on SIGTERM."""

from __future__ import annotations

import json
import signal
import ssl
import subprocess
import sys

import httpx
import pytest


def _serve(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "lore.sim", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_serve_prints_one_json_line_and_stops_on_sigterm() -> None:
    proc = _serve(
        "--preset",
        "small",
        "--seed",
        "3",
        "--token",
        "tok-123",
        "--issues",
        "40",
        "--mrs",
        "10",
        "--gitlab-version",
        "16.11",
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        info = json.loads(line)
        assert set(info) == {"url", "token", "preset", "counts"}
        assert info["token"] == "tok-123" and info["preset"] == "small"
        assert info["url"].startswith("http://127.0.0.1:")
        assert info["counts"]["issues"] == 40 and info["counts"]["merge_requests"] == 10
        r = httpx.get(f"{info['url']}/api/v4/version", headers={"PRIVATE-TOKEN": "tok-123"})
        assert r.status_code == 200 and r.json()["version"] == "16.11.0"
        assert r.json()["enterprise"] is False
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert out == ""  # exactly one line in total
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_with_faults_and_no_widget() -> None:
    proc = _serve(
        "--issues",
        "10",
        "--mrs",
        "3",
        "--fault-rate",
        "1",
        "--fault-kinds",
        "502",
        "--no-work-item-status",
        "--complexity-limit",
        "0",
        "--diff-max-files",
        "5",
        "--mrs-disabled",
        "acme/tools/cli",
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        headers = {"PRIVATE-TOKEN": info["token"]}
        r = httpx.get(f"{info['url']}/api/v4/version", headers=headers)
        assert r.status_code == 502
        config = httpx.get(f"{info['url']}/__sim/config").json()
        assert config == {
            "latency_ms": 0,
            "work_item_status": False,
            "complexity_limit": None,
            "diff_max_files": 5,
        }
        projects = {p["path"]: p for p in httpx.get(f"{info['url']}/__sim/projects").json()}
        assert projects["acme/tools/cli"]["merge_requests_access_level"] == "disabled"
        assert projects["acme/platform"]["merge_requests_access_level"] == "enabled"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=10)


def test_bad_arguments_exit_nonzero() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "lore.sim", "serve", "--preset", "huge"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2 and proc.stdout == ""


def test_serve_over_tls_with_a_rate_limit() -> None:
    proc = _serve("--issues", "5", "--mrs", "2", "--tls", "--rate-limit", "3/60")
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert info["url"].startswith("https://127.0.0.1:")
        headers = {"PRIVATE-TOKEN": info["token"]}
        with pytest.raises(httpx.ConnectError):  # not trusted without the test CA
            httpx.get(f"{info['url']}/api/v4/version", headers=headers)
        trusted = ssl.create_default_context(cafile=info["ca_bundle"])
        with httpx.Client(verify=trusted, headers=headers) as http:
            answers = [http.get(f"{info['url']}/api/v4/version") for _ in range(4)]
        assert [r.status_code for r in answers] == [200, 200, 200, 429]
        assert answers[0].headers["RateLimit-Limit"] == "3"
        assert answers[2].headers["RateLimit-Remaining"] == "0"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=10)


@pytest.mark.parametrize("value", ["fast", "0/60", "10/x"])
def test_bad_rate_limit_is_a_usage_error(value: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "lore.sim", "serve", "--rate-limit", value],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert "N/SECONDS" in proc.stderr or "positive" in proc.stderr


@pytest.mark.parametrize("version", ["banana", "14.9", "19.0", "17.5-xe"])
def test_bad_gitlab_version_names_the_problem(version: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "lore.sim", "serve", "--gitlab-version", version],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert version in proc.stderr and "Traceback" not in proc.stderr
