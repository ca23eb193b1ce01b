"""The manifest and status files: round trips, missing vs corrupt, schema migration,
refusal of future versions, atomic replacement."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from lore.core.errors import ErrorCode, LoreError
from lore.service.manifest import CURRENT_VERSION as MANIFEST_VERSION
from lore.service.manifest import ServiceManifest, read_manifest, write_manifest
from lore.service.status import (
    CURRENT_VERSION as STATUS_VERSION,
)
from lore.service.status import (
    CurrentRun,
    RunRecord,
    StageRecord,
    SyncStatusFile,
    read_status,
    write_status,
)


def make_manifest(**overrides: object) -> ServiceManifest:
    fields: dict[str, object] = dict(
        service_id="a1b2c3d4e5f6",
        identity_hash="a1b2c3d4e5f6",
        workspace_root="/Users/x/projects/my-project",
        installed_at_iso="2026-02-09T10:00:00Z",
        updated_at_iso="2026-02-09T10:00:00Z",
        platform="launchd",
        interval_seconds=900,
        profile="fast",
        binary_path="/usr/local/bin/lore",
        config_path=None,
        token_source="env_file",
        token_env_var="GITLAB_TOKEN",
        service_files=["/Users/x/Library/LaunchAgents/com.gitlore.sync.a1b2c3d4e5f6.plist"],
        sync_command="/usr/local/bin/lore --robot service run --service-id a1b2c3d4e5f6",
        spec_hash="abc123def456",
        data_dir="/Users/x/.local/share/lore",
    )
    fields.update(overrides)
    return ServiceManifest(**fields)  # type: ignore[arg-type]


def run(ts_ms: int, outcome: str) -> RunRecord:
    return RunRecord(
        timestamp_iso=f"t{ts_ms}",
        timestamp_ms=ts_ms,
        duration_seconds=1.0,
        outcome=outcome,
        stage_results=[StageRecord("issues", outcome != "failed", 5)],
        error_message="boom" if outcome == "failed" else None,
    )


# -- manifest ---------------------------------------------------------------------------------


def test_manifest_round_trip_is_atomic_and_private(tmp_path: Path) -> None:
    path = tmp_path / "service-manifest-a1b2c3d4e5f6.json"
    write_manifest(path, make_manifest())
    loaded = read_manifest(path)
    assert loaded == make_manifest()
    raw = json.loads(path.read_text())
    assert raw["schema_version"] == MANIFEST_VERSION
    assert "config_path" not in raw  # omitted when absent, like the plan
    assert raw["max_transient_failures"] == 10
    assert raw["circuit_breaker_cooldown_seconds"] == 1800
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left behind


def test_manifest_missing_is_none_and_corrupt_is_an_error(tmp_path: Path) -> None:
    assert read_manifest(tmp_path / "nope.json") is None
    bad = tmp_path / "bad.json"
    bad.write_text("{{{{")
    with pytest.raises(LoreError) as info:
        read_manifest(bad)
    err = info.value
    assert err.code is ErrorCode.SERVICE_CORRUPT_STATE
    assert "not valid JSON" in err.message and str(bad) in err.message
    assert "lore service repair" in str(err.suggestion)
    assert err.actions == ["lore service repair", "lore service install"]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("[]", "not a JSON object"),
        ('{"service_id": "x"}', "schema_version"),
        ('{"schema_version": "2"}', "schema_version"),
        ('{"schema_version": true}', "schema_version"),
        ('{"schema_version": 2, "service_id": "abc"}', "missing"),
        (json.dumps({**make_manifest().to_dict(), "interval_seconds": "900"}), "interval_seconds"),
        (json.dumps({**make_manifest().to_dict(), "interval_seconds": True}), "boolean"),
        (json.dumps({**make_manifest().to_dict(), "service_id": "../etc"}), "service id"),
        (json.dumps({**make_manifest().to_dict(), "profile": "turbo"}), "profile"),
        (json.dumps({**make_manifest().to_dict(), "service_files": [1]}), "list of strings"),
        ("\xff\xfe", "not valid JSON"),
    ],
)
def test_manifest_corrupt_variants(tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "m.json"
    path.write_bytes(content.encode("latin-1") if content == "\xff\xfe" else content.encode())
    with pytest.raises(LoreError) as info:
        read_manifest(path)
    assert info.value.code is ErrorCode.SERVICE_CORRUPT_STATE
    assert needle in info.value.message


def test_manifest_from_the_future_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    raw = {**make_manifest().to_dict(), "schema_version": MANIFEST_VERSION + 1, "new": 1}
    path.write_text(json.dumps(raw))
    before = path.read_bytes()
    with pytest.raises(LoreError) as info:
        read_manifest(path)
    err = info.value
    assert err.code is ErrorCode.SERVICE_CORRUPT_STATE
    assert "newer lore" in err.message and f"schema_version {MANIFEST_VERSION + 1}" in err.message
    assert "Update lore" in str(err.suggestion)
    assert path.read_bytes() == before


def test_manifest_v1_is_migrated_and_rewritten(tmp_path: Path) -> None:
    # The plan's v1 shape: no identity_hash, data_dir or sandboxed.
    v1 = {
        k: v
        for k, v in make_manifest(platform="systemd").to_dict().items()
        if k not in ("identity_hash", "data_dir", "sandboxed")
    }
    v1["schema_version"] = 1
    path = tmp_path / "service-manifest-a1b2c3d4e5f6.json"
    path.write_text(json.dumps(v1))
    loaded = read_manifest(path)
    assert loaded is not None
    assert loaded.identity_hash == "a1b2c3d4e5f6"  # a v1 fingerprint id is its own hash
    assert loaded.data_dir == str(tmp_path)
    assert loaded.sandboxed is True  # the plan's systemd unit was hardened
    on_disk = json.loads(path.read_text())
    assert on_disk["schema_version"] == MANIFEST_VERSION and on_disk["identity_hash"]
    # a named v1 service has no known fingerprint
    named = {**v1, "service_id": "my-project"}
    path.write_text(json.dumps(named))
    assert read_manifest(path, persist_migration=False).identity_hash == ""  # type: ignore[union-attr]
    assert json.loads(path.read_text())["schema_version"] == 1  # not rewritten when asked


# -- status file ------------------------------------------------------------------------------


def test_status_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "sync-status-test1234.json"
    status = SyncStatusFile()
    status.record_run(run(1_770_609_000_000, "success"))
    status.current_run = CurrentRun(started_at_ms=5, pid=42, probe=True)
    write_status(path, status, "2026-02-09T10:30:00.000Z")
    loaded = read_status(path)
    assert loaded is not None
    assert loaded.last_run is not None and loaded.last_run.outcome == "success"
    assert loaded.last_run.stage_results == [StageRecord("issues", True, 5)]
    assert loaded.recent_runs[0].stage_results == []  # summaries only in the history
    assert loaded.current_run == CurrentRun(5, 42, True)
    assert loaded.updated_at_iso == "2026-02-09T10:30:00.000Z"
    assert json.loads(path.read_text())["schema_version"] == STATUS_VERSION


def test_status_omits_absent_optionals(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    write_status(path, SyncStatusFile())
    raw = json.loads(path.read_text())
    assert set(raw) == {
        "schema_version",
        "updated_at_iso",
        "state",
        "recent_runs",
        "consecutive_failures",
    }


def test_status_missing_vs_corrupt(tmp_path: Path) -> None:
    assert read_status(tmp_path / "none.json") is None
    bad = tmp_path / "bad.json"
    bad.write_text("not valid json{{{")
    with pytest.raises(LoreError) as info:
        read_status(bad)
    assert info.value.code is ErrorCode.SERVICE_CORRUPT_STATE
    bad.write_text(json.dumps({"schema_version": 2, "state": "sleeping", "recent_runs": []}))
    with pytest.raises(LoreError, match="not a scheduler state"):
        read_status(bad)
    bad.write_text(json.dumps({"schema_version": 2, "state": "idle", "consecutive_failures": -1}))
    with pytest.raises(LoreError, match="negative"):
        read_status(bad)


def test_status_from_the_future_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"schema_version": 99, "state": "idle"}))
    with pytest.raises(LoreError) as info:
        read_status(path)
    assert info.value.code is ErrorCode.SERVICE_CORRUPT_STATE and "newer lore" in info.value.message


@pytest.mark.parametrize(
    ("v1", "state", "failures", "retry"),
    [
        # the plan's verification-checklist files, verbatim apart from the placeholders
        (
            {
                "consecutive_failures": 3,
                "next_retry_at_ms": 2_000_000_000_000,
                "last_run": {
                    "timestamp_iso": "2026-02-09T10:00:00Z",
                    "timestamp_ms": 1,
                    "duration_seconds": 1.0,
                    "outcome": "failed",
                    "stage_results": [],
                    "error_message": "test",
                },
                "paused_reason": None,
                "last_error_code": None,
                "last_error_message": None,
                "circuit_breaker_paused_at_ms": None,
            },
            "backoff",
            3,
            2_000_000_000_000,
        ),
        (
            {
                "consecutive_failures": 1,
                "next_retry_at_ms": None,
                "paused_reason": "AUTH_FAILED: 401 Unauthorized",
                "last_error_code": "AUTH_FAILED",
                "circuit_breaker_paused_at_ms": None,
            },
            "paused",
            1,
            None,
        ),
        (
            {
                "consecutive_failures": 10,
                "paused_reason": "CIRCUIT_BREAKER: 10 consecutive",
                "circuit_breaker_paused_at_ms": 1770609000000,
            },
            "paused",
            10,
            None,
        ),
        (
            {
                "consecutive_failures": 0,
                "last_run": {
                    "timestamp_iso": "x",
                    "timestamp_ms": 1,
                    "duration_seconds": 2,
                    "outcome": "degraded",
                },
            },
            "degraded",
            0,
            None,
        ),
        ({"consecutive_failures": 0}, "idle", 0, None),
        (
            {"consecutive_failures": 0, "current_run": {"started_at_ms": 1, "pid": 7}},
            "running",
            0,
            None,
        ),
    ],
)
def test_status_v1_migration_derives_the_state(
    tmp_path: Path, v1: dict[str, object], state: str, failures: int, retry: int | None
) -> None:
    path = tmp_path / "sync-status-a1b2c3d4e5f6.json"
    path.write_text(
        json.dumps(
            {"schema_version": 1, "updated_at_iso": "2026-02-09T10:00:00Z", "recent_runs": [], **v1}
        )
    )
    loaded = read_status(path)
    assert loaded is not None
    assert (loaded.state, loaded.consecutive_failures, loaded.next_retry_at_ms) == (
        state,
        failures,
        retry,
    )
    assert json.loads(path.read_text())["schema_version"] == STATUS_VERSION
    assert json.loads(path.read_text())["state"] == state


def test_record_run_keeps_ten_newest_first() -> None:
    status = SyncStatusFile()
    for i in range(15):
        status.record_run(run(i * 1000, "success"))
    assert len(status.recent_runs) == 10
    assert [r.timestamp_ms for r in status.recent_runs][:3] == [14000, 13000, 12000]
    assert status.last_run is not None and status.last_run.timestamp_ms == 14000


def test_clear_paused_resets_every_field() -> None:
    status = SyncStatusFile(
        state="paused",
        consecutive_failures=5,
        paused_reason="AUTH_FAILED: 401 Unauthorized",
        last_error_code="AUTH_FAILED",
        last_error_message="401 Unauthorized",
        next_retry_at_ms=200_000_000,
        backoff_reason="computed",
        circuit_breaker_paused_at_ms=100_000_000,
    )
    status.clear_paused()
    assert (
        status.paused_reason,
        status.circuit_breaker_paused_at_ms,
        status.last_error_code,
        status.last_error_message,
        status.next_retry_at_ms,
        status.backoff_reason,
        status.consecutive_failures,
    ) == (None, None, None, None, None, None, 0)


def test_atomic_write_replaces_without_leaving_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    for i in range(20):
        status = SyncStatusFile(consecutive_failures=0)
        status.record_run(run(i, "success"))
        write_status(path, status)
        assert read_status(path) is not None
    assert sorted(os.listdir(tmp_path)) == ["s.json"]
