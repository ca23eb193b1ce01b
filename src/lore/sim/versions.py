"""Which GitLab the simulator pretends to be (``--gitlab-version``).

A version is ``MAJOR.MINOR`` with an optional edition suffix: ``15.6``, ``16.11``,
``17.5-ee``, ``18.0-ee``, ``18.5-ce``. Without a suffix the build is CE, as GitLab's own
``/version`` says (``16.11.0`` for CE, ``16.11.0-ee`` for EE). Every version-dependent
behaviour of the simulator asks this object (``at_least``, ``ee``) instead of comparing
strings, so "what changed when" lives next to the behaviour it changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: The versions the test matrix covers; any other MAJOR.MINOR in range is accepted too.
KNOWN_VERSIONS = ("15.6", "16.11", "17.5-ee", "17.10-ee", "18.0-ee", "18.5-ee", "18.5-ce")
DEFAULT_VERSION = "18.5-ee"

_VERSION_RE = re.compile(r"^(\d{1,2})\.(\d{1,2})(?:\.(\d{1,3}))?(?:-(ee|ce))?$", re.I)


@dataclass(frozen=True, slots=True)
class GitLabVersion:
    major: int
    minor: int
    patch: int = 0
    ee: bool = False

    @classmethod
    def parse(cls, text: str) -> GitLabVersion:
        """``"17.10-ee"`` → GitLabVersion(17, 10, 0, ee=True). ValueError names the problem."""
        match = _VERSION_RE.match(str(text).strip())
        if match is None:
            raise ValueError(
                f"gitlab version {text!r} is not MAJOR.MINOR[-ee|-ce] "
                f"(known: {', '.join(KNOWN_VERSIONS)})"
            )
        major, minor = int(match.group(1)), int(match.group(2))
        if not 15 <= major <= 18:
            raise ValueError(f"gitlab version {text!r}: the simulator models 15.x to 18.x")
        return cls(major, minor, int(match.group(3) or 0), (match.group(4) or "").lower() == "ee")

    def at_least(self, major: int, minor: int) -> bool:
        return (self.major, self.minor) >= (major, minor)

    @property
    def edition(self) -> str:
        return "ee" if self.ee else "ce"

    @property
    def version_string(self) -> str:
        """What ``GET /api/v4/version`` answers in ``version``."""
        base = f"{self.major}.{self.minor}.{self.patch}"
        return base + "-ee" if self.ee else base

    @property
    def label(self) -> str:
        return f"{self.major}.{self.minor}-{self.edition}"

    def __str__(self) -> str:
        return self.label
