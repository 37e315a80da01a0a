"""The bytes of an Arrow text column, read from its buffers.

Several readers and checks ask questions of every cell of a text column (its byte length, its first and last byte,
how many of its bytes are digits): answered from the column's Arrow buffers with numpy, they make no Python string
per cell. This module gives those buffers; it sits in the base layer so that readers (``ingest``) and normalizing
(``normalize``) share it.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def string_buffers(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, bytes) of a string or large_string array, read from its Arrow buffers without a copy: cell ``i`` is
    ``data[offsets[i]:offsets[i + 1]]`` (an array without data bytes gives an empty ``data``)."""
    buffers = array.buffers()
    width = np.int64 if pa.types.is_large_string(array.type) else np.int32
    offsets: np.ndarray = np.frombuffer(
        buffers[1], dtype=width, count=len(array) + 1, offset=array.offset * width().itemsize
    )
    data = np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None else np.zeros(0, dtype=np.uint8)
    return offsets, data
