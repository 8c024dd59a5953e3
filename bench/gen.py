"""Large checkpoints for the benchmark, derived from the real fixtures in tests/data.

Every archive is written with the project's own writers: the fixture's CRIU images are
decoded with :mod:`ckpt_tui.criu`, changed (a process's ``mm``/``pagemap`` grown by an
anonymous VMA whose pages are appended to its ``pages-N.img``, processes copied under
new pids, ``rootfs-diff.tar`` grown), encoded with :func:`ckpt_tui.criu.writer.encode_image`
and written with :mod:`tarfile` through zstandard / gzip (or plain).

Nothing here holds a whole pages image in memory: page data is produced while the tar
is written. Archives are cached under ``bench/.cache/`` by a name that includes every
parameter and :data:`GEN_VERSION`.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import io
import json
import os
import random
import tarfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import zstandard

from ckpt_tui.criu import decode_image
from ckpt_tui.criu.writer import encode_image

GEN_VERSION = 3
PAGE = 4096
MiB = 1 << 20
GiB = 1 << 30
DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
CACHE = Path(__file__).resolve().parent / ".cache"

# where the added VMA lives in every process (each process has its own address space)
GROW_BASE = 0x7E0000000000
RUN_PAGES = 504  # present pages per pagemap run ...
HOLE_PAGES = 8  # ... then pages CRIU did not dump (zero / untouched), every 2 MiB
PE_PRESENT_LAZY = 6  # PE_PRESENT | PE_LAZY, what the fixtures' anonymous memory carries
ANON_STATUS = 0x201  # VMA_AREA_REGULAR | VMA_ANON_PRIVATE
ANON_FLAGS = 0x22  # MAP_PRIVATE | MAP_ANONYMOUS

# needles planted in the grown memory (the search benchmark looks for them)
SECRET = b"BENCH_SECRET=swordfish"
SECRET_REGEX = rb"BENCH_SECRET=[a-z]+"
WIDE = "BENCH_WIDE_SECRET"


@dataclass
class Spec:
    """One benchmark archive.

    ``mem``: total dumped memory wanted per process, in bytes; process 0 is the
    fixture's first process (grown), the others are copies of it under new pids.
    ``procs``: further light copies (not grown) of the fixture's process ``copy_pid``.
    ``files``: entries added to ``rootfs-diff.tar``.
    """

    name: str
    base: str
    fmt: str  # "zst" | "gz" | "tar"
    mem: list[int] = field(default_factory=list)
    procs: int = 0
    copy_pid: int = 0
    files: int = 0
    random_ratio: float = 0.5
    seed: int = 1
    changed: float = 0.0  # fraction of the grown MiB chunks given other content (a "later dump" to diff)

    def key(self) -> str:
        fields = asdict(self)
        if not fields["changed"]:
            del fields["changed"]  # the archives made before this field keep their names
        blob = json.dumps({**fields, "v": GEN_VERSION}, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    @property
    def suffix(self) -> str:
        return {"zst": ".tar.zst", "gz": ".tar.gz", "tar": ".tar"}[self.fmt]

    def path(self, cache: Path = CACHE) -> Path:
        return cache / f"{self.name}-{self.key()}{self.suffix}"


# -- page content -------------------------------------------------------------------


class PagePool:
    """Pseudo-random pages (from a pool far larger than any compressor window) and
    compressible, text-like pages; deterministic from the seed."""

    POOL = 48 * MiB

    def __init__(self, seed: int, changed: float = 0.0) -> None:
        self.seed = seed
        self.changed = changed  # fraction of chunks drawn from elsewhere in the pool
        self._pool: bytes | None = None

    @property
    def pool(self) -> bytes:
        if self._pool is None:
            self._pool = random.Random(self.seed).randbytes(self.POOL)
        return self._pool

    def random_pages(self, index: int, n: int) -> bytes:
        """``n`` pseudo-random pages; ``index`` picks where in the pool (stride is odd
        so nearby chunks never repeat within a compressor window)."""
        pages = self.POOL // PAGE
        out = bytearray()
        p = (index * 7919) % pages
        while len(out) < n * PAGE:
            take = min(n * PAGE - len(out), (pages - p) * PAGE)
            out += self.pool[p * PAGE : p * PAGE + take]
            p = (p + take // PAGE + 1) % pages
        return bytes(out)

    @staticmethod
    def text_pages(index: int, n: int) -> bytes:
        """Compressible pages: log-like lines with counters (~8:1 under zstd)."""
        lines = []
        size = 0
        i = index * 64
        while size < n * PAGE:
            line = b"2026-11-23T12:%02d:%02d worker=%05d req=%09d path=/api/v1/items/%d status=200 bytes=%d\n" % (
                (i // 60) % 60, i % 60, i % 97, i, i % 1013, (i * 37) % 65536)
            lines.append(line)
            size += len(line)
            i += 1
        return b"".join(lines)[: n * PAGE]


def grown_pages(pool: PagePool, pid: int, npages: int, ratio: float) -> Iterator[bytes]:
    """The bytes of ``npages`` present pages, 1 MiB (or less) at a time, with a marker at
    the start of every MiB, one SECRET and one UTF-16 WIDE needle near the end."""
    chunk = 256
    rng = random.Random(pid * 1000003 + 17)
    other = random.Random(pid * 7 + 3)  # which chunks differ from the base dump (PagePool.changed)
    done = 0
    mib = 0
    while done < npages:
        n = min(chunk, npages - done)
        index = pid * 65537 + mib
        if pool.changed and other.random() < pool.changed:
            index += 1_000_003
        if rng.random() < ratio:
            data = bytearray(pool.random_pages(index, n))
        else:
            data = bytearray(pool.text_pages(index, n))
        marker = b"CKPT-BENCH-%d-%06d-needle" % (pid, mib)
        data[: len(marker)] = marker
        if done + n >= npages:  # last chunk: the unique needles
            wide = WIDE.encode("utf-16-le")
            secret = SECRET + b"-%d" % pid
            data[len(data) - 2048 : len(data) - 2048 + len(secret)] = secret
            data[len(data) - 1024 : len(data) - 1024 + len(wide)] = wide
        yield bytes(data)
        done += n
        mib += 1


class ChainReader(io.RawIOBase):
    """A readable stream over byte strings and iterators of byte strings, in order."""

    def __init__(self, parts: list) -> None:
        super().__init__()
        self._iters = [iter([p]) if isinstance(p, (bytes, bytearray, memoryview)) else iter(p) for p in parts]
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while not self._buf and self._iters:
            try:
                self._buf = bytes(next(self._iters[0]))
            except StopIteration:
                self._iters.pop(0)
        if not self._buf:
            return 0
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


# -- reading the fixture ----------------------------------------------------------------


def read_fixture(path: Path) -> list[tuple[tarfile.TarInfo, bytes | None]]:
    """Every member of a fixture archive with its bytes, in archive order."""
    raw = path.open("rb")
    with raw:
        head = raw.read(4)
        raw.seek(0)
        if head == b"\x28\xb5\x2f\xfd":
            stream = zstandard.ZstdDecompressor().stream_reader(raw)
        elif head[:2] == b"\x1f\x8b":
            stream = gzip.GzipFile(fileobj=raw)
        else:
            stream = raw
        out = []
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            for ti in tar:
                data = tar.extractfile(ti).read() if ti.isreg() else None
                out.append((ti, data))
    return out


def _img(members: dict[str, bytes], name: str):
    return decode_image(members["checkpoint/" + name], name)


def _encode(img, entries=None) -> bytes:
    items = []
    for e in img.entries if entries is None else entries:
        msg = e.message if hasattr(e, "message") else e
        extra = getattr(e, "extra", None) if hasattr(e, "message") else None
        items.append((msg, extra) if extra else msg)
    return encode_image(img.magic, items)


@dataclass
class ProcImages:
    """The images of one process, ready to write (pages as a stream)."""

    pid: int
    core: bytes
    mm: bytes
    pagemap: bytes
    ids: bytes
    fs: bytes | None
    fdinfo: tuple[int, bytes] | None
    pages_id: int
    pages_size: int
    pages_parts: list


def build_process(members: dict[str, bytes], src_pid: int, new_pid: int, grow: int, pages_id: int,
                  files_id: int | None, pool: PagePool, ratio: float) -> tuple[ProcImages, int]:
    """Images of ``new_pid``: a copy of ``src_pid`` whose memory grows by about ``grow``
    bytes (one anonymous VMA at GROW_BASE). Returns the images and the present bytes."""
    core = _img(members, f"core-{src_pid}.img")
    mm_img = _img(members, f"mm-{src_pid}.img")
    pm_img = _img(members, f"pagemap-{src_pid}.img")
    ids_img = _img(members, f"ids-{src_pid}.img")
    head = pm_img.entries[0].message
    old_pages = members[f"checkpoint/pages-{head.pages_id}.img"]
    old_files_id = ids_img.entries[0].message.files_id

    # runs of the grown VMA
    grow_pages = -(-grow // PAGE)
    step = RUN_PAGES + HOLE_PAGES
    vma_pages = -(-grow_pages // RUN_PAGES) * step if grow_pages else 0
    new_runs: list[tuple[int, int]] = []
    left = grow_pages
    addr = GROW_BASE
    while left > 0:
        n = min(RUN_PAGES, left)
        new_runs.append((addr, n))
        addr += step * PAGE
        left -= n

    # mm: the new VMA, in address order
    mm = copy.deepcopy(mm_img.entries[0].message)
    if vma_pages:
        template = next(v for v in mm.vmas if v.status == ANON_STATUS and v.prot == 3)
        vmas = [copy.deepcopy(v) for v in mm.vmas]
        nv = copy.deepcopy(template)
        nv.start, nv.end, nv.pgoff = GROW_BASE, GROW_BASE + vma_pages * PAGE, 0
        nv.prot, nv.flags, nv.status = 3, ANON_FLAGS, ANON_STATUS
        vmas.append(nv)
        vmas.sort(key=lambda v: v.start)
        del mm.vmas[:]
        mm.vmas.extend(vmas)

    # pagemap: new runs in address order; pages file split where they go
    old = [(e.message.vaddr, e.message.nr_pages, e.message.flags) for e in pm_img.entries[1:]]
    before = sum(n * PAGE for v, n, f in old if v < GROW_BASE and f & 4)
    entries = []
    msg_cls = type(pm_img.entries[1].message)
    for v, n, f in sorted(old + [(a, n, PE_PRESENT_LAZY) for a, n in new_runs]):
        e = msg_cls()
        e.vaddr, e.compat_nr_pages, e.nr_pages, e.flags = v, 0, n, f  # as CRIU 4 writes them
        entries.append(e)
    new_head = copy.deepcopy(head)
    new_head.pages_id = pages_id

    pstate = copy.deepcopy(core.entries[0].message)
    ids = copy.deepcopy(ids_img.entries[0].message)
    fdinfo = None
    if files_id is not None and files_id != old_files_id:
        ids.files_id = files_id
        name = f"checkpoint/fdinfo-{old_files_id}.img"
        if name in members:
            fdinfo = (files_id, members[name])
    fs = members.get(f"checkpoint/fs-{src_pid}.img")
    parts: list = [old_pages[:before]]
    if grow_pages:
        parts.append(grown_pages(pool, new_pid, grow_pages, ratio))
    parts.append(old_pages[before:])
    present = len(old_pages) + grow_pages * PAGE
    return ProcImages(
        pid=new_pid,
        core=_encode(core, [pstate]),
        mm=_encode(mm_img, [mm]),
        pagemap=_encode(pm_img, [new_head, *entries]),
        ids=_encode(ids_img, [ids]),
        fs=fs,
        fdinfo=fdinfo,
        pages_id=pages_id,
        pages_size=present,
        pages_parts=parts,
    ), present


def rootfs_entries(n: int, seed: int, changed: float = 0.0) -> Iterator[tuple[tarfile.TarInfo, bytes | None]]:
    """``n`` root-FS diff entries: 1 dir per 1000 files, some symlinks and whiteouts.
    ``changed``: that fraction of the files gets other content (half of them the same
    size), and a quarter as many are renamed (one removed, one added): a later dump."""
    rng = random.Random(seed)
    other = random.Random(seed * 31 + 7)
    words = [b"alpha", b"beta", b"gamma", b"delta", b"config", b"cache", b"log", b"data"]
    made = 0
    d = 0
    while made < n:
        dname = f"srv/bench/d{d:04d}"
        ti = tarfile.TarInfo(dname)
        ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, 1795436772
        yield ti, None
        made += 1
        for i in range(min(999, n - made)):
            r = rng.random()
            name = f"{dname}/{rng.choice(words).decode()}-{i:04d}"
            ti = tarfile.TarInfo(name)
            ti.mtime = 1795436772
            if r < 0.01:
                ti = tarfile.TarInfo(f"{dname}/.wh.gone-{i:04d}")
                ti.mtime = 1795436772
                yield ti, b""
            elif r < 0.05:
                ti.type, ti.linkname = tarfile.SYMTYPE, f"../d{(d + 1):04d}/target-{i:04d}"
                yield ti, None
            else:
                body = b" ".join(rng.choice(words) for _ in range(rng.randrange(0, 80)))
                ti.name += ".txt"
                if changed and other.random() < changed:
                    body = body.upper() if other.random() < 0.5 else body + b" later"
                    if other.random() < 0.25:
                        ti.name = ti.name[:-4] + "-renamed.txt"
                ti.size, ti.mode = len(body), 0o644
                yield ti, body
            made += 1
        d += 1


def _grown_rootfs(original: bytes, n: int, seed: int, tmp: Path, changed: float = 0.0) -> Path:
    out = tmp / "rootfs-diff.tar"
    with out.open("wb") as f, tarfile.open(fileobj=f, mode="w", format=tarfile.GNU_FORMAT) as tar:
        if original:
            with tarfile.open(fileobj=io.BytesIO(original)) as old:
                for ti in old:
                    tar.addfile(ti, old.extractfile(ti) if ti.isreg() else None)
        for ti, body in rootfs_entries(n, seed, changed):
            tar.addfile(ti, io.BytesIO(body) if body is not None else None)
    return out


# -- writing ------------------------------------------------------------------------


def _compressed_writer(fmt: str, raw):
    if fmt == "zst":
        return zstandard.ZstdCompressor(level=3, threads=-1).stream_writer(raw, closefd=False)
    if fmt == "gz":
        return gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0)
    return None


def generate(spec: Spec, cache: Path = CACHE, log=print) -> Path:
    """Write the archive of ``spec`` into ``cache`` (if not there yet); returns its path."""
    final = spec.path(cache)
    if final.exists():
        return final
    cache.mkdir(parents=True, exist_ok=True)
    tmpdir = cache / f"tmp-{os.getpid()}-{spec.key()}"
    tmpdir.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    try:
        fixture = read_fixture(DATA / spec.base)
        members = {ti.name.removeprefix("./"): data for ti, data in fixture if data is not None}
        infos = {ti.name.removeprefix("./"): ti for ti, _ in fixture}
        pstree = _img(members, "pstree.img")
        first = pstree.entries[0].message.pid
        pool = PagePool(spec.seed, spec.changed)
        procs: list[ProcImages] = []
        pst_entries = [copy.deepcopy(e.message) for e in pstree.entries]
        next_pid = 100
        next_pages = 100
        next_files = 1000
        totals = []
        for k, total in enumerate(spec.mem):
            base_present = len(members[f"checkpoint/pages-{_img(members, f'pagemap-{first}.img').entries[0].message.pages_id}.img"])
            grow = max(0, total - base_present)
            if k == 0:
                pages_id = _img(members, f"pagemap-{first}.img").entries[0].message.pages_id
                p, present = build_process(members, first, first, grow, pages_id, None, pool, spec.random_ratio)
            else:
                pid = next_pid
                next_pid += 1
                p, present = build_process(members, first, pid, grow, next_pages, next_files, pool, spec.random_ratio)
                next_pages += 1
                next_files += 1
                e = copy.deepcopy(pst_entries[0])
                e.pid, e.ppid = pid, first
                del e.threads[:]
                e.threads.append(pid)
                pst_entries.append(e)
            procs.append(p)
            totals.append(present)
        for _ in range(spec.procs):
            pid = next_pid
            next_pid += 1
            p, _present = build_process(members, spec.copy_pid, pid, 0, next_pages, next_files, pool, 0)
            next_pages += 1
            next_files += 1
            src = next(e for e in pst_entries if e.pid == spec.copy_pid)
            e = copy.deepcopy(src)
            e.pid, e.ppid = pid, first
            del e.threads[:]
            e.threads.append(pid)
            pst_entries.append(e)
            procs.append(p)

        # what replaces / joins the fixture's members
        replace: dict[str, object] = {}
        added: list[tuple[str, object]] = []
        if spec.mem or spec.procs:
            replace["checkpoint/pstree.img"] = _encode(pstree, pst_entries)
        for p in procs:
            imgs = {
                f"checkpoint/core-{p.pid}.img": p.core,
                f"checkpoint/mm-{p.pid}.img": p.mm,
                f"checkpoint/pagemap-{p.pid}.img": p.pagemap,
                f"checkpoint/ids-{p.pid}.img": p.ids,
                f"checkpoint/pages-{p.pages_id}.img": (p.pages_size, p.pages_parts),
            }
            if p.fs is not None:
                imgs[f"checkpoint/fs-{p.pid}.img"] = p.fs
            if p.fdinfo is not None:
                imgs[f"checkpoint/fdinfo-{p.fdinfo[0]}.img"] = p.fdinfo[1]
            for name, value in imgs.items():
                if name in members:
                    replace[name] = value
                else:
                    added.append((name, value))
        if spec.files:
            path = _grown_rootfs(members.get("rootfs-diff.tar", b""), spec.files, spec.seed, tmpdir, spec.changed)
            value = (path.stat().st_size, [_file_chunks(path)])
            if "rootfs-diff.tar" in members:
                replace["rootfs-diff.tar"] = value
            else:
                added.append(("rootfs-diff.tar", value))

        part = tmpdir / ("out" + spec.suffix)
        with part.open("wb") as raw:
            comp = _compressed_writer(spec.fmt, raw)
            sink = comp if comp is not None else raw
            with tarfile.open(fileobj=sink, mode="w|", format=tarfile.GNU_FORMAT) as tar:
                last_ckpt = max(i for i, (ti, _) in enumerate(fixture) if ti.name.removeprefix("./").startswith("checkpoint/"))
                for i, (ti, data) in enumerate(fixture):
                    name = ti.name.removeprefix("./")
                    _add(tar, ti, replace.get(name, data))
                    if i == last_ckpt:
                        for aname, value in sorted(added, key=lambda kv: kv[0]):
                            nti = copy.copy(infos[name])
                            nti.name = aname
                            _add(tar, nti, value)
            if comp is not None:
                comp.close()
        part.rename(final)
        info = {"spec": asdict(spec), "bytes": final.stat().st_size, "memory": totals,
                "seconds": round(time.perf_counter() - t0, 1)}
        final.with_suffix(final.suffix + ".json").write_text(json.dumps(info, indent=1))
        log(f"  generated {final.name}: {final.stat().st_size / MiB:.1f} MiB in {info['seconds']} s")
        return final
    finally:
        for child in tmpdir.glob("*"):
            child.unlink(missing_ok=True)
        tmpdir.rmdir()


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while True:
            data = f.read(4 * MiB)
            if not data:
                return
            yield data


def _add(tar: tarfile.TarFile, ti: tarfile.TarInfo, value) -> None:
    ti = copy.copy(ti)
    if ti.isreg() and value is not None:
        if isinstance(value, (bytes, bytearray)):
            ti.size = len(value)
            tar.addfile(ti, io.BytesIO(value))
        else:
            size, parts = value
            ti.size = size
            tar.addfile(ti, io.BufferedReader(ChainReader(parts), buffer_size=4 * MiB))
    else:
        tar.addfile(ti)


def info(path: Path) -> dict:
    try:
        return json.loads(path.with_suffix(path.suffix + ".json").read_text())
    except (OSError, ValueError):
        return {}
