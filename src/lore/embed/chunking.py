"""Splitting long documents into chunks for embedding.

Chunks break on paragraph boundaries, then sentences, then words, and each chunk after
the first starts with a short overlap from the end of the previous one so that a
thought cut in two is still found. Packing is greedy from the start, so appending text
(a new note) leaves every earlier chunk byte-identical and its embedding is reused.
"""

from __future__ import annotations

import hashlib
import re

_PARAGRAPH_RE = re.compile(r"\n[ \t]*\n+")
_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+")
_SENTENCE_END_RE = re.compile(r"[.!?]\s+")


def document_text(title: str, body: str) -> str:
    """The text of a stored document that gets chunked and embedded."""
    return f"{title}\n\n{body}"


def default_overlap(max_chars: int) -> int:
    """About a tenth of a chunk, at most 200 characters."""
    return min(200, max_chars // 10)


def chunk_hash(text: str) -> str:
    """The content hash that decides whether a chunk must be embedded again."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _split_words(text: str, limit: int) -> list[str]:
    """Pieces of at most ``limit`` characters, cut at whitespace when there is any."""
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind(" ", 0, limit + 1)
        if cut <= 0:
            cut = limit  # one enormous token (a URL, a base64 blob): cut it hard
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def _units(text: str, limit: int) -> list[tuple[str, bool]]:
    """(unit, starts_paragraph) pairs, each unit at most ``limit`` characters."""
    out: list[tuple[str, bool]] = []
    for paragraph in _PARAGRAPH_RE.split(text):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        if len(paragraph) <= limit:
            out.append((paragraph, True))
            continue
        first = True
        for sentence in _SENTENCE_RE.split(paragraph):
            for piece in _split_words(sentence.strip(), limit):
                out.append((piece, first))
                first = False
    return out


def _overlap_tail(chunk: str, overlap_chars: int) -> str:
    """The end of ``chunk`` (at most ``overlap_chars``), starting at a sentence or word."""
    if overlap_chars <= 0 or not chunk:
        return ""
    tail = chunk[-overlap_chars:]
    if len(tail) == len(chunk):
        return ""  # the whole chunk: repeating it all would not be an overlap
    match = _SENTENCE_END_RE.search(tail)
    if match is not None and match.end() < len(tail):
        return tail[match.end() :].strip()
    space = tail.find(" ")
    return tail[space + 1 :].strip() if space >= 0 else ""


def chunk_text(text: str, max_chars: int, overlap_chars: int | None = None) -> list[str]:
    """Split ``text`` into chunks of at most ``max_chars`` characters (an empty text gives
    no chunks; a short one gives itself)."""
    text = text.strip()
    if not text:
        return []
    if len(text) <= max_chars:
        return [text]
    overlap = default_overlap(max_chars) if overlap_chars is None else max(0, overlap_chars)
    overlap = min(overlap, max_chars // 2)
    unit_limit = max(1, max_chars - overlap - 2)  # room for the overlap and a separator
    chunks: list[str] = []
    current = ""
    for unit, new_paragraph in _units(text, unit_limit):
        separator = "\n\n" if new_paragraph else " "
        if not current:
            current = unit
        elif len(current) + len(separator) + len(unit) <= max_chars:
            current = current + separator + unit
        else:
            chunks.append(current)
            tail = _overlap_tail(current, overlap)
            current = f"{tail}{separator}{unit}" if tail else unit
    if current:
        chunks.append(current)
    return chunks
