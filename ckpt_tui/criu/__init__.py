"""CRIU image layer: framing, magics, our own .proto schemas, crit-style JSON.

Public API::

    ImageError                       # CkptError subclass; the only exception decode_image raises
    Entry(message, extra, offset, size)
    Image(magic, magic_value, head, entries, problems, unknown_fields, name, big_endian)
    decode_image(data, name="") -> Image
    decode_file(path) -> Image
    iter_entries(data, name="", problems=None) -> Iterator[Entry]
    expected_magic(name) -> str | None   # "core-1.img" -> "CORE", "pages-2.img" -> "RAW"
    resolve_image_name(name, has) -> str | None  # "stats-dump.img" -> "stats-dump", "core-1" -> "checkpoint/core-1.img"
    image_name_candidates(name) -> list[str]     # the member names resolve_image_name tries, in order
    MAGICS: dict[int, str]               # every image magic value -> name
    to_crit_dict(image, pretty=True) -> dict   # what `crit decode [--pretty]` prints
    message_to_dict(message, pretty=True, *, unknown=False) -> dict
    message_class(name) -> type[Message]  # "core_entry" -> generated class
    find_unknown_fields(message) -> list[str]
    split_ipc_messages(extra) -> list[(ipc_msg, bytes)]
    as_text(str | bytes) -> str           # proto2 strings that were not UTF-8 come back as bytes

Generated modules live in ``ckpt_tui/criu/pb/`` (``python scripts/gen_protos.py``),
their sources in ``ckpt_tui/criu/proto/``.  Number-to-name tables are in
:mod:`ckpt_tui.criu.constants`.  No Textual here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import exports

_WHERE = {
    "Entry": ".images",
    "Image": ".images",
    "ImageError": ".images",
    "decode_file": ".images",
    "decode_image": ".images",
    "find_unknown_fields": ".images",
    "iter_entries": ".images",
    "split_ipc_messages": ".images",
    "HEAD_COMMON": ".magic",
    "HEAD_SERVICE": ".magic",
    "MAGIC_VALUES": ".magic",
    "MAGICS": ".magic",
    "PAYLOADS": ".magic",
    "RAW": ".magic",
    "expected_magic": ".magic",
    "image_name_candidates": ".magic",
    "message_class": ".magic",
    "message_names": ".magic",
    "resolve_image_name": ".magic",
    "as_text": ".pretty",
    "entry_to_dict": ".pretty",
    "message_to_dict": ".pretty",
    "to_crit_dict": ".pretty",
}

if TYPE_CHECKING:  # pragma: no cover
    from .images import (
        Entry,
        Image,
        ImageError,
        decode_file,
        decode_image,
        find_unknown_fields,
        iter_entries,
        split_ipc_messages,
    )
    from .magic import (
        HEAD_COMMON,
        HEAD_SERVICE,
        MAGIC_VALUES,
        MAGICS,
        PAYLOADS,
        RAW,
        expected_magic,
        image_name_candidates,
        message_class,
        message_names,
        resolve_image_name,
    )
    from .pretty import as_text, entry_to_dict, message_to_dict, to_crit_dict


__all__ = [
    "HEAD_COMMON",
    "HEAD_SERVICE",
    "MAGICS",
    "MAGIC_VALUES",
    "PAYLOADS",
    "RAW",
    "Entry",
    "Image",
    "ImageError",
    "as_text",
    "decode_file",
    "decode_image",
    "entry_to_dict",
    "expected_magic",
    "find_unknown_fields",
    "image_name_candidates",
    "iter_entries",
    "message_class",
    "message_names",
    "message_to_dict",
    "resolve_image_name",
    "split_ipc_messages",
    "to_crit_dict",
]

__getattr__, __dir__ = exports(__name__, _WHERE, globals())
