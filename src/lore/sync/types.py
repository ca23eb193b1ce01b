"""Plain data shared by the sync pipeline and its callers (the `sync` command and the
scheduled service)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

CORE_STAGES: tuple[str, ...] = ("issues", "mrs")
OPTIONAL_STAGES: tuple[str, ...] = ("docs", "embeddings")
ALL_STAGES: tuple[str, ...] = CORE_STAGES + OPTIONAL_STAGES


@dataclass
class StageResult:
    """What one stage did: the shape of LORE.md's stage result."""

    stage: str
    success: bool
    items_updated: int = 0
    error: str | None = None
    error_code: str | None = None
    retry_after_ms: int | None = None
    skipped: bool = False
    details: dict[str, Any] = field(default_factory=dict)
    #: The stage did its core job, but an enrichment failed or a resource was not
    #: available (work-item status, MRs disabled): the run is "degraded", not "failed".
    warning: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> StageResult:
        known = {k: raw[k] for k in cls.__dataclass_fields__ if k in raw}
        return cls(**known)


@dataclass
class SyncOptions:
    projects: list[str] | None = None  # None = every configured project
    docs: bool = True
    embed: bool = True
    full: bool = False


@dataclass
class SyncReport:
    stages: list[StageResult]
    requests: int = 0
    started_at: str = ""
    finished_at: str = ""
    duration_ms: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def outcome(self) -> str:
        """success | degraded (an optional stage failed, or a stage warned) | failed (a core
        stage failed)."""
        if any(s.stage in CORE_STAGES and not s.success for s in self.stages):
            return "failed"
        if all(s.success and not s.warning for s in self.stages):
            return "success"
        return "degraded"

    def first_core_failure(self) -> StageResult | None:
        for s in self.stages:
            if s.stage in CORE_STAGES and not s.success:
                return s
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "stages": [s.to_dict() for s in self.stages],
            "requests": self.requests,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration_ms": self.duration_ms,
            "counts": dict(self.counts),
        }
