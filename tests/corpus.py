"""Bad-input corpus for the model and the UI, derived from the real fixtures.

Each case unpacks a real checkpoint into a directory, damages one thing with the
project's own decoder/writer (``ckpt_tui.criu``), and says which member the model
must blame. ``python -m tests.corpus OUTDIR`` writes every case as a directory.
"""

from __future__ import annotations

import json
import os
import struct
import sys
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ckpt_tui.archive import open_source
from ckpt_tui.criu import decode_image
from ckpt_tui.criu.writer import encode_image

DATA = Path(__file__).parent / "data"


def unpack(fixture: str, dest: Path) -> Path:
    """Write every member of a real fixture into dest (a plain directory)."""
    dest.mkdir(parents=True, exist_ok=True)
    with open_source(DATA / fixture) as src:
        for name, member in src.members.items():
            target = dest / name
            if member.type == "dir":
                target.mkdir(parents=True, exist_ok=True)
            elif member.type == "file":
                target.parent.mkdir(parents=True, exist_ok=True)
                with src.open(name) as fh, open(target, "wb") as out:
                    while chunk := fh.read(1 << 20):
                        out.write(chunk)
    return dest


def load_img(root: Path, name: str):
    return decode_image((root / "checkpoint" / name).read_bytes(), name)


def save_img(root: Path, name: str, image, messages=None) -> None:
    entries = messages if messages is not None else [(e.message, e.extra or b"") for e in image.entries]
    (root / "checkpoint" / name).write_bytes(encode_image(image.magic, entries))


# -- the damage ------------------------------------------------------------------
def pstree_cycle(root: Path) -> None:
    img = load_img(root, "pstree.img")
    by_pid = {e.message.pid: e.message for e in img.entries}
    by_pid[1].ppid = 10  # 1 -> 10 -> 1
    save_img(root, "pstree.img", img)


def missing_core(root: Path) -> None:
    (root / "checkpoint" / "core-13.img").unlink()


def many_processes(root: Path, count: int = 10_000) -> None:
    img = load_img(root, "pstree.img")
    template = img.entries[-1].message
    msgs = [e.message for e in img.entries]
    core = (root / "checkpoint" / f"core-{template.pid}.img").read_bytes()
    for i in range(count - len(msgs)):
        m = type(template)()
        m.CopyFrom(template)
        m.pid = 100_000 + i
        del m.threads[:]
        m.threads.append(m.pid)
        m.ppid = 1
        msgs.append(m)
        (root / "checkpoint" / f"core-{m.pid}.img").write_bytes(core)
    save_img(root, "pstree.img", img, msgs)


def deep_chain(root: Path, depth: int = 5_000) -> None:
    img = load_img(root, "pstree.img")
    template = img.entries[0].message
    msgs = [e.message for e in img.entries]
    parent = 1
    for i in range(depth):
        m = type(template)()
        m.CopyFrom(template)
        m.pid = 200_000 + i
        m.ppid = parent
        del m.threads[:]
        m.threads.append(m.pid)
        msgs.append(m)
        parent = m.pid
    save_img(root, "pstree.img", img, msgs)


def args_outside_vmas(root: Path) -> None:
    img = load_img(root, "mm-10.img")
    mm = img.entries[0].message
    mm.mm_arg_start, mm.mm_arg_end = 0x10, 0x40
    save_img(root, "mm-10.img", img)


def huge_cmdline(root: Path) -> None:
    """memhog: point argv at its 16 MiB buffer, making a >10 MB command line."""
    img = load_img(root, "mm-1.img")
    mm = img.entries[0].message
    big = max(mm.vmas, key=lambda v: v.end - v.start)
    mm.mm_arg_start, mm.mm_arg_end = big.start, big.start + 11 * (1 << 20)
    save_img(root, "mm-1.img", img)


def non_utf8_env(root: Path) -> None:
    """Overwrite bytes of pid 1's environment in pages-N.img with invalid UTF-8."""
    from ckpt_tui.model.memory import layout_runs

    mm = load_img(root, "mm-1.img").entries[0].message
    pm = load_img(root, "pagemap-1.img")
    head = pm.entries[0].message
    runs, _ = layout_runs([(e.message.vaddr, e.message.nr_pages, e.message.flags) for e in pm.entries[1:]])
    addr = mm.mm_env_start
    run = next(r for r in runs if r.vaddr <= addr < r.end and r.offset is not None)
    off = run.offset + (addr - run.vaddr)
    pages = root / "checkpoint" / f"pages-{head.pages_id}.img"
    data = bytearray(pages.read_bytes())
    data[off : off + 6] = b"X\xff\xfe=\xc3("
    pages.write_bytes(bytes(data))


def overlapping_pagemap(root: Path) -> None:
    img = load_img(root, "pagemap-10.img")
    first, second = img.entries[1].message, img.entries[2].message
    second.vaddr = first.vaddr  # two runs over the same pages
    save_img(root, "pagemap-10.img", img)


def pages_short(root: Path) -> None:
    head = load_img(root, "pagemap-10.img").entries[0].message
    pages = root / "checkpoint" / f"pages-{head.pages_id}.img"
    data = pages.read_bytes()
    pages.write_bytes(data[: len(data) // 2])


def pages_missing(root: Path) -> None:
    head = load_img(root, "pagemap-10.img").entries[0].message
    (root / "checkpoint" / f"pages-{head.pages_id}.img").unlink()


def pagemap_missing(root: Path) -> None:
    """pid 10 (running) loses its pagemap: its memory map is there, which pages it holds is not."""
    (root / "checkpoint" / "pagemap-10.img").unlink()


def wrong_magic(root: Path) -> None:
    p = root / "checkpoint" / "core-10.img"
    data = bytearray(p.read_bytes())
    data[4:8] = struct.pack("<I", 0x12345678)
    p.write_bytes(bytes(data))


def truncated_entry(root: Path) -> None:
    p = root / "checkpoint" / "mm-10.img"
    data = p.read_bytes()
    p.write_bytes(data[: len(data) - 40])


def giant_entry_size(root: Path) -> None:
    p = root / "checkpoint" / "files.img"
    data = bytearray(p.read_bytes())
    data[8:12] = b"\xff\xff\xff\xff"
    p.write_bytes(bytes(data))


def protobuf_garbage(root: Path) -> None:
    p = root / "checkpoint" / "fs-10.img"
    data = bytearray(p.read_bytes())
    data[12:] = b"\xff" * (len(data) - 12)
    p.write_bytes(bytes(data))


def unknown_fields(root: Path) -> None:
    """A newer CRIU's field (number 999) on the core entry: kept, shown as unknown."""
    p = root / "checkpoint" / "core-1.img"
    img = decode_image(p.read_bytes(), "core-1.img")
    body = img.entries[0].message.SerializeToString() + bytes([0xB8, 0x3E, 0x2A])  # field 999 varint 42
    head = p.read_bytes()[:8]
    p.write_bytes(head + struct.pack("<I", len(body)) + body)


def unknown_image_kind(root: Path) -> None:
    (root / "checkpoint" / "frobnicate-7.img").write_bytes(struct.pack("<II", 0x54564319, 0x77777777) + b"\0" * 8)


def _json_case(name: str, content: bytes) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        (root / name).write_bytes(content)

    damage.__name__ = f"{name}:{content[:12]!r}"
    return damage


def rootfs_link_out(root: Path) -> None:
    """A rootfs-diff.tar entry that is a symlink to /etc/shadow: shown, never followed."""
    import io

    tar_path = root / "rootfs-diff.tar"
    with tarfile.open(tar_path, "a") as tar:
        ti = tarfile.TarInfo("etc/evil-link")
        ti.type = tarfile.SYMTYPE
        ti.linkname = "../../../../etc/shadow"
        tar.addfile(ti)
        ti = tarfile.TarInfo("../escape.txt")
        data = b"climb"
        ti.size = len(data)
        tar.addfile(ti, io.BytesIO(data))


# -- shapes no fixture has (not damage: what CRIU writes for them) ---------------------------
TASK_DEAD = 2  # CRIU's TASK_DEAD (criu/include/pid.h), what it writes for a zombie


def make_zombie(root: Path, pid: int, wait_status: int = 0, garbage_tid: int = 0x5EED) -> None:
    """``pid`` (a leaf) as CRIU dumps a zombie (cr-dump.c ``dump_one_zombie``): its core image
    holds only the machine type and a task_core_entry with task_state TASK_DEAD, the wait
    status in ``exit_code`` and its comm; no mm, pagemap, pages, fs, ids or fd image of it is
    written; pstree.img lists as its thread the id CRIU never filled in (``garbage_tid``)."""
    core_img = load_img(root, f"core-{pid}.img")
    old = core_img.entries[0].message
    core = type(old)()
    core.mtype = old.mtype
    tc = core.tc
    tc.task_state, tc.exit_code, tc.personality, tc.flags, tc.blk_sigset = TASK_DEAD, wait_status, 0, 0, 0
    tc.comm = old.tc.comm
    save_img(root, f"core-{pid}.img", core_img, [core])
    files_id = load_img(root, f"ids-{pid}.img").entries[0].message.files_id
    pages_id = load_img(root, f"pagemap-{pid}.img").entries[0].message.pages_id
    for name in (f"mm-{pid}.img", f"pagemap-{pid}.img", f"pages-{pages_id}.img", f"fs-{pid}.img",
                 f"ids-{pid}.img", f"fdinfo-{files_id}.img"):
        (root / "checkpoint" / name).unlink(missing_ok=True)
    tree = load_img(root, "pstree.img")
    entry = next(e.message for e in tree.entries if e.message.pid == pid)
    del entry.threads[:]
    entry.threads.append(garbage_tid)
    save_img(root, "pstree.img", tree)


def corrupt_core(root: Path, pid: int) -> None:
    """core-PID.img is there, with the right magic, but its entry does not decode."""
    p = root / "checkpoint" / f"core-{pid}.img"
    data = bytearray(p.read_bytes())
    data[12:] = b"\xff" * (len(data) - 12)
    p.write_bytes(bytes(data))


@dataclass
class Case:
    name: str
    fixture: str
    damage: Callable[[Path], None]
    blame: str  # a member name (or part of one) the model's problem must name
    pane: str


CASES: list[Case] = [
    Case("pstree-cycle", "web-httpd.tar.zst", pstree_cycle, "pstree.img", "processes"),
    Case("missing-core", "web-httpd.tar.zst", missing_core, "core-13.img", "processes"),
    Case("args-outside-vmas", "web-httpd.tar.zst", args_outside_vmas, "mm-10.img", "processes"),
    Case("non-utf8-env", "web-httpd.tar.zst", non_utf8_env, "", "processes"),
    Case("overlapping-pagemap", "web-httpd.tar.zst", overlapping_pagemap, "pagemap-10.img", "memory"),
    Case("pages-short", "web-httpd.tar.zst", pages_short, "pages-", "memory"),
    Case("pages-missing", "web-httpd.tar.zst", pages_missing, "pages-", "memory"),
    Case("pagemap-missing", "web-httpd.tar.zst", pagemap_missing, "pagemap-10.img", "memory"),
    Case("wrong-magic", "web-httpd.tar.zst", wrong_magic, "core-10.img", "processes"),
    Case("truncated-entry", "web-httpd.tar.zst", truncated_entry, "mm-10.img", "memory"),
    Case("giant-entry-size", "web-httpd.tar.zst", giant_entry_size, "files.img", "processes"),
    Case("protobuf-garbage", "web-httpd.tar.zst", protobuf_garbage, "fs-10.img", "processes"),
    Case("unknown-fields", "web-httpd.tar.zst", unknown_fields, "core-1.img", "processes"),
    Case("unknown-image-kind", "web-httpd.tar.zst", unknown_image_kind, "frobnicate-7.img", "overview"),
    Case("config-empty", "web-httpd.tar.zst", _json_case("config.dump", b""), "config.dump", "overview"),
    Case("config-not-json", "web-httpd.tar.zst", _json_case("config.dump", b"{not json"), "config.dump", "overview"),
    Case("spec-wrong-shape", "web-httpd.tar.zst", _json_case("spec.dump", b"[1, 2, 3]"), "spec.dump", "overview"),
    Case("network-wrong-shape", "web-httpd.tar.zst", _json_case("network.status", b'"eth0"'), "network.status", "network"),
    Case("network-not-json", "web-httpd.tar.zst", _json_case("network.status", b"\x00\x01"), "network.status", "network"),
    Case("deleted-wrong-shape", "web-httpd.tar.zst", _json_case("deleted.files", b'{"a": 1}'), "deleted.files", "files"),
    Case("deleted-empty", "web-httpd.tar.zst", _json_case("deleted.files", b""), "deleted.files", "files"),
    Case("rootfs-link-out", "web-httpd.tar.zst", rootfs_link_out, "rootfs-diff.tar", "files"),
    Case("huge-cmdline", "memhog-16m-threads.tar.zst", huge_cmdline, "mm-1.img", "processes"),
    Case("deep-chain", "ps-tree.tar.gz", deep_chain, "core-2", "processes"),
    Case("many-processes", "ps-tree.tar.gz", many_processes, "", "processes"),
]


def build(case: Case, dest: Path) -> Path:
    root = unpack(case.fixture, dest)
    case.damage(root)
    return root


if __name__ == "__main__":  # pragma: no cover - a tool for people
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "corpus")
    for case in CASES:
        path = build(case, out / case.name)
        print(f"{case.name:24} -> {path}")
    os.sync() if hasattr(os, "sync") else None
    json.dump([c.name for c in CASES], sys.stdout)
