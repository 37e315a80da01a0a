"""Caps that protect the machine from hostile or broken inputs (gzip and zip bombs, oversized items)."""

from __future__ import annotations

from dataclasses import dataclass

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class Limits:
    """Caps that protect the machine from hostile or broken files (all configurable)."""

    max_decompressed_bytes: int = 1 << 40  # 1 TiB of JSON text
    max_compression_ratio: float = 200.0  # TiC JSON compresses 10-50x; deflate's own maximum is ~1032x
    ratio_grace_bytes: int = 64 << 20  # the ratio is only judged after this much output
    max_item_bytes: int = 512 << 20  # one array element (an in_network item) or one other root value
    chunk_bytes: int = 8 << 20
    queue_chunks: int = 3
