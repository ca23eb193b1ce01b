"""Text for the generated dataset: titles, markdown descriptions with code blocks and
stack traces, review comments, and unified diffs that look like real code.

Everything draws from one ``random.Random`` so the output is deterministic per seed.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from lore.sim import vocab as V

_VARS = (
    "result",
    "session",
    "payload",
    "rows",
    "user",
    "token",
    "response",
    "items",
    "cfg",
    "page",
    "entry",
    "batch",
)
_ARGS = ("user_id", "request", "options", "limit", "payload", "project_id", "timeout", "key")
_ATTRS = ("id", "name", "status", "created_at", "owner", "expires_at", "count", "label")
_ERRS = ("ValueError", "PermissionError", "TimeoutError", "ConflictError", "NotFoundError")
_MSGS = (
    "invalid state",
    "request timed out",
    "missing field",
    "retry budget exhausted",
    "permission denied",
    "unexpected response",
    "stale cursor",
    "duplicate key",
)
_TYPES = ("Client", "Service", "Store", "Handler", "Options", "Config")

_CODE: dict[str, tuple[str, ...]] = {
    "python": (
        "def {func}(self, {arg}):",
        "    {var} = self.{func}({arg})",
        "    if {var} is None:",
        '        raise {err}("{msg}")',
        "    return {var}",
        '    logger.info("{msg}", extra={{"{arg}": {arg}}})',
        "    for entry in {var}:",
        "        {var}.append(entry.{attr})",
        "@retry(attempts=3, backoff={n}.0)",
        "    timeout_seconds = {n}",
        "from .{stem} import {func}",
        '    assert {var} is not None, "{msg}"',
        "    with db.transaction():",
        "        {var} = await {func}({arg}={arg})",
        "    # {msg}: keep in sync with {stem}",
        "    {var}.{attr} = {arg}",
    ),
    "typescript": (
        "export function {func}({arg}: {typ}) {{",
        "  const {var} = await {func}({arg});",
        "  if (!{var}) return null;",
        "  return {{ ...{var}, {attr}: {arg} }};",
        "import {{ {func} }} from './{stem}';",
        "  useEffect(() => {{ {func}({arg}); }}, [{arg}]);",
        "  throw new Error('{msg}');",
        "  const timeoutMs = {n}000;",
        "}}",
        "  // {msg}",
        "  {var}.{attr} = {arg} ?? {var}.{attr};",
        "  logger.debug('{msg}', {{ {arg} }});",
    ),
    "go": (
        "func (c *{typ}) {Func}(ctx context.Context, {arg} string) error {{",
        "\t{var}, err := c.{func}(ctx, {arg})",
        "\tif err != nil {{",
        '\t\treturn fmt.Errorf("{msg}: %w", err)',
        "\t}}",
        "\treturn nil",
        "\ttimeout := {n} * time.Second",
        '\tlog.Debug().Str("{arg}", {arg}).Msg("{msg}")',
        "\t// {msg}",
        "\t{var}.{Attr} = {arg}",
    ),
    "markdown": (
        "## {Thing}",
        "See `{func}` for details.",
        "- {thing} now handles {condition}",
        "",
        "The {thing} is configured in `{stem}`.",
        "> **Note:** {msg}.",
    ),
    "yaml": (
        "  {arg}: {n}",
        "  - {func}",
        "{stem}:",
        "  image: registry.example.com/acme/{stem}:{n}.{n2}",
        "  script: make {stem}",
    ),
}


def _lang_of(path: str, default: str) -> str:
    if path.endswith(".md"):
        return "markdown"
    if path.endswith(
        (".yml", ".yaml", ".toml", ".lock", ".json", ".sum", ".mod", "Makefile", "Dockerfile")
    ):
        return "yaml"
    if path.endswith(".py"):
        return "python"
    if path.endswith((".ts", ".tsx")):
        return "typescript"
    if path.endswith(".go"):
        return "go"
    if path.endswith((".scss", ".css")):
        return "typescript"
    return default


class TextGen:
    """Deterministic text generator bound to one ``random.Random``."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        # Pools of generated code lines per (language, function): diffs draw from them,
        # which keeps large datasets fast while the text stays area-specific.
        self._line_pools: dict[tuple[str, str, str], list[str]] = {}

    def randint(self, lo: int, hi: int) -> int:
        return lo + int(self.rng.random() * (hi - lo + 1))

    def pick(self, seq: Sequence[str]) -> str:
        """``random.choice`` without its overhead (same determinism)."""
        return seq[int(self.rng.random() * len(seq))]

    # --- slots --------------------------------------------------------------------------

    def context(
        self, vocab: V.AreaVocab, files: Sequence[str], usernames: Sequence[str]
    ) -> dict[str, str]:
        """Slot values for one item: the thing it is about, a file, a function..."""
        thing = self.pick(vocab.things)
        return {
            "thing": thing,
            "Thing": thing[0].upper() + thing[1:],
            "file": self.pick(files) if files else "README.md",
            "func": self.pick(vocab.funcs),
            "condition": self.pick(V.CONDITIONS),
            "event": self.pick(V.EVENTS),
            "feature": self.pick(V.FEATURES),
            "setting": self.pick(V.SETTINGS),
            "version": self.pick(V.VERSIONS),
            "user": self.pick(usernames) if usernames else "root",
        }

    # --- titles and prose ---------------------------------------------------------------

    def issue_title(self, kind: str, ctx: dict[str, str]) -> str:
        pool = (
            V.BUG_TITLES
            if kind in ("bug", "support")
            else V.FEATURE_TITLES
            if kind in ("feature", "enhancement")
            else V.CHORE_TITLES
        )
        return self.pick(pool).format(**ctx)

    def mr_title(self, ctx: dict[str, str]) -> str:
        return self.pick(V.MR_TITLES).format(**ctx)

    def sentences(self, ctx: dict[str, str], count: int) -> str:
        return " ".join(self.pick(V.SENTENCES).format(**ctx) for _ in range(count))

    def stack_trace(
        self, language: str, ctx: dict[str, str], vocab: V.AreaVocab, files: Sequence[str]
    ) -> str:
        """A plausible stack trace pointing into the project's own files."""
        frames = [self.pick(files) if files else ctx["file"] for _ in range(self.randint(2, 4))]
        funcs = [self.pick(vocab.funcs) for _ in frames]
        if language == "python":
            lines = ["Traceback (most recent call last):"]
            for path, func in zip(frames, funcs, strict=True):
                lines.append(f'  File "/app/{path}", line {self.randint(12, 480)}, in {func}')
                lines.append(f"    {self.pick(_VARS)} = {func}({self.pick(_ARGS)})")
            lines.append(f"{self.pick(_ERRS)}: {self.pick(_MSGS)}")
            return "\n".join(lines)
        if language == "go":
            lines = [
                "panic: runtime error: invalid memory address or nil pointer dereference",
                "[signal SIGSEGV: segmentation violation code=0x1 addr=0x18 pc=0x6d1f2a]",
                "",
                "goroutine 1 [running]:",
            ]
            for path, func in zip(frames, funcs, strict=True):
                pkg = path.rsplit("/", 2)[-2] if "/" in path else "main"
                lines.append(f"acme/{pkg}.(*{self.pick(_TYPES)}).{func}(...)")
                lines.append(
                    f"\t/build/{path}:{self.randint(12, 480)} +0x{self.randint(16, 4095):x}"
                )
            return "\n".join(lines)
        lines = [f"TypeError: Cannot read properties of undefined (reading '{self.pick(_ATTRS)}')"]
        for path, func in zip(frames, funcs, strict=True):
            lines.append(f"    at {func} ({path}:{self.randint(5, 300)}:{self.randint(3, 40)})")
        return "\n".join(lines)

    def code_snippet(self, language: str, ctx: dict[str, str], lines: int = 5) -> str:
        body = "\n".join(self.code_line(language, ctx) for _ in range(lines))
        fence = {"python": "python", "typescript": "typescript", "go": "go"}.get(language, "")
        return f"```{fence}\n{body}\n```"

    def pooled_line(self, language: str, ctx: dict[str, str]) -> str:
        """A code line from a cached pool for this language and item context."""
        key = (language, ctx["func"], "")
        pool = self._line_pools.get(key)
        if pool is None:
            pool = [self.code_line(language, ctx) for _ in range(64)]
            self._line_pools[key] = pool
        return pool[int(self.rng.random() * 64)]

    def code_line(self, language: str, ctx: dict[str, str]) -> str:
        r = self.rng
        func = ctx["func"] if r.random() < 0.5 else self.pick(_VARS) + "_" + self.pick(_ATTRS)
        stem = ctx["file"].rsplit("/", 1)[-1].split(".", 1)[0]
        attr = self.pick(_ATTRS)
        return self.pick(_CODE.get(language, _CODE["python"])).format(
            func=func,
            Func=func[:1].upper() + func[1:],
            var=self.pick(_VARS),
            arg=self.pick(_ARGS),
            attr=attr,
            Attr=attr.title().replace("_", ""),
            err=self.pick(_ERRS),
            msg=self.pick(_MSGS),
            n=self.randint(2, 60),
            n2=self.randint(0, 9),
            stem=stem,
            typ=self.pick(_TYPES),
            thing=ctx["thing"],
            Thing=ctx["Thing"],
            condition=ctx["condition"],
        )

    def issue_description(
        self,
        kind: str,
        language: str,
        ctx: dict[str, str],
        vocab: V.AreaVocab,
        files: Sequence[str],
    ) -> str:
        r = self.rng
        parts: list[str] = []
        if kind in ("bug", "support"):
            parts.append("## Summary\n\n" + self.sentences(ctx, self.randint(1, 3)))
            parts.append(
                "## Steps to reproduce\n\n1. Sign in as a regular user\n"
                f"2. Open the {ctx['thing']} page\n3. Wait until {ctx['condition']}"
            )
            parts.append(
                "## What is the current *bug* behavior?\n\n"
                f"`{ctx['func']}()` raises instead of returning an empty result."
            )
            if r.random() < 0.7:
                parts.append(
                    "## Relevant logs and/or screenshots\n\n```\n"
                    + self.stack_trace(language, ctx, vocab, files)
                    + "\n```"
                )
            parts.append(
                "## Possible fixes\n\n"
                + self.sentences(ctx, 1)
                + f"\n\nProbably in `{ctx['file']}`."
            )
        elif kind in ("feature", "enhancement"):
            parts.append("### Problem to solve\n\n" + self.sentences(ctx, self.randint(1, 3)))
            parts.append(
                f"### Proposal\n\nAdd {ctx['feature']} to {ctx['thing']}. " + self.sentences(ctx, 1)
            )
            if r.random() < 0.5:
                parts.append(
                    "Something like:\n\n" + self.code_snippet(language, ctx, self.randint(3, 7))
                )
            parts.append(
                "### Acceptance criteria\n\n- [ ] documented\n- [x] behind a flag\n"
                "- [ ] covered by tests"
            )
        else:
            parts.append(self.sentences(ctx, self.randint(2, 4)))
            if r.random() < 0.4:
                parts.append(self.code_snippet(language, ctx, self.randint(2, 5)))
        return "\n\n".join(parts)

    def mr_description(self, ctx: dict[str, str], closes_iid: int | None) -> str:
        parts = ["## What does this MR do and why?\n\n" + self.sentences(ctx, self.randint(1, 2))]
        if closes_iid is not None:
            parts.append(f"Closes #{closes_iid}")
        parts.append(
            "## How to set up and validate locally\n\n1. Run `make test`\n"
            f"2. Exercise the {ctx['thing']} flow"
        )
        parts.append("## MR acceptance checklist\n\n- [x] Tests added\n- [ ] Docs updated")
        return "\n\n".join(parts)

    def review_comment(self, ctx: dict[str, str], language: str) -> str:
        r = self.rng
        text = self.pick(V.REVIEW_COMMENTS).format(**ctx)
        if r.random() < 0.15:
            text += "\n\n```suggestion:-0+0\n" + self.code_line(language, ctx) + "\n```"
        return text

    def reply(self, ctx: dict[str, str]) -> str:
        return self.pick(V.REPLIES).format(**ctx)

    def mr_comment(self, ctx: dict[str, str]) -> str:
        return self.pick(V.GENERAL_MR_COMMENTS).format(**ctx)

    def issue_comment(
        self, ctx: dict[str, str], language: str, vocab: V.AreaVocab, files: Sequence[str]
    ) -> str:
        r = self.rng
        text = self.pick(V.ISSUE_COMMENTS).format(**ctx)
        roll = r.random()
        if text.endswith(":") or roll < 0.08:
            text += "\n\n" + self.code_snippet(language, ctx, self.randint(2, 5))
        elif roll < 0.16:
            text += "\n\n```\n" + self.stack_trace(language, ctx, vocab, files) + "\n```"
        elif roll < 0.5:
            text += " " + self.sentences(ctx, 1)
        return text

    # --- diffs --------------------------------------------------------------------------

    def diff(
        self, path: str, language: str, ctx: dict[str, str], mode: str
    ) -> tuple[str, list[tuple[int | None, int | None]]]:
        """A unified diff body for one file and the (old_line, new_line) anchors in it.

        ``mode`` is "modify", "new", "delete" or "rename".
        """
        r = self.rng
        lang = _lang_of(path, language)
        local = dict(ctx)
        local["file"] = path
        line = self.pooled_line
        anchors: list[tuple[int | None, int | None]] = []
        out: list[str] = []
        if mode == "new":
            count = self.randint(5, 30)
            out.append(f"@@ -0,0 +1,{count} @@")
            for i in range(1, count + 1):
                out.append("+" + line(lang, local))
                anchors.append((None, i))
            return "\n".join(out) + "\n", anchors
        if mode == "delete":
            count = self.randint(5, 25)
            out.append(f"@@ -1,{count} +0,0 @@")
            for i in range(1, count + 1):
                out.append("-" + line(lang, local))
                anchors.append((i, None))
            return "\n".join(out) + "\n", anchors
        if mode == "rename" and r.random() < 0.4:
            return "", anchors  # a pure rename has an empty diff, like GitLab's
        old_line = self.randint(1, 40)
        shift = 0
        for _ in range(self.randint(1, 3)):
            ctx_before = 3
            removed = self.randint(0, 3)
            added = self.randint(1 if removed == 0 else 0, 5)
            ctx_after = 3
            old_len = ctx_before + removed + ctx_after
            new_len = ctx_before + added + ctx_after
            new_line = old_line + shift
            header_fn = line(lang, local).strip()[:40]
            out.append(f"@@ -{old_line},{old_len} +{new_line},{new_len} @@ {header_fn}")
            o, n = old_line, new_line
            for _ in range(ctx_before):
                out.append(" " + line(lang, local))
                anchors.append((o, n))
                o += 1
                n += 1
            for _ in range(removed):
                out.append("-" + line(lang, local))
                anchors.append((o, None))
                o += 1
            for _ in range(added):
                out.append("+" + line(lang, local))
                anchors.append((None, n))
                n += 1
            for _ in range(ctx_after):
                out.append(" " + line(lang, local))
                anchors.append((o, n))
                o += 1
                n += 1
            shift += added - removed
            old_line = o + self.randint(5, 60)
        return "\n".join(out) + "\n", anchors

    def dependency_diff(
        self, path: str, language: str, dep: str, old: str, new: str
    ) -> tuple[str, list[tuple[int | None, int | None]]]:
        line = self.randint(5, 60)
        if language == "python":
            before, after = f'    "{dep}>={old}",', f'    "{dep}>={new}",'
        elif language == "typescript":
            before, after = f'    "{dep}": "^{old}",', f'    "{dep}": "^{new}",'
        else:
            before, after = f"\t{dep} v{old}", f"\t{dep} v{new}"
        text = f"@@ -{line},3 +{line},3 @@\n {before[:4]}\n-{before}\n+{after}\n {after[:4]}\n"
        return text, [(line, line), (line + 1, None), (None, line + 1), (line + 2, line + 2)]
