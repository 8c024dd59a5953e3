# SPDX-License-Identifier: Apache-2.0
"""The causes a diagnosis knows, in words: for each, what happened and the fix.

Each ``find_*`` function gets the log (and the checkpoint, when given) and the line a rule of
:mod:`.rules` matched, and says what it means; the ones about images ask the checkpoint which
image the failing task reads and whether the archive holds it whole. A cause whose words never
depend on the line is a constant :class:`Finding`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .logparse import LogError, LogHeader

if TYPE_CHECKING:  # pragma: no cover
    from ...model.checkpoint import Checkpoint

__all__ = ["Context", "Finding", "Hit"]


@dataclass
class Context:
    """What every cause may look at: the log's lines, what its header says, the checkpoint."""

    lines: list[str]
    header: LogHeader
    checkpoint: Checkpoint | None = None
    log_path: str | None = None

    def line_text(self, line_no: int) -> str:
        return self.lines[line_no - 1].strip() if 0 < line_no <= len(self.lines) else ""


class Hit:
    """Where a rule matched: the line, its error (when it is one), and the named groups, with
    the alternates a pattern needs (``img2``, ``ref3``...) folded into their base name."""

    def __init__(self, m: re.Match[str], line_no: int, err: LogError | None) -> None:
        self.line_no = line_no
        self.err = err
        self.text = m.group(0)
        groups = {k: v for k, v in m.groupdict().items() if v}
        for base in ("img", "ref"):
            for alt in (base + "2", base + "3"):
                if alt in groups and base not in groups:
                    groups[base] = groups[alt]
        self._groups = groups

    def get(self, name: str) -> str:
        """The named group's text, "" when it did not take part in the match."""
        return self._groups.get(name, "")


@dataclass(frozen=True)
class Finding:
    title: str
    explanation: str
    fix: str
    image: str | None = None  # the member at fault, when known


# --------------------------------------------------------------------------- images

# CRIU's debug line when an optional image is absent; raw page reads go to pages-N.img
_NO_IMAGE_RE = re.compile(r"\bNo (pages-\d+\.img) image\b")
_PR_RE = re.compile(r"\bpr(\d+)-\d+\b")
_TASK_LINE_RE = re.compile(r"^\(\d+\.\d+\)\s+(\d+):")


def _image_from_log(ctx: Context, line_no: int, pid: int | None) -> str | None:
    """Look back from the error for the image CRIU said it could not find."""
    for i in range(line_no - 1, max(0, line_no - 400), -1):
        raw = ctx.lines[i - 1]
        if pid is not None:
            pm = _TASK_LINE_RE.match(raw)
            if not pm or int(pm.group(1)) != pid:
                continue
        m = _NO_IMAGE_RE.search(raw)
        if m:
            return m.group(1)
    return None


def _pid_for(ctx: Context, hit: Hit) -> int | None:
    if hit.err is not None and hit.err.pid is not None:
        return hit.err.pid
    for i in range(hit.line_no - 1, max(0, hit.line_no - 20), -1):
        m = _PR_RE.search(ctx.lines[i - 1])
        if m:
            return int(m.group(1))
    return None


def _pages_member(ctx: Context, pid: int | None) -> str | None:
    """The pages image the checkpoint's pagemap of ``pid`` names."""
    if ctx.checkpoint is None or pid is None:
        return None
    proc = ctx.checkpoint.processes.get(pid)
    return proc.pages_member if proc is not None else None


def _verify_image(ctx: Context, member: str, pid: int | None) -> str:
    """Check the named member against the checkpoint; words for the explanation."""
    ck = ctx.checkpoint
    if ck is None:
        return ""
    found = ck.member(member)
    if found is None:
        return f" The archive you gave has no {member}: it is missing."
    size = found.size
    proc = ck.processes.get(pid) if pid is not None else None
    if proc is not None and member.startswith("checkpoint/pages-") and proc.pages_member == member \
            and size < proc.pagemap_size:
        return (
            f" In the archive {member} is short: {size} bytes, but the pagemap of pid {pid}"
            f" needs {proc.pages_present} present pages ({proc.pagemap_size} bytes)."
        )
    return f" {member} is present in the archive you gave ({size} bytes), so the restored copy differed from it."


def _member_name(img: str) -> str:
    base = img.strip().strip("'\"").rsplit("/", 1)[-1]
    return f"checkpoint/{base}"


def find_missing_image(ctx: Context, hit: Hit) -> Finding:
    pid = _pid_for(ctx, hit)
    named = hit.get("img")
    image = _member_name(named) if named else None
    how = ""
    if image is None:
        found = _image_from_log(ctx, hit.line_no, pid)
        if found:
            image = _member_name(found)
            how = f" The log says so a few lines earlier: \"No {found} image\"."
    proc = ctx.checkpoint.processes.get(pid) if ctx.checkpoint is not None and pid is not None else None
    if image is None and proc is not None and proc.pages_member is not None:
        image = proc.pages_member
        how = f" Its pagemap (pagemap-{pid}.img) points at pages id {proc.pages_id}."
    if image is None and pid is not None:
        how = f" The failing task is pid {pid}; its pagemap-{pid}.img names the pages image it reads."
    who = f"pid {pid}" if pid is not None else "a task"
    what = image or "an image file"
    verify = _verify_image(ctx, image, pid) if image else ""
    return Finding(
        title=f"Missing image file: {what.rsplit('/', 1)[-1]}" if image else "Missing image file",
        explanation=f"CRIU could not open {what} while restoring {who}, so the checkpoint is incomplete.{how}{verify}",
        fix=(
            "Restore from a complete copy of the checkpoint (re-export it, or copy it again and compare sizes); "
            "`ckpt-tui restore --dry-run` checks that every image is present before restoring."
        ),
        image=image,
    )


def find_short_image(ctx: Context, hit: Hit) -> Finding:
    pid = _pid_for(ctx, hit)
    named = hit.get("img")
    image = _member_name(named) if named else _pages_member(ctx, pid)
    verify = _verify_image(ctx, image, pid) if image else ""
    return Finding(
        title="Truncated image file",
        explanation=(
            f"CRIU hit the end of an image file early while reading pages for "
            f"{'pid ' + str(pid) if pid is not None else 'a task'}: the file is shorter than its "
            f"pagemap says (a truncated copy or a full disk when it was written).{verify}"
        ),
        fix="Copy or export the checkpoint again and check its size; restore from the complete copy.",
        image=image,
    )


def find_file_changed(ctx: Context, hit: Hit) -> Finding:
    path, have, want = hit.get("path"), hit.get("have"), hit.get("want")
    return Finding(
        title=f"A file changed since the checkpoint: {path}",
        explanation=(
            f"A file the processes had open or mapped, {path}, is {have} bytes on this host but was "
            f"{want} bytes when the checkpoint was taken. CRIU refuses to map a different file."
        ),
        fix=(
            "Restore on the same base image (same image ID) and do not use --ignore-rootfs when the "
            "file was changed inside the container; the rootfs-diff.tar carries such changes."
        ),
    )


# --------------------------------------------------------------------------- the host

def find_criu_too_old(ctx: Context, hit: Hit) -> Finding:
    who = f"CRIU {ctx.header.criu_version}" if ctx.header.criu_version else "This CRIU"
    kern = f" (kernel {ctx.header.kernel})" if ctx.header.kernel else ""
    return Finding(
        title="CRIU is too old for this kernel (vDSO layout)",
        explanation=(
            f"{who} could not parse this kernel's vDSO{kern} while probing the host "
            "(kerndat), before it looked at any image. The kernel's vDSO layout is newer than this "
            "CRIU understands, so every dump and restore fails on this host; the checkpoint itself is fine."
        ),
        fix=(
            "Install a newer CRIU (4.x; e.g. from the CRIU project's packages or backports) and retry; "
            "`criu check` must pass first."
        ),
    )


CPU_MISMATCH = Finding(
    title="CPU features differ from the checkpoint host",
    explanation=(
        "The checkpoint was taken on a CPU with features (FPU/xsave state, instruction set) this CPU "
        "lacks, so the processes could not continue here."
    ),
    fix=(
        "Restore on a host with the same or a newer CPU generation; dump with `--cpu-cap=none` only if the "
        "workload does not use those features."
    ),
)


MOUNT_MISSING = Finding(
    title="A mount the processes used is missing",
    explanation=(
        "CRIU could not find a mount point a file descriptor or mapping lived on (a bind mount or "
        "volume that is not there on restore, or a different mount layout)."
    ),
    fix=(
        "Make the same volumes/bind mounts available (same host paths), or restore without "
        "--ignore-volumes when the checkpoint carries them."
    ),
)


SECCOMP_LSM = Finding(
    title="Seccomp or LSM (AppArmor/SELinux) state could not be restored",
    explanation=(
        "The checkpoint carries a seccomp filter or an LSM profile/label that this host cannot apply "
        "(profile not loaded, LSM not enabled, or a different LSM)."
    ),
    fix="Load the same AppArmor profile/SELinux policy on this host, or restore where the same LSM is active.",
)


PERMISSION = Finding(
    title="Permission denied or a resource limit",
    explanation=(
        "CRIU was not allowed to do something it needs (it must run as root with all capabilities), "
        "or a resource limit (RLIMIT_*) is lower than what the checkpoint needs."
    ),
    fix=(
        "Restore as root (rootful podman), outside a restricted container; raise the limit named in the "
        "line (ulimit) if it is an RLIMIT."
    ),
)


_SIGNALS = {
    4: "SIGILL (illegal instruction: often a CPU feature missing on this host)",
    6: "SIGABRT",
    7: "SIGBUS (a mapped file shrank or changed)",
    9: "SIGKILL (killed, e.g. by the OOM killer or a timeout)",
    11: "SIGSEGV (bad memory access after restore)",
    31: "SIGSYS (a syscall blocked by seccomp)",
}


def find_signal(ctx: Context, hit: Hit) -> Finding:
    pid, sig = hit.get("pid"), int(hit.get("sig"))
    what = _SIGNALS.get(sig, f"signal {sig}")
    return Finding(
        title=f"Task {pid} was killed by {what.split(' ')[0]}",
        explanation=f"Task {pid} died with {what} while CRIU was restoring it.",
        fix=(
            "Look at the lines just before this one for what that task was doing; SIGILL points at CPU "
            "features, SIGBUS at changed files, SIGSYS at seccomp."
        ),
    )


# --------------------------------------------------------------------------- network

def find_tcp(ctx: Context, hit: Hit) -> Finding:
    dump = "consider" in hit.text
    return Finding(
        title="Established TCP connection needs --tcp-established",
        explanation=(
            "The container has an established TCP connection. CRIU only "
            + ("dumps" if dump else "restores")
            + " such sockets when asked to (and the connection's address must be usable on this host)."
        ),
        fix=(
            "Checkpoint with `podman container checkpoint --tcp-established`"
            if dump
            else "Restore with `--tcp-established` (podman container restore --tcp-established); the peer must be reachable"
        ),
    )


ADDRESS_IN_USE = Finding(
    title="Address already in use",
    explanation=(
        "A socket of the checkpoint could not bind its address/port: something on this host (or the "
        "original container still running) already uses it."
    ),
    fix="Stop whatever holds that address (often the original container), or restore into a new network namespace/IP.",
)


# --------------------------------------------------------------------------- the engine

def find_name_in_use(ctx: Context, hit: Hit) -> Finding:
    name = hit.get("name")
    if name:
        expl = f"A container named {name!r} already exists"
    else:
        expl = "A container with the checkpoint's ID already exists (restoring without --name reuses the original ID)"
    return Finding(
        title="Container name or ID already in use",
        explanation=expl + "; the engine will not create a second one.",
        fix="Restore with a new name (--name NEW), or remove the old container (podman rm NAME) first.",
    )


def find_runtime(ctx: Context, hit: Hit) -> Finding:
    required = hit.get("rt")
    if required:
        expl = (
            f"The checkpoint image's annotation io.podman.annotations.checkpoint.runtime.name says "
            f"{required!r} and podman refuses to restore it with any other runtime."
        )
        made_by = ctx.checkpoint.info.runtime if ctx.checkpoint is not None else ""
        if made_by and made_by != required:
            expl += f" (config.dump in the checkpoint says {made_by!r} made it.)"
        fix = (
            f"Restore with `podman --runtime {required} ...` if {required} is installed with CRIU support; "
            "otherwise rebuild the image with the right runtime annotation (`ckpt-tui build`) or restore the archive with --import."
        )
    else:
        expl = (
            "The OCI runtime podman uses here cannot checkpoint/restore (e.g. a crun built without CRIU "
            "support), so the restore was refused before CRIU ran."
        )
        fix = "Use a runtime with CRIU support: `podman --runtime runc container restore ...` (install runc if needed)."
    return Finding(title="OCI runtime mismatch or without checkpoint support", explanation=expl, fix=fix)


_IMAGE_ID_RE = re.compile(r"[0-9a-f]{64}")


def find_base_image(ctx: Context, hit: Hit) -> Finding:
    ref = hit.get("ref")
    image = ctx.checkpoint.info.image if ctx.checkpoint is not None else ""
    what = f" ({image})" if image else ""
    return Finding(
        title="The checkpoint's base image is not in local storage",
        explanation=(
            f"The engine needs the image the container was created from{what}"
            + (f", by ID {ref[:12]}" if _IMAGE_ID_RE.fullmatch(ref) else (f", {ref}" if ref else ""))
            + ", and could not find or pull it; CRIU never ran."
        ),
        fix=(
            "Load the base image with that exact ID first (podman load / podman pull from the registry it came from); "
            "a rebuilt image gets a different ID."
        ),
    )


def find_criu_failed(ctx: Context, hit: Hit) -> Finding:
    return Finding(
        title=f"CRIU failed ({hit.get('op').lower()})",
        explanation=(
            "The runtime ran CRIU and it failed; the engine's message does not say why. The reason is in "
            "CRIU's own log" + (f" ({ctx.log_path})" if ctx.log_path else "") + "."
        ),
        fix="Run the diagnosis on that log (`ckpt-tui diagnose LOG`); restore with --keep so the log is kept.",
    )


# --------------------------------------------------------------------------- more classes (issue #12)

def find_file_bad_mode(ctx: Context, hit: Hit) -> Finding:
    path, have, want = hit.get("path"), hit.get("have"), hit.get("want")
    return Finding(
        title=f"A file's mode changed since the checkpoint: {path}",
        explanation=(f"{path}, a file the processes had open, has mode 0{have} on this host but 0{want} "
                     "was recorded; CRIU refuses a file of another kind or mode."),
        fix="Restore on the same base image, with the root FS diff applied (no --ignore-rootfs); chmod it back.",
    )


def find_build_id(ctx: Context, hit: Hit) -> Finding:
    path = hit.get("path")
    return Finding(
        title=f"A mapped binary differs from the checkpoint's: {path}",
        explanation=(f"{path} is mapped by a task, and its ELF build-ID here is not the one recorded at dump time: "
                     "the binary or library was rebuilt or upgraded."),
        fix="Restore on the exact base image (same image ID); a rebuilt image holds other binaries.",
    )


PID_CLASH = Finding(
    title="A pid the checkpoint needs is taken",
    explanation=("CRIU restores every task with its old pid. A pid was already in use on this host (or in the target "
                 "pid namespace), so the task got another one or could not be created."),
    fix=("Restore into a new pid namespace (the engines do this for containers), or stop whatever holds the pid; "
         "`ckpt-tui check` says whether the root task has its own pid namespace."),
)


def find_sigill_exit(ctx: Context, hit: Hit) -> Finding:
    pid = hit.get("pid")
    return Finding(
        title="A restored task died of SIGILL (exit 132)",
        explanation=(f"Task {pid} exited with status 132 = 128 + SIGILL right after the restore: it ran an "
                     "instruction this CPU lacks (AVX-512, AMX...). The checkpoint was made on a CPU with more "
                     "features, and without --cpu-cap CRIU did not compare them."),
        fix="Restore on a CPU with the features of the dump host; `ckpt-tui check --host` compares the xsave state.",
    )


CONNECT_BACK = Finding(
    title="A TCP connection's local address is not available here",
    explanation=("CRIU repairs an established connection by binding its old local address and connecting again; "
                 "\"Cannot assign requested address\" means that address is not on any interface of the "
                 "restored network namespace (the container got another IP)."),
    fix="Restore with the container's old IP (podman keeps it with --tcp-established), or drop --tcp-established.",
)


CGROUP_NOSPC = Finding(
    title="A cgroup value could not be written (No space left on device)",
    explanation=("CRIU writes each cgroup value the checkpoint recorded; the kernel answers ENOSPC when a cpuset "
                 "names CPUs or memory nodes this host does not have (or its parent's set is narrower)."),
    fix="Restore on a host with the same CPUs/NUMA nodes, or let the engine place the container (--manage-cgroups=ignore).",
)


def find_plugin(ctx: Context, hit: Hit) -> Finding:
    name = hit.get("plugin")
    return Finding(
        title=f"Missing required plugin: {name}",
        explanation=(f"The dump used the CRIU plugin {name} (its name is in inventory.img); this CRIU has no such "
                     "plugin loaded, so it cannot restore what the plugin dumped (GPU state)."),
        fix=f"Install {name} (CRIU's plugin directory, e.g. /usr/lib/criu/) with the same GPU driver, and retry.",
    )


GPU = Finding(
    title="GPU device or driver differs from the checkpoint's",
    explanation=("A CRIU GPU plugin (cuda_plugin / amdgpu_plugin) could not restore the device state: the GPU, its "
                 "topology or the driver version here differs from the dump host, or the device is not passed in."),
    fix="Restore on a host with the same GPU model and driver version, with the device (/dev/kfd, /dev/dri, /dev/nvidia*) available.",
)


CAPS = Finding(
    title="Capabilities could not be restored",
    explanation=("The restorer could not set the tasks' capability sets: a capability the checkpoint holds is "
                 "unknown to this kernel (above its cap_last_cap) or not in the restoring CRIU's own bounding set."),
    fix="Restore as root on a kernel at least as new as the dump host's; `ckpt-tui check` compares cap_last_cap.",
)


RESTORER = Finding(
    title="The restorer failed inside a task",
    explanation=("CRIU's restorer blob (the code that runs inside each task at the end) failed or was killed by "
                 "signal 11: usually a memory layout it cannot rebuild here (a vDSO or VMA clash) or a CRIU bug."),
    fix="Retry with a CRIU matching the dump's version; with `-v4` the lines before this one name the area it worked on.",
)


CRIO_DISABLED = Finding(
    title="CRI-O has checkpoint/restore switched off",
    explanation="CRI-O refuses to checkpoint or restore while enable_criu_support is false in its configuration.",
    fix="Set enable_criu_support = true under [crio.runtime] (crio.conf or a crio.conf.d drop-in) and restart CRI-O.",
)


def find_engine_wrapper(ctx: Context, hit: Hit) -> Finding:
    where = f" ({ctx.log_path})" if ctx.log_path else ""
    return Finding(
        title="The engine says CRIU failed; the reason is in CRIU's log",
        explanation=(f"\"{hit.text.strip()}\" only reports that the runtime's CRIU call failed. CRIU's own "
                     f"restore.log / dump.log{where} says why; CRI-O keeps it in the container's userdata "
                     "directory and removes it with the container unless the restore is kept."),
        fix="Run `ckpt-tui diagnose` on CRIU's log (restore with --keep so podman keeps it).",
    )
