"""The one small interface every embedding provider implements, and the factory that
builds the configured one.

Kept free of httpx and numpy so importing it costs nothing; the Ollama client is
imported only when a provider is actually built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from lore.core.config import EmbeddingConfig


@runtime_checkable
class EmbeddingProvider(Protocol):
    """Turns texts into vectors. Implementations raise ``LoreError(EMBEDDING_UNAVAILABLE)``
    when the backend cannot be reached or rejects the model."""

    @property
    def model(self) -> str:
        """The model name recorded next to every stored vector."""
        ...

    @property
    def dimension(self) -> int | None:
        """Vector length, known after the first successful call (None before)."""
        ...

    def embed(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order (not necessarily normalised)."""
        ...


def document_prefix(model: str) -> str:
    """Task prefix some models expect on documents (nomic-embed-text is trained with one)."""
    return "search_document: " if "nomic-embed" in model else ""


def query_prefix(model: str) -> str:
    """Task prefix some models expect on queries."""
    return "search_query: " if "nomic-embed" in model else ""


def make_provider(
    config: EmbeddingConfig, *, timeout_seconds: float | None = None
) -> EmbeddingProvider | None:
    """The configured provider, or None when ``provider`` is ``"none"``."""
    if config.provider == "none":
        return None
    from lore.embed.ollama import OllamaProvider

    if timeout_seconds is None:
        return OllamaProvider(config.base_url, config.model, batch_size=config.batch_size)
    return OllamaProvider(
        config.base_url, config.model, batch_size=config.batch_size, timeout_seconds=timeout_seconds
    )
