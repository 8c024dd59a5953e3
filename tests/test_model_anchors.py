"""AnchorSet: every occurrence of every literal, as brute force finds them, whatever probes it picks."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ckpt_tui.model.anchors import AnchorSet, Literal

ALPHABET = b"abcAB:/-_\x00\xff"


def brute(literals: list[Literal], data: bytes, start: int, stop: int) -> set[tuple[int, int]]:
    out = set()
    for i, lit in enumerate(literals):
        n = len(lit.text)
        for pos in range(start, stop - n + 1):
            piece = data[pos:pos + n]
            if (piece.lower() == lit.text.lower()) if lit.ignore_case else piece == lit.text:
                out.add((i, pos))
    return out


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.binary(min_size=1, max_size=5).map(lambda b: bytes(ALPHABET[x % len(ALPHABET)] for x in b)),
                          st.booleans()), min_size=1, max_size=6),
       st.binary(max_size=200).map(lambda b: bytes(ALPHABET[x % len(ALPHABET)] for x in b)),
       st.integers(0, 20), st.integers(0, 20))
def test_finds_what_brute_force_finds(specs, data, cut_start, cut_end):
    literals = [Literal(text, icase) for text, icase in specs]
    anchors = AnchorSet(literals)
    start = min(cut_start, len(data))
    stop = max(start, len(data) - cut_end)
    assert set(anchors.find(data, start, stop)) == brute(literals, data, start, stop)
    assert set(anchors.find(bytearray(data), start, stop)) == brute(literals, data, start, stop)


def test_every_literal_has_a_probe():
    literals = [Literal(b"AKIA"), Literal(b"token", True), Literal(b"://"), Literal(b"x")]
    covered = {i for p in AnchorSet(literals).probes for i, _ in p.members}
    assert covered == set(range(len(literals)))
