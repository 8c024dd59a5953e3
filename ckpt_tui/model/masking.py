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
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass

SECRET_NAME = re.compile(r"PASS(WORD|WD)?|TOKEN|SECRET|KEY|CREDENTIAL|PRIVATE|AUTH", re.IGNORECASE)
MASK = "\u2022" * 8
FILLER = b"*"  # what a redaction writes over a secret, byte for byte


@dataclass(frozen=True)
class SecretRule:
    """A kind of secret value: a stable id (``scan`` reports it), words for people, and a bytes regex
    whose group ``value`` (or the whole match) is the secret."""

    id: str
    title: str
    pattern: re.Pattern[bytes]


def _rule(rule_id: str, title: str, regex: bytes, flags: int = 0) -> SecretRule:
    return SecretRule(rule_id, title, re.compile(regex, flags))


#: the secret values recognised by their shape (facts of the issuers' token formats)
VALUE_RULES: tuple[SecretRule, ...] = (
    _rule("aws-access-key-id", "AWS access key id", rb"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Z0-9])"),
    _rule("github-token", "GitHub token",
          rb"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,251})"),
    _rule("gitlab-token", "GitLab token", rb"(?<![A-Za-z0-9_])glpat-[A-Za-z0-9_-]{20,64}"),
    _rule("slack-token", "Slack token", rb"(?<![A-Za-z0-9])xox[abposr]-[A-Za-z0-9-]{10,250}"),
    _rule("slack-webhook", "Slack webhook URL",
          rb"https://hooks\.slack\.com/services/T[A-Za-z0-9_]{6,}/B[A-Za-z0-9_]{6,}/[A-Za-z0-9_]{16,64}"),
    _rule("stripe-key", "Stripe secret key", rb"(?<![A-Za-z0-9])(?:sk|rk)_live_[A-Za-z0-9]{16,99}"),
    _rule("google-api-key", "Google API key", rb"(?<![A-Za-z0-9_-])AIza[A-Za-z0-9_-]{35}"),
    _rule("jwt", "JSON web token",
          rb"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,2048}\.eyJ[A-Za-z0-9_-]{8,8192}\.[A-Za-z0-9_-]{8,2048}"),
    _rule("pem-private-key", "PEM private key",
          rb"-----BEGIN (?P<kind>(?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?)-----"
          rb"[\s\S]{16,16384}?-----END (?P=kind)-----"),
    _rule("url-credentials", "URL with a password",
          rb"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{1,15}://[^\s/:@'\"]{1,128}:(?P<value>[^\s/@'\"]{1,256})@"),
)

#: ``NAME=value`` with a secret-looking name; the value is the secret (quotes left out)
ASSIGNMENT = _rule(
    "secret-assignment", "value of a secret-looking name",
    rb"(?<![A-Za-z0-9_])(?P<name>[A-Za-z_][A-Za-z0-9_.-]{0,63})[ \t]{0,4}[=:][ \t]{0,4}[\"']?"
    rb"(?:(?:Bearer|Basic|Token|Bot)[ \t]+)?(?P<value>[^\s\"'&;,<>{}()\x00]{4,512})")

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
    """One secret found in bytes: the rule, and the span of the secret itself."""

    rule: SecretRule
    start: int
    end: int

    def value(self, data: bytes) -> bytes:
        return data[self.start:self.end]


def find_secrets(data: bytes | memoryview, start: int = 0, end: int | None = None) -> Iterator[SecretHit]:
    """Every secret in ``data[start:end]``, in order, not overlapping (a value rule wins over an
    assignment whose value it is). Spans are offsets into ``data``."""
    buf = bytes(data) if isinstance(data, memoryview) else data
    stop = len(buf) if end is None else end
    found: list[SecretHit] = []
    for rule in VALUE_RULES:
        for m in rule.pattern.finditer(buf, start, stop):
            group = "value" if "value" in rule.pattern.groupindex else 0
            found.append(SecretHit(rule, m.start(group), m.end(group)))
    for m in ASSIGNMENT.pattern.finditer(buf, start, stop):
        name = m.group("name").decode("latin-1")
        if is_secret_name(name):
            found.append(SecretHit(ASSIGNMENT, m.start("value"), m.end("value")))
    found.sort(key=lambda h: (h.start, h.rule is ASSIGNMENT, -h.end))
    last = start
    for hit in found:
        if hit.start >= last:
            yield hit
            last = hit.end


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
    name, sep, value = entry.partition("=")
    if sep and name and should_mask(name, value):
        filled = (FILLER * len(value.encode("utf-8", "surrogateescape"))).decode()
        return f"{name}={filled}", ENV_VALUE
    out, hits = redact_text(entry)
    return out, hits[0].rule.id if hits else ""


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


#: bytes past the longest match a rule's look-ahead may read (each reads one)
LOOKAHEAD_MARGIN = 8
