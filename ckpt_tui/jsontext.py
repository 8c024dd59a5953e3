"""JSON text as ``json.dumps(obj, indent=2, default=str)`` writes it, byte for byte, without its
pure-Python encoder (``json`` uses its C encoder only without ``indent``): the commands' JSON
output of 100,000 root-FS entries is built here in a fraction of the time.

The same rules as ``json``: ASCII only (``encode_basestring_ascii``, the C function ``json``
itself uses), keys in insertion order, ``str`` subclasses as strings, ``int`` subclasses (enums)
by ``int.__repr__``, ``float`` by ``float.__repr__`` (``NaN``, ``Infinity``, ``-Infinity``),
tuples as lists, anything else as ``str(value)``. Dict keys that are no str are converted
as ``json`` converts them (bool, None, int, float); other keys raise TypeError as there.
The input must be a tree: a value held inside itself recurses without end (``json`` reports
it as circular).
"""

from __future__ import annotations

from itertools import chain, cycle
from json.encoder import c_make_encoder  # type: ignore[attr-defined]
from json.encoder import encode_basestring_ascii as _string
from typing import Any

__all__ = ["dumps"]

_INF = float("inf")


def _float(value: float) -> str:
    if value != value:
        return "NaN"
    if value == _INF:
        return "Infinity"
    if value == -_INF:
        return "-Infinity"
    return float.__repr__(value)


def _scalar(value: Any) -> str | None:
    """A leaf's text; None for a list, tuple or dict."""
    if isinstance(value, str):
        return _string(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, (list, tuple, dict)):
        return None
    return _string(str(value))  # default=str: the value's text, as a string


def _key(key: Any) -> str:
    if isinstance(key, str):
        return _string(key)
    if key is None or isinstance(key, (int, float)):  # bool is an int: "true", "false"
        return f'"{_scalar(key)}"'
    raise TypeError(f"keys must be str, int, float, bool or None, not {key.__class__.__name__}")


_CONTAINERS = (list, tuple, dict)
_flat_encoders: dict[str, Any] = {}


def _flat(newline: str) -> Any:
    """``json``'s C encoder writing a container that holds no container (one line per item) at
    the indent of ``newline``: its item separator carries the line break and the indent."""
    enc = _flat_encoders.get(newline)
    if enc is None:
        enc = _flat_encoders[newline] = c_make_encoder(None, str, _string, None, ": ", "," + newline, False, False,
                                                       True)
    return enc


_RECORDS_FROM = 8  # a list this long is tried as records
_UNIT = "\x00"  # never in ASCII JSON text (control characters are escaped)
_CHUNK = 2048  # records laid out at a time


def _records(items: list[Any] | tuple[Any, ...], out: list[str], newline: str) -> bool:
    """A list of dicts that all have the same keys (in the same order) and hold no container
    (root FS entries, open files, sockets): the values of a few thousand records at a time
    encoded by one C call, the text laid out from them and the keys by joins. False (nothing
    appended) for any other list."""
    first = items[0]
    if type(first) is not dict or not first:
        return False
    keys = tuple(first)
    for item in items:
        if type(item) is not dict or tuple(item) != keys:
            return False
    for item in items:
        for v in item.values():
            if isinstance(v, _CONTAINERS):
                return False
    inner = newline + "  "
    field = inner + "  "
    heads = [f"{_key(k)}: " for k in keys]
    prefixes = [f",{field}{h}" for h in heads]
    prefixes[0] = f"{newline}  }},{inner}{{{field}{heads[0]}"
    encode = _flat(_UNIT)
    for start in range(0, len(items), _CHUNK):  # bounded: the pieces of one chunk at a time
        values = [v for item in items[start:start + _CHUNK] for v in item.values()]
        pieces = "".join(encode(values, 0))[1:-1].split("," + _UNIT)
        parts = list(chain.from_iterable(zip(cycle(prefixes), pieces)))
        parts[0] = f"[{inner}{{{field}{heads[0]}" if start == 0 else prefixes[0]
        out.append("".join(parts))
    out.append(f"{inner}}}{newline}]")
    return True


def _encode(value: Any, out: list[str], newline: str) -> None:
    """Append ``value``'s text to ``out``; ``newline`` is a line break and the indent of the line
    ``value`` starts on."""
    inner = newline + "  "
    if isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        if c_make_encoder is not None:
            for item in value.values():
                if isinstance(item, _CONTAINERS):
                    break
            else:  # one C call: '{"a": 1,<inner>"b": 2}' gets its first and last line breaks
                flat = "".join(_flat(inner)(value, 0))
                out.append(f"{{{inner}{flat[1:-1]}{newline}}}")
                return
        sep = "{" + inner
        for key, item in value.items():
            text = _scalar(item)
            if text is not None:
                out.append(f"{sep}{_key(key)}: {text}")
            else:
                out.append(f"{sep}{_key(key)}: ")
                _encode(item, out, inner)
            sep = "," + inner
        out.append(newline + "}")
        return
    if not value:
        out.append("[]")
        return
    if c_make_encoder is not None:
        for item in value:
            if isinstance(item, _CONTAINERS):
                break
        else:
            flat = "".join(_flat(inner)(value, 0))
            out.append(f"[{inner}{flat[1:-1]}{newline}]")
            return
        if len(value) >= _RECORDS_FROM and _records(value, out, newline):
            return
    sep = "[" + inner
    for item in value:
        text = _scalar(item)
        if text is not None:
            out.append(sep + text)
        else:
            out.append(sep)
            _encode(item, out, inner)
        sep = "," + inner
    out.append(newline + "]")


def dumps(value: Any) -> str:
    """``json.dumps(value, indent=2, default=str)``."""
    text = _scalar(value)
    if text is not None:
        return text
    out: list[str] = []
    _encode(value, out, "\n")
    return "".join(out)
