"""A policy gate for pipelines (``ckpt-tui check PATH --rules FILE``), as dive's CI mode is for
images: a YAML or JSON object of rules, each checked against the loaded checkpoint and given as
a check row named ``Policy: RULE`` (BLOCK when broken). The rules:

==========================  =====================================================================
``max_total: 2G``           the CRIU images together (``sizes.total``) at most this
``max_pages: 1G``           the memory pages at most this
``max_rootfs_diff: 100M``   ``rootfs-diff.tar`` at most this
``max_file: 4G``            the checkpoint's file on disk at most this
``max_processes: 50``       at most this many processes
``require_annotations``     a list of annotation keys that must be present (the container's or
                            the checkpoint image's); ``{key: value}`` pins values too
``min_criu_version: "4.0"`` the images written by at least this CRIU
``no_established_tcp``      ``true``: no established TCP connection in it
``no_privileged``           ``true``: not a privileged container
``forbid_capabilities``     capability names no task may hold (``[CAP_SYS_ADMIN]``)
``no_secrets``              ``true`` or a level (``high``): no secret found at or above it (the scan)
==========================  =====================================================================

Sizes take ``K``/``M``/``G``/``T`` (binary) or bytes. A file with an unknown rule, or a value of
the wrong kind, is refused with the rule named.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path

from ...errors import CkptError
from ...model.checkpoint import Checkpoint
from ...text import parse_size, plural
from ...text import size as human_size
from .._versions import dumped_with
from ..checks.base import FAIL, PASS, WARN, Check
from ..checks.host import version_tuple

__all__ = ["RULES", "evaluate", "load_rules", "parse_rules"]


def _size(rule: str, value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return parse_size(value)
        except ValueError:
            pass
    raise CkptError(f"rules: {rule} must be a size (2G, 512M or bytes), not {value!r}")


def _max(rule: str, what: str, get: Callable[[Checkpoint], int | None]) -> Callable[[Checkpoint, object], Check]:
    def check(ck: Checkpoint, value: object) -> Check:
        limit = _size(rule, value)
        have = get(ck)
        if have is None:
            return Check(f"Policy: {rule}", WARN, f"{what}: not known for this checkpoint")
        ok = have <= limit
        return Check(f"Policy: {rule}", PASS if ok else FAIL,
                     f"{what} {human_size(have)} {'≤' if ok else '>'} {human_size(limit)}",
                     fix="" if ok else f"keep {what} under {human_size(limit)}, or raise {rule}")
    return check


def _processes(ck: Checkpoint, value: object) -> Check:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CkptError(f"rules: max_processes must be a number, not {value!r}")
    n = len(ck.processes)
    return Check("Policy: max_processes", PASS if n <= value else FAIL, f"{plural(n, 'process')}, at most {value}")


def _annotations(ck: Checkpoint, value: object) -> Check:
    have = {**ck.info.annotations, **ck.info.image_annotations}
    wanted: dict[str, str | None]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        wanted = {str(v): None for v in value}
    elif isinstance(value, Mapping) and all(isinstance(v, str) for v in value.values()):
        wanted = {str(k): str(v) for k, v in value.items()}
    else:
        raise CkptError("rules: require_annotations must be a list of keys or an object of key: value")
    missing = [k for k, v in wanted.items() if k not in have or (v is not None and have[k] != v)]
    if missing:
        return Check("Policy: require_annotations", FAIL, f"missing or different: {', '.join(missing)}",
                     fix="set them when checkpointing (podman --annotation / ckpt-tui build)")
    return Check("Policy: require_annotations", PASS, f"{plural(len(wanted), 'annotation')} present")


def _criu(ck: Checkpoint, value: object) -> Check:
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise CkptError(f"rules: min_criu_version must be a version such as \"4.0\", not {value!r}")
    want = str(value)
    made = dumped_with(ck).criu_version
    if not made:
        return Check("Policy: min_criu_version", WARN, "the checkpoint does not say which CRIU wrote it")
    ok = version_tuple(made) >= version_tuple(want)
    return Check("Policy: min_criu_version", PASS if ok else FAIL, f"written by CRIU {made}, at least {want} wanted")


def _flag(rule: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise CkptError(f"rules: {rule} must be true or false, not {value!r}")
    return value


def _tcp(ck: Checkpoint, value: object) -> Check | None:
    if not _flag("no_established_tcp", value):
        return None
    est = [s for s in ck.sockets if s.needs_tcp_established]
    return Check("Policy: no_established_tcp", FAIL if est else PASS,
                 f"{plural(len(est), 'established TCP connection')}",
                 details=[f"pid {s.pid}: {s.local} -> {s.remote}" for s in est])


def _privileged(ck: Checkpoint, value: object) -> Check | None:
    if not _flag("no_privileged", value):
        return None
    priv = bool(ck.config.get("privileged"))
    return Check("Policy: no_privileged", FAIL if priv else PASS, "privileged" if priv else "not privileged")


def _caps(ck: Checkpoint, value: object) -> Check:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CkptError("rules: forbid_capabilities must be a list of names (CAP_SYS_ADMIN)")
    names = {v if v.startswith("CAP_") else "CAP_" + v for v in map(str, value)}
    held = sorted({f"{c} (pid {p.pid})" for p in ck.process_list() if p.creds
                   for c in p.creds.cap_eff + p.creds.cap_prm + p.creds.cap_amb if c in names})
    return Check("Policy: forbid_capabilities", FAIL if held else PASS,
                 f"held: {', '.join(held)}" if held else "none of them held")


def _secrets(ck: Checkpoint, value: object) -> Check | None:
    """``no_secrets``: no secret the scan (``ckpt_tui.actions.scan``: environments, command lines,
    all memory, the root FS diff) finds at or above the level given (``true``: any level)."""
    if value is False:
        return None
    if not (value is True or isinstance(value, str)):
        raise CkptError(f"rules: no_secrets must be true, false or a level, not {value!r}")
    from ..scan import LEVELS, gate

    level = LEVELS[0] if value is True else str(value)
    if level not in LEVELS:
        raise CkptError(f"rules: no_secrets must be true, false or a level ({', '.join(LEVELS)}), not {value!r}")
    found = gate(ck, level)
    return Check("Policy: no_secrets", FAIL if found else PASS,
                 f"{plural(len(found), 'secret')} at {level} or above" if found else f"no secret at {level} or above",
                 fix="ckpt-tui scan PATH shows where each is" if found else "", details=[f.id for f in found])


RULES: dict[str, Callable[[Checkpoint, object], Check | None]] = {
    "max_total": _max("max_total", "the CRIU images", lambda ck: ck.sizes.total),
    "max_pages": _max("max_pages", "the memory pages", lambda ck: ck.sizes.memory_pages),
    "max_rootfs_diff": _max("max_rootfs_diff", "the root FS diff", lambda ck: ck.sizes.rootfs_diff),
    "max_file": _max("max_file", "the file", lambda ck: ck.sizes.file),
    "max_processes": _processes,
    "require_annotations": _annotations,
    "min_criu_version": _criu,
    "no_established_tcp": _tcp,
    "no_privileged": _privileged,
    "forbid_capabilities": _caps,
    "no_secrets": _secrets,
}


def parse_rules(obj: object, source: str = "rules") -> dict[str, object]:
    """The rules of a parsed file; CkptError for an unknown rule or a document that is no object."""
    if obj is None:
        return {}
    if not isinstance(obj, Mapping):
        raise CkptError(f"{source}: the rules must be an object (rule: value), not {type(obj).__name__}")
    unknown = [str(k) for k in obj if k not in RULES]
    if unknown:
        raise CkptError(f"{source}: unknown rule(s) {', '.join(unknown)}; known: {', '.join(RULES)}")
    return {str(k): v for k, v in obj.items()}


def load_rules(path: str | Path) -> dict[str, object]:
    """Read a rules file: YAML when it is called ``*.yaml``/``*.yml`` (PyYAML, imported only
    then), else JSON. CkptError when it cannot be read or parsed."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CkptError(f"{p}: cannot read the rules: {getattr(exc, 'strerror', None) or exc}") from None
    if p.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml  # type: ignore[import-untyped]
        except ImportError:
            raise CkptError(f"{p}: a YAML rules file needs PyYAML (pip install pyyaml), or write it as JSON") from None
        try:
            obj = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise CkptError(f"{p}: not YAML: {exc}") from None
    else:
        try:
            obj = json.loads(text)
        except ValueError as exc:
            raise CkptError(f"{p}: not JSON: {exc} (name a YAML file *.yaml)") from None
    return parse_rules(obj, str(p))


def evaluate(ck: Checkpoint, rules: Mapping[str, object]) -> list[Check]:
    """One row per rule, in the file's order (a rule switched off gives none)."""
    out = []
    for name, value in rules.items():
        row = RULES[name](ck, value)
        if row is not None:
            out.append(row)
    return out
