"""Checks of what the checkpoint's images ask of the host, against a host profile: the CPU
(cpuinfo.img, else the xsave state of every task), the inventory's plugins, LSM and network
lock, capabilities above the host's ``cap_last_cap``, the LSM labels the tasks carry, the root
task's pid namespace, files the tasks hold open, external mounts, cgroups, and CRI-O's setting."""

from __future__ import annotations

from ...model.checkpoint import Checkpoint
from ...model.requirements import Inventory, highest_cap, inventory_of, xsave_names
from ...model.types import Engine
from ...text import plural
from ..hostprofile import HostProfile
from .base import FAIL, INFO, PASS, WARN, Check
from .contents import spec_obj

__all__ = ["check_needs"]

_FPU = ("fpu", "fxsr", "xsaves")  # CRIU's FPU bits; osxsave is not shown in /proc/cpuinfo: xsave stands for it


def _cpu_from_cpuinfo(ck: Checkpoint, prof: HostProfile) -> Check:
    img = ck.cpuinfo
    assert img is not None
    host = set(prof.cpu.flags)
    what = f"cpuinfo.img ({img.vendor} family {img.family} model {img.model}{', ' + img.model_id if img.model_id else ''})"
    if not host:
        return Check("CPU", WARN, f"{what}: the profile lists no CPU flags, nothing to compare")
    need_fpu = [f for f in _FPU if img.has(f) and f not in host]
    if img.has("osxsave") and "xsave" not in host:
        need_fpu.append("osxsave")
    if need_fpu:
        return Check("CPU", FAIL, f"FPU feature required by image is not supported on {prof.where}: {', '.join(need_fpu)}",
                     fix="restore on a CPU with these features", details=[what])
    missing_x = (img.xfeatures_mask or 0) & ~(prof.cpu.xfeatures_mask or 0)
    if img.xfeatures_mask is not None and prof.cpu.xfeatures_mask is not None and missing_x:
        return Check("CPU", FAIL, f"CPU xfeatures has unsupported bits on {prof.where}: {', '.join(xsave_names(missing_x))}",
                     fix="restore on a CPU with these xsave features", details=[what])
    missing = [f for f in img.flags if f not in host and f != "osxsave" and f not in _FPU]
    if missing:
        return Check("CPU", FAIL, f"CPU instruction capabilities do not match {prof.where}: it lacks {', '.join(missing)}",
                     fix="restore on a CPU with the same or more instruction sets (criu restore --cpu-cap=none skips "
                         "the check, and the tasks may die of SIGILL)", details=[what])
    sizes = (img.xsave_size, img.xsave_size_max)
    host_sizes = (prof.cpu.xsave_size, prof.cpu.xsave_size_max)
    if img.xsave_size is not None and prof.cpu.xsave_size is None:
        return Check("CPU", WARN, f"{what}: features match; xsave size {img.xsave_size} not compared "
                                  "(the profile does not know this CPU's; `criu cpuinfo check` compares it)")
    if img.xsave_size is not None and sizes != host_sizes:
        return Check("CPU", FAIL, f"CPU xsave size mismatch ({sizes[0]}/{host_sizes[0]}, max {sizes[1]}/{host_sizes[1]})",
                     fix="restore on the same CPU model (CRIU compares the xsave frame size exactly)", details=[what])
    return Check("CPU", PASS, f"{what}: every feature it records is on {prof.where}")


def check_cpu(ck: Checkpoint, prof: HostProfile) -> Check | None:
    arch, _how = ck.architecture
    if arch and arch != "amd64":
        return None  # only x86 images carry xsave state and cpuinfo words
    if ck.cpuinfo is not None:
        return _cpu_from_cpuinfo(ck, prof)
    used = 0
    shadow = []
    for proc in ck.process_list():
        for t in proc.threads:
            used |= t.xstate_bv or 0
            if t.shadow_stack:
                shadow.append(t.tid)
    if not used and not shadow:
        return None
    names = xsave_names(used)
    host = prof.cpu
    if not host.flags:
        return Check("CPU", WARN, f"the tasks hold xsave state {', '.join(names)}; the profile lists no CPU flags")
    if "xsave" not in host.flags:
        return Check("CPU", FAIL, f"the tasks' images carry an xsave area but {prof.where} has no xsave",
                     fix="restore on a CPU with xsave (CRIU: FPU xsave area present, but host cpu doesn't support it)")
    missing = used & ~(host.xfeatures_mask or 0)
    if missing:
        return Check("CPU", FAIL,
                     f"the tasks hold xsave state this CPU cannot restore: {', '.join(xsave_names(missing))}",
                     fix="restore on a CPU with the same vector extensions (AVX, AVX-512, AMX...); the tasks would "
                         "lose that state or die of SIGILL", details=[f"xstate_bv of all tasks: {', '.join(names)}"])
    if shadow and "user_shstk" not in host.flags:
        return Check("CPU", FAIL, f"{plural(len(shadow), 'task')} run with a CET shadow stack; {prof.where} has none",
                     fix="restore on a CPU and kernel with user shadow stacks")
    return Check("CPU", PASS, f"no cpuinfo.img; the tasks' xsave state ({', '.join(names)}) fits {prof.where}'s CPU",
                 details=["dumped without --cpu-cap: CRIU compares only what the xsave areas hold"])


def check_inventory(inv: Inventory, prof: HostProfile) -> list[Check]:
    out: list[Check] = []
    if inv.plugins:
        have = set(prof.criu.plugins)
        missing = [p for p in inv.plugins if p not in have]
        if missing:
            out.append(Check("CRIU plugins", FAIL, f"Missing required plugin: {', '.join(missing)} (the dump used "
                                                   f"{', '.join(inv.plugins)})",
                             fix="install the CRIU plugin(s) (and the GPU driver they drive) where it is restored"))
        else:
            out.append(Check("CRIU plugins", PASS, f"plugins {', '.join(inv.plugins)} are installed"))
    if inv.allow_uprobes:
        out.append(Check("Uprobes", INFO, "the dump allowed uprobes: CRIU restores uprobe VMAs (kernel support needed)"))
    if inv.network_lock == "nftables":
        ok = prof.criu.features.get("network_lock_nftables")
        if ok is False:
            out.append(Check("Network lock", FAIL, "the dump locked the network with nftables; CRIU here cannot "
                                                   "(criu check --feature network_lock_nftables fails)",
                             fix="install CRIU built with nftables, or restore with --network-lock iptables"))
        else:
            out.append(Check("Network lock", INFO if ok is None else PASS, "network locked with nftables"
                             + ("" if ok else " (support not checked)")))
    return out


def _labels(ck: Checkpoint) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for proc in ck.process_list():
        if proc.creds and proc.creds.lsm_profile:
            out.setdefault(proc.creds.lsm_profile, []).append(proc.pid)
    return out


def check_lsm(ck: Checkpoint, inv: Inventory, prof: HostProfile) -> Check | None:
    proc = spec_obj(ck.spec.get("process"))
    spec_profile = str(proc.get("apparmorProfile") or "")
    selinux = str(proc.get("selinuxLabel") or "")
    labels = _labels(ck)
    if not inv.lsm and not labels and not spec_profile and not selinux:
        return None
    active = prof.lsm.active
    if inv.lsm and active is not None and inv.lsm not in active:
        return Check("LSM", FAIL, f"the tasks were dumped under {inv.lsm}; {prof.where} runs "
                                  f"{', '.join(active) or 'no LSM'} (mismatched lsm types)",
                     fix=f"restore where {inv.lsm} is active, or without LSM labels (--lsm-profile / --lsm-mount-context)")
    details = [f"{label}: pid {', '.join(map(str, pids))}" for label, pids in labels.items()]
    if spec_profile and (inv.lsm == "apparmor" or (active and "apparmor" in active)):
        loaded = prof.lsm.apparmor_profiles
        if loaded is not None and spec_profile not in loaded and spec_profile != "unconfined":
            return Check("LSM", FAIL, f"AppArmor profile {spec_profile!r} is not loaded on {prof.where}: "
                                      "CRIU can't write lsm profile",
                         fix=f"load it first (apparmor_parser -r /etc/apparmor.d/{spec_profile})", details=details)
    what = ", ".join(x for x in (f"AppArmor {spec_profile}" if spec_profile else "",
                                 f"SELinux {selinux}" if selinux else "", f"dumped under {inv.lsm}" if inv.lsm else "") if x)
    return Check("LSM", PASS if active is not None else INFO,
                 (what or "LSM labels") + (f" ({prof.where}: {', '.join(active) or 'none'})" if active is not None
                                           else " (the profile does not say which LSM is active)"), details=details)


def check_caps(ck: Checkpoint, prof: HostProfile) -> Check | None:
    top, who = -1, 0
    for proc in ck.process_list():
        for t in proc.threads:
            if t.creds is not None:
                n = highest_cap(t.creds)
                if n > top:
                    top, who = n, t.tid
    if top < 0 or prof.cap_last_cap is None:
        return None
    if top > prof.cap_last_cap:
        return Check("Capability numbers", FAIL, f"task {who} holds capability {top}; {prof.where}'s kernel knows only "
                                                 f"0..{prof.cap_last_cap} (cap_last_cap): the cap sets cannot be restored",
                     fix="restore on a kernel at least as new as the one that dumped it")
    return Check("Capability numbers", PASS, f"highest capability held is {top}, {prof.where} knows up to {prof.cap_last_cap}")


def check_pidns(ck: Checkpoint, inv: Inventory) -> Check | None:
    if not ck.roots:
        return None
    root = ck.processes[ck.roots[0]]
    own = root.ids.get("pid_ns_id")
    top = inv.root_ids.get("pid_ns_id")
    if own is None or top is None:
        return None
    if own != top:
        return Check("PID namespace", PASS, f"pid {root.pid} has its own pid namespace: its pids cannot clash with the host's")
    return Check("PID namespace", WARN, f"pid {root.pid} shares the dumping CRIU's pid namespace: the restore needs "
                                        f"{plural(len(ck.tids), 'pid')} ({', '.join(map(str, ck.tids[:8]))}) free on the host",
                 fix="stop whatever holds those pids (restore fails with 'Pid do not match expected' / EEXIST)")


def check_open_files(ck: Checkpoint, o_ignore_rootfs: bool) -> Check | None:
    diff = {("/" + e.path): e for e in ck.rootfs.entries if e.type == "file"}
    need: list[str] = []
    bad: list[str] = []
    for proc in ck.process_list():
        for f in proc.files:
            if f.type != "REG" or f.recorded_size is None or not f.path.startswith("/"):
                continue
            if f.path.startswith(("/dev/", "/proc/", "/sys/")) or "(deleted)" in f.path:
                continue
            mode = f"mode {f.recorded_mode & 0o7777:o}" if f.recorded_mode is not None else ""
            entry = diff.get(f.path) if not o_ignore_rootfs else None
            if entry is not None and entry.size != f.recorded_size:
                bad.append(f"{f.path}: rootfs-diff.tar has {entry.size} bytes, pid {proc.pid} fd {f.fd} had {f.recorded_size}")
            elif entry is None:
                need.append(f"{f.path}: {f.recorded_size} bytes {mode} (pid {proc.pid} fd {f.fd})".replace("  ", " "))
    if bad:
        return Check("Open files", FAIL, f"{plural(len(bad), 'open file')} will have another size than recorded "
                                         "(CRIU: File ... has bad size)", details=bad,
                     fix="restore from a checkpoint whose root FS diff matches the files the tasks hold")
    if need:
        src = "no root FS diff is applied" if o_ignore_rootfs or not ck.rootfs.present else "they are not in rootfs-diff.tar"
        return Check("Open files", WARN, f"{plural(len(need), 'open file')} must exist in the base image with the "
                                         f"recorded size and mode ({src})", details=need,
                     fix="restore on the same base image, unchanged; a rebuilt image fails with 'has bad size'")
    return None


def check_external_mounts(ck: Checkpoint) -> Check | None:
    ext = [m for m in ck.mounts if m.origin == "criu" and m.external]
    if not ext:
        return None
    return Check("External mounts", INFO, f"{plural(len(ext), 'external mount')} the engine must supply again "
                                          "(bind mounts of host files: they must exist where it is restored)",
                 details=[f"{m.destination} <- {m.ext_key}" for m in ext])


def check_cgroups(ck: Checkpoint, prof: HostProfile) -> Check | None:
    used = sorted({c.removeprefix("name=") for s in ck.cgroups for c in s.get("controllers", {}) if c})
    if not used or not prof.cgroup.controllers:
        return None
    v1 = bool(set(used) - {"", "systemd"})  # a v2 set has only the unified hierarchy ("")
    have = set(prof.cgroup.controllers) | {"systemd", "cpuacct"}
    missing = [c for c in used if c not in have and c != "systemd"]
    version = prof.cgroup.version
    notes = [f"dumped with controllers: {', '.join(used)}"]
    if v1 and version == 2:
        return Check("Cgroups", WARN, f"the checkpoint's cgroups are cgroup v1; {prof.where} runs cgroup v2",
                     fix="the engine places the container in new cgroups; cpuset values must fit this host's CPUs",
                     details=notes)
    if missing:
        return Check("Cgroups", WARN, f"controllers {', '.join(missing)} are not on {prof.where}", details=notes,
                     fix="a cgroup value CRIU cannot write fails the restore (cpuset: No space left on device)")
    return Check("Cgroups", PASS, f"cgroup controllers present (cgroup v{version or '?'})", details=notes)


def check_crio(ck: Checkpoint, prof: HostProfile) -> Check | None:
    if ck.info.engine is not Engine.CRIO or not prof.crio.installed:
        return None
    if prof.crio.criu_support is False:
        return Check("CRI-O restore", FAIL, "CRI-O is configured with enable_criu_support = false: it checkpoints "
                                            "nothing and restores nothing", details=prof.crio.config,
                     fix="set enable_criu_support = true in [crio.runtime] and restart CRI-O")
    if prof.crio.criu_support is None:
        return Check("CRI-O restore", WARN, "CRI-O is installed; its configuration does not set enable_criu_support "
                                            "(off in CRI-O releases before 1.28)", details=prof.crio.config,
                     fix="set enable_criu_support = true in [crio.runtime]")
    return Check("CRI-O restore", PASS, "CRI-O has enable_criu_support = true", details=prof.crio.config)


def check_needs(ck: Checkpoint, prof: HostProfile, *, ignore_rootfs: bool = False) -> list[Check]:
    inv = inventory_of(ck.inventory)
    found: list[Check | None] = [check_cpu(ck, prof), *check_inventory(inv, prof), check_lsm(ck, inv, prof),
                                 check_caps(ck, prof), check_pidns(ck, inv), check_open_files(ck, ignore_rootfs),
                                 check_external_mounts(ck), check_cgroups(ck, prof), check_crio(ck, prof)]
    return [c for c in found if c is not None]
