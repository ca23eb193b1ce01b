"""Expert scoring (`lore who`): time-decayed contributions to a path, or a person's areas.

Public API: :func:`who` (dispatch on ``@user``), :func:`who_path`, :func:`who_user`, and
:class:`~lore.who.params.WhoParams` with :func:`params_from_config` / :func:`apply_overrides`.
"""

from lore.who.params import KINDS, WhoParams, apply_overrides, params_from_config
from lore.who.query import who, who_path, who_user

__all__ = [
    "KINDS",
    "WhoParams",
    "apply_overrides",
    "params_from_config",
    "who",
    "who_path",
    "who_user",
]
