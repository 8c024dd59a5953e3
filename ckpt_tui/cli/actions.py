"""``build``, ``restore`` and ``diagnose``: the actions layer on the command line.

Every handler returns an exit code; a CkptError becomes one line on stderr and exit 2 (in
:func:`ckpt_tui.cli.main`). Strings from the checkpoint, the engine and the logs are written
escaped (:mod:`.common`).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from ..errors import CkptError
from ..text import plural
from .common import add_command, console, data, line, load, message, print_json, safe_lines

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console
    from rich.table import Table

    from ..actions.build import BuildResult, LoadResult
    from ..actions.checks import Check
    from ..actions.diagnose import Diagnosis
    from ..model.checkpoint import Checkpoint

_STATUS_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red", "info": "cyan"}
_STATUS_MARK = {"pass": "ok", "warn": "warn", "fail": "FAIL", "info": "info"}


def shell_quote(arg: str) -> str:
    """``arg`` for a POSIX shell, as a person copies it: shlex's quoting, or bash's ``$'...'``
    with escapes when it holds control or invisible characters (never written raw)."""
    if arg.isprintable():
        return shlex.quote(arg)
    out = []
    for ch in arg:
        code = ord(ch)
        if ch in "\\'":
            out.append("\\" + ch)
        elif 0xDC80 <= code <= 0xDCFF:  # a raw byte kept by surrogateescape
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch.isprintable():
            out.append(ch)
        elif code < 0x100:
            out.append(f"\\x{code:02x}")
        else:
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
    return "$'" + "".join(out) + "'"


def shell_line(argv: list[str]) -> str:
    return " ".join(shell_quote(a) for a in argv)


# -- build --------------------------------------------------------------------------------------
def cmd_build(args: argparse.Namespace) -> int:
    from ..actions.build import build_image, load_image
    from ..archive.registry import is_remote, parse

    out = console()
    err = console(stderr=True)
    # progress lines go to stderr when stdout carries JSON
    say = err if args.json else out
    target = None
    if is_remote(args.image):  # push to a registry
        if args.output or args.load:
            raise CkptError("pushing to a registry (docker://...) writes no --output archive and loads nothing; "
                            "--oci-dir also keeps the OCI layout that is pushed")
        target = parse(args.image, need_tag=True)
    ck = load(args)
    scratch = None
    pushed = None
    try:
        oci_dir = args.oci_dir
        if target is not None and oci_dir is None:
            from ..archive import Workspace

            scratch = Workspace()  # (a workspace: removed on every way out, SIGTERM / SIGHUP too)
            oci_dir = scratch.mkdir("push")
        res = build_image(
            ck, f"{target.registry}/{target.repository}:{target.tag}" if target else args.image,
            output_tar=args.output, oci_dir=oci_dir,
            compression="none" if args.no_compress else "gzip", runtime=args.runtime,
            on_output=None if args.quiet else (lambda text: say.print(data(text))),
        )
        if target is not None:
            pushed = _push(args, target, oci_dir, None if args.quiet else (lambda text: say.print(data(text))))
    finally:
        ck.close()
        if scratch is not None:
            scratch.cleanup()
    if pushed is not None:
        if args.json:
            print_json({**build_json(res, None), "pushed": {"reference": pushed.reference, "digest": pushed.digest,
                                                          "uploaded": pushed.uploaded, "existing": pushed.existing,
                                                          "mounted": pushed.mounted}})
            return 0
        if not args.quiet:
            say.print(data(f"pushed {target} ({len(pushed.uploaded)} blobs uploaded, {len(pushed.existing)} "
                           f"there already, {len(pushed.mounted)} mounted)"))
        print(pushed.digest)
        return 0
    loaded = None
    if args.load:
        loaded = load_image(res.output, args.engine, image_name=res.image_name,
                            on_output=lambda text: say.print(data(text)))
    if args.json:
        print_json(build_json(res, loaded))
    else:
        _print_build(out, res)
        if loaded is not None and loaded.ok:
            out.print(data(loaded.message, "green"))
    if loaded is not None and not loaded.ok:
        print(f"ckpt-tui: load failed: {safe_lines(loaded.message)}", file=sys.stderr)
        return 1
    return 0


def _push(args: argparse.Namespace, target: Any, oci_dir: str, emit: Any) -> Any:
    """Push the OCI layout just written; blobs of a checkpoint image in the same registry are mounted."""
    from ..archive.registry import is_remote, parse
    from ..archive.registry.push import push_layout
    from ..archive.registry.source import make_client

    mount_from = []
    if is_remote(args.path):
        src = parse(args.path)
        if src.registry == target.registry:
            mount_from.append(src.repository)
    client = make_client(target)
    try:
        return push_layout(client, target, oci_dir, mount_from=mount_from, on_output=emit)
    finally:
        client.close()


def build_json(res: BuildResult, loaded: LoadResult | None) -> dict[str, Any]:
    """``build --json``: what was written, and what loading it said (None without --load)."""
    return {
        "image": res.image_name, "output": res.output, "format": res.format, "size": res.size,
        "index_digest": res.index_digest,
        "manifest": {"digest": res.manifest_digest, "size": res.manifest_size},
        "config_digest": res.config_digest, "image_id": res.image_id,
        "layer": {"digest": res.layer_digest, "size": res.layer_size, "media_type": res.layer_media_type,
                  "diff_id": res.layer_diff_id},
        "architecture": res.architecture, "entries": res.members, "annotations": dict(res.annotations),
        "notes": list(res.notes),
        "loaded": None if loaded is None else {"ok": loaded.ok, "tool": loaded.tool, "command": loaded.command,
                                               "message": loaded.message},
    }


def _print_build(out: Console, res: BuildResult) -> None:
    from rich.table import Table

    t = Table(show_header=False, box=None, pad_edge=False)
    t.add_column(style="bold", no_wrap=True)
    t.add_column(overflow="fold")
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
        t.add_row(data(label), data(value))
    out.print(t)
    if res.annotations:
        at = Table(title="annotations (index and manifest)", title_justify="left")
        at.add_column("key", style="cyan", overflow="fold")
        at.add_column("value", overflow="fold")
        for k, v in res.annotations.items():
            at.add_row(data(k), data(v))
        out.print(at)
    for note in res.notes:
        out.print(line(("note: ", "yellow"), note))


# -- restore ------------------------------------------------------------------------------------
def established_tcp(ck: Checkpoint) -> int:
    """How many established TCP connections the checkpoint (or its pod's containers) holds."""
    return sum(s.needs_tcp_established for c in (ck, *ck.containers) for s in c.sockets)


def kubernetes_path(ck: Checkpoint) -> dict[str, Any] | None:
    """For a CRI-O (kubelet) checkpoint, how Kubernetes restores it: from a checkpoint image that
    a Pod's container names (CRI-O recognises it by its checkpoint annotation); None for others.
    The steps are printable text (every name in them shell-quoted, control bytes escaped)."""
    from .. import annotations as A
    from ..model.types import Engine

    if ck.info.engine is not Engine.CRIO:
        return None
    name = ck.info.name or "CONTAINER"
    image = "REGISTRY/IMAGE:TAG"
    return {
        "container": ck.info.name, "pod": ck.info.pod_name, "namespace": ck.info.namespace,
        "annotation": A.CRIO_CHECKPOINT_NAME,
        "steps": [
            shell_line(["ckpt-tui", "build", str(ck.source_path), image, "--output", "checkpoint.oci.tar"]),
            shell_line(["skopeo", "copy", "oci-archive:checkpoint.oci.tar", f"docker://{image}"]),
            f"create a Pod{' in namespace ' + shell_quote(ck.info.namespace) if ck.info.namespace else ''} whose "
            f"container {shell_quote(name)} has image: {image}; CRI-O restores the container from it",
        ],
    }


def cmd_restore(args: argparse.Namespace) -> int:
    from rich.text import Text

    from ..actions.checks import preflight, summarize
    from ..actions.restore import RestoreOptions, build_restore_command, run_restore

    if args.json and not args.dry_run:
        raise CkptError("--json is for --dry-run (a restore asks first and streams the engine's output)")
    ck = load(args)
    try:
        established = established_tcp(ck)
        tcp = args.tcp_established if args.tcp_established is not None else established > 0
        opts = RestoreOptions(
            engine=args.engine, runtime=args.runtime, name=args.name, ignore_rootfs=args.ignore_rootfs,
            ignore_volumes=args.ignore_volumes, tcp_established=tcp, keep=args.keep,
            print_stats=args.print_stats, image=args.image, namespace=args.namespace,
        )
        cmd = build_restore_command(ck, opts)
        checks = preflight(ck, opts, criu_check=not args.no_criu_check)
        counts = summarize(checks)
        kube = kubernetes_path(ck)
        if args.json:
            print_json({
                "command": cmd, "command_line": shell_line(cmd), "tcp_established": tcp,
                "established_connections": established,
                "checks": [{"name": c.name, "status": c.status, "reason": c.reason, "fix": c.fix,
                            "details": list(c.details)} for c in checks],
                "summary": counts, "ok": not counts["fail"], "kubernetes": kube,
            })
            return 1 if counts["fail"] else 0
        out = console()
        out.print(line(("command", "bold")))
        out.print(Text("  " + shell_line(cmd)))  # printable already: shell_quote escapes
        if tcp and args.tcp_established is None:
            out.print(line((f"  (--tcp-established added: the checkpoint holds "
                            f"{plural(established, 'established TCP connection')})", "dim")))
        if kube is not None:
            _print_kubernetes(out, kube)
        out.print(_checks_table(checks))
        out.print(line(f"{counts['pass']} passed, {counts['warn']} warnings, {counts['fail']} failed"))
        if args.dry_run:
            return 1 if counts["fail"] else 0
        if counts["fail"] and not args.force:
            print("ckpt-tui: preflight failed; fix the failed checks or use --force to try anyway", file=sys.stderr)
            return 1
        if not args.yes and not _ask("Run this restore? [y/N] "):
            out.print(line("not restoring"))
            return 1
        res = run_restore(cmd, lambda text: out.print(data(text)), checkpoint=ck, timeout=args.timeout)
        if res.ok:
            out.print(data(res.message, "green"))
            if res.stats:
                from .common import json_text

                out.print(message(json_text(res.stats).rstrip("\n")))
            return 0
        print(f"ckpt-tui: {safe_lines(res.message)}", file=sys.stderr)
        if res.diagnosis is not None:
            out.print()
            print_diagnosis(out, res.diagnosis)
        if res.log_path and not args.keep:
            out.print(line(("(restore with --keep to keep CRIU's log and work directory)", "dim")))
        return 1
    finally:
        ck.close()


def _print_kubernetes(out: Console, kube: dict[str, Any]) -> None:
    from rich.text import Text

    out.print(line(("kubernetes", "bold"), " (a CRI-O/kubelet checkpoint: Kubernetes restores it from a "
                   "checkpoint image whose annotation ", kube["annotation"], " names the container)"))
    for n, step in enumerate(kube["steps"], 1):
        out.print(Text(f"  {n}. {step}"))  # printable already: names are shell-quoted


def _checks_table(checks: list[Check]) -> Table:
    from rich.table import Table

    t = Table(title="preflight", title_justify="left")
    t.add_column("", no_wrap=True)
    t.add_column("check", no_wrap=True, style="bold")
    t.add_column("result", overflow="fold")
    for c in checks:
        text = c.reason + (f"\n→ {c.fix}" if c.fix and c.status in ("fail", "warn") else "")
        if c.details and c.status in ("fail", "warn"):
            text += "".join(f"\n  · {d}" for d in c.details[:8])
        t.add_row(data(_STATUS_MARK.get(c.status, c.status), _STATUS_STYLE.get(c.status, "")), data(c.name),
                  message(text))
    return t


def _ask(prompt: str) -> bool:
    if not sys.stdin or not sys.stdin.isatty():
        return False
    try:
        answer = input(prompt)
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


# -- diagnose -----------------------------------------------------------------------------------
def print_diagnosis(out: Console, diag: Diagnosis, *, max_errors: int = 5) -> None:
    verdict = {"success": ("success", "green"), "failure": ("failure", "bold red")}.get(diag.outcome,
                                                                                     (diag.outcome, ""))
    head = line(f"{diag.operation} log: " if diag.operation != "unknown" else "outcome: ", verdict)
    if diag.criu_version:
        head.append_text(line(" — CRIU ", diag.criu_version))
    if diag.kernel:
        head.append_text(line(", kernel ", diag.kernel))
    out.print(head)
    if diag.log_path:
        out.print(line("log: ", diag.log_path))
    for c in diag.causes:
        out.print()
        out.print(line((c.title, "bold"), f"  (line {c.evidence_line})" if c.evidence_line else ""))
        out.print(line("  ", c.explanation))
        out.print(line(("  fix: ", "green"), (c.fix, "green")))
        if c.evidence:
            out.print(line(("  ", "dim"), (c.evidence, "dim")))
    if diag.image_at_fault:
        out.print()
        out.print(line("image at fault: ", (diag.image_at_fault, "bold")))
    shown = [e for e in diag.errors if e.level == "Error"][:max_errors]
    if shown:
        out.print()
        out.print(line(("error lines", "bold")))
        for e in shown:
            tag = f" ({e.note})" if e.note else ""
            out.print(line(f"  {e.line_no:>6}: ", e.location, tag, ": ", e.text))
    if diag.outcome == "success":
        out.print()
        out.print(message(diag.summary))


def cmd_diagnose(args: argparse.Namespace) -> int:
    from ..actions.diagnose import diagnose_file

    ck = load(args, args.checkpoint) if args.checkpoint else None
    try:
        diag = diagnose_file(args.log, ck)
    finally:
        if ck is not None:
            ck.close()
    if not diag.recognised:
        # bad input, like a missing file: one line on stderr, exit 2
        raise CkptError(f"{args.log}: {diag.summary}")
    if args.json:
        print_json(asdict(diag))
    else:
        print_diagnosis(console(), diag, max_errors=args.max_errors)
    return 1 if diag.outcome == "failure" else 0


# -- parsers ------------------------------------------------------------------------------------
def register(sub: Any) -> None:
    """Add build, restore and diagnose to the subcommands."""
    s = add_command(sub, "build", cmd_build, summary="write an OCI image of a checkpoint",
                    description="Write a one-layer OCI checkpoint image (oci-archive tar by default) that podman, "
                                "CRI-O and containerd recognise, without buildah.")
    s.add_argument("image", help="image name, e.g. localhost/web-ckpt:latest; docker://HOST/REPO:TAG pushes it "
                   "there (the bytes --oci-dir writes) and prints the digest")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--output", "-o", metavar="FILE.tar", help="oci-archive to write (default NAME-TAG.oci.tar here)")
    g.add_argument("--oci-dir", metavar="DIR", help="write an OCI layout directory instead")
    s.add_argument("--load", action="store_true", help="load the image into the engine afterwards (podman load / skopeo)")
    s.add_argument("--engine", default="podman", choices=("podman", "skopeo", "containerd"),
                   help="what --load uses (default podman, falling back to skopeo)")
    s.add_argument("--runtime", metavar="R", help="runtime name for the annotations (default: the one config.dump names)")
    s.add_argument("--no-compress", action="store_true", help="uncompressed layer (default gzip)")
    s.add_argument("--quiet", "-q", action="store_true", help="only the summary")
    s.add_argument("--json", action="store_true",
                   help="the summary as JSON: image, output, format, size, index_digest, manifest {digest, size}, "
                        "config_digest, image_id, layer {digest, size, media_type, diff_id}, architecture, entries, "
                        "annotations, notes, loaded (progress lines go to stderr)")

    s = add_command(
        sub, "restore", cmd_restore, summary="restore a checkpoint with podman or containerd (preflight first)",
        path="checkpoint archive (or checkpoint image file)",
        description="Show the engine command and the preflight checks, ask, then restore and stream the "
                    "output; a failure is diagnosed from CRIU's log. Established TCP connections in the "
                    "checkpoint add --tcp-established (--no-tcp-established leaves it out); a CRI-O/kubelet "
                    "checkpoint also shows how Kubernetes restores it. Exit 0 when restored (--dry-run: when "
                    "no check failed), 1 when a check or the restore failed, 2 on bad input.")
    s.add_argument("--engine", default="", choices=("podman", "containerd"),
                   help="default: the engine that made the checkpoint (containerd for containerd checkpoints)")
    s.add_argument("--runtime", metavar="R", help="OCI runtime (podman --runtime); must be the one that made the checkpoint")
    s.add_argument("--name", "-n", metavar="N", help="name of the restored container")
    s.add_argument("--image", metavar="REF", help="restore this checkpoint image from the engine's storage")
    s.add_argument("--namespace", metavar="NS", help="containerd namespace (ctr -n)")
    s.add_argument("--ignore-rootfs", action="store_true", help="do not apply rootfs-diff.tar")
    s.add_argument("--ignore-volumes", action="store_true", help="do not restore volumes")
    s.add_argument("--tcp-established", action=argparse.BooleanOptionalAction, default=None,
                   help="restore established TCP connections (default: when the checkpoint holds any)")
    s.add_argument("--keep", action="store_true", help="keep CRIU's work directory and log")
    s.add_argument("--print-stats", action="store_true", help="print restore statistics")
    s.add_argument("--dry-run", action="store_true", help="only show the command and the checks (exit 1 if a check fails)")
    s.add_argument("--json", action="store_true",
                   help="with --dry-run: JSON with command, command_line, tcp_established, established_connections, "
                        "checks [{name, status, reason, fix, details}], summary, ok, kubernetes")
    s.add_argument("--yes", "-y", action="store_true", help="do not ask before restoring")
    s.add_argument("--force", action="store_true", help="restore even if a preflight check failed")
    s.add_argument("--no-criu-check", action="store_true", help="skip running `criu check`")
    s.add_argument("--timeout", type=float, metavar="SECONDS", help="give up after this long")

    s = add_command(
        sub, "diagnose", cmd_diagnose, summary="explain a CRIU restore/dump log", path=None,
        description="Find CRIU's Error/Warn lines, tell success from failure, and name the cause and the fix. "
                    "Exit 0 for a log without failure, 1 when a failure was diagnosed, 2 when the file is not a "
                    "CRIU log or an engine's error output.")
    s.add_argument("log", help="restore.log / dump.log (or an engine's error output)")
    s.add_argument("--checkpoint", metavar="PATH", help="the checkpoint, to name and verify the image at fault")
    s.add_argument("--json", action="store_true", help="the diagnosis as JSON (errors, causes, image_at_fault, ...)")
    s.add_argument("--max-errors", type=int, default=8, help="error lines to list (default 8)")
