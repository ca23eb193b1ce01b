"""Interval parsing, profiles, service ids and name sanitising."""

from __future__ import annotations

from pathlib import Path

import pytest

from lore.core.errors import ErrorCode, LoreError
from lore.service.identity import compute_service_id, installed_service_ids, sanitize_service_name
from lore.service.options import (
    check_profile,
    check_token_source,
    format_interval,
    parse_interval,
    profile_sync_flags,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5m", 300),
        ("15m", 900),
        ("30m", 1800),
        ("1h", 3600),
        ("2h", 7200),
        ("12h", 43200),
        ("24h", 86400),
        (" 30m ", 1800),
        ("90m", 5400),
        ("1440m", 86400),
    ],
)
def test_parse_interval_valid(text: str, seconds: int) -> None:
    assert parse_interval(text) == seconds


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("1m", "too short"),
        ("4m", "too short"),
        ("25h", "too long"),
        ("1441m", "too long"),
        ("0m", "greater than 0"),
        ("0h", "greater than 0"),
        ("abc", "must end in m"),
        ("", "empty"),
        ("   ", "empty"),
        ("m", "not a whole number"),
        ("10x", "must end in m"),
        ("30s", "must end in m"),
        ("-5m", "not a whole number"),
        ("1.5h", "not a whole number"),
        ("h", "not a whole number"),
        ("5 m", "not a whole"),
        ("²m", "not a whole number"),
        ("15M", "must end in m"),
    ],
)
def test_parse_interval_rejects_with_usage_error(text: str, needle: str) -> None:
    with pytest.raises(LoreError) as info:
        parse_interval(text)
    err = info.value
    assert err.code is ErrorCode.USAGE_ERROR
    assert needle in err.message
    assert err.suggestion is not None and "5m and 24h" in err.suggestion


def test_format_interval() -> None:
    assert [format_interval(s) for s in (300, 1800, 3600, 5400, 86400)] == [
        "5m",
        "30m",
        "1h",
        "90m",
        "24h",
    ]


def test_profiles_map_to_sync_flags() -> None:
    assert profile_sync_flags("fast") == ("--no-docs", "--no-embed")
    assert profile_sync_flags("balanced") == ("--no-embed",)
    assert profile_sync_flags("full") == ()


def test_unknown_profile_and_token_source() -> None:
    with pytest.raises(LoreError) as info:
        check_profile("turbo")
    assert info.value.code is ErrorCode.USAGE_ERROR and "turbo" in info.value.message
    assert "fast" in str(info.value.suggestion) and "full" in str(info.value.suggestion)
    with pytest.raises(LoreError) as info:
        check_token_source("keychain")
    assert info.value.code is ErrorCode.USAGE_ERROR and "keychain" in info.value.message
    assert "env-file" in str(info.value.suggestion)
    assert check_token_source("env-file") == "env_file"
    assert check_token_source("embedded") == "embedded"


URLS = ["https://gitlab.com/group/repo"]
CONFIG = Path("/home/user/.config/lore/config.json")


def test_service_id_is_deterministic_and_12_hex() -> None:
    first = compute_service_id(Path("/home/user/project"), CONFIG, URLS)
    assert first == compute_service_id(Path("/home/user/project"), CONFIG, URLS)
    assert len(first) == 12 and all(c in "0123456789abcdef" for c in first)


def test_service_id_changes_with_each_part() -> None:
    base = compute_service_id(Path("/home/user/project"), CONFIG, URLS)
    assert base != compute_service_id(Path("/home/user/project-b"), CONFIG, URLS)
    assert base != compute_service_id(Path("/home/user/project"), Path("/other/config.json"), URLS)
    assert base != compute_service_id(
        Path("/home/user/project"), CONFIG, ["https://gitlab.com/group/repo-b"]
    )


def test_service_id_ignores_url_order_and_separates_fields() -> None:
    ws = Path("/w")
    assert compute_service_id(ws, CONFIG, ["https://x/a", "https://x/b"]) == compute_service_id(
        ws, CONFIG, ["https://x/b", "https://x/a"]
    )
    # NUL separators: moving a character across a field boundary changes the id
    assert compute_service_id(Path("/ab"), Path("/c"), []) != compute_service_id(
        Path("/a"), Path("/bc"), []
    )


def test_service_id_canonicalises_paths(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    assert compute_service_id(link, CONFIG, URLS) == compute_service_id(real, CONFIG, URLS)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("my-project", "my-project"),
        ("MyProject", "myproject"),
        ("my project!", "my-project"),  # ERRATA 1: trailing '-' is trimmed
        ("  Team_Alpha  ", "team-alpha"),
        ("../../etc/passwd", "etc-passwd"),
        ("a;rm -rf ~", "a-rm--rf"),
        ("$(whoami)", "whoami"),
        ("`id`", "id"),
        ('it\'s "quoted"', "it-s--quoted"),
        ("x\ny", "x-y"),
        ("tab\there", "tab-here"),
        ("ünïcödé", "n-c-d"),
        ("a" * 32, "a" * 32),
    ],
)
def test_sanitize_service_name(name: str, expected: str) -> None:
    out = sanitize_service_name(name)
    assert out == expected
    assert all(c in "abcdefghijklmnopqrstuvwxyz0123456789-" for c in out)
    assert not out.startswith("-") and not out.endswith("-")


@pytest.mark.parametrize("name", ["", "---", "!!!", "   ", "../..", "a" * 33])
def test_sanitize_service_name_rejects(name: str) -> None:
    with pytest.raises(LoreError) as info:
        sanitize_service_name(name)
    assert info.value.code is ErrorCode.USAGE_ERROR


def test_installed_service_ids_reads_manifest_names_only(tmp_path: Path) -> None:
    for name in (
        "service-manifest-abc.json",
        "service-manifest-my-svc.json",
        "service-manifest-BAD.json",
        "service-manifest-x.json.corrupt.1",
        "sync-status-abc.json",
        "service-manifest-.json",
    ):
        (tmp_path / name).write_text("{}")
    assert installed_service_ids(tmp_path) == ["abc", "my-svc"]
    assert installed_service_ids(tmp_path / "missing") == []
