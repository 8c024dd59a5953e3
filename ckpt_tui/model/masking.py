"""What counts as a secret, decided once: secret-looking names, secret-looking values, and the mask.

Every place that shows or writes a value asks here: the UI's panes, the CLI (``inspect`` masks by
default), exports, ``serve``, ``report``, ``redact`` (which overwrites what :func:`find_secrets`
finds) and ``scan`` (which lists it).

- A *name* is secret-looking when it contains PASSWORD/PASSWD/PASS, TOKEN, SECRET, KEY,
  CREDENTIAL, PRIVATE or AUTH (``DB_PASSWORD``, ``API_TOKEN``, ``AWS_SECRET_ACCESS_KEY``).
- A *value* is secret-looking when it matches one of :data:`VALUE_RULES`: cloud access keys,
  GitHub / GitLab / Slack / Stripe / Google tokens, JWTs, PEM private keys, URLs with a password.
- In free bytes (memory pages, files, command lines), :func:`find_secrets` finds those values and
  also ``NAME=value`` / ``NAME: value`` assignments whose name is secret-looking, with the span of
  the value alone, so a redaction keeps the name and every length.

:func:`find_secrets` gives what running every rule's regex over the bytes would give (each rule's
non-overlapping matches, the earliest winning), but it does not run the regexes over every byte:
each rule names literals every match of it holds (:attr:`SecretRule.anchors`), those are found
with ``bytes.find``, and the rule is tried only where one of them puts a match's start. That is
what lets ``scan`` run the rules over all of a checkpoint's memory.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Protocol

from .anchors import AnchorSet, Literal

#: the words that make a name secret-looking (PASSWORD, PASSWD hold PASS), any case
NAME_WORDS: tuple[str, ...] = ("pass", "token", "secret", "key", "credential", "private", "auth")
SECRET_NAME = re.compile("|".join(NAME_WORDS), re.IGNORECASE)
MASK = "\u2022" * 8
FILLER = b"*"  # what a redaction writes over a secret, byte for byte


@dataclass(frozen=True)
class SecretRule:
    """A kind of secret value: a stable id (``scan`` reports it), words for people, and a bytes regex
    whose group ``value`` (or the whole match) is the secret.

    ``anchors``: literals of which every match holds one, starting ``lead`` = (least, most) bytes
    after the match starts; :func:`find_secrets` tries the regex only there."""

    id: str
    title: str
    regex: bytes
    anchors: tuple[bytes, ...] = ()
    lead: tuple[int, int] = (0, 0)
    flags: int = 0

    @cached_property
    def pattern(self) -> re.Pattern[bytes]:
        """The compiled regex, on first use (a command that masks nothing compiles none)."""
        return re.compile(self.regex, self.flags)

    @cached_property
    def longest(self) -> int:
        """The most bytes one match spans (every rule's repeats are bounded)."""
        return _width(self.pattern)


def _width(pattern: re.Pattern[bytes]) -> int:
    import sys

    if sys.version_info >= (3, 11):
        from re import _parser as sre
    else:  # pragma: no cover - Python 3.10
        import sre_parse as sre
    return int(sre.parse(pattern.pattern, pattern.flags).getwidth()[1])  # type: ignore[arg-type]


def _rule(rule_id: str, title: str, regex: bytes, anchors: tuple[bytes, ...], lead: tuple[int, int] = (0, 0),
          flags: int = 0) -> SecretRule:
    return SecretRule(rule_id, title, regex, anchors, lead, flags)


#: the secret values recognised by their shape (facts of the issuers' token formats), each with the
#: literals every match holds
VALUE_RULES: tuple[SecretRule, ...] = (
    _rule("aws-access-key-id", "AWS access key id", rb"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Z0-9])",
          (b"AKIA", b"ASIA", b"ABIA", b"ACCA")),
    _rule("github-token", "GitHub token",
          rb"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,251})", (b"gh", b"github_pat_")),
    _rule("gitlab-token", "GitLab token", rb"(?<![A-Za-z0-9_])glpat-[A-Za-z0-9_-]{20,64}", (b"glpat-",)),
    _rule("slack-token", "Slack token", rb"(?<![A-Za-z0-9])xox[abposr]-[A-Za-z0-9-]{10,250}", (b"xox",)),
    _rule("slack-webhook", "Slack webhook URL",
          rb"https://hooks\.slack\.com/services/T[A-Za-z0-9_]{6,64}/B[A-Za-z0-9_]{6,64}/[A-Za-z0-9_]{16,64}",
          (b"https://hooks.slack.com/services/",)),
    _rule("stripe-key", "Stripe secret key", rb"(?<![A-Za-z0-9])(?:sk|rk)_live_[A-Za-z0-9]{16,99}", (b"_live_",), (2, 2)),
    _rule("google-api-key", "Google API key", rb"(?<![A-Za-z0-9_-])AIza[A-Za-z0-9_-]{35}", (b"AIza",)),
    _rule("jwt", "JSON web token",
          rb"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,2048}\.eyJ[A-Za-z0-9_-]{8,8192}\.[A-Za-z0-9_-]{8,2048}", (b"eyJ",)),
    _rule("pem-private-key", "PEM private key",
          rb"-----BEGIN (?P<kind>(?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?)-----"
          rb"[\s\S]{16,16384}?-----END (?P=kind)-----", (b"-----BEGIN ",)),
    # the scheme is 2 to 16 characters before its "://"
    _rule("url-credentials", "URL with a password",
          rb"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{1,15}://[^\s/:@'\"]{1,128}:(?P<value>[^\s/@'\"]{1,256})@",
          (b"://",), (2, 16)),
)

#: ``NAME=value`` with a secret-looking name; the value is the secret (quotes left out). Its anchors
#: are :data:`NAME_WORDS` in any case, up to 63 bytes into the name.
ASSIGNMENT = _rule(
    "secret-assignment", "value of a secret-looking name",
    rb"(?<![A-Za-z0-9_])(?P<name>[A-Za-z_][A-Za-z0-9_.-]{0,63})[ \t]{0,4}[=:][ \t]{0,4}[\"']?"
    rb"(?:(?:Bearer|Basic|Token|Bot)[ \t]{1,4})?(?P<value>[^\s\"'&;,<>{}()\x00]{4,512})",
    tuple(w.encode() for w in NAME_WORDS), (0, 63))

#: bytes no assignment match can hold (outside its name, separator and value classes): a match
#: never spans one, so the regex's leftmost, non-overlapping matches after one do not depend on
#: what came before it
_ASSIGNMENT_BARRIER = rb"\n\r\x0b\x0c\x00&;,<>{}()"
_LAST_BARRIER = re.compile(rb"[\s\S]*[" + _ASSIGNMENT_BARRIER + rb"]")
_BARRIER_LOOKBACK = 4096
#: bytes past the longest match a rule's look-ahead may read (each reads one)
LOOKAHEAD_MARGIN = 8

#: the longest secret any rule finds (a streaming scanner keeps this much overlap)
MAX_SECRET_BYTES = 20 << 10


def is_secret_name(name: str) -> bool:
    """True for names whose values should be masked (``DB_PASSWORD``, ``API_TOKEN`` ...)."""
    return bool(SECRET_NAME.search(name))


def value_rule(value: str | bytes) -> SecretRule | None:
    """The rule a value matches as a whole or in part, None when it looks like no secret."""
    data = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
    for rule in VALUE_RULES:
        if rule.pattern.search(data):
            return rule
    return None


def is_secret_value(value: str | bytes) -> bool:
    return value_rule(value) is not None


def should_mask(name: str, value: str) -> bool:
    """A value is masked when its name looks secret or the value itself does."""
    return bool(value) and (is_secret_name(name) or is_secret_value(value))


def masked(name: str, value: str, reveal: bool = False) -> str:
    """``value``, or the mask when it should be masked and ``reveal`` is off."""
    return MASK if not reveal and should_mask(name, value) else value


def mask_text(text: str, reveal: bool = False) -> str:
    """Free text (a command line, a log line) with every secret found in it masked."""
    if reveal:
        return text
    data = text.encode("utf-8", "surrogateescape")
    hits = list(find_secrets(data))
    if not hits:
        return text
    out, pos = [], 0
    for hit in hits:
        out.append(data[pos:hit.start].decode("utf-8", "surrogateescape"))
        out.append(MASK)
        pos = hit.end
    out.append(data[pos:].decode("utf-8", "surrogateescape"))
    return "".join(out)


def entropy(data: bytes) -> float:
    """Shannon entropy in bits per byte (random tokens: above ~3.5; words: below)."""
    if not data:
        return 0.0
    counts: dict[int, int] = {}
    for b in data:
        counts[b] = counts.get(b, 0) + 1
    n = len(data)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


@dataclass(frozen=True)
class SecretHit:
    """One secret found in bytes: the rule, the span of the secret itself, and for an assignment
    the name it is the value of."""

    rule: SecretRule
    start: int
    end: int
    name: str = ""

    def value(self, data: bytes) -> bytes:
        return data[self.start:self.end]


class Haystack(Protocol):
    """What :func:`find_secrets` looks in: bytes, a bytearray or an mmap."""

    def __getitem__(self, index: slice, /) -> bytes | bytearray: ...

    def __len__(self) -> int: ...


def find_secrets(data: Haystack | memoryview, start: int = 0, end: int | None = None) -> Iterator[SecretHit]:
    """Every secret in ``data[start:end]``, in order, not overlapping (a value rule wins over an
    assignment whose value it is). Spans are offsets into ``data``; look-behinds see the bytes
    before ``start``, as with ``pattern.finditer(data, start, end)``."""
    buf: Haystack = bytes(data) if isinstance(data, memoryview) else data
    stop = len(buf) if end is None else min(end, len(buf))
    rules, anchors = _anchors()
    where: dict[int, list[int]] = {}  # rule index -> anchor positions
    for index, pos in anchors.find(buf, start, stop):
        where.setdefault(rules[index], []).append(pos)
    found: list[SecretHit] = []
    for i, rule in enumerate(VALUE_RULES):
        if i in where:
            found.extend(_value_hits(rule, buf, start, stop, where[i]))
    if len(VALUE_RULES) in where:
        found.extend(_assignment_hits(buf, start, stop, where[len(VALUE_RULES)]))
    found.sort(key=lambda h: (h.start, h.rule is ASSIGNMENT, -h.end))
    last = start
    for hit in found:
        if hit.start >= last:
            yield hit
            last = hit.end


@cache
def _anchors() -> tuple[list[int], AnchorSet]:
    """Every rule's anchors as one :class:`~.anchors.AnchorSet` (the assignment's words in any
    case), and for each literal the index of its rule (``len(VALUE_RULES)``: the assignment)."""
    literals, rules = [], []
    for i, rule in enumerate((*VALUE_RULES, ASSIGNMENT)):
        for text in rule.anchors:
            literals.append(Literal(text, ignore_case=rule is ASSIGNMENT))
            rules.append(i)
    return rules, AnchorSet(literals)


def _value_hits(rule: SecretRule, buf: Haystack, start: int, stop: int, anchors: list[int]) -> Iterator[SecretHit]:
    """The matches ``rule.pattern.finditer(buf, start, stop)`` gives: every match starts where an
    anchor puts it, and trying the regex there alone (``match``, with room for the longest match
    and its look-ahead) decides that start exactly as the scan over every byte would."""
    least, most = rule.lead
    starts: set[int] = set()
    for pos in anchors:
        starts.update(range(max(start, pos - most), pos - least + 1))
    group = "value" if "value" in rule.pattern.groupindex else 0
    reach = rule.longest + LOOKAHEAD_MARGIN
    cursor = start
    for s in sorted(starts):
        if s < cursor:
            continue
        m = rule.pattern.match(buf, s, min(stop, s + reach))  # type: ignore[call-overload]
        if m is not None:
            yield SecretHit(rule, m.start(group), m.end(group))
            cursor = m.end()


def _assignment_hits(buf: Haystack, start: int, stop: int, anchors: list[int]) -> Iterator[SecretHit]:
    """The matches of ``ASSIGNMENT.pattern.finditer(buf, start, stop)`` whose name is secret-looking.

    Such a name holds one of :data:`NAME_WORDS`; for each (in order) the regex's own leftmost,
    non-overlapping scan is replayed from a point it is known to pass through: the end of what
    was replayed last, or just after a byte no match can hold (:data:`_ASSIGNMENT_BARRIER`)."""
    pattern = ASSIGNMENT.pattern
    reach = ASSIGNMENT.longest + LOOKAHEAD_MARGIN
    most = ASSIGNMENT.lead[1]
    cursor = start  # the regex's scan is in step with ours here
    for word in sorted(set(anchors)):
        if word < cursor:
            continue  # inside what was replayed
        pos = cursor
        earliest = word - most  # where a name holding this word can start
        if earliest > cursor:
            back = max(cursor, earliest - _BARRIER_LOOKBACK)
            m = _LAST_BARRIER.match(buf, back, earliest)  # type: ignore[call-overload]
            if m is not None:
                pos = m.end()
        limit = min(stop, word + reach)
        while True:
            m = pattern.search(buf, pos, limit)  # type: ignore[call-overload]
            if m is None or m.start() > word:
                break  # a match starting later is decided with the next word, or after it
            name = m.group("name").decode("latin-1")
            if is_secret_name(name):
                yield SecretHit(ASSIGNMENT, m.start("value"), m.end("value"), name)
            pos = m.end()
        cursor = max(pos, word + 1)


def redact_bytes(data: bytes) -> tuple[bytes, list[SecretHit]]:
    """``data`` with every secret overwritten by :data:`FILLER`, same length; and what was found."""
    hits = list(find_secrets(data))
    if not hits:
        return data, hits
    out = bytearray(data)
    for hit in hits:
        out[hit.start:hit.end] = FILLER * (hit.end - hit.start)
    return bytes(out), hits


# -- same-length redaction of text, environment entries and streams ------------------------------
#: what one overwritten range is: [start, end) and the id of the rule that decided it
Redaction = tuple[int, int, str]

#: the rule id of an environment value masked because :func:`should_mask` says so (a secret-looking
#: name masks the whole value, whatever its shape)
ENV_VALUE = "environment-value"

STREAM_WINDOW = 16 << 20  # bytes :func:`redact_stream` reads at a time
_BEHIND = 64  # bytes kept before a search start: the rules' look-behinds read one


def _fill(data: bytearray, start: int, end: int) -> None:
    data[start:end] = FILLER * (end - start)


def redact_text(text: str) -> tuple[str, list[SecretHit]]:
    """``text`` with every secret :func:`find_secrets` finds overwritten by :data:`FILLER`: the same
    number of UTF-8 bytes (a filled multi-byte character becomes one filler a byte)."""
    data = text.encode("utf-8", "surrogateescape")
    out, hits = redact_bytes(data)
    return (out.decode("utf-8", "surrogateescape") if hits else text), hits


def redact_env_entry(entry: str) -> tuple[str, str]:
    """One ``NAME=value`` environment entry with its value overwritten (same UTF-8 length) when
    :func:`should_mask` masks it, else with the secrets inside it overwritten; and the id of the
    rule that decided ("" when nothing was). Anything else is free text."""
    data = entry.encode("utf-8", "surrogateescape")
    spans = env_entry_spans(data)
    if not spans:
        return entry, ""
    out = bytearray(data)
    for start, end, _rule in spans:
        _fill(out, start, end)
    return out.decode("utf-8", "surrogateescape"), spans[0][2]


def env_entry_spans(entry: bytes) -> list[Redaction]:
    """What :func:`redact_env_entry` fills in one entry: [start, end) and rule id of each range."""
    spans = env_value_spans(entry) if b"\0" not in entry else []  # one entry, not a block
    return spans or [(hit.start, hit.end, hit.rule.id) for hit in find_secrets(entry)]


def env_value_spans(block: bytes) -> list[Redaction]:
    """The values :func:`should_mask` masks in an environ block (``NAME=value`` entries separated
    by NUL, as a process's memory holds them): [start, end) of each value in ``block``."""
    out: list[Redaction] = []
    pos = 0
    for raw in block.split(b"\0"):
        name, sep, value = raw.partition(b"=")
        if sep and name and value:
            text_name = name.decode("utf-8", "surrogateescape")
            if should_mask(text_name, value.decode("utf-8", "surrogateescape")):
                start = pos + len(name) + 1
                out.append((start, start + len(value), ENV_VALUE))
        pos += len(raw) + 1
    return out


def redact_stream(read, write, *, extra: list[Redaction] | tuple[Redaction, ...] = (),
                  window: int = STREAM_WINDOW, reach: int = MAX_SECRET_BYTES) -> list[Redaction]:
    """Copy a stream (``read(n) -> bytes``, ``b""`` at its end) to ``write(bytes)`` with every secret
    :func:`find_secrets` finds, and every ``extra`` range, overwritten by :data:`FILLER`: the
    output has the input's length and differs only inside the returned ranges (offsets in the
    stream, sorted). Memory stays bounded: ``window`` bytes are read at a time and ``reach`` (the
    longest secret, :data:`MAX_SECRET_BYTES`) kept on either side of what was written, so a
    secret across two windows is found whole, as in the whole stream at once."""
    pending = sorted(extra)
    ranges: list[Redaction] = []
    active: list[Redaction] = []  # ranges that reach past what was written
    buf = bytearray()
    base = 0  # offset of buf[0] in the stream
    done = 0  # bytes written
    cursor = 0  # a secret found next starts here or later (the end of the last one)
    eof = False
    while not eof:
        chunk = read(window)
        eof = not chunk
        buf += chunk
        stop = base + len(buf)
        settled = stop if eof else max(done, stop - reach - LOOKAHEAD_MARGIN)
        if settled <= done:
            continue
        frm = max(cursor, done - reach, base + (_BEHIND if base else 0))
        for hit in find_secrets(bytes(buf), frm - base, len(buf)):
            start, end = base + hit.start, base + hit.end
            if start >= settled:
                break
            found = (start, end, hit.rule.id)
            ranges.append(found)
            active.append(found)
            cursor = end
        while pending and pending[0][0] < settled:
            item = pending.pop(0)
            if not any(r[0] <= item[0] and item[1] <= r[1] for r in active):
                ranges.append(item)
            active.append(item)
        out = bytearray(buf[done - base:settled - base])
        for start, end, _rule in active:
            lo, hi = max(start, done), min(end, settled)
            if lo < hi:
                _fill(out, lo - done, hi - done)
        write(bytes(out))
        done = settled
        active = [r for r in active if r[1] > done]
        keep = max(base, done - reach - _BEHIND)
        del buf[:keep - base]
        base = keep
    return sorted(ranges)


def redact_region(src, offset: int, length: int, write, *,
                  extra: list[Redaction] | tuple[Redaction, ...] = ()) -> tuple[list[Redaction], int]:
    """:func:`redact_stream` over ``length`` bytes of a seekable ``src`` from ``offset``: the ranges
    filled (from ``offset``, as ``extra``'s) and how many bytes there were (fewer: ``src`` ended)."""
    src.seek(offset)
    left = length

    def read(n: int) -> bytes:
        nonlocal left
        data = src.read(min(n, left))
        left -= len(data)
        return data

    ranges = redact_stream(read, write, extra=extra)
    return ranges, length - left

