# SPDX-License-Identifier: Apache-2.0
"""Pre-restore checks: will this checkpoint restore here, and what will it bring with it?

``preflight(checkpoint, options)`` returns a list of :class:`Check` rows
(status "pass", "warn", "fail" or "info"). It never raises for a missing tool:
a check that needs one says so. Queries run only short, read-only commands
(``--version``, ``podman container exists``, ``podman image exists``,
``podman info``, ``criu check``).
"""

from __future__ import annotations

import os
import platform
import re
from dataclasses import dataclass, field
from typing import Any

from . import _facts
from ._proc import run_quick, which
from .diagnose import diagnose
from .restore import ARCHIVE_KINDS, RestoreOptions, RestoreTarget, restore_target

__all__ = ["Check", "preflight", "summarize"]

PASS, WARN, FAIL, INFO = "pass", "warn", "fail", "info"


@dataclass
class Check:
    name: str
    status: str  # "pass" | "warn" | "fail" | "info"
    reason: str
    fix: str = ""
    details: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status != FAIL


def summarize(checks: list[Check]) -> dict[str, int]:
    out = {PASS: 0, WARN: 0, FAIL: 0, INFO: 0}
    for c in checks:
        out[c.status] = out.get(c.status, 0) + 1
    return out


def _version_tuple(v: str) -> tuple[int, ...]:
    nums = re.findall(r"\d+", v or "")
    return tuple(int(n) for n in nums[:3])


def _criu_version_from_number(n: str) -> str:
    """40200 -> '4.2', 31701 -> '3.17.1'."""
    if not n.isdigit():
        return n
    v = int(n)
    major, minor, sub = v // 10000, (v // 100) % 100, v % 100
    return f"{major}.{minor}" + (f".{sub}" if sub else "")


_UNAME_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}


# --------------------------------------------------------------------------- individual checks


def _check_engine(engine: str, o: RestoreOptions) -> Check:
    binary = o.podman_bin if engine == "podman" else o.ctr_bin
    path = which(binary)
    if not path:
        pkg = "podman" if engine == "podman" else "containerd"
        return Check("Engine", FAIL, f"{binary} is not installed", fix=f"apt-get install {pkg}")
    rc, out, err = run_quick([binary, "--version"])
    ver = (out or err).strip().splitlines()[0] if (out or err).strip() else ""
    return Check("Engine", PASS, f"{ver or binary} ({path})")


def _check_root(engine: str) -> Check:
    if os.geteuid() == 0:
        return Check("Privileges", PASS, "running as root")
    return Check(
        "Privileges",
        FAIL if engine == "podman" else WARN,
        "restoring a container needs root (rootful podman / containerd); you are not root",
        fix="run the restore with sudo",
    )


def _check_target(ckpt: Any, engine: str, o: RestoreOptions, target: RestoreTarget | None, err: str) -> Check:
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
    if engine == "podman":
        if not which(o.podman_bin):
            return Check("Checkpoint source", WARN, f"checkpoint image {target.image}; podman is missing, cannot tell if it is loaded")
        rc, _out, _err = run_quick([o.podman_bin, "image", "exists", target.image])
        if rc == 0:
            return Check("Checkpoint source", PASS, f"checkpoint image {target.image} is in podman's storage")
        how = f"podman load -i {target.path}" if target.path else f"podman pull {target.image}"
        status = WARN if target.needs_load else FAIL
        return Check("Checkpoint source", status, f"checkpoint image {target.image} is not in podman's storage yet", fix=how)
    if not which(o.ctr_bin):
        return Check("Checkpoint source", WARN, f"checkpoint image {target.image}; ctr is missing, cannot tell if it is imported")
    cmd = [o.ctr_bin] + (["-n", o.namespace] if o.namespace else []) + ["images", "ls", "-q"]
    rc, out, _err = run_quick(cmd)
    if rc == 0 and target.image in out.split():
        return Check("Checkpoint source", PASS, f"checkpoint image {target.image} is in containerd's store")
    fix = f"ctr images import {target.path}" if target.path else f"ctr images pull {target.image}"
    return Check("Checkpoint source", WARN, f"checkpoint image {target.image} is not in containerd's store yet", fix=fix)


def _runtime_version(rt: str) -> tuple[str, bool | None]:
    """(first version line, has CRIU support or None if unknown)."""
    rc, out, err = run_quick([rt, "--version"])
    text = (out or err).strip()
    first = text.splitlines()[0] if text else ""
    if os.path.basename(rt).startswith("crun"):
        # crun lists its build features as +FEATURE / -FEATURE
        if "+CRIU" in text:
            return first, True
        return first, False if re.search(r"[+-][A-Z]{3,}", text) else None
    return first, None


def _podman_default_runtime(o: RestoreOptions) -> str:
    if not which(o.podman_bin):
        return ""
    rc, out, _err = run_quick([o.podman_bin, "info", "--format", "{{.Host.OCIRuntime.Name}}"], timeout=30)
    return out.strip() if rc == 0 else ""


def _check_runtime(ckpt: Any, engine: str, o: RestoreOptions, target: RestoreTarget | None) -> list[Check]:
    checks: list[Check] = []
    made_with_full = _facts.config_runtime(ckpt)
    made_with = _facts.short_runtime(made_with_full) if made_with_full else ""
    ann = _facts.annotation(ckpt, "runtime.name")
    image_mode = target is not None and target.mode == "image"

    if engine == "containerd":
        rt = made_with_full or _facts.annotations_of(ckpt).get("io.containerd.checkpoint.runtime", "")
        short = _facts.short_runtime(rt) if rt else "runc"
        shim = f"containerd-shim-{short}-v2"
        missing = [b for b in (shim, short) if not which(b)]
        if missing:
            checks.append(Check("Runtime", FAIL, f"checkpoint made with {rt or short}; not installed here: {', '.join(missing)}",
                                fix=f"apt-get install {short}"))
        else:
            checks.append(Check("Runtime", PASS, f"checkpoint made with {rt or short}; {shim} and {short} are installed"))
        return checks

    # podman: which runtime will it use, which one does it demand?
    if image_mode and ann:
        required, why = ann, "the image's runtime annotation, which podman enforces"
    else:
        required, why = made_with or ann, "config.dump" if made_with else "the image's runtime annotation"
    if image_mode and ann and made_with and ann != made_with:
        checks.append(
            Check(
                "Runtime annotation",
                FAIL,
                f"the image's annotation io.podman.annotations.checkpoint.runtime.name says {ann!r} but config.dump says "
                f"{made_with!r} made the checkpoint; podman insists on {ann!r} for this image",
                fix=(
                    f"rebuild the image with the right annotation (ckpt-tui build --runtime {made_with}), or restore "
                    "the archive inside it with --import"
                ),
            )
        )
    elif ann and made_with and ann != made_with:
        checks.append(
            Check("Runtime annotation", WARN,
                  f"annotation says {ann!r}, config.dump says {made_with!r} made the checkpoint (--import uses config.dump)")
        )

    if o.runtime:
        effective, how = o.runtime, "you asked for"
    elif image_mode:
        effective, how = _podman_default_runtime(o), "podman's default runtime is"
    else:
        effective, how = made_with, "podman will use"
    if required and effective and _facts.short_runtime(effective) != required:
        checks.append(
            Check(
                "Runtime",
                FAIL,
                f"the checkpoint requires runtime {required!r} ({why}) but {how} {effective!r}",
                fix=f"restore with --runtime {required}" if not (image_mode and ann and made_with and ann != made_with)
                else f"rebuild the image with --runtime {made_with} (ckpt-tui build)",
            )
        )
        return checks
    rt = effective or required
    if not rt:
        checks.append(Check("Runtime", WARN, "the checkpoint does not say which OCI runtime made it"))
        return checks
    path = which(rt)
    if not path:
        checks.append(Check("Runtime", FAIL, f"runtime {rt!r} is not installed", fix=f"apt-get install {_facts.short_runtime(rt)}"))
        return checks
    ver, criu_ok = _runtime_version(path)
    if criu_ok is False:
        checks.append(Check("Runtime", FAIL, f"{ver or rt} is built without CRIU support: it cannot restore",
                            fix="use runc (--runtime runc) or a crun built with +CRIU"))
    else:
        checks.append(Check("Runtime", PASS, f"{rt} ({ver or path}) as the checkpoint requires"))
    return checks


def _checkpoint_criu_version(ckpt: Any) -> str:
    num = _facts.annotation(ckpt, "criu.version")
    if num:
        return _criu_version_from_number(num)
    info = getattr(ckpt, "info", None)
    if getattr(info, "criu_version", ""):
        return str(info.criu_version)
    for log in getattr(ckpt, "logs", []) or []:
        m = re.search(r"^\(\d+\.\d+\) Version: (\S+)", getattr(log, "text", "") or "", re.M)
        if m:
            return m.group(1)
    return ""


def _check_criu(ckpt: Any, run_criu_check: bool) -> list[Check]:
    path = which("criu")
    if not path:
        return [Check("CRIU", FAIL, "criu is not installed: the runtime needs it to restore", fix="apt-get install criu")]
    rc, out, err = run_quick([path, "--version"])
    m = re.search(r"Version:\s*(\S+)", out + err)
    host_ver = m.group(1) if m else ""
    made = _checkpoint_criu_version(ckpt)
    checks: list[Check] = []
    if host_ver and made and _version_tuple(host_ver) < _version_tuple(made):
        checks.append(Check("CRIU", WARN, f"CRIU {host_ver} here is older than CRIU {made} that wrote the images",
                            fix="install CRIU >= " + made))
    else:
        extra = f"; images written by CRIU {made}" if made else ""
        checks.append(Check("CRIU", PASS, f"CRIU {host_ver or '?'} ({path}){extra}"))
    if run_criu_check:
        if os.geteuid() != 0:
            checks.append(Check("criu check", WARN, "not run: `criu check` needs root"))
        else:
            rc, out, err = run_quick([path, "check"], timeout=60)
            text = (out + "\n" + err).strip()
            if rc == 0:
                checks.append(Check("criu check", PASS, text.splitlines()[-1] if text else "Looks good."))
            elif rc is None:
                checks.append(Check("criu check", WARN, f"could not run criu check: {err}"))
            else:
                d = diagnose(f"Version: {host_ver}\nRunning on {platform.node() or 'host'} Linux {platform.release()}\n{text}")
                cause = d.causes[0] if d.causes else None
                first = next((ln for ln in text.splitlines() if "Error" in ln), text.splitlines()[0] if text else "")
                checks.append(
                    Check(
                        "criu check",
                        FAIL,
                        f"`criu check` fails on this host: {cause.title if cause else first}",
                        fix=cause.fix if cause else "see `criu check` output",
                        details=[cause.explanation] if cause else [first],
                    )
                )
    return checks


def _check_complete(ckpt: Any) -> Check:
    missing: list[str] = []
    short: list[str] = []
    notes: list[str] = []
    for name in ("checkpoint/inventory.img", "checkpoint/pstree.img"):
        if not _facts.has_member(ckpt, name):
            missing.append(name)
    pids = _facts.all_pids(ckpt)
    procs = getattr(ckpt, "processes", {}) or {}
    if not pids:
        return Check("Archive complete", FAIL, "no process tree could be read (pstree.img missing or unreadable)",
                     details=missing)
    for tid in _facts.all_tids(ckpt):
        name = f"checkpoint/core-{tid}.img"
        if not _facts.has_member(ckpt, name):
            missing.append(name)
    pages_checked = 0
    for pid in pids:
        proc = procs.get(pid)
        if proc is not None and not getattr(proc, "alive", True):
            continue  # zombies/dead tasks have no memory images
        for name in (f"checkpoint/mm-{pid}.img", f"checkpoint/pagemap-{pid}.img"):
            if not _facts.has_member(ckpt, name):
                missing.append(name)
        facts = _facts.pagemap_facts(ckpt, pid)
        if facts is None or facts.pages_member is None:
            continue
        if facts.present_pages == 0:
            continue
        member = facts.pages_member
        size = _facts.member_size(ckpt, member)
        pages_checked += 1
        if size is None or not _facts.has_member(ckpt, member):
            if member not in missing:
                missing.append(f"{member} (pid {pid} needs {facts.present_pages} pages)")
        elif size < facts.bytes_needed:
            short.append(f"{member}: {size} bytes, pid {pid} needs {facts.present_pages} pages = {facts.bytes_needed} bytes")
    covered = {m.split(" (")[0] for m in missing} | {s.split(":")[0] for s in short}
    for prob in getattr(ckpt, "problems", []) or []:
        src = str(getattr(prob, "source", ""))
        if getattr(prob, "severity", "error") == "error" and src.startswith("checkpoint/") and src not in covered:
            notes.append(str(prob))
    if missing or short:
        parts = []
        if missing:
            parts.append(f"missing: {', '.join(m.split(' (')[0].rsplit('/', 1)[-1] for m in missing)}")
        if short:
            parts.append(f"short: {', '.join(s.split(':')[0].rsplit('/', 1)[-1] for s in short)}")
        return Check("Archive complete", FAIL, "the checkpoint is incomplete (" + "; ".join(parts) + ")",
                     fix="restore from a complete copy of the checkpoint", details=missing + short + notes)
    reason = f"inventory, {len(pids)} process(es), {len(_facts.all_tids(ckpt))} core image(s)"
    reason += f", {pages_checked} pages image(s) big enough" if pages_checked else ""
    return Check("Archive complete", WARN if notes else PASS, reason, details=notes)


def _fmt_sock(s: Any) -> str:
    return f"pid {s.pid} fd {s.fd}: {s.src}:{s.src_port} -> {s.dst}:{s.dst_port} {s.state}"


def _check_tcp(ckpt: Any, o: RestoreOptions) -> Check:
    try:
        socks = list(getattr(ckpt, "sockets", []) or [])
    except Exception:  # noqa: BLE001
        socks = []
    est = [s for s in socks if getattr(s, "needs_tcp_established", False)]
    if not est:
        if o.tcp_established:
            return Check("TCP connections", INFO, "no established TCP connections; --tcp-established is not needed")
        return Check("TCP connections", PASS, "no established TCP connections")
    details = [_fmt_sock(s) for s in est]
    if not o.tcp_established:
        return Check("TCP connections", FAIL,
                     f"{len(est)} established TCP connection(s): the restore needs --tcp-established",
                     fix="add --tcp-established", details=details)
    return Check("TCP connections", PASS,
                 f"{len(est)} established TCP connection(s), --tcp-established given (the container must get its old IP back)",
                 details=details)


def _check_name(ckpt: Any, engine: str, o: RestoreOptions, target: RestoreTarget | None) -> list[Check]:
    name = o.name or _facts.container_name(ckpt)
    if not name:
        return [Check("Container name", WARN, "the checkpoint does not name its container; give --name")]
    if engine == "containerd":
        if not which(o.ctr_bin):
            return [Check("Container name", WARN, f"ctr is missing: cannot tell whether {name!r} is free")]
        cmd = [o.ctr_bin] + (["-n", o.namespace] if o.namespace else []) + ["containers", "info", name]
        rc, _o, _e = run_quick(cmd)
        if rc == 0:
            return [Check("Container name", FAIL, f"a containerd container {name!r} already exists",
                          fix=f"give another --name or ctr containers rm {name}")]
        return [Check("Container name", PASS, f"{name!r} is free")]
    if not which(o.podman_bin):
        return [Check("Container name", WARN, f"podman is missing: cannot tell whether {name!r} is free")]
    checks = []
    rc, _o, err = run_quick([o.podman_bin, "container", "exists", name])
    if rc == 0:
        checks.append(Check("Container name", FAIL, f"a container named {name!r} already exists",
                            fix=f"restore with --name NEW, or remove it: podman rm -f {name}"))
    elif rc == 1:
        checks.append(Check("Container name", PASS, f"{name!r} is free"))
    else:
        checks.append(Check("Container name", WARN, f"could not ask podman whether {name!r} exists: {err.strip() or rc}"))
    cid = _facts.container_id(ckpt)
    if not o.name and cid and target is not None and target.mode == "import":
        rc, _o, _e = run_quick([o.podman_bin, "container", "exists", cid])
        if rc == 0:
            checks.append(Check("Container ID", FAIL,
                                f"container {cid[:12]} (the checkpoint's own ID, reused when restoring without --name) exists",
                                fix="restore with --name NEW (podman then makes a new ID), or remove the old container"))
    return checks


def _check_base_image(ckpt: Any, engine: str, o: RestoreOptions, target: RestoreTarget | None) -> Check | None:
    if engine != "podman":
        return None
    cfg = _facts.config_of(ckpt)
    image_id = str(cfg.get("rootfsImageID") or _facts.annotation(ckpt, "rootfsImageID") or "")
    image_name = str(cfg.get("rootfsImageName") or _facts.annotation(ckpt, "rootfsImageName") or "")
    if not image_id and not image_name:
        return Check("Base image", WARN, "the checkpoint does not say which image the container ran")
    if not which(o.podman_bin):
        return Check("Base image", WARN, f"podman is missing: cannot tell whether {image_name or image_id[:12]} is present")
    probe = image_id or image_name
    rc, _o, _e = run_quick([o.podman_bin, "image", "exists", probe])
    label = f"{image_name} ({image_id[:12]})" if image_name and image_id else (image_name or image_id[:12])
    if rc == 0:
        return Check("Base image", PASS, f"{label} is in local storage")
    return Check(
        "Base image",
        FAIL,
        f"the base image {label} is not in local storage: podman needs that exact image ID and will fail "
        + ("(it cannot pull a localhost/ image)" if image_name.startswith("localhost/") else "(it tries to pull it by name)"),
        fix=f"podman load/pull the image with ID {image_id[:12]}" if image_id else f"podman pull {image_name}",
    )


def _check_host(ckpt: Any) -> list[Check]:
    checks: list[Check] = []
    arch = _facts.annotation(ckpt, "host.arch")
    here = _UNAME_ARCH.get(platform.machine(), platform.machine())
    if arch:
        if arch != here:
            checks.append(Check("Architecture", FAIL, f"checkpoint made on {arch}, this host is {here}"))
        else:
            checks.append(Check("Architecture", PASS, f"{arch}, like this host"))
    kernel = _facts.annotation(ckpt, "host.kernel")
    if kernel:
        mine = platform.release()
        if kernel != mine:
            checks.append(Check("Kernel", INFO, f"checkpoint made on kernel {kernel}, this host runs {mine}"))
        else:
            checks.append(Check("Kernel", PASS, f"same kernel ({mine})"))
    return checks


_DEFAULT_CAPS = {
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT",
}
_DANGEROUS_CAPS = {"CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_SYS_MODULE", "CAP_NET_ADMIN", "CAP_SYS_RAWIO", "CAP_DAC_READ_SEARCH", "CAP_BPF", "CAP_SYS_BOOT"}
_DEFAULT_DESTS = {"/proc", "/dev", "/dev/pts", "/dev/mqueue", "/sys", "/sys/fs/cgroup", "/dev/shm", "/run/.containerenv",
                  "/etc/hostname", "/etc/resolv.conf", "/etc/hosts", "/run/secrets"}


def _check_spec(ckpt: Any) -> list[Check]:
    spec = _facts.spec_of(ckpt)
    cfg = _facts.config_of(ckpt)
    checks: list[Check] = []
    if not spec:
        return [Check("Security settings", WARN, "no spec.dump: cannot show what security settings the checkpoint carries")]
    proc = spec.get("process") or {}
    linux = spec.get("linux") or {}
    caps = (proc.get("capabilities") or {})
    eff = sorted(set(caps.get("effective") or []) | set(caps.get("bounding") or []))
    extra = sorted(set(eff) - _DEFAULT_CAPS)
    danger = sorted(set(eff) & _DANGEROUS_CAPS)
    privileged = bool(cfg.get("privileged")) or len(eff) >= 35
    if privileged:
        checks.append(Check("Privileged", WARN, "the container was privileged: the restored one will be too (all capabilities, host devices)"))
    else:
        checks.append(Check("Privileged", INFO, "not privileged"))
    if danger:
        checks.append(Check("Capabilities", WARN, f"{len(eff)} capabilities including {', '.join(danger)}", details=eff))
    else:
        what = f"{len(eff)} capabilities" + (f" (beyond the default set: {', '.join(extra)})" if extra else " (the default set)")
        checks.append(Check("Capabilities", INFO, what, details=eff))
    seccomp = linux.get("seccomp")
    if not seccomp:
        checks.append(Check("Seccomp", WARN, "no seccomp filter: the restored processes are unconfined by seccomp"))
    else:
        rules = seccomp.get("syscalls") or []
        n = sum(len(r.get("names") or []) for r in rules)
        checks.append(Check("Seccomp", INFO, f"seccomp profile, default action {seccomp.get('defaultAction', '?')}, "
                                             f"{len(rules)} rules over {n} syscalls"))
    lsm: list[str] = []
    if proc.get("apparmorProfile"):
        lsm.append(f"AppArmor {proc['apparmorProfile']}")
    if proc.get("selinuxLabel"):
        lsm.append(f"SELinux {proc['selinuxLabel']}")
    if lsm:
        checks.append(Check("LSM", INFO, ", ".join(lsm) + " (must exist on this host)"))
    mounts = spec.get("mounts") or []
    binds = [m for m in mounts if ("bind" in (m.get("options") or []) or "rbind" in (m.get("options") or []) or m.get("type") == "bind")
             and m.get("destination") not in _DEFAULT_DESTS]
    missing_src = [m for m in binds if m.get("source", "").startswith("/") and not os.path.exists(m["source"])
                   and "/containers/storage/" not in m.get("source", "") and "/userdata/" not in m.get("source", "")]
    details = [f"{m.get('source', '?')} -> {m.get('destination', '?')} ({','.join(m.get('options') or [])})" for m in binds]
    if missing_src:
        checks.append(Check("Mounts", WARN,
                            f"{len(missing_src)} bind mount source(s) do not exist here: "
                            + ", ".join(m["source"] for m in missing_src),
                            fix="create them (same paths) or the restore fails to find the mount", details=details))
    else:
        checks.append(Check("Mounts", INFO, f"{len(mounts)} mounts, {len(binds)} bind mount(s) from the host" if binds
                            else f"{len(mounts)} mounts, no host bind mounts", details=details))
    ns = {n.get("type") for n in linux.get("namespaces") or []}
    shared = [t for t in ("network", "pid", "ipc", "uts") if t not in ns]
    if shared and linux:
        checks.append(Check("Namespaces", WARN, f"shares the host's {', '.join(shared)} namespace(s)"))
    checks.append(Check(
        "Security note", INFO,
        "a checkpoint restores with the security settings recorded in it (capabilities, seccomp, mounts), not your defaults",
    ))
    return checks


def _check_flags(ckpt: Any, o: RestoreOptions, target: RestoreTarget | None) -> list[Check]:
    checks: list[Check] = []
    image_mode = target is not None and target.mode == "image"
    if image_mode and (o.ignore_rootfs or o.ignore_volumes):
        checks.append(Check("Options", WARN, "--ignore-rootfs/--ignore-volumes only work with --import; they are left out"))
    if o.ignore_rootfs and _facts.has_member(ckpt, "rootfs-diff.tar"):
        checks.append(Check("Root FS changes", WARN,
                            "--ignore-rootfs: the changes in rootfs-diff.tar are not applied; files the processes had open may be missing"))
    elif _facts.has_member(ckpt, "rootfs-diff.tar"):
        checks.append(Check("Root FS changes", INFO, "rootfs-diff.tar will be applied on top of the base image"))
    return checks


# --------------------------------------------------------------------------- entry point


def preflight(checkpoint: Any, options: RestoreOptions | None = None, *, criu_check: bool = True) -> list[Check]:
    """Check whether ``checkpoint`` (a loaded Checkpoint) can be restored here with ``options``.

    ``criu_check`` runs ``criu check`` (as root) to catch a CRIU that cannot work
    on this kernel at all. Never raises for missing tools.
    """
    o = options or RestoreOptions()
    from .restore import default_engine

    engine = (o.engine or default_engine(checkpoint)).lower()
    target: RestoreTarget | None = None
    err = ""
    try:
        target = restore_target(checkpoint, o)
    except Exception as exc:  # noqa: BLE001 - reported as a failed check
        err = str(exc)
    checks: list[Check] = [_check_engine(engine, o), _check_root(engine)]
    checks.append(_check_target(checkpoint, engine, o, target, err))
    checks += _check_runtime(checkpoint, engine, o, target)
    checks += _check_criu(checkpoint, criu_check)
    checks.append(_check_complete(checkpoint))
    checks.append(_check_tcp(checkpoint, o))
    checks += _check_name(checkpoint, engine, o, target)
    base = _check_base_image(checkpoint, engine, o, target)
    if base is not None:
        checks.append(base)
    checks += _check_host(checkpoint)
    checks += _check_flags(checkpoint, o, target)
    checks += _check_spec(checkpoint)
    return checks
