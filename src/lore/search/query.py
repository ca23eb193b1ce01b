"""Turning user text into an FTS5 query that can never be a syntax error.

FTS5 gives meaning to ``"``, ``*``, ``-``, ``:``, ``(``, ``)``, ``^``, ``+`` and to the
bare words ``AND``, ``OR``, ``NOT`` and ``NEAR``. The query built here contains only
double-quoted strings made of word characters (so no quote can be unbalanced and no
keyword is live) joined by operators this module writes itself. What users get:

- words are all required (``login timeout``), each matched through the porter stemmer;
- ``"a phrase"`` in balanced quotes is matched as a phrase;
- ``word*`` is a prefix search;
- ``-word`` excludes (only when something positive remains);
- anything else (``foo-bar``, ``a:b``, ``(x)``) is matched as the words it contains.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lore.core.errors import ErrorCode, LoreError

_WORD_RE = re.compile(r"\w+")
_PHRASE_RE = re.compile(r'"([^"]*)"')
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class FtsQuery:
    """A sanitised query: ``all_terms`` requires every term, ``any_terms`` any one of them
    (the fallback when nothing has them all). None when there is nothing to search for."""

    all_terms: str
    any_terms: str | None
    terms: tuple[str, ...]


def _quoted(words: list[str]) -> str:
    # Word characters only, so nothing inside the quotes can be FTS5 syntax.
    return '"' + " ".join(words) + '"'


def _term(raw: str) -> tuple[str, bool] | None:
    """One user word as a quoted FTS5 term, and whether it is negated."""
    negated = raw.startswith("-") and len(raw) > 1
    body = raw[1:] if negated else raw
    words = _WORD_RE.findall(body)
    if not words:
        return None
    prefix = body.endswith("*") and len(words) == 1
    return _quoted(words) + ("*" if prefix else ""), negated


def require_query(text: str) -> str:
    """The query stripped, with undecodable bytes (which the command line hands over as
    lone surrogates) replaced by U+FFFD; USAGE_ERROR when it is empty."""
    query = _SURROGATE_RE.sub("\ufffd", text or "").strip()
    if not query:
        raise LoreError(
            ErrorCode.USAGE_ERROR,
            "the search query is empty",
            suggestion='Give some words to search for, e.g. lore search "login timeout"',
        )
    return query


def build_fts_query(text: str) -> FtsQuery | None:
    """A safe FTS5 MATCH expression for ``text`` (None when it has no searchable word)."""
    positives: list[str] = []
    negatives: list[str] = []
    rest = text
    # Balanced "..." groups are phrases; a lone quote is just a character.
    for phrase in _PHRASE_RE.findall(text):
        words = _WORD_RE.findall(phrase)
        if words:
            positives.append(_quoted(words))
    rest = _PHRASE_RE.sub(" ", text)
    for raw in rest.split():
        term = _term(raw)
        if term is None:
            continue
        quoted, negated = term
        (negatives if negated else positives).append(quoted)
    # Deduplicate, keeping the user's order.
    positives = list(dict.fromkeys(positives))
    negatives = [n for n in dict.fromkeys(negatives) if n not in positives]
    if not positives:
        # Nothing positive to match: "-foo" alone means "foo" to a search box user.
        positives, negatives = [n.rstrip("*") for n in negatives], []
        positives = list(dict.fromkeys(positives))
        if not positives:
            return None
    exclude = "".join(f" NOT {n}" for n in negatives)
    all_terms = (f"({' '.join(positives)})" if negatives else " ".join(positives)) + exclude
    any_terms = None
    if len(positives) > 1:
        any_terms = f"({' OR '.join(positives)})" + exclude if negatives else " OR ".join(positives)
    return FtsQuery(all_terms=all_terms, any_terms=any_terms, terms=tuple(positives))
