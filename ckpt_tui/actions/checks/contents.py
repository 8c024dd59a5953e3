# SPDX-License-Identifier: Apache-2.0
"""Checks of what a checkpoint holds and asks for: the source the engine gets, every image
the restore needs, established TCP connections, the name and ID, the base image, the options,
and the security settings its spec carries."""

from __future__ import annotations

import os
import re
from typing import Any

from ...model.checkpoint import Checkpoint
from ..hostprofile import HostProfile
from ..hostprofile.profile import EngineProfile, LocalImage
from ..restore import ARCHIVE_KINDS, RestoreOptions, RestoreTarget
from .base import FAIL, INFO, PASS, WARN, Check

__all__ = ["check_base_image", "check_complete", "check_flags", "check_name", "check_spec", "check_target",
           "check_tcp", "find_image", "reference_kind"]


def check_target(engine: str, o: RestoreOptions, target: RestoreTarget | None, err: str, prof: HostProfile) -> Check:
    if target is None:
        return Check("Checkpoint source", FAIL, err or "cannot tell what to restore")
    if target.mode == "import":
        if engine == "containerd":
            return Check("Checkpoint source", FAIL, f"ctr restores containerd checkpoint images, not a {target.kind or 'tar'} archive",
                         fix="use --engine podman, or restore through the CRI (crictl/kubelet)")
        if target.kind in ARCHIVE_KINDS:
            return Check("Checkpoint source", PASS, f"{target.kind} archive: podman container restore --import {target.path}")
        return Check(
            "Checkpoint source", FAIL,
            f"podman --import needs a checkpoint archive (tar, tar.gz, tar.zst); this is a {target.kind or 'directory'}",
            fix=f"pack it first (tar -C {target.path} -cf checkpoint.tar .) or build an image (ckpt-tui build)",
        )
    # image mode
    eng = prof.engine(engine)
    store = "podman's storage" if engine == "podman" else "containerd's store"
    if eng is None or eng.images is None:
        tool = o.podman_bin if engine == "podman" else o.ctr_bin
        return Check("Checkpoint source", WARN,
                     f"checkpoint image {target.image}; {tool} did not list its images, cannot tell if it is there")
    if find_image(eng, target.image) is not None:
        return Check("Checkpoint source", PASS, f"checkpoint image {target.image} is in {store}")
    if engine == "podman":
        how = f"podman load -i {target.path}" if target.path else f"podman pull {target.image}"
        status = WARN if target.needs_load else FAIL
    else:
        how = f"ctr images import {target.path}" if target.path else f"ctr images pull {target.image}"
        status = WARN
    return Check("Checkpoint source", status, f"checkpoint image {target.image} is not in {store} yet", fix=how,
                 step="" if target.needs_load else how)


def check_complete(ck: Checkpoint) -> Check:
    """Every image the process tree and the pagemaps name is there, and each pages image is as
    long as the pages its pagemap says are present in it."""
    missing = [n for n in ("checkpoint/inventory.img", "checkpoint/pstree.img") if not ck.has(n)]
    short: list[str] = []
    if not ck.processes:
        return Check("Archive complete", FAIL, "no process tree could be read (pstree.img missing or unreadable)",
                     details=missing)
    tids = ck.tids
    missing += [f"checkpoint/core-{tid}.img" for tid in tids if not ck.has(f"checkpoint/core-{tid}.img")]
    pages_checked = 0
    for proc in ck.process_list():
        if not proc.alive:
            continue  # zombies/dead tasks have no memory images
        missing += [n for n in (f"checkpoint/mm-{proc.pid}.img", f"checkpoint/pagemap-{proc.pid}.img") if not ck.has(n)]
        member = proc.pages_member
        if member is None or proc.pages_present == 0:
            continue
        pages_checked += 1
        found = ck.member(member)
        if found is None:
            missing.append(f"{member} (pid {proc.pid} needs {proc.pages_present} pages)")
        elif found.size < proc.pagemap_size:
            short.append(f"{member}: {found.size} bytes, pid {proc.pid} needs {proc.pages_present} pages = "
                         f"{proc.pagemap_size} bytes")
    covered = {m.split(" (")[0] for m in missing} | {s.split(":")[0] for s in short}
    notes = [str(p) for p in ck.problems
             if p.severity == "error" and p.source.startswith("checkpoint/") and p.source not in covered]
    if missing or short:
        parts = []
        if missing:
            parts.append(f"missing: {', '.join(m.split(' (')[0].rsplit('/', 1)[-1] for m in missing)}")
        if short:
            parts.append(f"short: {', '.join(s.split(':')[0].rsplit('/', 1)[-1] for s in short)}")
        return Check("Archive complete", FAIL, "the checkpoint is incomplete (" + "; ".join(parts) + ")",
                     fix="restore from a complete copy of the checkpoint", details=missing + short + notes)
    reason = f"inventory, {len(ck.processes)} process(es), {len(tids)} core image(s)"
    reason += f", {pages_checked} pages image(s) big enough" if pages_checked else ""
    return Check("Archive complete", WARN if notes else PASS, reason, details=notes)


def check_tcp(ck: Checkpoint, o: RestoreOptions) -> Check:
    est = [s for s in ck.sockets if s.needs_tcp_established]
    if not est:
        if o.tcp_established:
            return Check("TCP connections", INFO, "no established TCP connections; --tcp-established is not needed")
        return Check("TCP connections", PASS, "no established TCP connections")
    details = [f"pid {s.pid} fd {s.fd}: {s.local} -> {s.remote} {s.state}" for s in est]
    local = sorted({s.src for s in est if s.src})
    details.append("the repair binds the old local address again: " + ", ".join(local)
                   + " must be free and assignable where it is restored (the container gets its old IP back)")
    if not o.tcp_established:
        return Check("TCP connections", FAIL,
                     f"{len(est)} established TCP connection(s): the restore needs --tcp-established",
                     fix="add --tcp-established", details=details, step="--tcp-established")
    return Check("TCP connections", PASS,
                 f"{len(est)} established TCP connection(s), --tcp-established given (the container must get its old IP back)",
                 details=details)


def _names(eng: EngineProfile) -> set[str]:
    out: set[str] = set()
    for c in eng.containers or []:
        out.update(c.names)
    return out


def check_name(ck: Checkpoint, engine: str, o: RestoreOptions, target: RestoreTarget | None,
               prof: HostProfile) -> list[Check]:
    name = o.name or ck.info.name
    if not name:
        return [Check("Container name", WARN, "the checkpoint does not name its container; give --name")]
    eng = prof.engine(engine)
    tool = o.podman_bin if engine == "podman" else o.ctr_bin
    if eng is None or eng.containers is None:
        return [Check("Container name", WARN, f"{tool} did not list its containers: cannot tell whether {name!r} is free")]
    checks = []
    if name in _names(eng):
        fix = (f"give another --name or ctr containers rm {name}" if engine == "containerd"
               else f"restore with --name NEW, or remove it: podman rm -f {name}")
        what = (f"a containerd container {name!r} already exists" if engine == "containerd"
                else f"a container named {name!r} already exists")
        checks.append(Check("Container name", FAIL, what, fix=fix, step=f"--name {name}-restored"))
    else:
        checks.append(Check("Container name", PASS, f"{name!r} is free"))
    cid = ck.info.id
    if (engine == "podman" and not o.name and cid and target is not None and target.mode == "import"
            and any(c.id == cid for c in eng.containers)):
        checks.append(Check("Container ID", FAIL,
                            f"container {cid[:12]} (the checkpoint's own ID, reused when restoring without --name) exists",
                            fix="restore with --name NEW (podman then makes a new ID), or remove the old container",
                            step=f"--name {name}-restored"))
    return checks


def check_base_image(ck: Checkpoint, engine: str, o: RestoreOptions, prof: HostProfile) -> Check | None:
    if engine != "podman":
        return None
    image_id, image_name = ck.info.image_id, ck.info.image
    if not image_id and not image_name:
        return Check("Base image", WARN, "the checkpoint does not say which image the container ran")
    eng = prof.engine("podman")
    label = f"{image_name} ({image_id[:12]})" if image_name and image_id else (image_name or image_id[:12])
    if eng is None or eng.images is None:
        return Check("Base image", WARN, f"podman did not list its images: cannot tell whether {label} is present")
    by_id = find_image(eng, image_id) if image_id else None
    by_name = find_image(eng, image_name) if image_name else None
    if by_id is not None or (by_name is not None and not image_id):
        return Check("Base image", PASS, f"{label} is in local storage")
    ref = reference_kind(image_name)
    why = {"none": "the checkpoint names it only by ID, so nothing can be pulled",
           "local": "it cannot be pulled: a localhost/ image exists only where it was built",
           "short": "its name is not fully qualified: podman resolves it through the registries it is configured with",
           "digest": "it is named by digest: that exact image can be pulled",
           "qualified": "podman pulls it by name; the tag must still name the same image"}[ref]
    if by_name is not None:
        return Check("Base image", WARN, f"{image_name} is in local storage but as image {by_name.id[:12] or '?'}, "
                                         f"not {image_id[:12]} that the checkpoint ran on",
                     fix=f"podman pull/load the image with ID {image_id[:12]}; a different image may not restore")
    pullable = ref in ("short", "digest", "qualified")
    return Check(
        "Base image", FAIL,
        f"the base image {label} is not in local storage: {why}",
        fix=(f"podman pull {image_name}" if pullable
             else f"podman load the image with ID {image_id[:12]}" if image_id else f"podman load {image_name}"),
        step=f"podman pull {image_name}" if pullable else "",
    )


_HEX = re.compile(r"[0-9a-f]+")
_HEX64 = re.compile(r"[0-9a-f]{64}")


def reference_kind(name: str) -> str:
    """How an image reference can be fetched: "none" (no name), "local" (localhost/), "short" (no
    registry), "digest" (name@sha256:...), "qualified" (registry/name:tag)."""
    if not name or _HEX64.fullmatch(name.removeprefix("sha256:")):
        return "none"
    first = name.split("/", 1)[0]
    if first == "localhost" or first.startswith("localhost:"):
        return "local"
    if "/" not in name or not ("." in first or ":" in first):
        return "short"
    return "digest" if "@sha256:" in name else "qualified"


def find_image(eng: EngineProfile, ref: str) -> LocalImage | None:
    """The engine's local image ``ref`` names: by ID (or a prefix of 12+), name, or digest."""
    if not ref or eng.images is None:
        return None
    bare = ref.removeprefix("sha256:")
    tagged = ref if ":" in ref.rsplit("/", 1)[-1] or "@" in ref else ref + ":latest"
    for img in eng.images:
        iid = img.id.removeprefix("sha256:")
        if iid and len(bare) >= 12 and _HEX.fullmatch(bare) and iid.startswith(bare):
            return img
        if ref in img.names or tagged in img.names or ref in img.digests:
            return img
    return None


def check_flags(ck: Checkpoint, o: RestoreOptions, target: RestoreTarget | None) -> list[Check]:
    checks: list[Check] = []
    if target is not None and target.mode == "image" and (o.ignore_rootfs or o.ignore_volumes):
        checks.append(Check("Options", WARN, "--ignore-rootfs/--ignore-volumes only work with --import; they are left out"))
    if o.ignore_rootfs and ck.has("rootfs-diff.tar"):
        checks.append(Check("Root FS changes", WARN,
                            "--ignore-rootfs: the changes in rootfs-diff.tar are not applied; files the processes had open may be missing"))
    elif ck.has("rootfs-diff.tar"):
        checks.append(Check("Root FS changes", INFO, "rootfs-diff.tar will be applied on top of the base image"))
    return checks


# --------------------------------------------------------------------------- the spec's security settings

_DEFAULT_CAPS = {
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT",
}
_DANGEROUS_CAPS = {"CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_SYS_MODULE", "CAP_NET_ADMIN", "CAP_SYS_RAWIO",
                   "CAP_DAC_READ_SEARCH", "CAP_BPF", "CAP_SYS_BOOT"}
_DEFAULT_DESTS = {"/proc", "/dev", "/dev/pts", "/dev/mqueue", "/sys", "/sys/fs/cgroup", "/dev/shm", "/run/.containerenv",
                  "/etc/hostname", "/etc/resolv.conf", "/etc/hosts", "/run/secrets"}


def spec_obj(value: object) -> dict[str, Any]:
    """A JSON object of spec.dump (the archive's, so any shape): {} when it is not one."""
    return value if isinstance(value, dict) else {}


def _items(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _capabilities(eff: list[str]) -> Check:
    extra = sorted(set(eff) - _DEFAULT_CAPS)
    danger = sorted(set(eff) & _DANGEROUS_CAPS)
    if danger:
        return Check("Capabilities", WARN, f"{len(eff)} capabilities including {', '.join(danger)}", details=eff)
    what = f"{len(eff)} capabilities" + (f" (beyond the default set: {', '.join(extra)})" if extra else " (the default set)")
    return Check("Capabilities", INFO, what, details=eff)


def _mounts(ck: Checkpoint, here: bool) -> Check:
    mounts = [m for m in ck.mounts if m.origin == "spec"]
    binds = [m for m in mounts if ("bind" in m.options or "rbind" in m.options or m.type == "bind")
             and m.destination not in _DEFAULT_DESTS]
    missing_src = [m for m in binds if here and m.source.startswith("/") and not os.path.exists(m.source)
                   and "/containers/storage/" not in m.source and "/userdata/" not in m.source]
    details = [f"{m.source or '?'} -> {m.destination or '?'} ({','.join(m.options)})" for m in binds]
    if binds and not here:
        details.append("the sources were not looked for: a host profile does not list files")
    if missing_src:
        return Check("Mounts", WARN,
                     f"{len(missing_src)} bind mount source(s) do not exist here: " + ", ".join(m.source for m in missing_src),
                     fix="create them (same paths) or the restore fails to find the mount", details=details)
    return Check("Mounts", INFO, f"{len(mounts)} mounts, {len(binds)} bind mount(s) from the host" if binds
                 else f"{len(mounts)} mounts, no host bind mounts", details=details)


def check_spec(ck: Checkpoint, prof: HostProfile) -> list[Check]:
    """What the checkpoint's runtime spec will bring back: privileges, capabilities, seccomp,
    LSM labels, host bind mounts, shared host namespaces."""
    spec = ck.spec
    if not spec:
        return [Check("Security settings", WARN, "no spec.dump: cannot show what security settings the checkpoint carries")]
    proc, linux = spec_obj(spec.get("process")), spec_obj(spec.get("linux"))
    caps = spec_obj(proc.get("capabilities"))
    eff = sorted({str(c) for key in ("effective", "bounding") for c in _items(caps.get(key))})
    checks: list[Check] = []
    if bool(ck.config.get("privileged")) or len(eff) >= 35:
        checks.append(Check("Privileged", WARN, "the container was privileged: the restored one will be too (all capabilities, host devices)"))
    else:
        checks.append(Check("Privileged", INFO, "not privileged"))
    checks.append(_capabilities(eff))
    seccomp = spec_obj(linux.get("seccomp"))
    if not seccomp:
        checks.append(Check("Seccomp", WARN, "no seccomp filter: the restored processes are unconfined by seccomp"))
    else:
        rules = [spec_obj(r) for r in _items(seccomp.get("syscalls"))]
        n = sum(len(_items(r.get("names"))) for r in rules)
        checks.append(Check("Seccomp", INFO, f"seccomp profile, default action {seccomp.get('defaultAction', '?')}, "
                                             f"{len(rules)} rules over {n} syscalls"))
    checks.append(_mounts(ck, prof.source == "this host"))
    ns = {spec_obj(n).get("type") for n in _items(linux.get("namespaces"))}
    shared = [t for t in ("network", "pid", "ipc", "uts") if t not in ns]
    if shared and linux:
        checks.append(Check("Namespaces", WARN, f"shares the host's {', '.join(shared)} namespace(s)"))
    checks.append(Check(
        "Security note", INFO,
        "a checkpoint restores with the security settings recorded in it (capabilities, seccomp, mounts), not your defaults",
    ))
    return checks
