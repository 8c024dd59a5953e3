"""Hostile inputs for the model build (issue #19), made by a script like ``hostile_corpus``.

Each case is derived at run time from the real ``web-httpd.tar.zst`` (pids 1, 10, 13; pid 1's
fd table is ``fdinfo-2.img``) with the project's own decoder and image writer, and stands for a
class of the held-out set the model must survive: work that grew with the square of what an
image holds (40,000 memfds or ttys, VMAs against as many pagemap entries, a 50,000-process
cycle), ranges that say terabytes, more than the model may hold (a million threads, fds naming
200,000 missing files), a pod fanning out to hundreds of containers, images missing under the
fds, and metadata that is there but empty.

``python -m tests.hostile_model OUTDIR`` writes every case under ``OUTDIR/<name>/``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ckpt_tui.criu.pb import common_pb2, files_pb2
from tests.corpus import load_img, save_img, unpack
from tests.hostile_corpus import CASES as ARCHIVE_CASES
from tests.hostile_corpus import FIXTURE, Hostile, _as_archive, _write, build, target

PAGE = 4096
HIGH = 1 << 48  # above every address a process of the fixture can map (x86_64 user space is 47 bits)


def _fown() -> common_pb2.fown_entry:
    return common_pb2.fown_entry(uid=0, euid=0, signum=0, pid_type=0, pid=0)


def _fds_of_pid1(root: Path, ids: list[int], kind: int) -> None:
    """pid 1's fd table (fdinfo-2.img) gets one fd per id in ``ids``, after its own."""
    img = load_img(root, "fdinfo-2.img")
    msgs = [e.message for e in img.entries]
    start = max(m.fd for m in msgs) + 1
    msgs += [files_pb2.fdinfo_entry(id=i, flags=0, type=kind, fd=start + n) for n, i in enumerate(ids)]
    save_img(root, "fdinfo-2.img", img, msgs)


def _add_files(root: Path, entries: list[files_pb2.file_entry]) -> None:
    img = load_img(root, "files.img")
    save_img(root, "files.img", img, [e.message for e in img.entries] + entries)


def memfds(d: Path, count: int = 40_000) -> Path:
    """``count`` memfds open in pid 1, each with its inode in memfd.img: the name of each was
    looked up by scanning memfd.img (count * count / 2 comparisons)."""
    root = unpack(FIXTURE, d / "unpacked")
    first = 100_000
    ids = list(range(first, first + count))
    _add_files(root, [files_pb2.file_entry(type=files_pb2.MEMFD, id=i, memfd=files_pb2.memfd_file_entry(
        id=i, flags=2, pos=0, fown=_fown(), inode_id=i)) for i in ids])
    inodes = [files_pb2.memfd_inode_entry(name=f"buf{i}", uid=0, gid=0, size=PAGE, shmid=i, seals=0, inode_id=i)
              for i in reversed(ids)]  # the last one looked up is the first found
    (root / "checkpoint" / "memfd.img").write_bytes(_encode("MEMFD_INODE", inodes))
    _fds_of_pid1(root, ids, files_pb2.MEMFD)
    return _as_archive(root, d / "memfds.tar.zst")


def ttys(d: Path, count: int = 40_000) -> Path:
    """``count`` ptys open in pid 1, each with its tty-info.img entry (scanned per tty)."""
    root = unpack(FIXTURE, d / "unpacked")
    first = 100_000
    ids = list(range(first, first + count))
    _add_files(root, [files_pb2.file_entry(type=files_pb2.TTY, id=i, tty=files_pb2.tty_file_entry(
        id=i, tty_info_id=i, flags=2, fown=_fown())) for i in ids])
    infos = [files_pb2.tty_info_entry(id=i, type=files_pb2.PTY, locked=False, exclusive=False, packet_mode=False,
                                      sid=0, pgrp=0, rdev=0, pty=files_pb2.tty_pty_entry(index=i - first))
             for i in reversed(ids)]
    (root / "checkpoint" / "tty-info.img").write_bytes(_encode("TTY_INFO", infos))
    _fds_of_pid1(root, ids, files_pb2.TTY)
    return _as_archive(root, d / "ttys.tar.zst")


def _encode(magic: str, messages) -> bytes:
    from ckpt_tui.criu.writer import encode_image

    return encode_image(magic, messages)


def _pstree_extra(root: Path, pids: list[tuple[int, int]]) -> None:
    """pstree.img gets a process (pid, ppid) per pair after the real ones (no images of their own)."""
    img = load_img(root, "pstree.img")
    template = img.entries[0].message
    msgs = [e.message for e in img.entries]
    for pid, ppid in pids:
        m = type(template)(pid=pid, ppid=ppid, pgid=template.pgid, sid=template.sid)
        m.threads.append(pid)
        msgs.append(m)
    save_img(root, "pstree.img", img, msgs)


def pstree_chain(d: Path, depth: int = 60_000) -> Path:
    """A process tree that is a chain ``depth`` deep under pid 1 (each is its parent's only child)."""
    root = unpack(FIXTURE, d / "unpacked")
    first = 1_000_000
    _pstree_extra(root, [(first + i, first + i - 1 if i else 1) for i in range(depth)])
    return _as_archive(root, d / "pstree-chain.tar.zst")


def pstree_loop(d: Path, count: int = 50_000) -> Path:
    """``count`` processes each the parent of the next, the last the parent of the first:
    a cycle no root reaches (breaking it scanned every process for every pid of it)."""
    root = unpack(FIXTURE, d / "unpacked")
    first = 1_000_000
    _pstree_extra(root, [(first + i, first + (i - 1) % count) for i in range(count)])
    return _as_archive(root, d / "pstree-loop.tar.zst")


def many_threads(d: Path, count: int = 1_000_000) -> Path:
    """pid 1 with ``count`` threads in pstree.img (some 5 MB of tids), none with a core image."""
    root = unpack(FIXTURE, d / "unpacked")
    img = load_img(root, "pstree.img")
    img.entries[0].message.threads.extend(range(2_000_000, 2_000_000 + count))
    save_img(root, "pstree.img", img)
    return _as_archive(root, d / "many-threads.tar.zst")


def fds_missing_ids(d: Path, count: int = 199_000) -> Path:
    """pid 1's fd table naming ``count`` file ids files.img does not hold (a problem and a row each)."""
    root = unpack(FIXTURE, d / "unpacked")
    _fds_of_pid1(root, list(range(10_000_000, 10_000_000 + count)), files_pb2.REG)
    return _as_archive(root, d / "fds-missing-ids.tar.zst")


def vmas_runs(d: Path, count: int = 40_000) -> Path:
    """pid 1 with ``count`` more VMAs (two pages each, far above its own) and a pagemap entry
    for each (one page, not dumped): every VMA was held against every run."""
    root = unpack(FIXTURE, d / "unpacked")
    mm_img = load_img(root, "mm-1.img")
    mm = mm_img.entries[0].message
    template = mm.vmas[0]
    for i in range(count):
        v = mm.vmas.add()
        v.CopyFrom(template)
        v.start, v.end, v.status, v.shmid, v.pgoff = HIGH + i * 4 * PAGE, HIGH + i * 4 * PAGE + 2 * PAGE, 0x1, 0, 0
    save_img(root, "mm-1.img", mm_img)
    pm = load_img(root, "pagemap-1.img")
    cls = type(pm.entries[1].message)
    msgs = [e.message for e in pm.entries]
    msgs += [cls(vaddr=HIGH + i * 4 * PAGE, compat_nr_pages=1, nr_pages=1, flags=0) for i in range(count)]
    save_img(root, "pagemap-1.img", pm, msgs)
    return _as_archive(root, d / "vmas-runs.tar.zst")


def argv_terabytes(d: Path, size: int = 4 << 40) -> Path:
    """pid 1's command line and environment span a ``size``-byte VMA (4 TiB, none of it dumped):
    the range says where to look, never how much to read or walk."""
    root = unpack(FIXTURE, d / "unpacked")
    mm_img = load_img(root, "mm-1.img")
    mm = mm_img.entries[0].message
    v = mm.vmas.add()
    v.CopyFrom(mm.vmas[0])
    v.start, v.end, v.status, v.shmid, v.pgoff = HIGH, HIGH + size, 0x1, 0, 0
    mm.mm_arg_start, mm.mm_arg_end = HIGH, HIGH + size
    mm.mm_env_start, mm.mm_env_end = HIGH + PAGE, HIGH + size - PAGE
    save_img(root, "mm-1.img", mm_img)
    return _as_archive(root, d / "argv-terabytes.tar.zst")


def pod_fanout(d: Path, same: int = 400, climbing: int = 300) -> Path:
    """A pod whose pod.options names ``same`` containers in one real container's directory and
    ``climbing`` more in ``../`` directories (each was built in full: 1-2 GB)."""
    top = d / "pod"
    unpack(FIXTURE, top / "aaa111-web")
    containers = {f"web{i:03d}": "aaa111-web" for i in range(same)}
    containers.update({f"up{i:03d}": f"../up{i}" for i in range(climbing)})
    _write(top / "pod.options", json.dumps({"version": 1, "containers": containers, "annotations": {}}).encode())
    return _as_archive(top, d / "pod-fanout.tar.zst")


def pod_deep(d: Path, depth: int = 100_000) -> Path:
    """pod.options whose annotations nest ``depth`` lists deep (the JSON reader's recursion)."""
    top = d / "pod"
    unpack(FIXTURE, top / "aaa111-web")
    _write(top / "pod.options", b'{"version": 1, "containers": {"web": "aaa111-web"}, "annotations": '
           + b"[" * depth + b"]" * depth + b"}")
    return _as_archive(top, d / "pod-deep.tar.zst")


def _without(name: str, pattern: str):
    """The case ``name``: the real checkpoint without the images ``pattern`` matches."""
    def damage(d: Path) -> Path:
        root = unpack(FIXTURE, d / "unpacked")
        for p in (root / "checkpoint").glob(pattern):
            p.unlink()
        return _as_archive(root, d / f"{name}.tar.zst")
    return damage


files_img_missing = _without("files-img-missing", "files.img")
fdinfo_missing = _without("fdinfo-missing", "fdinfo-*.img")
ids_missing = _without("ids-missing", "ids-*.img")


def containerd_empty(d: Path) -> Path:
    """A containerd CRI archive's shape with nothing in it: ``spec.dump`` ``{}``, ``status``
    ``{}``, no config.dump (checkpointctl's own test setup)."""
    root = unpack(FIXTURE, d / "unpacked")
    (root / "config.dump").unlink()
    (root / "spec.dump").write_bytes(b"{}")
    (root / "status").write_bytes(b"{}")
    return _as_archive(root, d / "containerd-empty.tar.zst")


def metadata_empty(d: Path) -> Path:
    """config.dump and spec.dump of zero bytes (the images are whole)."""
    root = unpack(FIXTURE, d / "unpacked")
    (root / "config.dump").write_bytes(b"")
    (root / "spec.dump").write_bytes(b"")
    return _as_archive(root, d / "metadata-empty.tar.zst")


def empty_archive(d: Path) -> Path:
    """A tar that holds nothing (what ``tar cf x.tar -T /dev/null`` writes: 10 KiB of zeros), and
    next to it a zero-byte ``.tar.zst``: both are listed, with why they cannot be opened."""
    _write(d / "nothing.tar.zst", b"")
    return _write(d / "empty-archive.tar", bytes(10240))


def _case(name: str, make, blame: str, image: str = "core-1.img", ext: str = ".tar.zst", listed: str = "") -> Hostile:
    return Hostile(name, make, name + ext, blame, image, listed)


POD_IMAGE = "aaa111-web/checkpoint/core-1.img"
CASES: list[Hostile] = [
    _case("memfds", memfds, "", image="memfd.img"),
    _case("ttys", ttys, "", image="tty-info.img"),
    _case("pstree-chain", pstree_chain, "core-1000000.img", image="pstree.img"),
    _case("pstree-loop", pstree_loop, "has a cycle through 50,000 pids", image="pstree.img"),
    _case("many-threads", many_threads, "--max-entries", image="pstree.img"),
    _case("fds-missing-ids", fds_missing_ids, "199,000 fds name file ids that are not in files.img",
          image="fdinfo-2.img"),
    _case("vmas-runs", vmas_runs, "", image="mm-1.img"),
    _case("argv-terabytes", argv_terabytes, "the command line is not in the dump", image="mm-1.img"),
    _case("pod-fanout", pod_fanout, "naming the directory of another container", image=POD_IMAGE),
    _case("pod-deep", pod_deep, "nests too deeply", image=POD_IMAGE),
    _case("files-img-missing", files_img_missing, "what each open file is cannot be told"),
    _case("fdinfo-missing", fdinfo_missing, "the open files of the processes using it are unknown"),
    _case("ids-missing", ids_missing, "open files and namespaces are unknown"),
    _case("containerd-empty", containerd_empty, "empty JSON object", listed="spec.dump: is an empty JSON object"),
    _case("metadata-empty", metadata_empty, "is empty", listed="config.dump: is empty"),
    _case("empty-archive", empty_archive, "empty tar archive", ext=".tar", listed="empty tar archive"),
]
BY_NAME = {c.name: c for c in CASES}
#: every hostile case: the archive layer's and the model's
ALL: list[Hostile] = ARCHIVE_CASES + CASES
ALL_BY_NAME = {c.name: c for c in ALL}

__all__ = ["ALL", "ALL_BY_NAME", "BY_NAME", "CASES", "build", "target"]


if __name__ == "__main__":  # pragma: no cover - a tool for people
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "hostile-model")
    for case in CASES:
        print(f"{case.name:20} -> {build(case, out)}")
