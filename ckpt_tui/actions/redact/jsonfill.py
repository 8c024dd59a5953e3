"""JSON filled in place: the same bytes but for the secrets, each overwritten by as many
:data:`~ckpt_tui.model.masking.FILLER` bytes, so the document keeps its length to the byte.

For a JSON document held inside something that records its length (containerd's config blob
holds the runtime spec in a protobuf field): the values filled are the ones
:func:`~ckpt_tui.actions.redact.content.redact_document` fills (the same decisions, from
:mod:`.content`), but the fill covers the string's bytes as written — an escape (``\\u0026``)
inside a secret is filled whole, so the copy is valid JSON with the secret gone.
"""

from __future__ import annotations

from ...model.masking import FILLER, Redaction
from .content import inner_document, json_document, key_fills, text_fills

_ESCAPES = {ord('"'): 0x22, ord("\\"): 0x5C, ord("/"): 0x2F, ord("b"): 0x08, ord("f"): 0x0C, ord("n"): 0x0A,
            ord("r"): 0x0D, ord("t"): 0x09}
_QUOTE, _BACKSLASH = 0x22, 0x5C


def _string_end(raw: bytes, pos: int) -> int:
    """The index of the quote closing the string whose contents start at ``pos``."""
    while raw[pos] != _QUOTE:
        pos += 2 if raw[pos] == _BACKSLASH else 1
    return pos


def _decode(raw: bytes, lo: int, hi: int) -> tuple[bytes, list[int], list[int]]:
    """The UTF-8 bytes of the string written in raw[lo:hi], and for each of them where the byte or
    escape it came from starts and ends in ``raw``."""
    out = bytearray()
    starts: list[int] = []
    ends: list[int] = []
    pos = lo
    while pos < hi:
        if raw[pos] != _BACKSLASH:
            out.append(raw[pos])
            starts.append(pos)
            ends.append(pos + 1)
            pos += 1
            continue
        code = raw[pos + 1]
        if code != ord("u"):
            data, end = bytes([_ESCAPES.get(code, code)]), pos + 2
        else:
            point, end = int(raw[pos + 2:pos + 6], 16), pos + 6
            if 0xD800 <= point < 0xDC00 and raw[end:end + 2] == b"\\u":
                low = int(raw[end + 2:end + 6], 16)
                if 0xDC00 <= low < 0xE000:
                    point, end = 0x10000 + ((point - 0xD800) << 10) + (low - 0xDC00), end + 6
            data = chr(point).encode("utf-8", "surrogatepass")
        out += data
        starts += [pos] * len(data)
        ends += [end] * len(data)
        pos = end
    return bytes(out), starts, ends


def _whole_chars(raw: bytes, lo: int, hi: int) -> tuple[int, int]:
    """[lo, hi) widened to whole UTF-8 characters (a fill never leaves half of one)."""
    while lo > 0 and 0x80 <= raw[lo] < 0xC0:
        lo -= 1
    while hi < len(raw) and 0x80 <= raw[hi] < 0xC0:
        hi += 1
    return lo, hi


def _string_fills(raw: bytes, lo: int, hi: int, key: str | None) -> list[Redaction]:
    data, starts, ends = _decode(raw, lo, hi)
    value = data.decode("utf-8", "surrogateescape")
    fills = key_fills(value, key)
    if not fills:
        if inner_document(value) is not None:
            fills = _fills(data)  # a document in the string: its own strings, as redact_document does
        else:
            fills = text_fills(value)
    return [(*_whole_chars(raw, starts[a], ends[b - 1]), rule) for a, b, rule in fills if b > a]


def _fills(raw: bytes) -> list[Redaction]:
    """The ranges of ``raw`` (a valid JSON text) to fill."""
    out: list[Redaction] = []
    stack: list[str] = []  # "o" object, "a" array
    expect_key = False
    key: str | None = None
    pos = 0
    while pos < len(raw):
        c = raw[pos]
        if c == _QUOTE:
            end = _string_end(raw, pos + 1)
            if stack and stack[-1] == "o" and expect_key:
                key = _decode(raw, pos + 1, end)[0].decode("utf-8", "surrogateescape")
                expect_key = False
            else:
                out += _string_fills(raw, pos + 1, end, key if stack and stack[-1] == "o" else None)
            pos = end + 1
            continue
        if c == ord("{"):
            stack.append("o")
            expect_key = True
        elif c == ord("["):
            stack.append("a")
        elif c in (ord("}"), ord("]")):
            stack.pop()
        elif c == ord(","):
            expect_key = bool(stack) and stack[-1] == "o"
        pos += 1
    return out


def fill_json(raw: bytes) -> tuple[bytes, list[Redaction]] | None:
    """``raw`` (a JSON object or list) with its secrets filled in place, and the ranges filled;
    None when it is no JSON object or list."""
    if json_document(raw) is None:
        return None
    ranges = sorted(_fills(raw))
    out = bytearray(raw)
    for lo, hi, _rule in ranges:
        out[lo:hi] = FILLER * (hi - lo)
    return bytes(out), ranges
