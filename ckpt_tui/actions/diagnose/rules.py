# SPDX-License-Identifier: Apache-2.0
"""Which log line means which cause: the rule table, and the pass that applies it.

A rule matches either CRIU's error lines (the default: the first ``Error`` line it matches) or,
for the engines' messages, any line. Each cause is reported once, in table order.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from . import causes as C
from .logparse import LogError
from .report import Cause

__all__ = ["RULES", "Rule", "apply_rules"]


@dataclass(frozen=True)
class Rule:
    kind: str  # the cause's stable id ("missing-image", "criu-too-old"...)
    pattern: re.Pattern[str]
    find: Callable[[C.Context, C.Hit], C.Finding] | C.Finding  # what the hit means (the same words every time)
    errors_only: bool = True  # match only the error lines (else any line)
    levels: tuple[str, ...] = ("Error",)


RULES: tuple[Rule, ...] = (
    Rule("criu-too-old", re.compile(r"Unexpected rt vDSO area bounds|kerndat_vdso_fill_symtable failed|vdso: Failed to fill self vdso"), C.find_criu_too_old),
    Rule("missing-image", re.compile(r"Failed getting raw image fd|Unable to open (?P<img>\S+\.img)|Can't open (?:image )?(?P<img2>\S+\.img)|cannot be found, cannot restore: stat (?P<img3>\S+\.img)"), C.find_missing_image, errors_only=False),
    Rule("short-image", re.compile(r"Can't read mapping page|Can't read async pr bytes|Unexpected EOF|[Ss]hort read|[Pp]remature end|Read \d+ bytes while \d+ expected(?: from (?P<img>\S+\.img))?"), C.find_short_image),
    Rule("file-changed", re.compile(r"File (?P<path>\S+) has bad size (?P<have>\d+) \(expect (?P<want>\d+)\)"), C.find_file_changed),
    Rule("file-bad-mode", re.compile(r"File (?P<path>\S+) has bad mode 0?(?P<have>[0-7]+) \(expect 0?(?P<want>[0-7]+)\)"), C.find_file_bad_mode),
    Rule("file-build-id", re.compile(r"File (?P<path>\S+) has bad build-ID"), C.find_build_id),
    Rule("pid-clash", re.compile(r"Pid \d+ do not match expected \d+|Thread pid mismatch|Can't fork for \d+: File exists"), C.PID_CLASH),
    Rule("missing-plugin", re.compile(r"Missing required plugin: (?P<plugin>\S+)"), C.find_plugin),
    Rule("gpu", re.compile(r"amdgpu_plugin|cuda_plugin|cuda-checkpoint|amdgpu:|/dev/kfd|nvidia", re.I), C.GPU),
    Rule("tcp-established", re.compile(r"Connected TCP socket(?:, consider using --tcp-established| in image)"), C.find_tcp),
    Rule("connect-back", re.compile(r"Can't connect inet socket back.*Cannot assign requested address"), C.CONNECT_BACK),
    Rule("cgroup-nospc", re.compile(r"Failed writing .*: No space left on device"), C.CGROUP_NOSPC),
    Rule("capabilities", re.compile(r"Unable to restore capabilities|Unable to drop capability|Unable to raise ambient capability"), C.CAPS),
    Rule("address-in-use", re.compile(r"Address already in use|Can't bind inet socket|requested ip address \S+ is already allocated"), C.ADDRESS_IN_USE, errors_only=False),
    Rule("cpu-mismatch", re.compile(r"cpuinfo|FPU feature|CPU feature|xfeatures|xsave|cpu_validate", re.I), C.CPU_MISMATCH),
    Rule("mount-missing", re.compile(r"Can't lookup mount|No mapping for \S+ mountpoint|No mapping for|Unable to find mount|No root found for mountpoint"), C.MOUNT_MISSING),
    Rule("seccomp-lsm", re.compile(r"seccomp|apparmor|selinux|\bLSM\b|lsm", re.I), C.SECCOMP_LSM),
    Rule("restorer", re.compile(r"Restorer fail"), C.RESTORER),
    Rule("killed-by-signal", re.compile(r"(?P<pid>\d+) killed by signal (?P<sig>\d+)"), C.find_signal),
    # engine (podman/containerd) messages, anywhere in the text
    Rule("runtime-mismatch", re.compile(r"requires runtime: \"?(?P<rt>[\w.-]+)\"?"), C.find_runtime, errors_only=False),
    Rule("runtime-mismatch", re.compile(r"configured runtime does not support checkpoint/restore"), C.find_runtime, errors_only=False),
    Rule("name-in-use", re.compile(r"container name \"(?P<name>[^\"]+)\" is already in use|that ID is already in use|name \S+ is already in use"), C.find_name_in_use, errors_only=False),
    Rule("base-image-missing", re.compile(r"parsing named reference \"(?P<ref>[0-9a-f]{64})\"|initializing source docker://(?P<ref2>\S+?):|(?P<ref3>\S+): image not known"), C.find_base_image, errors_only=False),
    Rule("sigill-exit", re.compile(r"(?P<pid>\d+) exited, status=132\b"), C.find_sigill_exit, errors_only=False),
    Rule("crio-disabled", re.compile(r"checkpoint/restore support not available"), C.CRIO_DISABLED, errors_only=False),
    Rule("permission", re.compile(r"Operation not permitted|Permission denied|RLIMIT"), C.PERMISSION),
    Rule("criu-failed", re.compile(r"criu failed: type (?P<op>\w+)"), C.find_criu_failed, errors_only=False),
    Rule("engine-wrapper", re.compile(r"CRIU restoring failed -?\d+|OCI runtime error"), C.find_engine_wrapper, errors_only=False),
)


def _first_hit(rule: Rule, ctx: C.Context, errors: list[LogError], by_line: dict[int, LogError]) -> C.Hit | None:
    if rule.errors_only:
        for err in errors:
            if err.note == "harmless" or err.level not in rule.levels:
                continue
            m = rule.pattern.search(err.text)
            if m:
                return C.Hit(m, err.line_no, err)
        return None
    for idx, raw in enumerate(ctx.lines):
        m = rule.pattern.search(raw)
        if m:
            return C.Hit(m, idx + 1, by_line.get(idx + 1))
    return None


def apply_rules(ctx: C.Context, errors: list[LogError]) -> list[Cause]:
    """The causes the log shows, each once, in table order."""
    found: list[Cause] = []
    seen: set[str] = set()
    by_line = {e.line_no: e for e in errors}
    for rule in RULES:
        if rule.kind in seen:
            continue
        hit = _first_hit(rule, ctx, errors, by_line)
        if hit is None:
            continue
        f = rule.find if isinstance(rule.find, C.Finding) else rule.find(ctx, hit)
        found.append(Cause(title=f.title, explanation=f.explanation, fix=f.fix, evidence_line=hit.line_no,
                           kind=rule.kind, evidence=ctx.line_text(hit.line_no), image=f.image))
        seen.add(rule.kind)
    wrappers = ("criu-failed", "engine-wrapper")
    if "criu-failed" in seen:  # one wrapper is enough
        found = [c for c in found if c.kind != "engine-wrapper"]
    if any(c.kind not in wrappers for c in found):
        # the engine's "criu failed" only says CRIU failed; a specific cause explains it
        found = [c for c in found if c.kind not in wrappers]
    return found
