"""Finding many short literals in large bytes in few passes.

``bytes.find`` costs one pass over the bytes per literal. A regex that starts with one literal
byte is searched by a tight loop over that byte (faster than ``find`` for short needles), and the
rest can be checked by look-arounds without leaving C. So :class:`AnchorSet` picks a few *probe*
bytes that between them occur in every literal (preferring bytes that are rare in memory and
files, so the checks run seldom), and searches one ``P(?:(?<=...)(?=...)|...)`` regex per probe
byte. Literals may be case-insensitive (ASCII letters either case).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

# how often a byte turns up in process memory and text, roughly (per cent); drives which bytes
# are probed: a probe's loop is cheap, each occurrence of its byte costs a look-around check
_LETTERS = {"e": 12.7, "t": 9.1, "a": 8.2, "o": 7.5, "i": 7.0, "n": 6.7, "s": 6.3, "h": 6.1, "r": 6.0,
            "d": 4.3, "l": 4.0, "c": 2.8, "u": 2.8, "m": 2.4, "w": 2.4, "f": 2.2, "g": 2.0, "y": 2.0,
            "p": 1.9, "b": 1.5, "v": 1.0, "k": 0.8, "j": 0.15, "x": 0.15, "q": 0.1, "z": 0.07}
# one probe's loop over the bytes, in the same units: the loop is cheap next to a look-around
# check (~0.3 against ~60 ns a byte), so a rare byte is worth another pass
PASS_COST = 0.5


def commonness(byte: int) -> float:
    ch = chr(byte)
    if ch in _LETTERS:
        return _LETTERS[ch]
    if ch.lower() in _LETTERS:
        return _LETTERS[ch.lower()] / 8
    if ch.isdigit():
        return 2.0
    if byte in (0x00, 0x20, 0xFF):
        return 15.0
    if ch in "/.:-_=,;\n\"'":
        return 1.5  # paths, URLs, times, names and lists are full of these
    return 0.4  # other punctuation, control and high bytes: about their share of random bytes


class Haystack(Protocol):
    def __getitem__(self, index: slice, /) -> bytes | bytearray: ...

    def __len__(self) -> int: ...


@dataclass(frozen=True)
class Literal:
    text: bytes
    ignore_case: bool = False

    def at(self, buf: Haystack, pos: int) -> bool:
        piece = bytes(buf[pos:pos + len(self.text)])
        return (piece.lower() == self.text.lower()) if self.ignore_case else piece == self.text


@dataclass(frozen=True)
class _Probe:
    byte: int
    regex: re.Pattern[bytes]
    members: tuple[tuple[int, int], ...]  # (literal index, offset of the probe byte in it)


class AnchorSet:
    """Where each of ``literals`` occurs: :meth:`find` gives (literal index, position) pairs."""

    def __init__(self, literals: list[Literal]) -> None:
        self.literals = list(literals)
        self.probes = _plan(self.literals)

    def find(self, buf: Haystack, start: int, stop: int) -> Iterator[tuple[int, int]]:
        """(index, position) of every occurrence of a literal lying wholly in [start, stop),
        probe by probe (not in position order)."""
        lits = self.literals
        for probe in self.probes:
            for m in probe.regex.finditer(buf, start, stop):  # type: ignore[call-overload]
                p = m.start()
                for index, offset in probe.members:
                    pos = p - offset
                    if pos >= start and pos + len(lits[index].text) <= stop and lits[index].at(buf, pos):
                        yield index, pos


def _plan(literals: list[Literal]) -> list[_Probe]:
    """Greedy cover: the probe covering the most literals not yet covered per cost, until all are.
    A probe is one byte (the literals holding it; a case-insensitive literal only when the byte
    is no letter) or a letter in both cases (the literals holding it in either case)."""
    chosen: dict[int, list[tuple[int, int]]] = {}
    left = set(range(len(literals)))
    while left:
        best: tuple[float, int, tuple[int, ...]] | None = None
        for choice in _choices(literals, left):
            covers = [i for i in left if _covers(literals[i], choice)]
            cost = sum(PASS_COST + commonness(v) for v in choice)
            if covers and (best is None or len(covers) / cost > best[0]):
                best = (len(covers) / cost, len(covers), choice)
        assert best is not None
        choice = best[2]
        covers = [i for i in sorted(left) if _covers(literals[i], choice)]
        for i in covers:
            lit = literals[i]
            text = lit.text.lower() if lit.ignore_case else lit.text
            for v in choice:
                key = bytes([v]).lower() if lit.ignore_case else bytes([v])
                if key in text:
                    chosen.setdefault(v, []).append((i, text.index(key)))
        left -= set(covers)
    return [_probe(b, tuple(members), literals) for b, members in sorted(chosen.items())]


def _choices(literals: list[Literal], left: set[int]) -> list[tuple[int, ...]]:
    out: set[tuple[int, ...]] = set()
    for i in left:
        for b in literals[i].text:
            out.add((b,))
            if _letter(b):
                out.add(tuple(sorted({bytes([b]).lower()[0], bytes([b]).upper()[0]})))
    return sorted(out)


def _covers(lit: Literal, choice: tuple[int, ...]) -> bool:
    if len(choice) == 1:
        b = choice[0]
        return (b in lit.text) if not lit.ignore_case or not _letter(b) else False
    return any(b in lit.text for b in choice) if not lit.ignore_case else bytes([choice[0]]).lower() in lit.text.lower()


def _letter(b: int) -> bool:
    """An ASCII letter: what a case-insensitive literal matches either case of."""
    return 65 <= b <= 90 or 97 <= b <= 122


def _probe(b: int, members: tuple[tuple[int, int], ...], literals: list[Literal]) -> _Probe:
    alts = []
    for index, offset in members:
        lit = literals[index]
        head, tail = lit.text[:offset], lit.text[offset + 1:]
        flags = b"(?i:" if lit.ignore_case else b"(?:"
        part = b""
        if head:
            part += b"(?<=" + flags + re.escape(head) + b")" + re.escape(bytes([b])) + b")"
        if tail:
            part += b"(?=" + flags + re.escape(tail) + b"))"
        alts.append(part)
    body = re.escape(bytes([b]))
    alts = sorted(set(alts))
    if all(alts):  # (a member that is the probe byte alone needs no check)
        body += alts[0] if len(alts) == 1 else b"(?:" + b"|".join(alts) + b")"
    return _Probe(b, re.compile(body), members)
