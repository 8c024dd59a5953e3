"""``inspect`` (the overview of one checkpoint) and ``list`` (checkpoints in directories)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import CkptError
from .common import add_command, console, json_text, load, print_json, write_out

if TYPE_CHECKING:  # pragma: no cover
    import argparse

LIST_DEFAULT_DIRS = ("/var/lib/kubelet/checkpoints", ".")


def inspect_options(max_size: int | None, mask: bool) -> dict[str, Any]:
    """What an ``inspect --json`` result depends on besides the archive (part of the cache key)."""
    return {"json": True, "max_size": max_size, **({"mask": True} if mask else {})}


def cmd_inspect(args: argparse.Namespace) -> int:
    import os

    if args.mask and args.reveal:
        raise CkptError("--mask and --reveal contradict each other")
    before = None
    # kept in the opt-in cache (read back by main)
    if args.json and not args.log and args.max_size is None and args.max_entries is None:
        try:
            before = os.stat(args.path)
        except OSError:
            pass
    # an overview needs no memory pages: argv/environ are taken as they stream past
    ck = load(args, log_files=args.log or (), keep_pages=False)
    try:
        if args.json:
            from ..model.export import to_json

            out = json_text(to_json(ck, mask=args.mask)).encode()
            write_out(out)
            if before is not None and not any(p.severity == "error" for p in ck.problems):
                # errors are not kept: one may come from this machine (a full disk), not the archive
                from ..archive.results import store_result

                store_result(args.path, before, "inspect", inspect_options(None, args.mask), out)
        else:
            from .render import render_overview

            console().print(render_overview(ck, reveal=args.reveal))
    finally:
        ck.close()
    return 0


def _list_registry(where: str, catalog: bool) -> list[tuple[str, dict[str, Any]]]:
    """Rows for ``list docker://HOST/REPO`` (its checkpoint tags) or ``--catalog docker://HOST``:
    from manifests and configs only."""
    from ..archive.registry.listing import list_catalog, list_repository
    from .common import safe_lines

    got = list_catalog(where) if catalog else list_repository(where)
    for ref in got.skipped:
        print(f"ckpt-tui: {safe_lines(ref)}: not a checkpoint image", file=sys.stderr)
    return got.rows


def cmd_list(args: argparse.Namespace) -> int:
    from ..archive import find_checkpoints, peek_metadata
    from ..archive.registry import is_remote
    from .common import error
    from .render import list_entries, render_list

    rows: list[tuple[Any, dict[str, Any]]] = []
    missing = 0
    dirs = args.dirs or LIST_DEFAULT_DIRS
    if args.catalog and not all(is_remote(d) for d in dirs):
        raise CkptError("--catalog lists registries: give docker://HOST[:PORT]")
    for d in dirs:
        if is_remote(d):
            rows.extend(_list_registry(d, args.catalog))
            continue
        if not Path(d).is_dir():
            if args.dirs:
                error(f"not a directory: {d}")
                missing += 1
            continue
        for path in find_checkpoints(d):
            try:
                rows.append((path, peek_metadata(path)))
            except CkptError as exc:
                rows.append((path, {"error": str(exc)}))
    entries = list_entries(rows)
    if args.json:
        print_json([record for record, _info in entries])
    else:
        console().print(render_list(entries))
    return 2 if missing and missing == len(args.dirs) else 0


def register(sub: Any) -> None:
    s = add_command(
        sub, "inspect", cmd_inspect, summary="overview of a checkpoint",
        description="Print an overview of a checkpoint: the container, sizes, statistics, the process tree with "
                    "environments, open files and sockets, the root FS diff and mounts. Secret-looking environment "
                    "values (names with PASSWORD, TOKEN, SECRET, KEY, ...; token-shaped values) and secrets in "
                    "command lines are masked unless --reveal.")
    s.add_argument("--json", action="store_true",
                   help="one JSON object instead of the tree (environment values as they are, unless --mask)")
    s.add_argument("--mask", action="store_true",
                   help="mask secret-looking values in --json too (the tree masks them unless --reveal)")
    s.add_argument("--reveal", action="store_true", help="show secret-looking values in the tree")
    s.add_argument("--log", action="append", metavar="FILE", help="attach an external CRIU log")

    s = add_command(
        sub, "list", cmd_list, summary="list checkpoints in directories or a registry", path=None,
        reads_checkpoint=False,
        description="List the checkpoints found in directories (archives by their magic bytes, unpacked "
                    "checkpoints, checkpoint images): path, container, pod, engine, when it was checkpointed, "
                    "file size. Only the metadata of each is read. docker://HOST/REPO lists the tags of a registry "
                    "repository that are checkpoint images (from manifests and configs, no layer; size: the "
                    "blobs'). Exit 2 when no DIR given is a directory.")
    s.add_argument("dirs", nargs="*", metavar="DIR|docker://HOST/REPO",
                   help=f"directories to look in (default: {', '.join(LIST_DEFAULT_DIRS)}), or registry repositories")
    s.add_argument("--catalog", action="store_true",
                   help="docker://HOST[:PORT]: every repository of the registry (its _catalog)")
    from ..archive.registry.args import add_arguments

    add_arguments(s)
    s.add_argument("--json", action="store_true",
                   help="a JSON list: path, container, id, image, engine, pod, namespace, created, checkpointed, "
                        "file_size, kind, error")

