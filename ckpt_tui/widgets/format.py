"""Small formatting helpers shared by the panes (no widgets here)."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import humanize

from ..render import plural  # noqa: F401  (re-exported: "1 socket", "2 sockets"; render.py is Rich-only)

SECRET_NAME = re.compile(r"PASS(WORD|WD)?|TOKEN|SECRET|KEY|CREDENTIAL|PRIVATE|AUTH", re.IGNORECASE)
MASK = "\u2022" * 8


def is_secret_name(name: str) -> bool:
    """True for environment names whose values should be masked (DB_PASSWORD, API_TOKEN ...)."""
    return bool(SECRET_NAME.search(name))


def size(n: int | None) -> str:
    """Binary size: 300.0 KiB."""
    if n is None:
        return "-"
    if abs(n) < 1024:
        return f"{n} B"
    return humanize.naturalsize(n, binary=True, format="%.1f")


def exact_size(n: int | None) -> str:
    if n is None:
        return "-"
    return f"{n:,} B"


def when(value: datetime | None, now: datetime) -> str:
    """Absolute UTC time plus a humanized distance from ``now``."""
    if value is None:
        return "-"
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    absolute = value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    ref = now if now.tzinfo else now.replace(tzinfo=timezone.utc)
    return f"{absolute} ({humanize.naturaltime(ref - value)})"


def address(addr: int, width: int = 12) -> str:
    return f"{addr:0{width}x}"


def sock_addr(host: str, port: int, family: str = "") -> str:
    if not port and host in ("", "::", "0.0.0.0", "::ffff:0.0.0.0"):
        return ""
    if ":" in host or (family == "IPv6" and not host):
        return f"[{host or '::'}]:{port}"
    return f"{host or '0.0.0.0'}:{port}"


def micros(value: int) -> str:
    """Dump-statistics times are in microseconds."""
    if value >= 1_000_000:
        return f"{value / 1_000_000:.2f} s"
    if value >= 1000:
        return f"{value / 1000:.2f} ms"
    return f"{value} µs"


def stat_value(name: str, value: int) -> str:
    if name.endswith("_time"):
        return micros(value)
    return f"{value:,}"


def parse_address(text: str) -> int | None:
    """Parse 0x7f00..., 7f00... (hex by default) or 1234d / decimal with 'd' suffix."""
    text = text.strip().replace("_", "").replace("'", "")
    if not text:
        return None
    try:
        if text.lower().endswith("d") and text[:-1].isdigit():
            return int(text[:-1])
        return int(text, 16)
    except ValueError:
        return None


def truncate(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    return text[: max(0, width - 1)] + "…"


def esc(text: object) -> str:
    """Make any text safe inside Textual markup (textual.markup.escape misses ``[$x]``)."""
    return str(text).replace("[", "\\[")


def vma_label(vma: object, mm: dict | None = None) -> str:
    """The VMA's label, with the main stack named even when CRIU's flags do not say so."""
    label = getattr(vma, "label", "") or "[anon]"
    if label == "[anon]" and mm:
        stack = mm.get("mm_start_stack")
        if isinstance(stack, int) and getattr(vma, "start") <= stack < getattr(vma, "end"):
            return "[stack]"
    return label
