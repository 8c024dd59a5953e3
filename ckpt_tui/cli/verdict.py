"""``check`` and ``host-profile``: will a checkpoint restore here (or on the host a profile
describes), and what such a profile records.

``check`` exits 0 (restorable), 1 (restorable with steps), 2 (will fail, or a rule of
``--rules`` broken) and 3 when an input is no checkpoint (or the profile or the rules file
cannot be read).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ..errors import CkptError
from .common import add_command, console, error, line, load, message, print_json

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

    from ..actions.verdict import Verdict
    from ..model.checkpoint import Checkpoint

BAD_INPUT = 3
_STYLE = {"BLOCK": "bold red", "WARN": "yellow", "OK": "green"}
_HEADLINE = {"restorable": "bold green", "restorable-with": "bold yellow", "will-fail": "bold red"}


def _is_checkpoint(ck: Checkpoint) -> bool:
    return bool(ck.processes or ck.containers or ck.has("checkpoint/inventory.img") or ck.has("checkpoint/pstree.img"))


def print_verdict(out: Console, v: Verdict, title: str, *, show_ok: bool = True) -> None:
    """The verdict line, then one line a check (``BLOCK  name: what it found``) with what to do
    and the evidence under it: grep-able, never a table padded with blanks."""
    from ..actions.checks import label

    out.print(line((title + ": ", "bold"), (v.headline, _HEADLINE.get(v.kind, ""))))
    for c in v.checks:
        mark = label(c)
        if mark == "OK" and not show_ok:
            continue
        out.print(line((f"{mark:<5}  ", _STYLE[mark]), (c.name, "bold"), ": ").append_text(message(c.reason)))
        if c.step:
            out.print(line("       → restorable with ", (c.step, "bold")))
        elif c.fix and mark != "OK":
            out.print(message(f"       → {c.fix}"))
        for d in c.details[:8] if mark != "OK" else []:
            out.print(message(f"       · {d}"))


def cmd_check(args: argparse.Namespace) -> int:
    from ..actions.hostprofile import load_profile
    from ..actions.restore import RestoreOptions
    from ..actions.verdict import judge
    from ..actions.verdict.policy import evaluate, load_rules

    try:
        profile = load_profile(args.host) if args.host else None
        rules = load_rules(args.rules) if args.rules else {}
        ck = load(args)
    except CkptError as exc:
        error(str(exc))
        return BAD_INPUT
    try:
        if not _is_checkpoint(ck):
            error(f"{args.path}: not a checkpoint (no CRIU images, no process tree)")
            return BAD_INPUT
        parts = [(c, c.info.name or f"container {i}") for i, c in enumerate(ck.containers, 1)]
        parts = parts or [(ck, ck.info.name or str(args.path))]
        verdicts = []
        for sub, name in parts:
            opts = RestoreOptions(engine=args.engine, runtime=args.runtime, name=args.name)
            try:
                policy = evaluate(sub, rules)
            except CkptError as exc:  # a rule's value of the wrong kind
                error(f"{args.rules}: {exc}")
                return BAD_INPUT
            verdicts.append((name, judge(sub, profile, opts, criu_check=not args.no_criu_check, extra=policy)))
    finally:
        ck.close()
    worst = max(v.exit_code for _n, v in verdicts)
    if args.json:
        doc: dict[str, Any] = verdicts[0][1].to_dict() if len(verdicts) == 1 else {
            "verdict": max(verdicts, key=lambda nv: nv[1].exit_code)[1].kind,
            "containers": [{"container": n, **v.to_dict()} for n, v in verdicts]}
        doc["exit_code"] = worst
        print_json(doc)
        return worst
    out = console()
    for name, v in verdicts:
        print_verdict(out, v, name, show_ok=not args.problems_only)
    return worst


def cmd_host_profile(args: argparse.Namespace) -> int:
    from ..actions.hostprofile import collect_profile

    prof = collect_profile(criu_check=not args.no_criu_check)
    text = prof.to_json() + "\n"
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        import sys

        sys.stdout.write(text)
    return 0


def register(sub: Any) -> None:
    """Add check and host-profile to the subcommands."""
    s = add_command(
        sub, "check", cmd_check, summary="will it restore here? the verdict and every check",
        path="checkpoint archive, directory or checkpoint image",
        description="The restore verdict (restorable here / restorable with STEPS / will fail: REASON) and every "
                    "check as BLOCK / WARN / OK with its evidence, against this host or a host profile. Exit 0 "
                    "restorable, 1 restorable with steps, 2 will fail (or a --rules rule broken), 3 when an input "
                    "is no checkpoint or the profile / rules cannot be read.")
    s.add_argument("--host", metavar="PROFILE", help="judge against this host profile (ckpt-tui host-profile > host.json) "
                                                      "instead of profiling this host")
    s.add_argument("--rules", metavar="FILE", help="policy gate: a YAML (*.yaml) or JSON file of rules (see README)")
    s.add_argument("--engine", default="", choices=("podman", "containerd"), help="default: the engine that made it")
    s.add_argument("--runtime", metavar="R", help="the OCI runtime the restore would be asked to use")
    s.add_argument("--name", "-n", metavar="N", help="the name the restore would give the container")
    s.add_argument("--no-criu-check", action="store_true", help="do not run `criu check` (this host only)")
    s.add_argument("--problems-only", action="store_true", help="list only BLOCK and WARN checks")
    s.add_argument("--json", action="store_true",
                   help="JSON: verdict, headline, host, steps, reason {name, reason, fix}, checks [{name, result, "
                        "status, reason, fix, step, details}], exit_code (a pod: containers [...])")

    s = add_command(
        sub, "host-profile", cmd_host_profile, summary="record what a restore depends on here, as JSON", path=None,
        reads_checkpoint=False,
        description="Arch, kernel, CPU model and flags (xsave features and sizes), cap_last_cap, CRIU version, "
                    "`criu check` and --feature checks, CRIU plugins, runtimes and their checkpoint/restore "
                    "support, engines with their images and containers, LSM and AppArmor profiles, cgroup version "
                    "and controllers, CRI-O's enable_criu_support. `ckpt-tui check PATH --host FILE` judges "
                    "against it on another machine.")
    s.add_argument("--output", "-o", metavar="FILE", help="write it here instead of stdout")
    s.add_argument("--no-criu-check", action="store_true", help="do not run `criu check` / `criu cpuinfo dump`")
