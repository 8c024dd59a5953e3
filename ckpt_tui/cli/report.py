"""``report``: one self-contained HTML (or Markdown) file about a checkpoint, for a bug report
(:mod:`ckpt_tui.actions.report`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import CkptError
from .common import add_command, load, write_out

if TYPE_CHECKING:  # pragma: no cover
    import argparse


def report_format(fmt: str | None, output: str | None) -> str:
    """The format asked for, else the one the output's name says (``.md`` Markdown), else HTML."""
    if fmt:
        return fmt
    return "md" if output and Path(output).suffix.lower() in (".md", ".markdown") else "html"


def cmd_report(args: argparse.Namespace) -> int:
    from ..actions.report import report_text

    fmt = report_format(args.format, args.output)
    if args.output and args.output != "-" and Path(args.output).is_dir():
        raise CkptError(f"{args.output} is a directory: name the report's file")
    ck = load(args, log_files=args.log or ())
    try:
        out = report_text(ck, fmt, reveal=args.reveal, preflight=not args.no_preflight).encode()
    finally:
        ck.close()
    if not args.output or args.output == "-":
        write_out(out)
        return 0
    Path(args.output).write_bytes(out)
    import sys

    print(f"Wrote {args.output} ({fmt}, {len(out):,} bytes)", file=sys.stderr)
    return 0


def register(sub: Any) -> None:
    from ..actions.report import FORMATS

    s = add_command(
        sub, "report", cmd_report, summary="one self-contained HTML or Markdown file about a checkpoint",
        description="Write a report of a checkpoint for a bug: the restore verdict and preflight checks (run on "
                    "this machine), the overview, the process tree with command lines, environments, open files "
                    "and sockets, each process's memory map, the root FS diff, network, mounts, the logs with their "
                    "diagnosis, and the problems. HTML is one file with its style inline, no script and no "
                    "reference outside itself (it opens offline and prints well); Markdown is the same for pasting "
                    "into an issue. Secrets are masked unless --reveal.")
    s.add_argument("-o", "--output", metavar="FILE", help="where to write it (default: standard output)")
    s.add_argument("--format", choices=FORMATS, help="html or md (default: from FILE's suffix, .md is Markdown; else html)")
    s.add_argument("--reveal", action="store_true", help="show secrets (do not share such a report)")
    s.add_argument("--no-preflight", action="store_true", help="leave out the preflight checks of this machine")
    s.add_argument("--log", action="append", metavar="FILE", help="attach an external CRIU log (diagnosed in the report)")
