"""Parsing of --since, labels and user names, and filter validation."""

from __future__ import annotations

import pytest

from lore.core.errors import ErrorCode, LoreError
from lore.query.filters import ItemFilters, normalize_username, parse_since, split_labels

from .conftest import NOW_MS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12h", "2025-06-01T00:00:00.000Z"),
        ("7d", "2025-05-25T12:00:00.000Z"),
        ("7 days", "2025-05-25T12:00:00.000Z"),
        ("2w", "2025-05-18T12:00:00.000Z"),
        ("6m", "2024-12-01T12:00:00.000Z"),
        ("1mo", "2025-05-01T12:00:00.000Z"),
        ("1y", "2024-06-01T12:00:00.000Z"),
        ("0d", "2025-06-01T12:00:00.000Z"),
        ("2025-03-04", "2025-03-04T00:00:00.000Z"),
        ("2025-03-04T10:11:12Z", "2025-03-04T10:11:12.000Z"),
        ("2025-03-04T10:11:12+02:00", "2025-03-04T08:11:12.000Z"),
        ("2025-03-04 10:11", "2025-03-04T10:11:00.000Z"),
    ],
)
def test_parse_since(text: str, expected: str) -> None:
    assert parse_since(text, NOW_MS) == expected


def test_calendar_months_clamp_to_month_end() -> None:
    from lore.core.clock import ms_from_iso

    now = ms_from_iso("2025-03-31T08:00:00Z")
    assert parse_since("1m", now) == "2025-02-28T08:00:00.000Z"
    assert parse_since("13m", now) == "2024-02-29T08:00:00.000Z"


@pytest.mark.parametrize("text", ["yesterday", "7x", "-3d", "2025-13-01", "2025/03/04", ""])
def test_bad_since_is_a_usage_error_naming_the_flag(text: str) -> None:
    with pytest.raises(LoreError) as exc:
        parse_since(text, NOW_MS)
    assert exc.value.code is ErrorCode.USAGE_ERROR
    assert "--since" in exc.value.message
    assert "7d" in (exc.value.suggestion or "")


def test_split_labels_and_usernames() -> None:
    assert split_labels(["bug, backend", "bug", "", "prio::high"]) == [
        "bug",
        "backend",
        "prio::high",
    ]
    assert normalize_username("@alice ") == "alice"
    assert normalize_username("  ") is None
    assert normalize_username(None) is None


def test_filters_echo_only_what_applies() -> None:
    issue = ItemFilters().to_dict("issue")
    mr = ItemFilters(draft=True, ascending=True).to_dict("mr")
    assert "status" in issue and "reviewer" not in issue and "draft" not in issue
    assert mr["draft"] is True and mr["order"] == "asc" and "status" not in mr
    assert issue["limit"] == 50 and issue["sort"] == "updated"
