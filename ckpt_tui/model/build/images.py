"""The checkpoint's CRIU images: each decoded once, what decoding says recorded as problems.

``Images.image(name)`` decodes ``checkpoint/<name>`` the first time it is asked for (or takes
the Image a streaming tap already decoded) and keeps it; a missing or undecodable image is
None and a Problem naming it, recorded once however often it is asked for.
:func:`catalogue` lists every image for the raw images browser.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from ...criu import MAGICS, Image, decode_image, expected_magic, find_unknown_fields
from ...errors import CkptError, Pane, Severity
from ..types import ImageInfo, PbMessage, SourceView

CKPT = "checkpoint/"

#: how the builder's parts record a problem: (member, message, pane, severity)
Report = Callable[[str, str, Pane, Severity], None]


class Images:
    """The decode-once cache of ``checkpoint/*.img`` for one build."""

    def __init__(self, src: SourceView, report: Report, decoded: dict[str, Image] | None = None) -> None:
        self.src = src
        self.report = report
        self._images: dict[str, Image | None] = {}
        self._why: dict[str, str] = {}  # full name -> why image() gave None: "missing", "not read", "damaged"
        # images a streaming tap decoded while the source was indexed (full name -> Image): not again
        self._decoded = dict(decoded or {})

    def image(self, name: str, pane: Pane = Pane.PROCESSES, required: bool = False) -> Image | None:
        """checkpoint/<name>, decoded once; None (and a Problem) when absent or bad."""
        full = CKPT + name
        if full in self._images:
            return self._images[full]
        img = None
        if not self.src.has(full):
            self._why[full] = "not read" if self.src.stopped else "missing"
            if required:
                self.report(full, absent(self.src), pane, "error")
        else:
            try:
                img = self._decoded.pop(full, None)
                if img is None:
                    img = decode_image(self.src.read(full), name)
            except CkptError as exc:
                self._why[full] = "damaged"
                self.report(full, f"cannot be decoded: {exc}", pane, "error")
            else:
                for msg in img.problems:
                    self.report(full, msg, pane, "warning")
                if img.unknown_fields:
                    fields = sorted({f for e in img.entries for f in find_unknown_fields(e.message)})
                    self.report(full, "holds fields this version does not know (written by a newer CRIU?), "
                                f"kept undecoded: {', '.join(fields[:8]) or '?'}", pane, "info")
        self._images[full] = img
        return img

    def first(self, name: str, pane: Pane = Pane.PROCESSES, required: bool = False) -> PbMessage | None:
        """The first entry's message of checkpoint/<name>; None (and a Problem) when there is none."""
        img = self.image(name, pane, required)
        if img is None or not img.entries:
            if img is not None and img.problems:  # what decoding met is reported already
                self._why[CKPT + name] = "damaged"
            elif img is not None:
                self._why[CKPT + name] = "empty"
                self.report(CKPT + name, "holds no entries", pane, "error")
            return None
        return img.entries[0].message

    def why_none(self, name: str) -> str:
        """Why :meth:`image` / :meth:`first` gave None for checkpoint/<name>: "missing" (not in
        the checkpoint), "not read" (reading the source stopped before the end), "damaged" (it
        does not decode), "empty" (no entries); "" when it was not asked for or is there."""
        return self._why.get(CKPT + name, "")

    def entries(self, name: str, pane: Pane = Pane.PROCESSES) -> list[PbMessage]:
        """Every entry's message of checkpoint/<name> ([] when it is absent or bad)."""
        img = self.image(name, pane)
        return [] if img is None else [e.message for e in img.entries]


def absent(src: SourceView) -> str:
    """What a problem says of a member the source does not have: missing from the checkpoint,
    or not read when indexing stopped before the end (a bound was hit, the archive is damaged)."""
    if src.stopped:
        return ("was not read: reading stopped before the end of the source (its problem says why), so it "
                "may be in the part left unread")
    return "is missing from the checkpoint"


def catalogue(src: SourceView, report: Report) -> list[ImageInfo]:
    """Every file under checkpoint/ with the kind of image it is: by its name, else by the
    magic it starts with (an image kind no table knows is listed, not decoded)."""
    out: list[ImageInfo] = []
    for name in src.names(CKPT):
        m = src.members[name]
        if m.type != "file":
            continue
        short = name[len(CKPT):]
        kind = expected_magic(short)
        if kind is None and short.endswith(".img"):
            head = src.read(name, limit=8)
            words = struct.unpack("<2I", head) if len(head) == 8 else (0, 0)
            known = MAGICS.get(words[1]) or MAGICS.get(words[0])
            kind = known or "UNKNOWN"
            if known is None:
                report(name, "is an image kind this version does not know "
                       f"(magic {words[1]:#010x}); listed, not decoded", Pane.OVERVIEW, "info")
        out.append(ImageInfo(name=short, size=m.size, magic=kind or "OTHER"))
    if not out:
        report("checkpoint/", "the checkpoint holds no CRIU images: no processes, memory or sockets to show",
               Pane.PROCESSES, "error")
    return out
