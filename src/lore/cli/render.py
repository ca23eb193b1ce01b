"""Human-rendering helpers shared by the commands: relative times, sizes, state colours,
label chips, work-item status, people and a table builder.

rich is imported inside the functions that need it (never at module import), so a
command that only formats text stays fast. Helpers that return rich objects say so.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from lore.core.clock import default_clock, ms_from_iso

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.table import Table
    from rich.text import Text

#: Styles of GitLab item states (as gh/glab colour them).
STATE_STYLES: dict[str, str] = {
    "opened": "green",
    "closed": "red",
    "merged": "magenta",
    "locked": "yellow",
}
#: Short words for states in tables.
STATE_WORDS: dict[str, str] = {"opened": "open"}
#: Label colours are not mirrored, so each label gets a stable colour from its name.
LABEL_PALETTE: tuple[str, ...] = (
    "cyan",
    "magenta",
    "yellow",
    "blue",
    "green",
    "bright_cyan",
    "bright_magenta",
    "bright_blue",
    "bright_green",
    "bright_yellow",
)
_HEX_COLOR_RE = re.compile(r"^#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})$")


# -- plain text --------------------------------------------------------------------------


def format_duration(seconds: float) -> str:
    """A compact age: ``45s``, ``12m``, ``3h``, ``5d``, ``4mo``, ``2y``."""
    s = abs(int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86_400:
        return f"{s // 3600}h"
    if s < 30 * 86_400:
        return f"{s // 86_400}d"
    if s < 365 * 86_400:
        return f"{s // (30 * 86_400)}mo"
    return f"{s // (365 * 86_400)}y"


def relative_time(iso: str | None, now_ms: int | None = None, *, missing: str = "never") -> str:
    """``"3d ago"``, ``"just now"``, ``"in 2h"`` for an ISO timestamp; ``missing`` for None.

    ``now_ms`` defaults to the injectable clock (``LORE_TEST_NOW_MS`` in tests).
    """
    if not iso:
        return missing
    try:
        then = ms_from_iso(iso)
    except ValueError:
        return iso
    now = default_clock().now_ms() if now_ms is None else now_ms
    delta = (now - then) / 1000
    if abs(delta) < 45:
        return "just now"
    return f"{format_duration(delta)} ago" if delta > 0 else f"in {format_duration(delta)}"


def short_date(iso: str | None) -> str:
    """``2025-03-04 10:11`` (UTC) from a stored timestamp; empty for None."""
    if not iso:
        return ""
    return iso[:16].replace("T", " ")


def human_bytes(n: int | None) -> str:
    """``0 B``, ``812 B``, ``1.2 KB``, ``34.0 MB`` (powers of 1024)."""
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"  # pragma: no cover - the loop always returns


def person(username: str | None) -> str:
    """``@alice``; ``"ghost"`` when the author is unknown (deleted users)."""
    return f"@{username}" if username else "ghost"


def people(usernames: Iterable[str]) -> str:
    """``@alice, @bob``; empty when nobody."""
    return ", ".join(person(u) for u in usernames)


def plural(n: int, word: str, words: str | None = None) -> str:
    """``1 issue``, ``3 issues``."""
    return f"{n} {word if n == 1 else (words or word + 's')}"


def safe_color(value: str | None) -> str | None:
    """A ``#rrggbb`` colour rich accepts, or None for anything else (e.g. stored junk)."""
    if not value:
        return None
    m = _HEX_COLOR_RE.match(value.strip())
    if not m:
        return None
    digits = m.group(1)
    if len(digits) == 3:
        digits = "".join(ch * 2 for ch in digits)
    return f"#{digits.lower()}"


def label_style(label: str) -> str:
    """The stable colour of ``label`` (scoped labels share their scope's colour)."""
    key = label.split("::", 1)[0] if "::" in label else label
    return LABEL_PALETTE[zlib.crc32(key.lower().encode()) % len(LABEL_PALETTE)]


# -- rich objects ------------------------------------------------------------------------


def state_text(state: str, *, draft: bool = False) -> Text:
    """The state word in its colour (rich ``Text``); drafts say so."""
    from rich.text import Text

    word = STATE_WORDS.get(state, state)
    text = Text(word, style=STATE_STYLES.get(state, ""))
    if draft:
        text.append(" draft", style="dim")
    return text


def status_text(status: dict[str, Any] | None) -> Text:
    """A work-item status (``{name, category, color}``) in its own colour; empty if None."""
    from rich.text import Text

    if not status or not status.get("name"):
        return Text("")
    color = safe_color(status.get("color"))
    return Text(f"● {status['name']}" if color else str(status["name"]), style=color or "")


#: Styles of GitLab issue types other than a plain issue (``issue_type_marker``).
ISSUE_TYPE_STYLES: dict[str, str] = {
    "incident": "bold red",
    "task": "blue",
    "test_case": "magenta",
    "requirement": "cyan",
    "objective": "green",
    "key_result": "green",
}


def issue_type_marker(issue_type: str | None) -> tuple[str, str] | None:
    """``("Incident: ", style)`` to put before an issue's title (as ``Draft: `` before a
    draft's); None for a plain issue."""
    if not issue_type or issue_type == "issue":
        return None
    word = issue_type.replace("_", " ")
    return f"{word[:1].upper()}{word[1:]}: ", ISSUE_TYPE_STYLES.get(issue_type, "dim")


def label_chips(labels: Sequence[str], *, limit: int | None = None) -> Text:
    """Labels as comma-separated coloured words (like ``gh issue list``); with ``limit``,
    the rest are summarised as ``+N``."""
    from rich.text import Text

    shown = list(labels if limit is None else labels[:limit])
    text = Text()
    for i, label in enumerate(shown):
        if i:
            text.append(", ")
        text.append(label, style=label_style(label))
    rest = len(labels) - len(shown)
    if rest > 0:
        text.append(f" +{rest}", style="dim")
    return text


@dataclass(frozen=True)
class Column:
    """One column of :func:`make_table`."""

    header: str
    style: str | None = None
    justify: Literal["left", "center", "right"] = "left"
    no_wrap: bool = False
    overflow: Literal["fold", "crop", "ellipsis"] = "ellipsis"
    min_width: int | None = None
    max_width: int | None = None
    ratio: int | None = None


def columns_that_fit(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], width: int, drop_order: Sequence[str]
) -> list[int]:
    """Indexes of the columns to show at terminal ``width``: the columns named in
    ``drop_order`` go, first to last, until the rest fit at their natural width (a table
    that drops a column reads better than one that squeezes them all)."""
    from rich.cells import cell_len

    def natural(i: int) -> int:
        texts = [headers[i], *(str(r[i]) for r in rows)]
        return max(cell_len(line) for text in texts for line in (text.split("\n") or [""]))

    keep = list(range(len(headers)))
    pending = [headers.index(h) for h in drop_order if h in headers]
    while pending and sum(natural(i) for i in keep) + 3 * (len(keep) - 1) > width:
        keep.remove(pending.pop(0))
    return keep


def make_table(
    columns: Sequence[Column | str],
    rows: Iterable[Sequence[RenderableType | None]],
    *,
    title: str | None = None,
    caption: str | None = None,
    show_header: bool = True,
) -> Table:
    """A compact rich ``Table`` (bold header, no outer box) with ``rows`` added.

    String cells are literal text, never rich markup (titles and labels are user
    content: ``[bug]`` must print as typed); pass a ``Text`` for styling. ``None`` cells
    print as empty. Plain strings in ``columns`` are columns with default settings.
    """
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(
        title=title,
        caption=caption,
        box=box.SIMPLE_HEAD,
        show_header=show_header,
        header_style="bold",
        pad_edge=False,
        show_edge=False,
        title_justify="left",
        caption_justify="left",
        expand=False,
    )
    for col in columns:
        c = Column(col) if isinstance(col, str) else col
        table.add_column(
            c.header,
            style=c.style,
            justify=c.justify,
            no_wrap=c.no_wrap,
            overflow=c.overflow,
            min_width=c.min_width,
            max_width=c.max_width,
            ratio=c.ratio,
        )
    for row in rows:
        table.add_row(
            *(
                Text("") if cell is None else Text(cell) if isinstance(cell, str) else cell
                for cell in row
            )
        )
    return table


def print_hints(console: Console, hints: Iterable[str]) -> None:
    """Each hint on its own dim ``hint:`` line."""
    from rich.text import Text

    for hint in hints:
        console.print(Text(f"hint: {hint}", style="dim"))
