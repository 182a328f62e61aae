"""The MDS sample schema shared by every converter (writer) and the training reader.

Every shard, whatever its kind, has the same four columns:

- ``id`` (str): the record's id in its source.
- ``kind`` (str): a registered sample kind (:mod:`vlmkit.data.kinds`): ``pairs`` | ``interleaved`` |
  ``conversations`` | ``text`` | a plugin's.
- ``content`` (json): kind-specific, below.
- ``images`` (bytes): the sample's encoded images (JPEG/PNG bytes), framed by :func:`pack_images`.

``content`` by built-in kind (image indices refer to the order in ``images``):

- pairs: ``{"caption": str}``; exactly one image.
- interleaved: ``{"segments": [{"text": str} | {"image": int, "similarity": float}, ...]}`` in document
  order, each image already placed before its matched sentence; nothing filtered yet (the
  similarity threshold and the image cap apply at tokenization).
- conversations: ``{"messages": [{"role": "system"|"user"|"assistant", "content": str}, ...]}``;
  ``<image>`` markers in the text, one per image, in order.
- text: ``{"text": str}`` or ``{"messages": [...]}`` with no images.
"""

from __future__ import annotations

import struct
from typing import Sequence

COLUMNS = {"id": "str", "kind": "str", "content": "json", "images": "bytes"}
IMAGE_MARKER = "<image>"

_COUNT = struct.Struct("<I")
_LEN = struct.Struct("<Q")


def pack_images(images: Sequence[bytes]) -> bytes:
    """Frame encoded images into one ``bytes`` value: count, then (length, data) per image."""
    parts = [_COUNT.pack(len(images))]
    for data in images:
        parts.append(_LEN.pack(len(data)))
        parts.append(bytes(data))
    return b"".join(parts)


def unpack_images(blob: bytes) -> list[bytes]:
    """Inverse of :func:`pack_images`; raises ``ValueError`` on a truncated or malformed blob."""
    if len(blob) < _COUNT.size:
        raise ValueError("images column is truncated: missing the image count")
    (count,) = _COUNT.unpack_from(blob, 0)
    offset, out = _COUNT.size, []
    for i in range(count):
        if offset + _LEN.size > len(blob):
            raise ValueError(f"images column is truncated at image {i} of {count}")
        (n,) = _LEN.unpack_from(blob, offset)
        offset += _LEN.size
        if offset + n > len(blob):
            raise ValueError(f"images column is truncated inside image {i} of {count}")
        out.append(blob[offset : offset + n])
        offset += n
    if offset != len(blob):
        raise ValueError(f"images column has {len(blob) - offset} unexpected trailing bytes")
    return out
