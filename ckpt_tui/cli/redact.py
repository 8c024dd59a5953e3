"""``redact``: a copy of a checkpoint with its secrets filled (:mod:`ckpt_tui.actions.redact`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..text import plural
from .common import add_command, console, data, line, load, message, print_json

if TYPE_CHECKING:  # pragma: no cover
    import argparse

    from ..actions.redact import RedactResult


def redact_json(res: RedactResult) -> dict[str, Any]:
    """``redact --json``: where the copy is and what was filled."""
    return {"output": res.output, "kind": res.kind, "fills": res.fills, "rules": dict(res.by_rule),
            "members": list(res.members), "stripped": list(res.stripped), "not_redacted": dict(res.not_redacted),
            "notes": list(res.notes), "lacks": res.record.get("lacks", "")}


def cmd_redact(args: argparse.Namespace) -> int:
    from ..actions.redact import RECORD_NAME, redact_checkpoint

    out = console()
    err = console(stderr=True)
    say = err if args.json else out
    ck = load(args)
    try:
        res = redact_checkpoint(ck, args.output, strip_pages=args.strip_pages,
                                on_output=None if args.quiet else (lambda text: say.print(data(text))))
    finally:
        ck.close()
    if args.json:
        print_json(redact_json(res))
        return 0
    what = (f"filled {plural(res.fills, 'secret')} in {plural(len(res.members), 'member')}" if res.fills
            else "found no secret to fill")
    out.print(line("Wrote ", (res.output, "bold"), f" ({res.kind}): {what}; the record is {RECORD_NAME} in the copy"))
    for rule, count in sorted(res.by_rule.items()):
        out.print(line(f"  {rule}: {count}"))
    if res.stripped:
        out.print(message(f"Left out {plural(len(res.stripped), 'pages image')}: the copy lacks {res.record['lacks']}",
                          "yellow"))
    for name, seen in sorted(res.not_redacted.items()):
        what = ", ".join(f"{rule} ×{count}" for rule, count in sorted(seen.items()))
        out.print(line(("not changed: ", "yellow"), name, f" holds what looks like a secret ({what}); "
                       "it is a binary image whose framing a fill would break"))
    for note in res.notes:
        out.print(message(note, "dim"))
    return 0


def register(sub: Any) -> None:
    s = add_command(
        sub, "redact", cmd_redact, summary="a copy of a checkpoint with its secrets filled",
        description="Write a copy of a checkpoint, of the same kind (tar, gzip or zstd archive, directory, "
                    "checkpoint image, containerd checkpoint image), in which every secret the masking rules find — environment values of "
                    "secret-looking names, token-shaped values, secrets in command lines, memory pages, the root FS "
                    "diff's files, /dev/shm and tmpfs contents, logs, config.dump and spec.dump — is overwritten "
                    "with '*' of the same length: every CRIU image keeps its size and layout, and the copy opens, "
                    "decodes and diffs as the original. The copy holds redacted.json (what was filled, where) and "
                    "spec.dump's annotation org.ckpt-tui.redacted (a containerd checkpoint image's copy: a new OCI "
                    "layout whose changed blobs have new digests, the spec filled in place inside its protobuf "
                    "config blob, the annotation on the checkpoint index). Exit 2 on bad input or when OUT exists.")
    s.add_argument("-o", "--output", required=True, metavar="OUT", help="where to write the copy (must not exist)")
    s.add_argument("--strip-pages", action="store_true",
                   help="leave the memory pages out altogether: a metadata-only copy (no memory, command lines or "
                        "environments to read, and no restore)")
    s.add_argument("--json", action="store_true", help="print what was written and filled as JSON")
    s.add_argument("-q", "--quiet", action="store_true", help="no line per member")
