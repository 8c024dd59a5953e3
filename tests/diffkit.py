"""Checkpoints derived from the real fixtures for the diff tests (issue #13).

No fixture pair has every kind of change (a rewritten page, a VMA that grew, a pid that
moved, a unix socket, a pre-dump chain), so the tests make the later dump from a real one
with the project's own decoder and image writer (``ckpt_tui.criu``), the way
``tests/corpus.py`` derives damaged inputs. Every function edits an unpacked checkpoint
directory in place.
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
from pathlib import Path

from ckpt_tui.criu.constants import PE_PARENT, PE_PRESENT
from ckpt_tui.model.memory import layout_runs

from .corpus import load_img, save_img, unpack

PAGE = 4096


def derive(fixture: str, dest: Path) -> Path:
    """The fixture unpacked into ``dest`` (a directory the model opens as it is)."""
    return unpack(fixture, dest)


def _runs(root: Path, pid: int):
    pm = load_img(root, f"pagemap-{pid}.img")
    runs, _ = layout_runs([(e.message.vaddr, e.message.nr_pages, e.message.flags) for e in pm.entries[1:]])
    return pm.entries[0].message.pages_id, runs


def pages_file(root: Path, pid: int) -> Path:
    return root / "checkpoint" / f"pages-{_runs(root, pid)[0]}.img"


def present_pages(root: Path, pid: int) -> list[int]:
    """Addresses of every page of ``pid`` that its pages image holds."""
    return [r.vaddr + i * PAGE for r in _runs(root, pid)[1] if r.offset is not None for i in range(r.nr_pages)]


def write_memory(root: Path, pid: int, addr: int, data: bytes) -> None:
    """Overwrite dumped memory of ``pid`` at ``addr`` (within one present run)."""
    _pid, runs = _runs(root, pid)
    run = next(r for r in runs if r.offset is not None and r.vaddr <= addr < r.end)
    assert addr + len(data) <= run.end
    path = pages_file(root, pid)
    raw = bytearray(path.read_bytes())
    off = run.offset + (addr - run.vaddr)
    raw[off : off + len(data)] = data
    path.write_bytes(bytes(raw))


def read_memory(root: Path, pid: int, addr: int, n: int) -> bytes:
    _pid, runs = _runs(root, pid)
    run = next(r for r in runs if r.offset is not None and r.vaddr <= addr < r.end)
    return pages_file(root, pid).read_bytes()[run.offset + addr - run.vaddr :][:n]


def edit_vma(root: Path, pid: int, start: int, **fields) -> None:
    """Set fields of the VMA of ``pid`` that starts at ``start`` in mm-PID.img."""
    img = load_img(root, f"mm-{pid}.img")
    vma = next(v for v in img.entries[0].message.vmas if v.start == start)
    for k, v in fields.items():
        setattr(vma, k, v)
    save_img(root, f"mm-{pid}.img", img)


def shift_pids(root: Path, by: int) -> None:
    """Every pid (and tid) moved by ``by``, as a restore into a busier pid namespace might:
    pstree.img rewritten, core-/mm-/pagemap-/fs-/ids- images renamed."""
    img = load_img(root, "pstree.img")
    old = [e.message.pid for e in img.entries]
    tids = {t for e in img.entries for t in e.message.threads}
    for e in img.entries:
        m = e.message
        m.pid += by
        m.ppid = m.ppid + by if m.ppid else 0
        m.pgid += by
        m.sid += by
        threads = [t + by for t in m.threads]
        del m.threads[:]
        m.threads.extend(threads)
    save_img(root, "pstree.img", img)
    ck = root / "checkpoint"
    for kind in ("core", "mm", "pagemap", "fs", "ids"):
        for pid in sorted(set(old) | tids, reverse=True):
            src = ck / f"{kind}-{pid}.img"
            if src.exists():
                src.rename(ck / f"{kind}-{pid + by}.img.new")
    for path in ck.glob("*.img.new"):
        path.rename(path.with_suffix(""))


def add_unix_socket(root: Path, pid: int, fd: int, name: bytes, state: int = 10, ino: int = 777001) -> None:
    """A bound UNIX stream socket on ``fd`` of ``pid`` (files.img entry + fdinfo entry)."""
    files = load_img(root, "files.img")
    template = files.entries[0].message
    entry = type(template)()
    new_id = max(e.message.id for e in files.entries) + 1
    entry.type = 5  # UNIXSK
    entry.id = new_id
    u = entry.usk
    u.id, u.ino, u.type, u.state, u.flags, u.uflags, u.backlog, u.peer = new_id, ino, 1, state, 2, 0, 128, 0
    u.fown.uid = u.fown.euid = u.fown.signum = u.fown.pid_type = u.fown.pid = 0
    u.opts.so_sndbuf, u.opts.so_rcvbuf = 212992, 212992
    u.opts.so_snd_tmo_sec = u.opts.so_snd_tmo_usec = u.opts.so_rcv_tmo_sec = u.opts.so_rcv_tmo_usec = 0
    u.opts.reuseaddr = u.opts.so_priority = u.opts.so_rcvlowat = u.opts.so_mark = 0
    u.name = name
    save_img(root, "files.img", files, [e.message for e in files.entries] + [entry])
    files_id = load_img(root, f"ids-{pid}.img").entries[0].message.files_id
    fdinfo = load_img(root, f"fdinfo-{files_id}.img")
    fe = type(fdinfo.entries[0].message)()
    fe.id, fe.flags, fe.type, fe.fd = new_id, 0, 5, fd
    save_img(root, f"fdinfo-{files_id}.img", fdinfo, [e.message for e in fdinfo.entries] + [fe])


def rewrite_rootfs(root: Path, change) -> None:
    """rootfs-diff.tar rebuilt: ``change(name, TarInfo, data)`` returns (TarInfo, data) to
    keep, or None to drop; ``change.extra`` (optional) lists (TarInfo, data) to add."""
    path = root / "rootfs-diff.tar"
    out = io.BytesIO()
    with tarfile.open(path) as old, tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as new:
        for ti in old:
            data = old.extractfile(ti).read() if ti.isreg() else None
            kept = change(ti.name, ti, data)
            if kept is not None:
                nti, ndata = kept
                if ndata is not None:
                    nti.size = len(ndata)
                new.addfile(nti, io.BytesIO(ndata) if ndata is not None else None)
        for ti, data in getattr(change, "extra", ()):
            ti.size = len(data or b"")
            new.addfile(ti, io.BytesIO(data) if data is not None else None)
    path.write_bytes(out.getvalue())


def make_chain(root: Path, pid: int, rewrite: int) -> dict[str, int]:
    """Turn ``root`` into an incremental dump of ``pid`` on top of a pre-dump, the way
    ``criu dump --prev-images-dir`` writes one: pre-checkpoint/ gets the pagemap and pages
    as they are; checkpoint/ keeps the pages of its first ``rewrite`` present runs (one of
    them changed), marks every other run PE_PARENT and keeps only the kept pages.
    Returns the page counts the layers must show."""
    ck = root / "checkpoint"
    pre = root / "pre-checkpoint"
    pre.mkdir(exist_ok=True)
    pm = load_img(root, f"pagemap-{pid}.img")
    pages_id = pm.entries[0].message.pages_id
    shutil.copy(ck / f"pagemap-{pid}.img", pre / f"pagemap-{pid}.img")
    shutil.copy(ck / f"pages-{pages_id}.img", pre / f"pages-{pages_id}.img")
    data = (ck / f"pages-{pages_id}.img").read_bytes()
    entries = [(e.message, b"") for e in pm.entries]
    kept = bytearray()
    offset = 0
    written = parent = 0
    done = 0
    for message, _ in entries[1:]:
        if not message.flags & PE_PRESENT:
            continue
        n = message.nr_pages
        chunk = data[offset : offset + n * PAGE]
        offset += n * PAGE
        if done < rewrite:
            if done == 0:
                chunk = bytes([chunk[0] ^ 0xFF]) + chunk[1:]  # the final dump's copy differs
            kept += chunk
            written += n
            done += 1
        else:
            message.flags = PE_PARENT
            parent += n
    save_img(root, f"pagemap-{pid}.img", pm, [m for m, _ in entries])
    (ck / f"pages-{pages_id}.img").write_bytes(bytes(kept))
    os.symlink("../pre-checkpoint", ck / "parent")
    return {"written": written, "from_parent": parent}
