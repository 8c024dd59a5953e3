"""The ``ckpt-tui`` command line.

``ckpt-tui [PATH]`` opens the interactive inspector (no PATH: the bundled demo);
the subcommands work without the UI and never import Textual. Errors on bad
input go to stderr with exit code 2 and no traceback.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from . import __version__
from .errors import CkptError
from .text import printable

SUBCOMMANDS = ("inspect", "memsearch", "memdump", "decode", "list", "build", "restore", "diagnose")

EPILOG = """\
commands (ckpt-tui COMMAND --help for each):
  inspect PATH [--json]            overview of a checkpoint (metadata, processes, files, sockets, network)
  memsearch PATH PATTERN           search the memory of every process (--pid, --regex, --hex, --utf16,
                                   --container for one container of a pod)
  memdump PATH --pid N --address A hex dump of process memory
  decode PATH IMAGE                one CRIU image as JSON, as `crit decode --pretty` prints it
  list [DIR ...]                   checkpoints found in directories (default /var/lib/kubelet/checkpoints, .)
  build PATH IMAGE                 write an OCI image of the checkpoint
  restore PATH                     restore it with the engine (preflight checks first)
  diagnose LOG [--checkpoint PATH] explain a failed CRIU restore/dump log

with no command: ckpt-tui [PATH] opens the inspector; without PATH, its bundled demo checkpoint.

environment:
  CKPT_TUI_CACHE=1         keep what was read in ~/.cache/ckpt-tui (as --cache); 0: never
  CKPT_TUI_CACHE_DIR=DIR   keep it in DIR instead
  CKPT_TUI_CACHE_MAX=SIZE  bound of that cache (default 2G; least recently used go first)
"""


def _size_arg(text: str) -> int:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*", text, re.I)
    if not m:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (try 8G, 512M)")
    mult = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[m.group(2).lower()]
    return int(float(m.group(1)) * mult)


def _int_arg(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r} (decimal or 0x hex)") from None


def _limits(args: argparse.Namespace):
    from .archive import Limits

    if getattr(args, "max_size", None):
        return Limits(max_total_bytes=args.max_size)
    return None


def _load(args: argparse.Namespace, log_files=(), warn: bool = False, keep_pages: bool = True):
    from .model import load_checkpoint

    ck = load_checkpoint(args.path, limits=_limits(args), log_files=log_files, keep_pages=keep_pages)
    if warn:
        _warn(ck)
    return ck


def _warn(ck) -> None:
    """Commands that print no overview still say what kept them from seeing everything."""
    for p in ck.problems:
        if p.severity == "error" and p.pane in ("overview", "memory", "processes"):
            print(f"ckpt-tui: warning: {p.source + ': ' if p.source else ''}{p.message}", file=sys.stderr)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-size", type=_size_arg, metavar="SIZE",
                   help="stop reading an archive that expands beyond SIZE (default 8G)")
    p.add_argument("--cache", action="store_true",
                   help="keep what was read in the user cache dir (~/.cache/ckpt-tui), so opening the "
                        "same unchanged archive again is fast (same as CKPT_TUI_CACHE=1; off by default)")


# -- inspect ------------------------------------------------------------------
def _inspect_options(max_size: int | None) -> dict:
    return {"json": True, "max_size": max_size}


def cmd_inspect(args: argparse.Namespace) -> int:
    import os

    before = None
    if args.json and not args.log and args.max_size is None:  # kept in the opt-in cache (read back by _cached)
        try:
            before = os.stat(args.path)
        except OSError:
            pass
    # an overview needs no memory pages: argv/environ are taken as they stream past
    ck = _load(args, log_files=args.log or (), keep_pages=False)
    try:
        if args.json:
            from .model.export import to_json

            data = (json.dumps(to_json(ck), indent=2, default=str) + "\n").encode()
            _write_out(data)
            if before is not None and not any(p.severity == "error" for p in ck.problems):
                # errors are not kept: one may come from this machine (a full disk), not the archive
                from .archive.results import store_result

                store_result(args.path, before, "inspect", _inspect_options(args.max_size), data)
        else:
            from .render import render_overview

            from rich.console import Console

            Console().print(render_overview(ck))
    finally:
        ck.close()
    return 0


# -- memory ------------------------------------------------------------------
MAX_CONTEXT = 65536  # --context bound: more would make the streaming search keep whole pages images


def _pod_containers(ck) -> list:
    """The containers of a pod checkpoint, [] for any other."""
    from .model.pods import is_pod

    return list(ck.containers) if ck.containers or is_pod(ck.source) else []


def _container_list(containers) -> str:
    return ", ".join(f"{c.info.name} ({getattr(c.source, 'prefix', '')})" for c in containers) or "none"


def _choose_containers(ck, wanted: str | None) -> list:
    """The containers of pod ``ck`` that ``--container`` names (all for None); CkptError
    when it names none, or when ``ck`` is no pod and a container was asked for."""
    from .model.pods import select_containers

    if not _pod_containers(ck):
        if wanted is not None:
            raise CkptError(f"--container {wanted!r}: {ck.info.name or 'this checkpoint'} is not a pod checkpoint")
        return []
    chosen = select_containers(ck, wanted)
    if not chosen:
        if not ck.containers:
            raise CkptError("the pod checkpoint holds no container that could be read")
        raise CkptError(f"no container {wanted!r} in the pod (containers: {_container_list(ck.containers)})")
    return chosen


def _pid_list(containers) -> str:
    return "; ".join(f"{c.info.name}: {', '.join(map(str, sorted(c.processes))) or 'none'}" for c in containers)


def cmd_memsearch(args: argparse.Namespace) -> int:
    from .model.patterns import parse_pattern

    pattern = parse_pattern(args.pattern, "hex" if args.hex else "regex" if args.regex else "text",
                            utf16=args.utf16, ignore_case=args.ignore_case)
    if args.limit < 1:
        raise CkptError("--limit must be at least 1")
    if not 0 <= args.context <= MAX_CONTEXT:
        raise CkptError(f"--context must be between 0 and {MAX_CONTEXT} bytes")
    from .model.tap import load_and_search

    # one pass: the pages of a compressed archive are searched as they stream past, never kept
    # (a pod's containers are searched below, in the model)
    ck, matches = load_and_search(args.path, pattern, pids=[args.pid] if args.pid is not None else None,
                                  context=args.context, limit=args.limit, limits=_limits(args))
    try:
        _warn(ck)
        found: list[tuple[str | None, object]]
        if _pod_containers(ck) or args.container is not None:
            # a pod's pages are all kept: the tap takes only a top-level checkpoint/'s images
            found = _pod_search(ck, args, pattern)
        else:
            if args.pid is not None and args.pid not in ck.processes:
                raise CkptError(f"no process with pid {args.pid} (pids: {', '.join(map(str, sorted(ck.processes)))})")
            found = [(None, m) for m in matches]
        if args.json:
            rows = []
            for name, m in found:
                row = {"container": name} if name is not None else {}
                row.update({"pid": m.pid, "address": f"{m.address:#x}", "vma": m.vma.label if m.vma else None,
                            "vma_start": f"{m.vma.start:#x}" if m.vma else None,
                            "match": m.match.decode("latin-1"), "before": m.before.decode("latin-1"),
                            "after": m.after.decode("latin-1")})
                rows.append(row)
            json.dump(rows, sys.stdout, indent=2)
            sys.stdout.write("\n")
        else:
            if not found:
                print(f"no matches for {args.pattern!r}")
            width = max((len(name) for name, _ in found if name is not None), default=0)
            for name, m in found:
                vma = f"{m.vma.label} {m.vma.start:#x}+{m.address - m.vma.start:#x}" if m.vma else "?"
                where = f"{name:<{width}}  " if name is not None else ""
                print(f"{where}pid {m.pid:<6} {m.address:#018x}  {vma:<40} "
                      f"{printable(m.before)}[{printable(m.match)}]{printable(m.after)}")
            print(f"{len(found)} match{'es' if len(found) != 1 else ''}", file=sys.stderr)
    finally:
        ck.close()
    return 0


def _pod_search(ck, args: argparse.Namespace, pattern) -> list:
    """(container name, match) for every match in the chosen containers of a pod, container
    by container (pod.options order), pid then address order within each; at most --limit
    in all. --pid applies within the chosen containers (an error when none has it)."""
    from .model.memory import search_memory

    chosen = _choose_containers(ck, args.container)
    if args.pid is not None:
        having = [c for c in chosen if args.pid in c.processes]
        if not having:
            raise CkptError(f"no process with pid {args.pid} in "
                            f"{'container ' + repr(args.container) if args.container else 'any container'} "
                            f"(pids: {_pid_list(chosen)})")
        chosen = having
    found: list = []
    for sub in chosen:
        left = args.limit - len(found)
        if left <= 0:
            break
        for m in search_memory(sub, pattern, pids=[args.pid] if args.pid is not None else None,
                               context=args.context, limit=left):
            found.append((sub.info.name, m))
    return found[:args.limit]


def cmd_memdump(args: argparse.Namespace) -> int:
    if args.length < 1:
        raise CkptError("--length must be at least 1")
    pod = _load(args, warn=True)
    try:
        ck = _memdump_target(pod, args)
        if args.pid not in ck.processes:
            raise CkptError(f"no process with pid {args.pid} (pids: {', '.join(map(str, sorted(ck.processes)))})")
        reader = ck.memory(args.pid)
        if reader.vma_at(args.address) is None:
            raise CkptError(f"address {args.address:#x} is not mapped in pid {args.pid}")
        end = args.address + args.length
        if args.output:
            # raw bytes, a page at a time (bounded memory); pages not in the dump are written
            # as zeros, and how many is said
            filled = 0
            with open(args.output, "wb") as out:
                for addr, length, state in reader.runs_between(args.address, end):
                    if state == "present":
                        pos = addr
                        while pos < addr + length:
                            n = min(1 << 20, addr + length - pos)
                            out.write(reader.read(pos, n))
                            pos += n
                    else:
                        filled += length
                        out.seek(length, 1)
                out.truncate()
            print(f"wrote {args.length} bytes to {args.output}"
                  + (f"; {filled} of them are not in the dump and were written as zeros" if filled else ""),
                  file=sys.stderr)
            return 0
        start = args.address - args.address % 16
        for addr, length, state in reader.runs_between(start, end):
            if state != "present":
                print(f"{addr:016x}  -- {state}: {length} bytes not in the dump --")
                continue
            for row in range(addr, addr + length, 16):
                chunk = reader.read(row, min(16, addr + length - row))
                hexpart = " ".join(f"{b:02x}" for b in chunk)
                print(f"{row:016x}  {hexpart[:23]:<23}  {hexpart[24:]:<23}  |{printable(chunk)}|")
    finally:
        pod.close()
    return 0


def _memdump_target(ck, args: argparse.Namespace):
    """The checkpoint whose process ``--pid`` means: ``ck`` itself, or for a pod the one
    chosen container holding that pid (--container when more than one has it)."""
    chosen = _choose_containers(ck, args.container)
    if not chosen:
        return ck
    having = [c for c in chosen if args.pid in c.processes]
    if not having:
        scope = f"container {args.container!r}" if args.container else "any container of the pod"
        raise CkptError(f"no process with pid {args.pid} in {scope} (pids: {_pid_list(chosen)})")
    if len(having) > 1:
        raise CkptError(f"pid {args.pid} is in {len(having)} containers of the pod "
                        f"({', '.join(c.info.name for c in having)}): choose one with --container NAME")
    return having[0]


def cmd_decode(args: argparse.Namespace) -> int:
    from .archive import open_source
    from .criu import decode_image, resolve_image_name, to_crit_dict

    with open_source(args.path, limits=_limits(args)) as src:
        reader, name = _decode_member(src, args.image, args.container, resolve_image_name)
        image = decode_image(reader.read(name), name.rsplit("/", 1)[-1])
        json.dump(to_crit_dict(image), sys.stdout, indent=4)
        sys.stdout.write("\n")
    return 0


def _decode_member(src, image: str, container: str | None, resolve):
    """(source or container view, member name) of the image ``decode`` was asked for. In a
    pod: inside the --container named, else the one container that has it; a member path
    from the top of the archive (``<dir>/checkpoint/core-1.img``) also works."""
    from .model.pods import config_name, container_names, is_pod, pod_views

    if not is_pod(src):
        if container is not None:
            raise CkptError(f"--container {container!r}: the checkpoint is not a pod checkpoint")
        name = resolve(image, src.has)
        if name is None:
            imgs = [n.split("/", 1)[1] for n in src.names("checkpoint/")]
            raise CkptError(f"no image {image!r} in the checkpoint (images: {', '.join(imgs[:40])})")
        return src, name
    views = pod_views(src)
    labels = {id(v): config_name(v) or v.container for v in views}
    listing = ", ".join(f"{labels[id(v)]} ({v.prefix})" for v in views) or "none"
    if container is not None:
        key = container.strip().rstrip("/")
        views = [v for v in views if key in container_names(v, labels[id(v)])]
        if not views:
            raise CkptError(f"no container {container!r} in the pod (containers: {listing})")
    elif (name := resolve(image, src.has)) is not None:
        return src, name
    hits = [(v, n) for v in views if (n := resolve(image, v.has)) is not None]
    if not hits:
        where = f"container {container!r}" if container is not None else "any container of the pod"
        raise CkptError(f"no image {image!r} in {where} (containers: {listing})")
    if len(hits) > 1:
        raise CkptError(f"{image!r} is in {len(hits)} containers of the pod "
                        f"({', '.join(f'{labels[id(v)]} ({v.prefix})' for v, _ in hits)}): "
                        "choose one with --container NAME")
    return hits[0]


def cmd_list(args: argparse.Namespace) -> int:
    from .archive import find_checkpoints, peek_metadata
    from .render import render_list

    from rich.console import Console

    dirs = args.dirs or ["/var/lib/kubelet/checkpoints", "."]
    rows = []
    for d in dirs:
        if not Path(d).is_dir():
            if args.dirs:
                print(f"not a directory: {d}", file=sys.stderr)
            continue
        for path in find_checkpoints(d):
            try:
                rows.append((path, peek_metadata(path)))
            except CkptError as exc:
                rows.append((path, {"error": str(exc)}))
    Console().print(render_list(rows))
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    if args.path is not None and not Path(args.path).exists():
        raise CkptError(f"no such file or directory: {args.path} (commands: {', '.join(SUBCOMMANDS)})")
    from .app import run_app

    return run_app(args.path, log_files=args.log or (), readonly=args.readonly, max_size=args.max_size)


def build_parser(with_actions: bool = True) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ckpt-tui",
        description="Inspect container checkpoints (Podman, CRI-O, containerd; CRIU images).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"ckpt-tui {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser("inspect", help="overview of a checkpoint", description="Print an overview of a checkpoint.")
    s.add_argument("path", help="archive, directory or OCI image of a checkpoint")
    s.add_argument("--json", action="store_true", help="one JSON object instead of the tree")
    s.add_argument("--log", action="append", metavar="FILE", help="attach an external CRIU log")
    _add_common(s)
    s.set_defaults(func=cmd_inspect)

    s = sub.add_parser("memsearch", help="search process memory",
                       description="List every match in the dumped memory of every process.")
    s.add_argument("path")
    s.add_argument("pattern", help="text (default), hex bytes with --hex, or a regex with --regex")
    s.add_argument("--pid", type=int, help="only this process (in a pod: in the chosen containers)")
    s.add_argument("--container", metavar="NAME", help="pod checkpoint: only this container (default: all)")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--regex", action="store_true", help="PATTERN is a Python regular expression over bytes")
    g.add_argument("--hex", action="store_true",
                   help="PATTERN is hex bytes: 'de ad be ef', deadbeef, 0xde 0xad, \\xde\\xad, de:ad")
    s.add_argument("--utf16", action="store_true", help="also match the UTF-16LE form of PATTERN")
    s.add_argument("-i", "--ignore-case", action="store_true", help="ASCII letters match either case")
    s.add_argument("--context", type=int, default=16,
                   help=f"bytes of context each side, 0 to {MAX_CONTEXT} (default 16)")
    s.add_argument("--limit", type=int, default=10_000, help="stop after this many matches")
    s.add_argument("--json", action="store_true")
    _add_common(s)
    s.set_defaults(func=cmd_memsearch)

    s = sub.add_parser("memdump", help="hex dump of process memory",
                       description="Hex dump of a process's memory; pages not in the dump are said, not zero-filled.")
    s.add_argument("path")
    s.add_argument("--pid", type=int, required=True)
    s.add_argument("--container", metavar="NAME",
                   help="pod checkpoint: the container of that pid (needed when several have it)")
    s.add_argument("--address", type=_int_arg, required=True, help="start address (0x hex or decimal)")
    s.add_argument("--length", type=_int_arg, default=256, help="bytes (default 256)")
    s.add_argument("--output", "-o", help="write the raw bytes to this file instead")
    _add_common(s)
    s.set_defaults(func=cmd_memdump)

    s = sub.add_parser("decode", help="decode one CRIU image to JSON",
                       description="Decode one CRIU image of the checkpoint to JSON (crit's --pretty shape).")
    s.add_argument("path")
    s.add_argument("image", help="image name, e.g. core-1.img or checkpoint/pstree.img")
    s.add_argument("--container", metavar="NAME",
                   help="pod checkpoint: the container to look in (needed when several have the image)")
    _add_common(s)
    s.set_defaults(func=cmd_decode)

    s = sub.add_parser("list", help="list checkpoints in directories",
                       description="List checkpoint archives found in directories.")
    s.add_argument("dirs", nargs="*", metavar="DIR")
    s.set_defaults(func=cmd_list)

    register = None
    if with_actions:  # the actions layer costs ~50 ms of imports: only for its own commands and help
        try:
            from .actions.cli import register
        except ImportError:  # pragma: no cover - actions layer missing
            register = None
    if register is not None:
        register(sub)
    return p


def build_ui_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ckpt-tui",
        description="Open a checkpoint in the interactive inspector (no PATH: the bundled demo).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"ckpt-tui {__version__}")
    p.add_argument("path", nargs="?", help="archive, directory, OCI image, or a directory of checkpoints")
    p.add_argument("--log", action="append", metavar="FILE", help="attach an external restore.log / dump.log")
    p.add_argument("--readonly", action="store_true", help="disable the build and restore actions")
    _add_common(p)
    p.set_defaults(func=cmd_ui)
    return p


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds: workspaces are closed and removed on the way out


def _cached(argv: list[str]) -> bytes | None:
    """``inspect --json PATH`` (with at most ``--cache``) answered from the opt-in cache,
    before argparse and the model are imported; None: run the command."""
    if not argv or argv[0] != "inspect" or "--json" not in argv:
        return None
    rest = [a for a in argv[1:] if a not in ("--json", "--cache")]
    if len(rest) != 1 or rest[0].startswith("-"):
        return None
    import os

    from .archive.results import ENV_ON, lookup_result

    if "--cache" in argv:
        os.environ[ENV_ON] = "1"
    return lookup_result(rest[0], "inspect", _inspect_options(None))


def _write_out(data: bytes) -> None:
    """UTF-8 bytes to stdout in one write (or as text where stdout was replaced by one)."""
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:
        sys.stdout.write(data.decode())
        return
    sys.stdout.flush()
    buffer.write(data)
    buffer.flush()


def _quiet_broken_pipe() -> int:
    """The reader went away (``| head``): no error, and no second one when Python flushes
    stdout at exit."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 0


# the subcommands that take --cache themselves
_CACHE_COMMANDS = ("inspect", "memsearch", "memdump", "decode")


def _leading_cache(argv: list[str]) -> list[str]:
    """``ckpt-tui --cache COMMAND ...`` as ``ckpt-tui COMMAND --cache ...``; for a command
    without its own --cache option the cache is turned on for the process instead (as
    CKPT_TUI_CACHE=1 does). Any other argv is returned as is."""
    n = 0
    while n < len(argv) and argv[n] == "--cache":
        n += 1
    if n == 0 or n >= len(argv) or argv[n] not in SUBCOMMANDS:
        return argv
    command, rest = argv[n], argv[n + 1:]
    if command in _CACHE_COMMANDS:
        return [command, "--cache", *rest]
    import os

    from .archive.results import ENV_ON

    os.environ[ENV_ON] = "1"
    return [command, *rest]


def main(argv: list[str] | None = None) -> int:
    import signal

    argv = _leading_cache(list(sys.argv[1:] if argv is None else argv))
    hit = _cached(argv)
    if hit is not None:
        try:
            _write_out(hit)
        except BrokenPipeError:
            return _quiet_broken_pipe()
        return 0
    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            signal.signal(sig, _exit_on_signal)
        except (ValueError, OSError):  # not the main thread
            pass
    first = next((a for a in argv if not a.startswith("-")), None)
    if first in SUBCOMMANDS or argv[:1] in (["-h"], ["--help"]):
        parser = build_parser(with_actions=first not in ("inspect", "memsearch", "memdump", "decode", "list"))
    else:
        parser = build_ui_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0
    if getattr(args, "cache", False):
        import os

        from .archive.results import ENV_ON

        os.environ[ENV_ON] = "1"  # every layer asks the environment (UI worker threads too)
    try:
        return int(args.func(args) or 0)
    except CkptError as exc:
        print(f"ckpt-tui: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except OSError as exc:  # a file the user named cannot be written or read
        where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        print(f"ckpt-tui: error:{where} {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
