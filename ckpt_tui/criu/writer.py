"""Writing CRIU images: the inverse of the framing in images.py.

Used by the test corpus and the benchmark to derive new checkpoints from real ones
(more pages, more processes, damaged images). ``encode_image`` writes the head
word (none for inventory, SERVICE for stats, COMMON otherwise), the image magic,
then ``u32 size + message [+ extra payload]`` per entry.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from google.protobuf.message import Message

from .magic import HEAD_COMMON, HEAD_SERVICE, HEADLESS_IMAGES, MAGIC_VALUES, SERVICE_IMAGES

_U32 = struct.Struct("<I")


def encode_entries(entries: Iterable[Message | tuple[Message, bytes]]) -> bytes:
    out = bytearray()
    for item in entries:
        message, extra = item if isinstance(item, tuple) else (item, b"")
        body = message.SerializeToString()
        out += _U32.pack(len(body))
        out += body
        out += extra
    return bytes(out)


def encode_image(magic: str, entries: Iterable[Message | tuple[Message, bytes]]) -> bytes:
    """Bytes of an image of kind ``magic`` ("CORE", "PAGEMAP", ...) holding ``entries``.

    An entry is a message, or (message, extra payload bytes) for the images that
    carry payload after the message (pipes-data, sk-queues, tcp-stream, ...).
    For PAGEMAP pass the ``pagemap_head`` first.
    """
    value = MAGIC_VALUES[magic]
    head = b""
    if magic in SERVICE_IMAGES:
        head = _U32.pack(HEAD_SERVICE)
    elif magic not in HEADLESS_IMAGES:
        head = _U32.pack(HEAD_COMMON)
    return head + _U32.pack(value) + encode_entries(entries)
