"""How the project writes values as text, decided once: sizes, times, counts, bytes, unsafe strings.

Every layer may import this module (it imports only the standard library and ``humanize``):
the archive layer's messages, the model's problems, the CLI's output and the UI's panes all
say a size, a time or a count the same way.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timezone

_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def size(n: int | None) -> str:
    """A size in binary units: ``512 B``, ``300.0 KiB``, ``3.9 MiB`` (``-`` for unknown)."""
    if n is None:
        return "-"
    if -1024 < n < 1024:
        return f"{n} B"
    value = float(n)
    for unit in _UNITS:
        value /= 1024
        if abs(value) < 1024 or unit == _UNITS[-1]:
            return f"{value:.1f} {unit}"
    return f"{n} B"  # pragma: no cover - the loop always returns


def exact_size(n: int | None) -> str:
    """Every byte, grouped: ``61,440 B``."""
    return "-" if n is None else f"{n:,} B"


def ratio(value: float | None) -> str:
    """A compression ratio, uncompressed to compressed: ``2.9:1`` (``-`` when unknown)."""
    return "-" if value is None else f"{value:.1f}:1"


def count(n: int) -> str:
    """A count with thousands separators: ``100,000``."""
    return f"{n:,}"


def plural(n: int, noun: str, many: str | None = None) -> str:
    """``n`` and the noun in the right number: "1 socket", "2 sockets", "1,204 processes".

    ``many`` gives an irregular plural; otherwise -s, or -es after s, x, z, ch and sh."""
    if n == 1:
        word = noun
    elif many is not None:
        word = many
    elif noun.endswith(("s", "x", "z", "ch", "sh")):
        word = noun + "es"
    else:
        word = noun + "s"
    return f"{n:,} {word}"


_DIGITS = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """A sort key that orders names as people read them: ``d2`` before ``d10``, case folded.

    Runs of digits compare as numbers, the rest as case-folded text (numbers first where the
    two differ in kind, so the key never compares an int with a str)."""
    return tuple((0, int(part)) if part.isdigit() else (1, part.casefold())
                 for part in _DIGITS.split(text) if part)


def parse_time(value: object) -> datetime | None:
    """An engine's timestamp (RFC 3339 with up to nanoseconds, ``Z`` or an offset) as an aware
    datetime; None for anything else, and for Go's zero time ``0001-01-01T00:00:00Z``."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.startswith("0001-01-01"):
        return None
    if text[-1:] in "Zz":
        text = text[:-1] + "+00:00"
    if "." in text:  # fromisoformat takes at most microseconds
        head, _, rest = text.partition(".")
        digits = len(rest) - len(rest.lstrip("0123456789"))
        frac, tail = rest[:digits], rest[digits:]
        text = f"{head}.{frac[:6].ljust(6, '0')}{tail}" if frac else head + tail
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def absolute_time(value: datetime) -> str:
    """``2026-11-23 12:26:12 UTC``."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso_time(value: datetime | None) -> str | None:
    """A time for JSON: RFC 3339 in UTC with ``Z`` (``2026-11-23T12:26:12.230741Z``); None stays None."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def when(value: datetime | None, now: datetime | None = None, missing: str = "-") -> str:
    """Absolute UTC time and how long ago from ``now``: ``2026-11-23 12:26:12 UTC (8 days ago)``."""
    if value is None:
        return missing
    import humanize

    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    ref = now or datetime.now(timezone.utc)
    if ref.tzinfo is None:
        ref = ref.replace(tzinfo=timezone.utc)
    return f"{absolute_time(value)} ({humanize.naturaltime(ref - value)})"


def micros(value: int) -> str:
    """A duration in microseconds (CRIU's dump statistics): ``850 µs``, ``1.25 ms``, ``2.00 s``."""
    if value >= 1_000_000:
        return f"{value / 1_000_000:.2f} s"
    if value >= 1000:
        return f"{value / 1000:.2f} ms"
    return f"{value} µs"


def printable(data: bytes, dot: str = ".") -> str:
    """Bytes as ASCII for a dump column: printable ASCII as is, every other byte as ``dot``."""
    return data.decode("latin-1").translate(_DOTS if dot == "." else _dot_table(dot))


def _dot_table(dot: str) -> dict[int, str]:
    return {b: (chr(b) if 32 <= b < 127 else dot) for b in range(256)}


_DOTS = _dot_table(".")


def safe(text: str, *, keep_backslashes: bool = False) -> str:
    """A string from a checkpoint made safe to print on a terminal: raw bytes kept as surrogates
    (surrogateescape) become ``\\xNN``, control and other invisible characters are escaped
    (``\\x1b``, ``\\u202e``), a backslash is doubled. Printable text is left as it is.
    ``keep_backslashes``: for messages that quote names the lower layers escaped already
    (a backslash is left single: no raw control byte either way)."""
    if text.isprintable() and (keep_backslashes or "\\" not in text):
        return text
    out: list[str] = []
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # surrogateescape'd raw byte
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch == "\\" and not keep_backslashes:
            out.append("\\\\")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif code > 0x7F and unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(ch)
    return "".join(out)


_SIZE_ARG = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?\s*", re.I)
_MULT = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def parse_size(text: str) -> int:
    """``8G``, ``512M``, ``1.5GiB``, ``4096`` -> bytes (binary multiples); ValueError otherwise."""
    m = _SIZE_ARG.fullmatch(text)
    if not m:
        raise ValueError(f"not a size: {text!r} (try 8G, 512M)")
    return int(float(m.group(1)) * _MULT[m.group(2).lower()])


def parse_address(text: str) -> int | None:
    """An address typed by a user: hex with or without ``0x`` (``7f00…``), or decimal with a
    ``d`` suffix (``4096d``); ``_`` and ``'`` group digits. None when it is neither."""
    text = text.strip().replace("_", "").replace("'", "")
    if not text:
        return None
    try:
        if text[-1:] in "dD" and text[:-1].isdigit():
            return int(text[:-1])
        return int(text, 16)
    except ValueError:
        return None
