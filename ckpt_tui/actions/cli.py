# SPDX-License-Identifier: Apache-2.0
"""``ckpt-tui build``, ``restore`` and ``diagnose`` subcommands (argparse + Rich, no Textual).

``register(subparsers)`` adds them; every handler returns an int exit code and
turns a CkptError into a one-line message on stderr with exit code 2.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any
from collections.abc import Callable

from ..errors import CkptError

__all__ = ["register", "cmd_build", "cmd_restore", "cmd_diagnose"]

_STATUS_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red", "info": "cyan"}
_STATUS_MARK = {"pass": "ok", "warn": "warn", "fail": "FAIL", "info": "info"}


def _console(stderr: bool = False):
    from rich.console import Console  # noqa: PLC0415

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def _size_arg(text: str) -> int:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*", text, re.I)
    if not m:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (try 8G, 512M)")
    mult = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[m.group(2).lower()]
    return int(float(m.group(1)) * mult)


def _load(path: str, max_size: int | None = None):
    from ..model import load_checkpoint  # noqa: PLC0415

    p = Path(path)
    if not p.exists():
        raise CkptError(f"{path}: no such file or directory")
    if max_size:
        from ..archive import Limits  # noqa: PLC0415

        return load_checkpoint(p, limits=Limits(max_total_bytes=max_size))
    return load_checkpoint(p)


def _guard(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return int(fn(args) or 0)
        except CkptError as exc:
            print(f"ckpt-tui: error: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            return 130

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


# --------------------------------------------------------------------------- build


def _build(args: argparse.Namespace) -> int:
    from rich.table import Table  # noqa: PLC0415

    from .build import build_image, load_image  # noqa: PLC0415

    out = _console()
    ck = _load(args.path, getattr(args, "max_size", None))
    try:
        res = build_image(
            ck,
            args.image,
            output_tar=args.output,
            oci_dir=args.oci_dir,
            compression="none" if args.no_compress else "gzip",
            runtime=args.runtime,
            on_output=(lambda line: out.print(line, markup=False)) if not args.quiet else None,
        )
    finally:
        ck.close()
    t = Table(show_header=False, box=None, pad_edge=False)
    t.add_column(style="bold")
    t.add_column()
    for label, value in (
        ("image", res.image_name),
        ("output", f"{res.output} ({res.format}, {res.size:,} bytes)"),
        ("manifest", f"{res.manifest_digest} ({res.manifest_size} bytes)"),
        ("config / image ID", res.config_digest),
        ("layer", f"{res.layer_digest} ({res.layer_size:,} bytes, {res.layer_media_type.rsplit('.', 1)[-1]})"),
        ("diff ID", res.layer_diff_id),
        ("architecture", res.architecture),
        ("entries", str(res.members)),
    ):
        t.add_row(label, value)
    out.print(t)
    if res.annotations:
        at = Table(title="annotations (index and manifest)", title_justify="left")
        at.add_column("key", style="cyan", no_wrap=True)
        at.add_column("value", overflow="fold")
        for k, v in res.annotations.items():
            at.add_row(k, v)
        out.print(at)
    for note in res.notes:
        out.print(f"[yellow]note:[/] {note}", markup=True)
    if args.load:
        lr = load_image(res.output, args.engine, image_name=res.image_name,
                        on_output=lambda line: out.print(line, markup=False))
        if not lr.ok:
            print(f"ckpt-tui: load failed: {lr.message}", file=sys.stderr)
            return 1
        out.print(f"[green]{lr.message}[/]")
    return 0


# --------------------------------------------------------------------------- restore


def _checks_table(checks: list[Any]):
    from rich.table import Table  # noqa: PLC0415

    t = Table(title="preflight", title_justify="left")
    t.add_column("", no_wrap=True)
    t.add_column("check", no_wrap=True, style="bold")
    t.add_column("result", overflow="fold")
    for c in checks:
        style = _STATUS_STYLE.get(c.status, "")
        text = c.reason + (f"\n→ {c.fix}" if c.fix and c.status in ("fail", "warn") else "")
        if c.details and c.status in ("fail", "warn"):
            text += "".join(f"\n  · {d}" for d in c.details[:8])
        t.add_row(f"[{style}]{_STATUS_MARK.get(c.status, c.status)}[/]", c.name, text)
    return t


def _ask(prompt: str) -> bool:
    if not sys.stdin or not sys.stdin.isatty():
        return False
    try:
        answer = input(prompt)
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def _print_diagnosis(out, diag, *, max_errors: int = 5) -> None:
    if diag is None:
        return
    verdict = {"success": "[green]success[/]", "failure": "[bold red]failure[/]"}.get(diag.outcome, diag.outcome)
    head = f"{diag.operation} log: {verdict}" if diag.operation != "unknown" else f"outcome: {verdict}"
    if diag.criu_version:
        head += f" — CRIU {diag.criu_version}"
    if diag.kernel:
        head += f", kernel {diag.kernel}"
    out.print(head)
    if diag.log_path:
        out.print(f"log: {diag.log_path}", markup=False)
    for c in diag.causes:
        out.print(f"\n[bold]{c.title}[/]" + (f"  (line {c.evidence_line})" if c.evidence_line else ""))
        out.print(f"  {c.explanation}", markup=False)
        out.print("  fix: " + c.fix, markup=False, style="green")
        if c.evidence:
            out.print(f"  {c.evidence}", markup=False, style="dim")
    if diag.image_at_fault:
        out.print(f"\nimage at fault: [bold]{diag.image_at_fault}[/]")
    shown = [e for e in diag.errors if e.level == "Error"][:max_errors]
    if shown:
        out.print("\n[bold]error lines[/]")
        for e in shown:
            tag = f" ({e.note})" if e.note else ""
            out.print(f"  {e.line_no:>6}: {e.location}{tag}: {e.text}", markup=False)
    if diag.outcome == "success":
        out.print(f"\n{diag.summary}", markup=False)


def _restore(args: argparse.Namespace) -> int:
    from .checks import preflight, summarize  # noqa: PLC0415
    from .restore import RestoreOptions, build_restore_command, run_restore  # noqa: PLC0415

    out = _console()
    opts = RestoreOptions(
        engine=args.engine,
        runtime=args.runtime,
        name=args.name,
        ignore_rootfs=args.ignore_rootfs,
        ignore_volumes=args.ignore_volumes,
        tcp_established=args.tcp_established,
        keep=args.keep,
        print_stats=args.print_stats,
        image=args.image,
        namespace=args.namespace,
    )
    ck = _load(args.path, getattr(args, "max_size", None))
    try:
        cmd = build_restore_command(ck, opts)
        checks = preflight(ck, opts, criu_check=not args.no_criu_check)
        out.print("[bold]command[/]")
        out.print("  " + shlex.join(cmd), markup=False)
        out.print(_checks_table(checks))
        counts = summarize(checks)
        out.print(f"{counts['pass']} passed, {counts['warn']} warnings, {counts['fail']} failed")
        if args.dry_run:
            return 1 if counts["fail"] else 0
        if counts["fail"] and not args.force:
            print("ckpt-tui: preflight failed; fix the failed checks or use --force to try anyway", file=sys.stderr)
            return 1
        if not args.yes and not _ask("Run this restore? [y/N] "):
            out.print("not restoring")
            return 1
        res = run_restore(cmd, lambda line: out.print(line, markup=False), checkpoint=ck, timeout=args.timeout)
        if res.ok:
            out.print(f"[green]{res.message}[/]")
            if res.stats:
                out.print(json.dumps(res.stats, indent=2), markup=False)
            return 0
        print(f"ckpt-tui: {res.message}", file=sys.stderr)
        if res.diagnosis is not None:
            out.print("")
            _print_diagnosis(out, res.diagnosis)
        if res.log_path and not args.keep:
            out.print("[dim](restore with --keep to keep CRIU's log and work directory)[/]")
        return 1
    finally:
        ck.close()


# --------------------------------------------------------------------------- diagnose


def _diagnose(args: argparse.Namespace) -> int:
    from .diagnose import diagnose_file  # noqa: PLC0415

    ck = _load(args.checkpoint, getattr(args, "max_size", None)) if args.checkpoint else None
    try:
        diag = diagnose_file(args.log, ck)
    finally:
        if ck is not None:
            ck.close()
    if not diag.recognised:
        # bad input, like a missing file: one line on stderr, exit 2
        raise CkptError(f"{args.log}: {diag.summary}")
    if args.json:
        json.dump(asdict(diag), sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        _print_diagnosis(_console(), diag, max_errors=args.max_errors)
    return 1 if diag.outcome == "failure" else 0


cmd_build = _guard(_build)
cmd_restore = _guard(_restore)
cmd_diagnose = _guard(_diagnose)


def register(subparsers: Any) -> None:
    """Add build, restore and diagnose to an argparse subparsers object."""
    s = subparsers.add_parser(
        "build",
        help="write an OCI image of a checkpoint",
        description="Write a one-layer OCI checkpoint image (oci-archive tar by default) that podman, "
        "CRI-O and containerd recognise, without buildah.",
    )
    s.add_argument("path", help="checkpoint archive, directory or image")
    s.add_argument("image", help="image name, e.g. localhost/web-ckpt:latest")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--output", "-o", metavar="FILE.tar", help="oci-archive to write (default NAME-TAG.oci.tar here)")
    g.add_argument("--oci-dir", metavar="DIR", help="write an OCI layout directory instead")
    s.add_argument("--load", action="store_true", help="load the image into the engine afterwards (podman load / skopeo)")
    s.add_argument("--engine", default="podman", choices=("podman", "skopeo", "containerd"),
                   help="what --load uses (default podman, falling back to skopeo)")
    s.add_argument("--runtime", metavar="R", help="runtime name for the annotations (default: the one config.dump names)")
    s.add_argument("--no-compress", action="store_true", help="uncompressed layer (default gzip)")
    s.add_argument("--quiet", "-q", action="store_true", help="only the summary")
    s.add_argument("--max-size", type=_size_arg, metavar="SIZE", help="stop reading an archive that expands beyond SIZE")
    s.set_defaults(func=cmd_build)

    s = subparsers.add_parser(
        "restore",
        help="restore a checkpoint with podman or containerd (preflight first)",
        description="Show the engine command and the preflight checks, ask, then restore and stream the "
        "output; a failure is diagnosed from CRIU's log.",
    )
    s.add_argument("path", help="checkpoint archive (or checkpoint image file)")
    s.add_argument("--engine", default="", choices=("podman", "containerd"),
                   help="default: the engine that made the checkpoint (containerd for containerd checkpoints)")
    s.add_argument("--runtime", metavar="R", help="OCI runtime (podman --runtime); must be the one that made the checkpoint")
    s.add_argument("--name", "-n", metavar="N", help="name of the restored container")
    s.add_argument("--image", metavar="REF", help="restore this checkpoint image from the engine's storage")
    s.add_argument("--namespace", metavar="NS", help="containerd namespace (ctr -n)")
    s.add_argument("--ignore-rootfs", action="store_true", help="do not apply rootfs-diff.tar")
    s.add_argument("--ignore-volumes", action="store_true", help="do not restore volumes")
    s.add_argument("--tcp-established", action="store_true", help="restore established TCP connections")
    s.add_argument("--keep", action="store_true", help="keep CRIU's work directory and log")
    s.add_argument("--print-stats", action="store_true", help="print restore statistics")
    s.add_argument("--dry-run", action="store_true", help="only show the command and the checks (exit 1 if a check fails)")
    s.add_argument("--yes", "-y", action="store_true", help="do not ask before restoring")
    s.add_argument("--force", action="store_true", help="restore even if a preflight check failed")
    s.add_argument("--no-criu-check", action="store_true", help="skip running `criu check`")
    s.add_argument("--timeout", type=float, metavar="SECONDS", help="give up after this long")
    s.add_argument("--max-size", type=_size_arg, metavar="SIZE", help="stop reading an archive that expands beyond SIZE")
    s.set_defaults(func=cmd_restore)

    s = subparsers.add_parser(
        "diagnose",
        help="explain a CRIU restore/dump log",
        description="Find CRIU's Error/Warn lines, tell success from failure, and name the cause and the fix. "
        "Exit 0 for a log without failure, 1 when a failure was diagnosed, 2 when the file is not a "
        "CRIU log or an engine's error output.",
    )
    s.add_argument("log", help="restore.log / dump.log (or an engine's error output)")
    s.add_argument("--checkpoint", metavar="PATH", help="the checkpoint, to name and verify the image at fault")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.add_argument("--max-errors", type=int, default=8, help="error lines to list (default 8)")
    s.add_argument("--max-size", type=_size_arg, metavar="SIZE", help="stop reading an archive that expands beyond SIZE")
    s.set_defaults(func=cmd_diagnose)
