"""``memsearch``, ``memdump`` and ``decode``: a checkpoint's memory and its raw CRIU images,
including the containers of a pod checkpoint (``--container``)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import CkptError
from ..text import printable, safe
from .common import add_command, console, int_arg, is_terminal, limits, load, print_json, require, warn

if TYPE_CHECKING:  # pragma: no cover
    from ..archive import Source
    from ..model.checkpoint import Checkpoint, MemoryMatch
    from ..model.patterns import SearchPattern
    from ..model.pods import PrefixedSource

MAX_CONTEXT = 65536  # --context bound: more would make the streaming search keep whole pages images

Found = list[tuple["str | None", "MemoryMatch"]]  # (container name in a pod, match)


# -- pods ---------------------------------------------------------------------------------------
def _pod_containers(ck: Checkpoint) -> list[Checkpoint]:
    """The containers of a pod checkpoint, [] for any other."""
    from ..model.pods import is_pod

    return list(ck.containers) if ck.containers or is_pod(ck.source) else []


def _prefix(ck: Checkpoint) -> str:
    return str(getattr(ck.source, "prefix", ""))  # a pod's container is read through a PrefixedSource


def _container_list(containers: Sequence[Checkpoint]) -> str:
    return ", ".join(f"{c.info.name} ({_prefix(c)})" for c in containers) or "none"


def _choose_containers(ck: Checkpoint, wanted: str | None) -> list[Checkpoint]:
    """The containers of pod ``ck`` that ``--container`` names (all for None); CkptError
    when it names none, or when ``ck`` is no pod and a container was asked for."""
    from ..model.pods import select_containers

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


def _pid_list(containers: Sequence[Checkpoint]) -> str:
    return "; ".join(f"{c.info.name}: {', '.join(map(str, sorted(c.processes))) or 'none'}" for c in containers)


def _no_pid(ck: Checkpoint, pid: int) -> CkptError:
    return CkptError(f"no process with pid {pid} (pids: {', '.join(map(str, sorted(ck.processes))) or 'none'})")


# -- memsearch ----------------------------------------------------------------------------------
def cmd_memsearch(args: argparse.Namespace) -> int:
    from ..model.patterns import parse_pattern
    from ..model.tap import load_and_search

    pattern = parse_pattern(args.pattern, "hex" if args.hex else "regex" if args.regex else "text",
                            utf16=args.utf16, ignore_case=args.ignore_case)
    require(args.limit >= 1, "--limit must be at least 1")
    require(0 <= args.context <= MAX_CONTEXT, f"--context must be between 0 and {MAX_CONTEXT} bytes")
    # one pass: the pages of a compressed archive are searched as they stream past, never kept
    # (a pod's containers are searched below, in the model)
    ck, matches = load_and_search(args.path, pattern, pids=[args.pid] if args.pid is not None else None,
                                  context=args.context, limit=args.limit, limits=limits(args))
    try:
        warn(ck)
        found: Found
        if _pod_containers(ck) or args.container is not None:
            # a pod's pages are all kept: the tap takes only a top-level checkpoint/'s images
            found = _pod_search(ck, args, pattern)
        else:
            if not ck.processes:
                raise CkptError("nothing to search: the checkpoint has no processes (no readable pstree.img)")
            if args.pid is not None and args.pid not in ck.processes:
                raise _no_pid(ck, args.pid)
            found = [(None, m) for m in matches]
        if args.json:
            print_json([_match_json(name, m) for name, m in found])
        else:
            _print_matches(found)
            if not found:
                print(f"no matches for {args.pattern!r}", file=sys.stderr)  # repr escapes
            else:
                print(f"{len(found)} match{'es' if len(found) != 1 else ''}", file=sys.stderr)
    finally:
        ck.close()
    return 0


def _match_json(name: str | None, m: MemoryMatch) -> dict[str, Any]:
    row: dict[str, Any] = {"container": name} if name is not None else {}
    row.update({"pid": m.pid, "address": f"{m.address:#x}", "vma": m.vma.label if m.vma else None,
                "vma_start": f"{m.vma.start:#x}" if m.vma else None, "match": m.match.decode("latin-1"),
                "before": m.before.decode("latin-1"), "after": m.after.decode("latin-1")})
    return row


def _print_matches(found: Found) -> None:
    """One line a match: where, then the context with the matched bytes in it, contiguous (so a
    grep for the pattern finds the line); on a terminal the match is shown reversed."""
    names = [safe(name) if name is not None else None for name, _ in found]
    width = max((len(n) for n in names if n is not None), default=0)
    out = console() if is_terminal(sys.stdout) else None
    for shown, (_name, m) in zip(names, found, strict=True):
        vma = safe(f"{m.vma.label} {m.vma.start:#x}+{m.address - m.vma.start:#x}") if m.vma else "?"
        where = f"{shown:<{width}}  " if shown is not None else ""
        head = f"{where}pid {m.pid:<6} {m.address:#018x}  {vma:<40} "
        if out is None:
            print(head + printable(m.before + m.match + m.after))
        else:  # every part is escaped already (printable() leaves printable ASCII only)
            from rich.text import Text

            out.print(Text.assemble(head, printable(m.before), (printable(m.match), "reverse"), printable(m.after)))


def _pod_search(ck: Checkpoint, args: argparse.Namespace, pattern: SearchPattern) -> Found:
    """(container name, match) for every match in the chosen containers of a pod, container
    by container (pod.options order), pid then address order within each; at most --limit
    in all. --pid applies within the chosen containers (an error when none has it)."""
    from ..model.memory import search_memory

    chosen = _choose_containers(ck, args.container)
    if args.pid is not None:
        having = [c for c in chosen if args.pid in c.processes]
        if not having:
            scope = f"container {args.container!r}" if args.container else "any container"
            raise CkptError(f"no process with pid {args.pid} in {scope} (pids: {_pid_list(chosen)})")
        chosen = having
    if not any(c.processes for c in chosen):
        raise CkptError(f"nothing to search: no process in {_container_list(chosen)}")
    found: Found = []
    for sub in chosen:
        left = args.limit - len(found)
        if left <= 0:
            break
        for m in search_memory(sub, pattern, pids=[args.pid] if args.pid is not None else None,
                               context=args.context, limit=left):
            found.append((sub.info.name, m))
    return found[:args.limit]


# -- memdump ------------------------------------------------------------------------------------
def cmd_memdump(args: argparse.Namespace) -> int:
    require(args.length >= 1, "--length must be at least 1")
    pod = load(args, warn_problems=True)
    try:
        ck = _memdump_target(pod, args)
        if args.pid not in ck.processes:
            raise _no_pid(ck, args.pid)
        reader = ck.memory(args.pid)
        if reader.vma_at(args.address) is None:
            raise CkptError(f"address {args.address:#x} is not mapped in pid {args.pid}")
        end = args.address + args.length
        if args.output:
            _write_raw(reader, args.address, end, args.output)
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


def _write_raw(reader: Any, start: int, end: int, output: str) -> None:
    """Raw bytes, a MiB at a time (bounded memory); pages not in the dump are written as zeros,
    and how many is said."""
    filled = 0
    with open(output, "wb") as out:
        for addr, length, state in reader.runs_between(start, end):
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
    note = f"; {filled} of them are not in the dump and were written as zeros" if filled else ""
    print(f"wrote {end - start} bytes to {safe(output)}{note}", file=sys.stderr)


def _memdump_target(ck: Checkpoint, args: argparse.Namespace) -> Checkpoint:
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


# -- decode -------------------------------------------------------------------------------------
def cmd_decode(args: argparse.Namespace) -> int:
    from ..archive import open_source
    from ..criu import decode_image, resolve_image_name, to_crit_dict

    with open_source(args.path, limits=limits(args)) as src:
        reader, name = _decode_member(src, args.image, args.container, resolve_image_name)
        image = decode_image(reader.read(name), name.rsplit("/", 1)[-1])
        # crit's indent; ASCII JSON, so no control byte of the image reaches the terminal raw
        sys.stdout.write(json.dumps(to_crit_dict(image), indent=4).replace("\x7f", "\\u007f") + "\n")
    return 0


Resolve = Callable[[str, Callable[[str], bool]], "str | None"]


def _decode_member(src: Source, image: str, container: str | None,
                   resolve: Resolve) -> tuple[Source | PrefixedSource, str]:
    """(source or container view, member name) of the image ``decode`` was asked for. In a
    pod: inside the --container named, else the one container that has it; a member path
    from the top of the archive (``<dir>/checkpoint/core-1.img``) also works."""
    from ..model.pods import config_name, container_names, is_pod, pod_views

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


# -- parsers ------------------------------------------------------------------------------------
def register(sub: Any) -> None:
    s = add_command(
        sub, "memsearch", cmd_memsearch, summary="search process memory",
        description="List every match in the dumped memory of every process: one line a match (pid, address, "
                    "VMA, then the bytes around it with the match in them, contiguous, non-printable bytes as "
                    "'.'); the count goes to stderr. Exit 2 when there is nothing to search.")
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
    s.add_argument("--limit", type=int, default=10_000, help="stop after this many matches (default 10000)")
    s.add_argument("--json", action="store_true",
                   help="a JSON list: [container,] pid, address, vma, vma_start, match, before, after "
                        "(bytes as latin-1 characters)")

    s = add_command(sub, "memdump", cmd_memdump, summary="hex dump of process memory",
                    description="Hex dump of a process's memory; pages not in the dump are said, not zero-filled.")
    s.add_argument("--pid", type=int, required=True)
    s.add_argument("--container", metavar="NAME",
                   help="pod checkpoint: the container of that pid (needed when several have it)")
    s.add_argument("--address", type=int_arg, required=True, help="start address (0x hex or decimal)")
    s.add_argument("--length", type=int_arg, default=256, help="bytes (default 256)")
    s.add_argument("--output", "-o", metavar="FILE", help="write the raw bytes to this file instead")

    s = add_command(sub, "decode", cmd_decode, summary="decode one CRIU image to JSON",
                    description="Decode one CRIU image of the checkpoint to JSON (crit's --pretty shape).")
    s.add_argument("image", help="image name, e.g. core-1.img or checkpoint/pstree.img")
    s.add_argument("--container", metavar="NAME",
                   help="pod checkpoint: the container to look in (needed when several have the image)")
