"""The ``ckpt-tui`` command line: one parser, one small module per command group.

``ckpt-tui [PATH]`` opens the interactive inspector (no PATH: the bundled demo) — the only
place that imports Textual; the subcommands (:mod:`.inspect`: inspect, list; :mod:`.memory`:
memsearch, memdump, decode; :mod:`.diff`: diff; :mod:`.scan`: scan; :mod:`.actions`: build, restore,
diagnose; :mod:`.redact`,
:mod:`.report`, :mod:`.serve`) work without the UI.
Errors on bad input go to stderr with exit code 2 and no traceback.

A cached ``inspect --json`` is answered before argparse, the model or protobuf are imported:
keep this module's imports to the standard library.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from .. import __version__, shutdown

if TYPE_CHECKING:  # pragma: no cover
    import argparse

    from .common import Options

# the module that registers each command (in the order --help lists them)
COMMAND_MODULES = {"inspect": "inspect", "list": "inspect", "diff": "diff", "memsearch": "memory",
                   "memdump": "memory", "decode": "memory", "scan": "scan", "build": "actions",
                   "restore": "actions", "diagnose": "actions", "check": "verdict", "host-profile": "verdict",
                   "redact": "redact", "report": "report", "serve": "serve"}
SUBCOMMANDS = tuple(COMMAND_MODULES)
UI_COMMAND = "ui"  # hidden: `ckpt-tui [PATH] [options]` is parsed as `ckpt-tui ui [PATH] [options]`
# top-level options that take a value (to find the command name after them)
_VALUE_OPTIONS = ("--log", "--max-size", "--creds", "--authfile", "--platform")

USAGE = """\
ckpt-tui [PATH [PATH2]] [--log FILE] [--readonly] [--masked] [--max-size SIZE] [--cache]
       ckpt-tui COMMAND [options]   (ckpt-tui COMMAND --help for each)"""

DESCRIPTION = """\
Inspect container checkpoints (Podman, CRI-O, containerd; CRIU images).

ckpt-tui [PATH] opens the interactive inspector on PATH (an archive, a directory, an OCI image,
or a directory of checkpoints); without PATH, its bundled demo checkpoint; ckpt-tui PATH PATH2
opens PATH and shows how PATH2 differs from it (as ckpt-tui diff does). The commands work
without the UI. Every PATH may also be docker://HOST[:PORT]/REPO[:TAG|@DIGEST], a checkpoint
image in a registry (docker://HOST/REPO alone: the inspector lists its checkpoint tags)."""

EPILOG = """\
--max-size and --cache are taken by every command that reads a checkpoint, before or after
the command name. Output that is not a terminal is never wrapped or cut, and strings from the
checkpoint are printed with control characters escaped; exit code 2 means bad input.

environment:
  CKPT_TUI_CACHE=1         keep what was read in ~/.cache/ckpt-tui (as --cache); 0: never
  CKPT_TUI_CACHE_DIR=DIR   keep it in DIR instead
  CKPT_TUI_CACHE_MAX=SIZE  bound of that cache (default 2G; least recently used go first)
"""


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The one parser: the inspector's options, then every subcommand; given the ``command``
    argv names, only the module of that command is imported and registered (what it parses is
    the same, and a command pays for no other command's imports)."""
    import argparse
    import importlib

    from .common import add_source_options

    names = dict.fromkeys(COMMAND_MODULES.values())
    if command is not None:
        names = {COMMAND_MODULES[command]: None} if command in COMMAND_MODULES else {}
    p = argparse.ArgumentParser(prog="ckpt-tui", usage=USAGE, description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"ckpt-tui {__version__}")
    g = p.add_argument_group("inspector options (ckpt-tui [PATH])")
    _add_ui_options(g)
    add_source_options(g)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", title="commands", prog="ckpt-tui")
    for name in names:
        importlib.import_module(f"{__name__}.{name}").register(sub)

    ui = sub.add_parser(UI_COMMAND, prog="ckpt-tui",  # no help=: not listed among the commands
                        description="Open a checkpoint in the interactive inspector (no PATH: the bundled demo).")
    ui.add_argument("path", nargs="?", help="archive, directory, OCI image, or a directory of checkpoints")
    ui.add_argument("other", nargs="?", metavar="PATH2", help="a second checkpoint: show how it differs from PATH")
    _add_ui_options(ui)
    add_source_options(ui)
    ui.set_defaults(func=cmd_ui)
    return p


def _add_ui_options(p: Options) -> None:
    import argparse

    p.add_argument("--log", action="append", metavar="FILE", default=argparse.SUPPRESS,
                   help="attach an external restore.log / dump.log")
    p.add_argument("--readonly", action="store_true", default=argparse.SUPPRESS,
                   help="disable the build and restore actions")
    p.add_argument("--masked", action="store_true", default=argparse.SUPPRESS,
                   help="keep secrets masked: S does not show them (what serve runs)")


def cmd_ui(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..archive.registry import is_remote
    from ..errors import CkptError

    for path in (args.path, getattr(args, "other", None)):
        if path is not None and not is_remote(path) and not Path(path).exists():
            raise CkptError(f"no such file or directory: {path} (commands: {', '.join(SUBCOMMANDS)})")
    from ..app import run_app

    return run_app(args.path, log_files=args.log or (), readonly=args.readonly, max_size=args.max_size,
                   masked=args.masked, compare=getattr(args, "other", None), max_entries=args.max_entries)


def _first_word(argv: list[str]) -> str | None:
    """The first argument that is no option nor an option's value ("" after ``--``)."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return argv[i + 1] if i + 1 < len(argv) else None
        if arg in _VALUE_OPTIONS:
            i += 2
            continue
        if not arg.startswith("-"):
            return arg
        i += 1
    return None


def _command(argv: list[str]) -> str | None:
    """The subcommand ``argv`` names, None for the inspector."""
    word = _first_word(argv)
    return word if word in (*SUBCOMMANDS, UI_COMMAND) and "--" not in argv[:argv.index(word)] else None


def _has_path(argv: list[str]) -> bool:
    return _first_word(argv) is not None


def _cached(argv: list[str]) -> bytes | None:
    """``[--cache] inspect PATH --json [--cache] [--mask]`` answered from the opt-in cache,
    before argparse and the model are imported; None: run the command."""
    lead = 0
    while lead < len(argv) and argv[lead] == "--cache":
        lead += 1
    if argv[lead:lead + 1] != ["inspect"] or "--json" not in argv:
        return None
    rest = [a for a in argv[lead + 1:] if a not in ("--json", "--cache", "--mask")]
    if len(rest) != 1 or rest[0].startswith("-"):
        return None
    import os

    from ..archive.results import ENV_ON, lookup_result
    from .inspect import inspect_options

    if "--cache" in argv:
        os.environ[ENV_ON] = "1"
    return lookup_result(rest[0], "inspect", inspect_options(None, "--mask" in argv))


def _exit_on_signal(signum: int) -> None:
    raise SystemExit(128 + signum)  # unwinds: workspaces are closed, commands killed on the way out


def main(argv: list[str] | None = None) -> int:
    """The command line. SIGTERM / SIGHUP end any command within ``shutdown.GRACE`` seconds, with
    the status 128 + the signal's number and the temp workspace removed."""
    try:
        return shutdown.finish(_main(argv))
    except SystemExit:
        code = shutdown.exit_code()
        if code is not None:
            shutdown.force_exit(code)  # the cleanups again (a signal may have cut one short), then leave
        raise


def _main(argv: list[str] | None) -> int:
    from .common import quiet_broken_pipe, write_out

    argv = list(sys.argv[1:] if argv is None else argv)
    # --tls-verify alone means true (as skopeo's): never let it take the next word (a PATH) as its value
    end = argv.index("--") if "--" in argv else len(argv)
    argv = ["--tls-verify=true" if i < end and a == "--tls-verify" else a for i, a in enumerate(argv)]
    hit = _cached(argv)
    if hit is not None:
        try:
            write_out(hit)
        except BrokenPipeError:
            return quiet_broken_pipe()
        return 0
    shutdown.install(_exit_on_signal)
    if _command(argv) is None and (_has_path(argv) or not {"-h", "--help", "--version"} & set(argv)):
        argv = [UI_COMMAND, *argv]  # `ckpt-tui PATH --help` is the inspector's help
    parser = build_parser(_command(argv))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error (exit 2): the parser has said it
        return 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 2
    if getattr(args, "func", None) is None:  # only top-level options were given
        parser.print_help()
        return 0
    return run(args)


def run(args: argparse.Namespace) -> int:
    """Run a parsed command: bad input is one line on stderr and exit 2."""
    import os

    from ..errors import CkptError
    from .common import COMMON_DEFAULTS, error, quiet_broken_pipe

    for name, value in (*COMMON_DEFAULTS.items(), ("log", None), ("readonly", False), ("masked", False)):
        if not hasattr(args, name):  # the options' SUPPRESS defaults (see common.COMMON_DEFAULTS)
            setattr(args, name, value)
    if args.cache:
        from ..archive.results import ENV_ON

        os.environ[ENV_ON] = "1"  # every layer asks the environment (UI worker threads too)
    try:
        from ..archive.registry.args import apply

        apply(args)  # --tls-verify, --creds, --authfile, --platform for docker:// sources
        return int(args.func(args) or 0)
    except CkptError as exc:
        error(str(exc))
        return 2
    except BrokenPipeError:
        return quiet_broken_pipe()
    except OSError as exc:  # a file the user named cannot be written or read
        where = f" {exc.filename}" if exc.filename else ""
        error(f"{where.strip()}{':' if where else ''} {exc.strerror or exc}".strip())
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
