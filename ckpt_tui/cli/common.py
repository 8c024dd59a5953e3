"""What every subcommand shares: the common options, opening a checkpoint, and output that is
safe on a terminal and for a script.

Output rules (README "Command line"): every string that comes from a checkpoint is written
through :func:`ckpt_tui.text.safe` (control bytes escaped) and as Rich ``Text`` (never parsed
as markup); when stdout is not a terminal, lines are neither wrapped nor cut; JSON carries no
raw control byte.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import CkptError
from ..text import parse_size, safe

if TYPE_CHECKING:  # pragma: no cover
    import argparse

    from rich.console import Console
    from rich.text import Text

    from ..archive import Limits
    from ..model.checkpoint import Checkpoint

# the width Rich lays out to when stdout is no terminal: no line is ever wrapped or cut
UNBOUNDED = 1 << 30

# options every subcommand that reads a checkpoint takes (before or after the command name):
# their parsers use SUPPRESS defaults, so a value given before the command is kept; main()
# fills in these defaults afterwards
COMMON_DEFAULTS: dict[str, Any] = {"max_size": None, "max_entries": None, "cache": False, "tls_verify": None, "creds": None,
                                   "authfile": None, "platform": None}  # (the last four: archive.registry.args)


def size_arg(text: str) -> int:
    import argparse

    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def int_arg(text: str) -> int:
    import argparse

    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r} (decimal or 0x hex)") from None


def count_arg(text: str) -> int:
    import argparse

    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


class Options(Protocol):
    """A parser or an argument group: what options are added to."""

    def add_argument(self, *args: Any, **kwargs: Any) -> Any: ...


def add_source_options(parser: Options) -> None:
    """--max-size and --cache, as every subcommand (and the inspector) takes them, and the options
    of a checkpoint image in a registry (docker://: --tls-verify, --creds, --authfile, --platform)."""
    import argparse

    from ..archive.registry.args import add_arguments

    add_arguments(parser, suppress=True)

    parser.add_argument("--max-size", type=size_arg, metavar="SIZE", default=argparse.SUPPRESS,
                        help="stop reading an archive that expands beyond SIZE (default 8G; a "
                             "decompression-bomb bound)")
    parser.add_argument("--max-entries", type=count_arg, metavar="N", default=argparse.SUPPRESS,
                        help="the most entries the model holds: processes, threads, open files, VMAs, pagemap "
                             "runs, argv and environment strings, mounts, root FS entries (default 500000; what "
                             "is past it is left out and a problem says so)")
    parser.add_argument("--cache", action="store_true", default=argparse.SUPPRESS,
                        help="keep what was read in the user cache dir (~/.cache/ckpt-tui), so opening the "
                             "same unchanged archive again is fast (as CKPT_TUI_CACHE=1; off by default)")


PATH_HELP = "archive, directory or OCI image of a checkpoint, or docker://HOST[:PORT]/REPO[:TAG|@DIGEST]"


def add_command(sub: Any, name: str, func: Any, *, summary: str, description: str, path: str | None = PATH_HELP,
                reads_checkpoint: bool = True) -> argparse.ArgumentParser:
    """A subcommand's parser: its PATH argument (unless ``path`` is None), the common options of a
    command that reads a checkpoint, and its handler."""
    s: argparse.ArgumentParser = sub.add_parser(name, help=summary, description=description)
    if path is not None:
        s.add_argument("path", help=path)
    if reads_checkpoint:
        add_source_options(s)
    s.set_defaults(func=func)
    return s


def limits(args: argparse.Namespace) -> Limits | None:
    from ..archive import Limits

    if not args.max_size and args.max_entries is None:
        return None
    bounds = Limits(max_entries=args.max_entries)
    return dataclasses.replace(bounds, max_total_bytes=args.max_size) if args.max_size else bounds


def load(args: argparse.Namespace, path: str | None = None, *, log_files: Iterable[str] = (),
         warn_problems: bool = False, keep_pages: bool = True) -> Checkpoint:
    """The checkpoint at ``path`` (default ``args.path``) with the common options applied."""
    from ..model import load_checkpoint

    ck = load_checkpoint(path if path is not None else args.path, limits=limits(args), log_files=log_files,
                         keep_pages=keep_pages)
    if warn_problems:
        warn(ck)
    return ck


def warn(ck: Checkpoint) -> None:
    """Commands that print no overview still say what kept them from seeing everything."""
    from ..errors import Pane

    for p in ck.problems:
        if p.severity == "error" and p.pane in (Pane.OVERVIEW, Pane.MEMORY, Pane.PROCESSES):
            where = f"{p.source}: " if p.source else ""
            print(f"ckpt-tui: warning: {safe_lines(where + p.message)}", file=sys.stderr)


# -- output -----------------------------------------------------------------------------------
def is_terminal(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)  # a replaced stdout may lack it
    try:
        return bool(isatty and isatty())
    except ValueError:  # closed
        return False


def console(stderr: bool = False) -> Console:
    """A Rich console for data: no markup, emoji or highlighting is read from strings; laid out
    to the terminal's width on a terminal, never wrapped or cut when piped."""
    from rich.console import Console

    tty = is_terminal(sys.stderr if stderr else sys.stdout)
    return Console(stderr=stderr, width=None if tty else UNBOUNDED, markup=False, emoji=False,
                   highlight=False, soft_wrap=False)


def data(value: object, style: str = "") -> Text:
    """A value from a checkpoint as Rich text: control bytes escaped, brackets kept literally."""
    from rich.text import Text

    return Text(safe(str(value)), style=style)


def line(*parts: object) -> Text:
    """One line from parts: a str (data, unstyled) or a (str, style) pair; every part is escaped."""
    from rich.text import Text

    out = Text()
    for part in parts:
        if isinstance(part, tuple):
            out.append(safe(str(part[0])), style=part[1])
        else:
            out.append(safe(str(part)))
    return out


def safe_lines(message: str) -> str:
    """A message (which may quote checkpoint strings, often escaped already) with control bytes
    escaped; its own line breaks kept."""
    return "\n".join(safe(part, keep_backslashes=True) for part in message.split("\n"))


def message(value: str, style: str = "") -> Text:
    """A message of the project's (a problem, a check's reason) as Rich text: see :func:`safe_lines`."""
    from rich.text import Text

    return Text(safe_lines(value), style=style)


def error(message: str) -> None:
    print(f"ckpt-tui: error: {safe_lines(message)}", file=sys.stderr)


def json_text(obj: object) -> str:
    """JSON as the commands print it: indented, ASCII (control bytes and every non-ASCII
    character escaped; DEL too, which JSON would leave raw): ``json.dumps(obj, indent=2,
    default=str)``'s text, built by :mod:`ckpt_tui.jsontext` (several times faster)."""
    from ..jsontext import dumps

    return dumps(obj).replace("\x7f", "\\u007f") + "\n"


def print_json(obj: object) -> None:
    sys.stdout.write(json_text(obj))


def write_out(data_bytes: bytes) -> None:
    """UTF-8 bytes to stdout in one write (or as text where stdout was replaced by one)."""
    buffer = getattr(sys.stdout, "buffer", None)  # a test's or an embedder's StringIO has none
    if buffer is None:
        sys.stdout.write(data_bytes.decode())
        return
    sys.stdout.flush()
    buffer.write(data_bytes)
    buffer.flush()


def quiet_broken_pipe() -> int:
    """The reader went away (``| head``): no error, and no second one when Python flushes
    stdout at exit."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 0


def require(condition: bool, message: str) -> None:
    """A bad option value: CkptError (exit 2) with ``message``."""
    if not condition:
        raise CkptError(message)
