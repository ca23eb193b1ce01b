"""Vector encoding for the ``embeddings`` table: float32 little-endian, L2-normalised.

Imports numpy, so only embedding and semantic-search code imports this module.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FloatMatrix = npt.NDArray[np.float32]

_LE_F32 = np.dtype("<f4")


def normalize(vector: Sequence[float] | FloatMatrix) -> FloatMatrix:
    """The vector scaled to unit length (a zero vector stays zero)."""
    arr = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(arr))
    return arr / norm if norm > 0 else arr


def pack(vector: Sequence[float] | FloatMatrix) -> bytes:
    """L2-normalise and encode as float32 little-endian bytes."""
    return normalize(vector).astype(_LE_F32, copy=False).tobytes()


def unpack(blob: bytes) -> FloatMatrix:
    """Decode a stored vector."""
    return np.frombuffer(blob, dtype=_LE_F32).astype(np.float32, copy=False)
