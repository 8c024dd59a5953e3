"""``scan``: what in a checkpoint deserves a look (secrets, processes, the root FS, waste)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .common import add_command, limits, print_json, warn

if TYPE_CHECKING:  # pragma: no cover
    import argparse

LEVELS = ("info", "low", "medium", "high", "critical")  # as actions.scan.LEVELS (checked by the tests)


def cmd_scan(args: argparse.Namespace) -> int:
    from ..actions.scan import at_or_above, scan_path
    from ..actions.scan.text import lines

    ck, report = scan_path(args.path, memory=not args.no_memory, limits=limits(args))
    try:
        warn(ck)
        if args.json:
            print_json(report.to_json(fail_on=args.fail_on, reveal=args.reveal))
        else:
            print("\n".join(lines(report, fail_on=args.fail_on, reveal=args.reveal)))
    finally:
        ck.close()
    return 1 if at_or_above(report.findings, args.fail_on) else 0


def register(sub: Any) -> None:
    s = add_command(
        sub, "scan", cmd_scan, summary="what in a checkpoint deserves a look: secrets, intruders, waste",
        description="Triage a checkpoint: secrets in environments, command lines, all memory and the files of the "
                    "root FS diff (masked unless --reveal); shells and network tools started after the first "
                    "process, binaries from the root FS diff, unexpected listeners, raw sockets, ptrace, deleted "
                    "open files, memfd executables, writable+executable memory; setuid files, new executables, "
                    "files in /tmp and /dev/shm, hidden directories, changes under /etc, authorized_keys, crontabs; "
                    "and a waste score (zero-filled and repeated pages, read-only file pages, logs and caches). "
                    "Each finding has a level and a stable id. Exit 1 when a finding at --fail-on or above exists, "
                    "0 when none does, 2 on bad input.")
    s.add_argument("--json", action="store_true", help="one JSON object (schema ckpt-tui/scan/1)")
    s.add_argument("--fail-on", choices=LEVELS, default="high", metavar="LEVEL",
                   help=f"exit 1 when a finding at LEVEL or above exists ({', '.join(LEVELS)}; default high)")
    s.add_argument("--reveal", action="store_true", help="show the secrets' values (masked otherwise, in --json too)")
    s.add_argument("--no-memory", action="store_true",
                   help="leave the memory pages alone: no memory secrets, no zero-filled or repeated pages (fast)")
