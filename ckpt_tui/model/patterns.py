"""Search patterns, parsed once: what ``memsearch`` and the search screens accept, and how a
pattern becomes the bytes regex every memory search runs.

Syntax (the same on the command line and in the UI):
- text: the UTF-8 bytes of what was typed;
- hex bytes: ``43 4b 50 54``, ``434b5054``, ``0x43 0x4b``, ``\\x43\\x4b``, ``43:4b``, ``43,4b``;
- regex: a Python regular expression over bytes;
and, for any kind, ``utf16`` (also the UTF-16-LE form: Java/.NET/Windows strings) and
``ignore_case`` (ASCII letters either case). The hex view's find takes ``x:HEX`` and ``re:REGEX``.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import Literal

from ..errors import CkptError

PatternKind = Literal["text", "hex", "regex"]
KINDS: tuple[PatternKind, ...] = ("text", "hex", "regex")


@dataclass(frozen=True)
class SearchPattern:
    """A parsed pattern: ``data`` is the literal bytes (text, hex) or the regex source."""

    data: bytes
    kind: PatternKind = "text"
    utf16: bool = False
    ignore_case: bool = False

    @classmethod
    def of(cls, pattern: bytes | str, *, regex: bool = False, utf16: bool = False,
           ignore_case: bool = False) -> SearchPattern:
        """A pattern from bytes or text already in hand (no hex parsing)."""
        data = pattern_bytes(pattern)
        if not data:
            raise CkptError("empty search pattern")
        return cls(data, "regex" if regex else "text", utf16, ignore_case)

    @property
    def regex(self) -> bool:
        return self.kind == "regex"

    @property
    def literal(self) -> bytes | None:
        """The bytes to find as they are (the fast path), None when a regex must run."""
        return None if self.regex or self.utf16 or self.ignore_case else self.data

    def compile(self) -> re.Pattern[bytes]:
        return compile_pattern(self.data, regex=self.regex, utf16=self.utf16, ignore_case=self.ignore_case)


def parse_hex(text: str) -> bytes:
    """Hex bytes as a user writes them (see the module's syntax); CkptError when they are not."""
    cleaned = re.sub(r"0x|\\x|[\s,:]", "", text.strip(), flags=re.I)
    try:
        data = bytes.fromhex(cleaned)
    except ValueError:
        raise CkptError(f"not hex bytes: {text!r} (e.g. 43 4b 50 54)") from None
    if not data:
        raise CkptError("no bytes given")
    return data


def parse_pattern(text: str, kind: str = "text", *, utf16: bool = False, ignore_case: bool = False) -> SearchPattern:
    """What the user typed, as a pattern of ``kind``; CkptError saying what is wrong."""
    if not text:
        raise CkptError("type something to search for")
    if kind == "hex":
        pattern = SearchPattern(parse_hex(text), "hex", utf16=False, ignore_case=False)
    elif kind in ("text", "regex"):
        pattern = SearchPattern(pattern_bytes(text), "regex" if kind == "regex" else "text", utf16, ignore_case)
    else:
        raise CkptError(f"unknown pattern kind {kind!r} (text, hex or regex)")
    pattern.compile()  # a bad regex is said now, not when the search starts
    return pattern


def parse_find(text: str) -> SearchPattern:
    """The hex view's find: ``x:43 4b`` hex bytes, ``re:...`` a regex, anything else text."""
    if text.startswith("x:"):
        return parse_pattern(text[2:], "hex")
    if text.startswith("re:"):
        return parse_pattern(text[3:], "regex")
    return parse_pattern(text, "text")


def pattern_bytes(pattern: bytes | str) -> bytes:
    """What a pattern typed as text looks for: its UTF-8 bytes (undecodable bytes it came
    with, kept as surrogates by the command line, are those bytes again)."""
    return pattern.encode("utf-8", "surrogateescape") if isinstance(pattern, str) else pattern


def compile_pattern(pattern: bytes | str, *, regex: bool = False, utf16: bool = False,
                    ignore_case: bool = False) -> re.Pattern[bytes]:
    """A bytes regex for a literal string, hex bytes already decoded, or a regex.

    ``utf16``: also find the text encoded as UTF-16-LE (Windows, Java, .NET strings); a
    regex is translated for that (see :func:`utf16_regex`). ``ignore_case``: ASCII letters
    match either case."""
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    raw = pattern_bytes(pattern)
    if not raw:
        raise CkptError("empty search pattern")
    if regex:
        try:
            re.compile(raw)
        except re.error as exc:
            raise CkptError(f"bad regular expression: {exc}") from None
        body = raw
        if utf16:
            body = b"(?:" + raw + b")|(?:" + utf16_regex(raw.decode("utf-8", "surrogateescape")) + b")"
        try:
            return re.compile(body, flags)
        except re.error as exc:  # pragma: no cover - the translation is valid when the input is
            raise CkptError(f"cannot search this regular expression as UTF-16: {exc}") from None
    alts = [re.escape(raw)]
    if utf16:
        try:
            alts.append(re.escape(raw.decode("utf-8").encode("utf-16-le")))
        except UnicodeDecodeError:
            pass
    return re.compile(b"|".join(alts), flags)


def utf16_regex(text: str) -> bytes:
    """A bytes regex that matches, in UTF-16-LE, what ``text`` matches as a regex: each
    character becomes its two bytes; classes, ``.``, ``\\d \\w \\s`` match one UTF-16 unit
    of a character up to U+00FF (Latin-1: ASCII and the accented letters); groups, ``|``,
    repeats, anchors and look-arounds keep their meaning. Back-references, word
    boundaries and classes of characters above U+00FF cannot be translated: CkptError."""
    if sys.version_info >= (3, 11):
        from re import _constants as c
        from re import _parser as sre
    else:  # pragma: no cover - Python 3.10
        import sre_constants as c
        import sre_parse as sre

    def unit(cp: int) -> bytes:
        return b"(?:" + re.escape(chr(cp).encode("utf-16-le", "surrogatepass")) + b")"

    categories = {c.CATEGORY_DIGIT: (b"0-9", False), c.CATEGORY_NOT_DIGIT: (b"0-9", True),
                  c.CATEGORY_WORD: (b"A-Za-z0-9_", False), c.CATEGORY_NOT_WORD: (b"A-Za-z0-9_", True),
                  c.CATEGORY_SPACE: (b" \\t\\n\\r\\f\\v", False), c.CATEGORY_NOT_SPACE: (b" \\t\\n\\r\\f\\v", True)}

    def latin1(lo: int, hi: int) -> bytes:
        if hi > 0xFF:
            raise CkptError("a class of characters above U+00FF cannot be searched as UTF-16; search without --utf16")
        return re.escape(bytes([lo])) + (b"-" + re.escape(bytes([hi])) if hi != lo else b"")

    def klass(items) -> bytes:
        parts, negate = [], False
        for op, av in items:
            if op is c.NEGATE:
                negate = True
            elif op is c.LITERAL:
                parts.append(latin1(av, av))
            elif op is c.RANGE:
                parts.append(latin1(av[0], av[1]))
            elif op is c.CATEGORY and av in categories:
                body, neg = categories[av]
                if neg:
                    raise CkptError("a negated \\D \\W \\S inside a class cannot be searched as UTF-16")
                parts.append(body)
            else:
                raise CkptError(f"this regex cannot be searched as UTF-16 ({op} in a class)")
        return b"(?:[" + (b"^" if negate else b"") + b"".join(parts) + b"]\x00)"

    def emit(seq) -> bytes:
        out = []
        for op, av in seq:
            if op is c.LITERAL:
                out.append(unit(av))
            elif op is c.NOT_LITERAL:
                out.append(klass([(c.NEGATE, None), (c.LITERAL, av)]))
            elif op is c.ANY:
                out.append(b"(?:[\x00-\xff]\x00)")
            elif op is c.IN:
                out.append(klass(av))
            elif op is c.CATEGORY and av in categories:
                body, neg = categories[av]
                out.append(b"(?:[" + (b"^" if neg else b"") + body + b"]\x00)")
            elif op in (c.MAX_REPEAT, c.MIN_REPEAT) or op is getattr(c, "POSSESSIVE_REPEAT", None):
                lo, hi, sub = av
                rep = b"{%d,%s}" % (lo, b"" if hi is c.MAXREPEAT else b"%d" % hi)
                lazy = b"?" if op is c.MIN_REPEAT else b"+" if op is getattr(c, "POSSESSIVE_REPEAT", None) else b""
                out.append(b"(?:" + emit(sub) + b")" + rep + lazy)
            elif op is c.SUBPATTERN:
                _group, _add, _del, sub = av
                out.append(b"(?:" + emit(sub) + b")")
            elif op is c.BRANCH:
                out.append(b"(?:" + b"|".join(emit(b) for b in av[1]) + b")")
            elif op is c.AT and av in (c.AT_BEGINNING, c.AT_BEGINNING_STRING, c.AT_END, c.AT_END_STRING):
                out.append({c.AT_BEGINNING: b"^", c.AT_BEGINNING_STRING: b"\\A",
                            c.AT_END: b"$", c.AT_END_STRING: b"\\Z"}[av])
            elif op in (c.ASSERT, c.ASSERT_NOT):
                direction, sub = av
                kind = {(c.ASSERT, 1): b"?=", (c.ASSERT_NOT, 1): b"?!", (c.ASSERT, -1): b"?<=",
                        (c.ASSERT_NOT, -1): b"?<!"}[(op, direction)]
                out.append(b"(" + kind + emit(sub) + b")")
            else:
                raise CkptError(f"this regex cannot be searched as UTF-16 ({str(op).lower()}); search without --utf16")
        return b"".join(out)

    try:
        parsed = sre.parse(text)
    except re.error as exc:
        raise CkptError(f"bad regular expression: {exc}") from None
    return emit(parsed)
