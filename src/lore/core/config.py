"""The config file: typed model, validation with errors that name the key, load and save.

JSON, camelCase keys (see LORE.md). The token itself is never stored here, only the
name of the environment variable that holds it.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import msgspec

from lore.core.errors import ErrorCode, LoreError

_ENV_VAR_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Base(msgspec.Struct, rename="camel", forbid_unknown_fields=True, omit_defaults=False):
    pass


class GitLabConfig(_Base):
    base_url: str
    token_env_var: str = "GITLAB_TOKEN"
    #: PEM file of the CA(s) that signed GitLab's certificate (a corporate CA); added to
    #: the trust store, it wins over SSL_CERT_FILE / REQUESTS_CA_BUNDLE.
    ca_bundle: str | None = None
    #: false turns certificate checks off (loud warning); only for a lab instance.
    tls_verify: bool = True


class ProjectConfig(_Base):
    path: str


class EmbeddingConfig(_Base):
    provider: Literal["ollama", "none"] = "ollama"
    base_url: str = "http://127.0.0.1:11434"
    model: str = "nomic-embed-text"
    batch_size: int = 32
    chunk_chars: int = 2000


class SyncConfig(_Base):
    concurrency: int = 8
    stale_lock_minutes: int = 30
    cursor_overlap_seconds: int = 120
    max_retries: int = 5
    timeout_seconds: float = 30.0
    work_item_page_size: int = 100
    #: Children of changed items through GraphQL, 100 a request, where the instance can
    #: ("auto"); "off": one REST request per issue, two per MR.
    graphql_children: Literal["auto", "off"] = "auto"
    #: "exact": stored notes identical to REST's (GraphQL finds the unchanged items, REST
    #: reads the rest); "graphql": notes from GraphQL alone (whole-second timestamps, no
    #: multi-line range, derived note types).
    note_detail: Literal["exact", "graphql"] = "exact"
    #: "full": MR files as REST lists them (read again when diffStats changes); "paths":
    #: from diffStats alone (no rename/new/deleted flags, no old path of a rename).
    mr_file_detail: Literal["full", "paths"] = "full"


class WhoWeights(_Base):
    authored_merged: float = 1.0
    authored_unmerged: float = 0.4
    reviewed: float = 0.6
    discussed: float = 0.2
    approved: float = 0.5


class WhoConfig(_Base):
    curve: Literal["exponential", "linear", "none"] = "exponential"
    half_life_days: float = 180.0
    window_days: float = 730.0
    stale_days: float = 365.0
    weights: WhoWeights = msgspec.field(default_factory=WhoWeights)
    bot_patterns: list[str] = msgspec.field(
        default_factory=lambda: ["bot", "[bot]", "ghost", "project_*_bot*"]
    )


class Config(_Base):
    gitlab: GitLabConfig
    projects: list[ProjectConfig]
    embedding: EmbeddingConfig = msgspec.field(default_factory=EmbeddingConfig)
    sync: SyncConfig = msgspec.field(default_factory=SyncConfig)
    who: WhoConfig = msgspec.field(default_factory=WhoConfig)

    @property
    def base_url(self) -> str:
        return self.gitlab.base_url.rstrip("/")

    @property
    def project_paths(self) -> list[str]:
        return [p.path for p in self.projects]

    def token(self) -> str:
        """The GitLab token from the environment; TOKEN_NOT_SET if unset or empty."""
        var = self.gitlab.token_env_var
        value = os.environ.get(var, "")
        if not value.strip():
            raise LoreError(
                ErrorCode.TOKEN_NOT_SET,
                f"environment variable {var} is {'empty' if var in os.environ else 'not set'}",
                suggestion=f"export {var}=<your GitLab personal access token> (scope: read_api)",
                actions=[f"export {var}=..."],
            )
        return value.strip()

    def to_dict(self) -> dict[str, Any]:
        return msgspec.to_builtins(self)  # type: ignore[no-any-return,unused-ignore]


# -- validation ---------------------------------------------------------------------------

_FIELD_CACHE: dict[str, list[str]] = {}


def _known_keys(section: str) -> list[str]:
    structs: dict[str, type[msgspec.Struct]] = {
        "": Config,
        "gitlab": GitLabConfig,
        "projects[]": ProjectConfig,
        "embedding": EmbeddingConfig,
        "sync": SyncConfig,
        "who": WhoConfig,
        "who.weights": WhoWeights,
    }
    cls = structs.get(section)
    if cls is None:
        return []
    if section not in _FIELD_CACHE:
        _FIELD_CACHE[section] = list(cls.__struct_encode_fields__)
    return _FIELD_CACHE[section]


def _key_from_path(path: str) -> str:
    # msgspec paths look like "$.sync.concurrency" or "$.projects[0].path"
    key = path.removeprefix("$").removeprefix(".")
    return key or "(root)"


def _invalid(message: str, key: str | None = None) -> LoreError:
    details = {"key": key} if key else None
    return LoreError(
        ErrorCode.CONFIG_INVALID,
        message,
        suggestion="Fix the config file, or rewrite it with: lore init --force",
        actions=["lore init --force"],
        details=details,
    )


def _translate(err: msgspec.ValidationError) -> LoreError:
    text = str(err)
    m = re.match(r"^(.*?)(?: - at `(\$[^`]*)`)?$", text, re.S)
    reason, path = (m.group(1), m.group(2)) if m else (text, None)
    key = _key_from_path(path) if path else "(root)"
    unknown = re.match(r"Object contains unknown field `([^`]+)`", reason)
    if unknown:
        field = unknown.group(1)
        section = re.sub(r"\[\d+\]", "[]", key) if key != "(root)" else ""
        full = f"{key}.{field}" if key != "(root)" else field
        import difflib  # only on an error path

        close = difflib.get_close_matches(field, _known_keys(section), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return _invalid(f"config key {full!r}: unknown key{hint}", full)
    missing = re.match(r"Object missing required field `([^`]+)`", reason)
    if missing:
        full = f"{key}.{missing.group(1)}" if key != "(root)" else missing.group(1)
        return _invalid(f"config key {full!r}: required but missing", full)
    if reason.startswith("Invalid enum value") and key in _CHOICES:
        choices = ", ".join(repr(c) for c in _CHOICES[key])
        return _invalid(f"config key {key!r}: {reason} (expected one of {choices})", key)
    return _invalid(f"config key {key!r}: {reason}", key)


#: The allowed values of the string-choice keys, named in their error.
_CHOICES: dict[str, tuple[str, ...]] = {
    "embedding.provider": ("ollama", "none"),
    "sync.graphqlChildren": ("auto", "off"),
    "sync.noteDetail": ("exact", "graphql"),
    "sync.mrFileDetail": ("full", "paths"),
}


def _check_url(url: str, key: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _invalid(f"config key {key!r}: {url!r} is not an http(s) URL", key)


def _check_ca_bundle(cfg: Config, base_dir: Path | None) -> None:
    """``gitlab.caBundle``: ``~`` expanded, relative to the config file's folder, and it
    must be a readable file (a typo here would otherwise surface as a TLS error)."""
    value = cfg.gitlab.ca_bundle
    if value is None:
        return
    key = "gitlab.caBundle"
    if not value.strip():
        raise _invalid(f"config key {key!r}: empty path (remove the key or name a PEM file)", key)
    path = Path(value.strip()).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "does not exist"
        raise _invalid(f"config key {key!r}: CA bundle {str(path)!r} {what}", key)
    if not os.access(path, os.R_OK):
        raise _invalid(f"config key {key!r}: CA bundle {str(path)!r} is not readable", key)
    cfg.gitlab.ca_bundle = str(path.resolve())


def validate(raw: Any, base_dir: Path | None = None) -> Config:
    """Turn parsed JSON into a :class:`Config` or raise CONFIG_INVALID naming the key.

    ``base_dir`` is where relative paths in the config (``gitlab.caBundle``) start from:
    the config file's folder when loading a file, else the working directory."""
    if not isinstance(raw, dict):
        raise _invalid("config must be a JSON object", "(root)")
    try:
        cfg = msgspec.convert(raw, Config)
    except msgspec.ValidationError as exc:
        raise _translate(exc) from None
    _check_url(cfg.gitlab.base_url, "gitlab.baseUrl")
    _check_ca_bundle(cfg, base_dir)
    if not _ENV_VAR_RE.match(cfg.gitlab.token_env_var):
        raise _invalid(
            f"config key 'gitlab.tokenEnvVar': {cfg.gitlab.token_env_var!r} is not a valid "
            "environment variable name",
            "gitlab.tokenEnvVar",
        )
    if not cfg.projects:
        raise _invalid("config key 'projects': must list at least one project", "projects")
    seen: set[str] = set()
    for i, project in enumerate(cfg.projects):
        path = project.path.strip().strip("/")
        if not path or "/" not in path or any(not part for part in path.split("/")):
            raise _invalid(
                f"config key 'projects[{i}].path': {project.path!r} is not a project path "
                "like 'group/repo'",
                f"projects[{i}].path",
            )
        if path in seen:
            raise _invalid(
                f"config key 'projects[{i}].path': {path!r} is listed twice", f"projects[{i}].path"
            )
        seen.add(path)
        project.path = path
    _check_url(cfg.embedding.base_url, "embedding.baseUrl")
    checks: list[tuple[str, float, float, float]] = [
        ("sync.concurrency", cfg.sync.concurrency, 1, 64),
        ("sync.staleLockMinutes", cfg.sync.stale_lock_minutes, 1, 10_000),
        ("sync.cursorOverlapSeconds", cfg.sync.cursor_overlap_seconds, 0, 86_400),
        ("sync.maxRetries", cfg.sync.max_retries, 0, 20),
        ("sync.timeoutSeconds", cfg.sync.timeout_seconds, 1, 600),
        ("sync.workItemPageSize", cfg.sync.work_item_page_size, 1, 100),
        ("embedding.batchSize", cfg.embedding.batch_size, 1, 1024),
        ("embedding.chunkChars", cfg.embedding.chunk_chars, 200, 100_000),
        ("who.halfLifeDays", cfg.who.half_life_days, 0.001, 100_000),
        ("who.windowDays", cfg.who.window_days, 0.001, 100_000),
        ("who.staleDays", cfg.who.stale_days, 0, 100_000),
    ]
    for key, value, low, high in checks:
        if not (low <= value <= high):
            raise _invalid(f"config key {key!r}: {value} is outside {low:g}..{high:g}", key)
    for name, weight in msgspec.structs.asdict(cfg.who.weights).items():
        if weight < 0:
            raise _invalid(
                f"config key 'who.weights.{name}': must not be negative", f"who.weights.{name}"
            )
    return cfg


def parse(text: str, source: str = "config", base_dir: Path | None = None) -> Config:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LoreError(
            ErrorCode.CONFIG_INVALID,
            f"{source} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            suggestion="Fix the JSON syntax, or rewrite the file with: lore init --force",
            actions=["lore init --force"],
            details={"line": exc.lineno, "column": exc.colno},
        ) from None
    return validate(raw, base_dir)


def load(path: Path) -> Config:
    """Read and validate the config at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LoreError(
            ErrorCode.CONFIG_NOT_FOUND,
            f"no config file at {path}",
            suggestion="Create one with: lore init --url https://gitlab.example.com --project group/repo",
            actions=["lore init"],
        ) from None
    except IsADirectoryError:
        raise LoreError(
            ErrorCode.CONFIG_INVALID,
            f"config path {path} is a directory, not a file",
            suggestion="Point --config or LORE_CONFIG_PATH at a JSON file",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LoreError(
            ErrorCode.CONFIG_INVALID,
            f"cannot read config {path}: {exc}",
            suggestion="Check the file's permissions and encoding (UTF-8)",
        ) from None
    return parse(text, source=str(path), base_dir=path.parent)


def build(
    base_url: str,
    projects: list[str],
    token_env_var: str = "GITLAB_TOKEN",
    extra: dict[str, Any] | None = None,
    *,
    ca_bundle: str | None = None,
    tls_verify: bool = True,
) -> Config:
    gitlab: dict[str, Any] = {"baseUrl": base_url.rstrip("/"), "tokenEnvVar": token_env_var}
    if ca_bundle is not None:
        gitlab["caBundle"] = ca_bundle
    if not tls_verify:
        gitlab["tlsVerify"] = False
    raw: dict[str, Any] = {"gitlab": gitlab, "projects": [{"path": p} for p in projects]}
    if extra:
        raw.update(extra)
    return validate(raw)


def dumps(cfg: Config) -> str:
    """The config as the file stores it; the TLS keys only when they are not the defaults."""
    data = cfg.to_dict()
    gitlab = data["gitlab"]
    if gitlab.get("caBundle") is None:
        gitlab.pop("caBundle", None)
    if gitlab.get("tlsVerify") is True:
        gitlab.pop("tlsVerify", None)
    return json.dumps(data, indent=2) + "\n"
