"""lore.cli.render: the shared human-rendering helpers."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from lore.cli.render import (
    Column,
    format_duration,
    human_bytes,
    label_chips,
    label_style,
    make_table,
    people,
    person,
    plural,
    relative_time,
    safe_color,
    short_date,
    state_text,
    status_text,
)

from .conftest import NOW_MS, ago


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0s"),
        (59, "59s"),
        (60, "1m"),
        (3599, "59m"),
        (3600, "1h"),
        (86_399, "23h"),
        (86_400, "1d"),
        (29 * 86_400, "29d"),
        (45 * 86_400, "1mo"),
        (400 * 86_400, "1y"),
        (-7200, "2h"),
    ],
)
def test_format_duration(seconds: int, expected: str) -> None:
    assert format_duration(seconds) == expected


def test_relative_time() -> None:
    assert relative_time(ago(days=3), NOW_MS) == "3d ago"
    assert relative_time(ago(hours=5), NOW_MS) == "5h ago"
    assert relative_time(ago(minutes=0.5), NOW_MS) == "just now"
    assert relative_time(ago(days=-2), NOW_MS) == "in 2d"
    assert relative_time(None, NOW_MS) == "never"
    assert relative_time(None, NOW_MS, missing="—") == "—"
    assert relative_time("garbage", NOW_MS) == "garbage"


def test_relative_time_uses_the_injectable_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LORE_TEST_HOOKS", "1")
    monkeypatch.setenv("LORE_TEST_NOW_MS", str(NOW_MS))
    assert relative_time(ago(days=10)) == "10d ago"


def test_small_formatters() -> None:
    assert human_bytes(0) == "0 B" and human_bytes(1023) == "1023 B"
    assert human_bytes(1536) == "1.5 KB" and human_bytes(5 * 1024**3) == "5.0 GB"
    assert human_bytes(None) == "?"
    assert person("alice") == "@alice" and person(None) == "ghost"
    assert people(["a", "b"]) == "@a, @b" and people([]) == ""
    assert plural(1, "issue") == "1 issue" and plural(2, "issue") == "2 issues"
    assert plural(0, "match", "matches") == "0 matches"
    assert short_date("2025-03-04T10:11:12.345Z") == "2025-03-04 10:11"
    assert short_date(None) == ""


def test_safe_color() -> None:
    assert safe_color("#1F75CB") == "#1f75cb"
    assert safe_color("1f75cb") == "#1f75cb"
    assert safe_color("#abc") == "#aabbcc"
    assert safe_color("red; rm -rf") is None
    assert safe_color(None) is None and safe_color("") is None


def test_labels_have_stable_colours_shared_by_scope() -> None:
    assert label_style("bug") == label_style("bug") == label_style("BUG")
    assert label_style("priority::high") == label_style("priority::low")
    chips = label_chips(["bug", "priority::high", "a", "b", "c"], limit=3)
    assert chips.plain == "bug, priority::high, a +2"
    assert label_chips([]).plain == ""


def test_state_and_status_text() -> None:
    assert state_text("opened").plain == "open"
    assert str(state_text("merged").style) == "magenta"
    assert state_text("opened", draft=True).plain == "open draft"
    status = status_text({"name": "In progress", "category": "in_progress", "color": "#1f75cb"})
    assert status.plain == "● In progress" and str(status.style) == "#1f75cb"
    assert status_text({"name": "Odd", "category": None, "color": "nope"}).plain == "Odd"
    assert status_text(None).plain == ""


def test_make_table_renders_rows_and_user_text_literally() -> None:
    table = make_table(
        [Column("Ref", no_wrap=True), "Title", Column("N", justify="right")],
        [["#1", "fix [bold]markup[/bold]", "3"], ["#2", None, "10"]],
        title="acme/platform",
    )
    buf = io.StringIO()
    Console(file=buf, width=80, no_color=True, force_terminal=False).print(table)
    out = buf.getvalue()
    assert "acme/platform" in out and "Ref" in out and "Title" in out
    assert "fix [bold]markup[/bold]" in out  # literal, not markup
    assert "#2" in out and "10" in out


def test_render_does_not_import_rich_at_module_import() -> None:
    import subprocess
    import sys

    code = (
        "import sys; import lore.cli.render; "
        "print(any(m == 'rich' or m.startswith('rich.') for m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"


def test_command_modules_and_robot_docs_stay_light() -> None:
    # robot-docs imports every command module; ours must not drag in sqlite3 or rich.
    import subprocess
    import sys

    code = (
        "import sys, io\n"
        "import lore.cli.commands.query, lore.cli.commands.status, lore.query.filters\n"
        "heavy = ['sqlite3', 'rich', 'httpx', 'lore.store.db', 'lore.query.items']\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
