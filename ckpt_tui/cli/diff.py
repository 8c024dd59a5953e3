"""``diff``: two checkpoints compared, down to the page (see :mod:`ckpt_tui.actions.diff`).

Exit code 0 when they are the same, 1 when they differ, 2 on bad input (as ``diff(1)``).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from .common import add_command, console, is_terminal, json_text, limits, write_out

if TYPE_CHECKING:  # pragma: no cover
    import argparse

# dive's colours for its markers; the marker itself says the same without colour (NO_COLOR)
STYLES = {"added": "green", "removed": "red", "modified": "yellow", "unchanged": ""}


def cmd_diff(args: argparse.Namespace) -> int:
    from ..actions.diff import AREAS, DiffOptions, diff_checkpoints, load_pair, parse_areas
    from ..actions.diff.render import Filter, lines
    from ..errors import CkptError

    if args.mask and args.reveal:
        raise CkptError("--mask and --reveal contradict each other")
    areas = parse_areas(args.only) if args.only else AREAS
    a, b = load_pair(args.path, args.other, areas, limits=limits(args))
    try:
        result = diff_checkpoints(a, b, DiffOptions(areas=areas, keep_unchanged=args.show_unchanged))
    finally:
        a.close()
        b.close()
    if args.json:
        write_out(json_text(result.to_json(reveal=not args.mask, unchanged=args.show_unchanged)).encode())
    else:
        flt = Filter.everything() if args.show_unchanged else Filter()
        rows = lines(result, flt, reveal=args.reveal)
        if is_terminal(sys.stdout):
            from rich.text import Text

            out = console()
            for row in rows:
                text = Text(row.prefix, style="dim")
                text.append(f"{row.status.marker} {row.text}", style=STYLES[row.status.value])
                out.print(text)
        else:  # for scripts: plain lines, nothing wrapped, cut or coloured
            write_out("".join(row.plain + "\n" for row in rows).encode())
    return 0 if result.same else 1


def register(sub: Any) -> None:
    from ..actions.diff import AREAS

    s = add_command(
        sub, "diff", cmd_diff, summary="compare two checkpoints, down to the page",
        path="the first (older) checkpoint: archive, directory, OCI image or pod",
        description="Compare two checkpoints: processes matched by identity (pid, command, memory layout) "
                    "with their environment, threads, credentials, limits, open files, sockets, VMAs and "
                    "memory page by page; the root FS diffs by content; mounts, network, annotations, "
                    "metadata, dump statistics and sizes; a pre-dump chain as layers. Markers as dive's: "
                    "+ added, ~ modified, - removed. Exit 0 when they are the same, 1 when they differ, "
                    "2 on bad input. Secret-looking environment values are masked unless --reveal.")
    s.add_argument("other", metavar="PATH2", help="the second (newer) checkpoint")
    s.add_argument("--json", action="store_true",
                   help="one JSON object (a stable schema, 'schema' gives its version) instead of the tree; "
                        "environment values as they are, unless --mask")
    s.add_argument("--only", metavar="AREAS",
                   help=f"compare only these, comma-separated: {', '.join(AREAS)}")
    s.add_argument("--show-unchanged", action="store_true", help="also list what is the same")
    s.add_argument("--mask", action="store_true", help="mask secret-looking environment values in --json too")
    s.add_argument("--reveal", action="store_true", help="show secret-looking environment values in the tree")
