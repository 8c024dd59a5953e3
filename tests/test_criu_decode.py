"""ckpt_tui.criu against the real fixtures and against crit.

Every podman fixture in tests/data is unpacked here (tarfile + zstandard, on
purpose not through ckpt_tui.archive) and every image that has an oracle JSON
in tests/data/oracle/<fixture>/crit/ is decoded and rendered with
to_crit_dict; every value crit shows must agree.

The oracle was made by crit 3.17.1 (Debian) while CRIU 4.2 wrote the images,
so two kinds of difference are expected, and both are spelled out below
instead of being silently tolerated:

* fields CRIU added after 3.17 are absent from crit's JSON: ours may carry
  extra keys, but only the ones listed in NEWER_FIELDS;
* 3.17's schema and tables differ in two places (CRIT_317_* below).
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
import posixpath
import shutil
import struct
import subprocess
import tarfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
import zstandard

from ckpt_tui.criu import (
    MAGICS,
    Image,
    ImageError,
    as_text,
    decode_file,
    decode_image,
    expected_magic,
    find_unknown_fields,
    iter_entries,
    message_class,
    message_to_dict,
    to_crit_dict,
)
from ckpt_tui.criu import constants as C
from ckpt_tui.criu.magic import HEAD_COMMON, HEAD_SERVICE, MAGIC_VALUES
from ckpt_tui.errors import CkptError

DATA = Path(__file__).parent / "data"
ORACLE = DATA / "oracle"

#: podman archives that crit was run on -> file in tests/data
PODMAN_ARCHIVES = {
    "web-httpd": "web-httpd.tar.zst",
    "web-ignore-rootfs": "web-ignore-rootfs.tar.zst",
    "ps-tree": "ps-tree.tar.gz",
    "ps-tree-uncompressed": "ps-tree-uncompressed.tar",
    "tcp-established": "tcp-established.tar.zst",
    "tcp-server": "tcp-server.tar.zst",
    "memhog-16m-threads": "memhog-16m-threads.tar.zst",
}

# ---------------------------------------------------------------------------
# helpers shared with test_criu_fuzz.py


def _open_tar(path: Path) -> tarfile.TarFile:
    if path.name.endswith(".zst"):
        reader = zstandard.ZstdDecompressor().stream_reader(path.open("rb"))
        return tarfile.open(fileobj=reader, mode="r|")
    return tarfile.open(path, mode="r|*")


def extract_checkpoint(archive: Path, dest: Path) -> Path:
    """Unpack checkpoint/* and stats-* of a podman archive into dest (flat)."""
    dest.mkdir(parents=True, exist_ok=True)
    with _open_tar(archive) as tar:
        for member in tar:
            name = member.name.lstrip("./")
            base = posixpath.basename(name)
            wanted = name.startswith("checkpoint/") or base.startswith("stats-")
            if not (member.isfile() and wanted and base and base not in (".", "..")):
                continue
            src = tar.extractfile(member)
            assert src is not None
            with open(dest / base, "wb") as out:
                shutil.copyfileobj(src, out)
    return dest


_EXTRACTED: dict[str, Path] = {}


@pytest.fixture(scope="session")
def checkpoint_dir(tmp_path_factory):
    """checkpoint_dir("web-httpd") -> directory holding that fixture's images."""

    def get(fixture: str) -> Path:
        if fixture not in _EXTRACTED:
            dest = tmp_path_factory.mktemp(f"ckpt-{fixture}")
            _EXTRACTED[fixture] = extract_checkpoint(DATA / PODMAN_ARCHIVES[fixture], dest)
        return _EXTRACTED[fixture]

    return get


def oci_images(archive: Path) -> dict[str, bytes]:
    """CRIU images found in the tar layers/blobs of an OCI layout tarball."""
    with tarfile.open(archive) as outer:
        blobs = {m.name: outer.extractfile(m).read() for m in outer.getmembers() if m.isfile()}
    images: dict[str, bytes] = {}
    for name, data in blobs.items():
        if "blobs/" not in name:
            continue
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        if not tarfile.is_tarfile(io.BytesIO(data)):
            continue
        with tarfile.open(fileobj=io.BytesIO(data)) as inner:
            for m in inner.getmembers():
                base = posixpath.basename(m.name)
                if m.isfile() and expected_magic(base) is not None:
                    images[base] = inner.extractfile(m).read()
    return images


def frame(message, extra: bytes = b"", *, big_endian: bool = False) -> bytes:
    body = message if isinstance(message, bytes) else message.SerializeToString()
    return struct.pack(">I" if big_endian else "<I", len(body)) + body + extra


def build_image(magic: str, *entries: bytes, head: int | None = HEAD_COMMON, big_endian: bool = False) -> bytes:
    """An image file: [head word] magic word, then already framed entries."""
    fmt = ">I" if big_endian else "<I"
    out = b"" if head is None else struct.pack(fmt, head)
    return out + struct.pack(fmt, MAGIC_VALUES[magic]) + b"".join(entries)


def msg(_type: str, **fields):
    """A message of the CRIU schema by short name, e.g. msg("pstree_entry", pid=1)."""
    return message_class(_type)(**fields)


def _fown():
    return msg("fown_entry", uid=0, euid=0, signum=0, pid_type=0, pid=0)


def _desc(ident: int):
    return msg("ipc_desc_entry", key=0x1234 + ident, uid=0, gid=0, cuid=0, cgid=0, mode=0o600, id=ident)


def _sk_opts():
    return msg("sk_opts_entry", so_sndbuf=1, so_rcvbuf=2, so_snd_tmo_sec=0, so_snd_tmo_usec=0,
               so_rcv_tmo_sec=0, so_rcv_tmo_usec=0)


def synthetic_images() -> dict[str, bytes]:
    """Small hand-made images for the kinds with extra payloads and special
    renderings that the fixtures do not hold. Keyed by a CRIU file name."""
    pad = lambda data, n: data + b"\0" * (-len(data) % n)  # noqa: E731
    sem_values = struct.pack("<3H", 1, 2, 65535)
    ipc_msgs = b"".join(
        frame(msg("ipc_msg", mtype=t, msize=len(d)), pad(d, 8)) for t, d in ((1, b"first"), (7, b"second message!"))
    )
    ghost_chunks = [(0, b"head"), (8192, b"tail" * 3)]
    return {
        "sk-queues.img": build_image(
            "SK_QUEUES",
            frame(msg("sk_packet_entry", id_for=5, length=300), bytes(range(256)) + b"x" * 44),
            frame(msg("sk_packet_entry", id_for=6, length=3, scm=[msg("scm_entry", type=1, rights=[7, 8])]), b"abc"),
        ),
        "fifo-data.img": build_image(
            "FIFO_DATA", frame(msg("pipe_data_entry", pipe_id=7, bytes=5, size=65536), b"hello")
        ),
        "pipes-data.img": build_image(
            "PIPES_DATA", frame(msg("pipe_data_entry", pipe_id=9, bytes=100, size=4096), b"A" * 100),
            frame(msg("pipe_data_entry", pipe_id=10, bytes=0))
        ),
        "ipcns-sem-11.img": build_image(
            "IPCNS_SEM", frame(msg("ipc_sem_entry", desc=_desc(1), nsems=3), pad(sem_values, 8)),
            frame(msg("ipc_sem_entry", desc=_desc(2), nsems=1), pad(struct.pack("<H", 42), 8)),
        ),
        "ipcns-msg-11.img": build_image(
            "IPCNS_MSG", frame(msg("ipc_msg_entry", desc=_desc(3), qbytes=16384, qnum=2), ipc_msgs),
            frame(msg("ipc_msg_entry", desc=_desc(4), qbytes=16384, qnum=0)),
        ),
        "ipcns-shm-11.img": build_image(
            "IPCNS_SHM", frame(msg("ipc_shm_entry", desc=_desc(5), size=5), pad(b"12345", 4)),
            frame(msg("ipc_shm_entry", desc=_desc(6), size=9), pad(b"abcdefghi", 4)),
        ),
        "ghost-file-1a.img": build_image(
            "GHOST_FILE",
            frame(msg("ghost_file_entry", uid=0, gid=0, mode=0o100644, dev=(8 << 20) | 1, ino=1234,
                      atim=msg("timeval", tv_sec=1, tv_usec=2), size=11), b"deleted!!\n\0"),
        ),
        "ghost-file-2b.img": build_image(
            "GHOST_FILE",
            frame(msg("ghost_file_entry", uid=1, gid=1, mode=0o100600, chunks=True, size=8204)),
            *[frame(msg("ghost_chunk_entry", len=len(d), off=o), d) for o, d in ghost_chunks],
        ),
        "bpfmap-data.img": build_image(
            "BPFMAP_DATA", frame(msg("bpfmap_data_entry", map_id=3, keys_bytes=8, values_bytes=16, count=2),
                                 bytes(range(24)))
        ),
        "tcp-stream-1f.img": build_image(
            "TCP_STREAM",
            frame(msg("tcp_stream_entry", inq_len=3, inq_seq=1, outq_len=70, outq_seq=2, opt_mask=7,
                      snd_wscale=7, mss_clamp=1460), b"in!" + b"o" * 70),
        ),
        "unixsk.img": build_image(
            "UNIXSK",
            frame(msg("unix_sk_entry", id=1, ino=100, type=1, state=10, flags=0, uflags=0, backlog=5, peer=0,
                      fown=_fown(), opts=_sk_opts(), name=b"/run/x.sock")),
            frame(msg("unix_sk_entry", id=2, ino=101, type=2, state=7, flags=0x800, uflags=1, backlog=0, peer=100,
                      fown=_fown(), opts=_sk_opts(), name=b"\0abstract=name\xff")),
        ),
        "inetsk.img": build_image(
            "INETSK",
            frame(msg("inet_sk_entry", id=3, ino=200, family=2, type=2, proto=17, state=7, src_port=53,
                      dst_port=0, flags=0, backlog=0, src_addr=[0x0100007F], dst_addr=[0],
                      fown=_fown(), opts=_sk_opts())),
            frame(msg("inet_sk_entry", id=4, ino=201, family=10, type=1, proto=6, state=11, src_port=1,
                      dst_port=2, flags=0, backlog=0, src_addr=[0x80FE, 0, 0, 0x01000000],
                      dst_addr=[0, 0, 0, 0], fown=_fown(), opts=_sk_opts())),
        ),
        "mountpoints-3.img": build_image(
            "MNTS",
            frame(msg("mnt_entry", fstype=17, mnt_id=1, root_dev=(259 << 20) | 3, parent_mnt_id=0,
                      flags=0x1, root="/", mountpoint="/", source="overlay", options="lowerdir=/x")),
        ),
        "memfd.img": build_image(
            "MEMFD_INODE",
            frame(msg("memfd_inode_entry", name="memfd:x", uid=0, gid=0, size=4096, shmid=5, seals=0x1f | 0x40,
                      inode_id=77)),
        ),
        "netdev-9.img": build_image(
            "NETDEV",
            frame(msg("net_device_entry", type=8, ifindex=3, mtu=1480, flags=0x1043, name="sit1",
                      address=b"\x00\x11\x22\x33\x44\x55",
                      sit=msg("sit_entry", local=[0x0100000A], remote=[0x0200000A], ttl=64))),
        ),
        "core-5.img": build_image(
            "CORE",
            *[frame(msg("core_entry", mtype=1, tc=msg("task_core_entry", task_state=state, exit_code=0,
                                                        personality=0, flags=0, blk_sigset=0, comm="t")))
              for state in (1, 3, 6)],
        ),
        "signal-p-5.img": build_image("PSIGNAL", frame(msg("siginfo_entry", siginfo=b"\x11" * 128))),
        "filelocks.img": build_image(
            "FILE_LOCKS", frame(msg("file_lock_entry", flag=1, type=1, pid=5, fd=3, start=0, len=-1))
        ),
        "stats-restore": build_image(
            "STATS", frame(msg("stats_entry", restore=msg("restore_stats_entry", pages_compared=1,
                                                            pages_skipped_cow=2, forking_time=3,
                                                            restore_time=4, pages_restored=5))),
            head=HEAD_SERVICE,
        ),
    }


# ---------------------------------------------------------------------------
# comparing with crit 3.17's JSON

#: crit 3.17's task_state table: 3 and 6 swapped, 2 missing (printed as 2).
#: CRIU's real numbers (compel task-state.h): 1 Alive, 2 Dead, 3 Stopped, 6 Zombie.
CRIT_317_TASK_STATES = {1: "Alive", 3: "Zombie", 6: "Stopped"}
#: crit 3.17 names pagemap_entry field 2 `nr_pages`; it is `compat_nr_pages`
#: since CRIU put the 64-bit count in field 5 (`nr_pages`, absent from 3.17).
CRIT_317_PAGEMAP_RENAMES = {"nr_pages": "compat_nr_pages"}

#: crit's socket state table stops at 10 LISTEN and prints 11 as a number; we
#: name it (TCP_CLOSING), so a crit 11 is our "CLOSING".
CRIT_SK_STATES = {1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2",
                  6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN"}

#: Keys we print that crit 3.17 cannot: fields CRIU added after 3.17 (or a
#: renamed one), as "<MAGIC>.<path without indices>".
NEWER_FIELDS = {
    "CGROUP.controllers.is_threaded",
    "CORE.thread_core.cg_set",
    "CORE.thread_core.creds.cap_amb",
    "CORE.thread_core.creds.no_new_privs",
    "CORE.tc.stop_signo",
    "CORE.tc.membarrier_registration_mask",
    "FILES.isk.ip_opts.ttl",
    "FILES.isk.ip_opts.tos",
    "FILES.isk.ip_opts.pktinfo",
    "FILES.isk.tcp_opts",
    "INVENTORY.dump_criu_run_id",
    "INVENTORY.plugins_entry",
    "INVENTORY.allow_uprobes",
    "CORE.thread_info.fpregs.xsave.cet",
    "PAGEMAP.compat_nr_pages",
    "PAGEMAP.nr_pages",
}


def _crit317_to_ours(magic: str, index: int, oracle: dict) -> dict:
    """Translate one crit 3.17 entry into what our (current) schema says."""
    oracle = json.loads(json.dumps(oracle))  # deep copy
    if magic == "PAGEMAP" and index > 0:
        oracle = {CRIT_317_PAGEMAP_RENAMES.get(k, k): v for k, v in oracle.items()}
    if magic == "CORE" and "tc" in oracle and "task_state" in oracle["tc"]:
        shown = oracle["tc"]["task_state"]
        number = shown if isinstance(shown, int) else {v: k for k, v in CRIT_317_TASK_STATES.items()}[shown]
        oracle["tc"]["task_state"] = C.TASK_STATES.get(number, number)
    sockets = [oracle] if magic in ("INETSK", "UNIXSK") else []
    if magic == "FILES":
        sockets = [oracle[k] for k in ("isk", "usk") if k in oracle]
    for sk in sockets:
        state = sk.get("state")
        if isinstance(state, int) and state not in CRIT_SK_STATES:
            sk["state"] = C.TCP_STATES.get(state, state)
    return oracle


def compare(ours: Any, oracle: Any, path: str, extra_keys: set[str], magic: str) -> list[str]:
    """Mismatches between our rendering and crit's; keys only we print go to extra_keys."""
    if isinstance(oracle, dict):
        if not isinstance(ours, dict):
            return [f"{path}: ours is {type(ours).__name__}, crit shows an object"]
        out = []
        for key, value in oracle.items():
            if key not in ours:
                out.append(f"{path}.{key}: missing from ours (crit: {value!r:.80})")
            else:
                out += compare(ours[key], value, f"{path}.{key}", extra_keys, magic)
        for key in ours.keys() - oracle.keys():
            extra_keys.add(_generic(f"{path}.{key}", magic))
        return out
    if isinstance(oracle, list):
        if not isinstance(ours, list) or len(ours) != len(oracle):
            return [f"{path}: ours {ours!r:.80} vs crit {oracle!r:.80}"]
        out = []
        for i, (a, b) in enumerate(zip(ours, oracle, strict=True)):
            out += compare(a, b, f"{path}[{i}]", extra_keys, magic)
        return out
    if ours != oracle or type(ours) is not type(oracle):
        return [f"{path}: ours {ours!r} vs crit {oracle!r}"]
    return []


def _generic(path: str, magic: str) -> str:
    import re

    parts = [re.sub(r"\[\d+\]", "", p) for p in path.split(".")]
    # path is "entries[i].a.b"
    return ".".join([magic, *parts[1:]])


def compare_image(image: Image, crit_json: dict) -> tuple[list[str], set[str]]:
    ours = to_crit_dict(image)
    problems: list[str] = []
    extra: set[str] = set()
    if ours["magic"] != crit_json["magic"]:
        problems.append(f"magic: ours {ours['magic']} crit {crit_json['magic']}")
    if len(ours["entries"]) != len(crit_json["entries"]):
        problems.append(f"entries: ours {len(ours['entries'])} crit {len(crit_json['entries'])}")
    for i, (a, b) in enumerate(zip(ours["entries"], crit_json["entries"], strict=False)):
        problems += compare(a, _crit317_to_ours(image.magic, i, b), f"entries[{i}]", extra, image.magic)
    return problems, extra


def _oracle_cases() -> list[tuple[str, str]]:
    cases = []
    for fixture in PODMAN_ARCHIVES:
        for path in sorted((ORACLE / fixture / "crit").glob("*.json")):
            cases.append((fixture, path.name[: -len(".json")]))
    return cases


ORACLE_CASES = _oracle_cases()


# ---------------------------------------------------------------------------
# the fixtures against the oracle


def test_oracle_cases_found():
    assert len(ORACLE_CASES) > 200
    assert {f for f, _ in ORACLE_CASES} == set(PODMAN_ARCHIVES)


@pytest.mark.parametrize(("fixture", "image_name"), ORACLE_CASES, ids=[f"{f}/{i}" for f, i in ORACLE_CASES])
def test_matches_crit_oracle(checkpoint_dir, fixture, image_name):
    path = checkpoint_dir(fixture) / image_name
    image = decode_image(path.read_bytes(), image_name)
    assert image.problems == []
    assert not image.unknown_fields, [find_unknown_fields(e.message) for e in image.entries]
    crit_json = json.loads((ORACLE / fixture / "crit" / f"{image_name}.json").read_text())
    mismatches, extra = compare_image(image, crit_json)
    assert mismatches == []
    assert extra <= NEWER_FIELDS, f"keys crit does not print and we do not expect: {extra - NEWER_FIELDS}"


@pytest.mark.parametrize("fixture", list(PODMAN_ARCHIVES))
def test_every_image_of_fixture_decodes(checkpoint_dir, fixture):
    """All images of the archive: protobuf ones decode cleanly and have an
    oracle; raw ones are refused as raw."""
    directory = checkpoint_dir(fixture)
    oracle_names = {name for f, name in ORACLE_CASES if f == fixture}
    seen_raw = 0
    for path in sorted(directory.iterdir()):
        kind = expected_magic(path.name)
        if kind is None:
            assert path.suffix != ".img", f"unrecognised image name {path.name}"
            continue
        if kind == "RAW":
            seen_raw += 1
            with pytest.raises(ImageError, match="raw image"):
                decode_image(path.read_bytes(), path.name)
            continue
        image = decode_file(path)
        assert image.problems == [] and not image.unknown_fields, path.name
        assert image.entries, path.name
        assert path.name in oracle_names, f"{path.name} has no crit oracle"
        assert image.magic == kind
    assert seen_raw >= 3  # pages-*.img at least


@pytest.mark.parametrize("archive", ["containerd-checkpoint.oci.tar", "podman-checkpoint-image.oci.tar"])
def test_oci_fixture_images_decode(archive):
    images = oci_images(DATA / archive)
    decoded = 0
    for name, data in images.items():
        if expected_magic(name) == "RAW":
            continue
        image = decode_image(data, name)
        assert image.problems == [] and not image.unknown_fields, name
        to_crit_dict(image)
        decoded += 1
    assert decoded >= 20
    assert "inventory.img" in images and "pstree.img" in images


# ---------------------------------------------------------------------------
# facts of the fixtures (tests/data/README.md) and our own right answers


def test_task_state_names_are_criu_numbers():
    """CRIU: 1 Alive, 2 Dead, 3 Stopped, 6 Zombie -- crit 3.17 prints 3 as
    Zombie and 6 as Stopped; we do not copy that."""
    image = decode_image(synthetic_images()["core-5.img"], "core-5.img")
    states = [e["tc"]["task_state"] for e in to_crit_dict(image)["entries"]]
    assert states == ["Alive", "Stopped", "Zombie"]
    core = msg("core_entry", mtype=1, tc=msg("task_core_entry", task_state=2, exit_code=0, personality=0, flags=0,
                                                   blk_sigset=0, comm="x"))
    assert message_to_dict(core)["tc"]["task_state"] == "Dead"
    assert message_to_dict(core, pretty=False)["tc"]["task_state"] == 2
    # the explicit 3.17 mapping used against the oracle
    assert _crit317_to_ours("CORE", 0, {"tc": {"task_state": "Zombie"}})["tc"]["task_state"] == "Stopped"
    assert _crit317_to_ours("CORE", 0, {"tc": {"task_state": "Stopped"}})["tc"]["task_state"] == "Zombie"


@pytest.mark.parametrize("fixture", ["web-httpd", "memhog-16m-threads", "tcp-server"])
def test_pagemap_counts_match_pages_files(checkpoint_dir, fixture):
    """pagemap field 2 is compat_nr_pages (0 in CRIU 4.2 images) and field 5
    nr_pages; the present pages add up to the size of pages-<pages_id>.img."""
    directory = checkpoint_dir(fixture)
    for path in directory.glob("pagemap-*.img"):
        image = decode_file(path)
        head, *runs = image.messages
        assert head.DESCRIPTOR.name == "pagemap_head"
        assert runs and all(r.DESCRIPTOR.name == "pagemap_entry" for r in runs)
        assert all(r.compat_nr_pages == 0 and r.nr_pages > 0 for r in runs)
        present = sum(r.nr_pages for r in runs if r.flags & C.PE_PRESENT and not r.flags & C.PE_PARENT)
        pages = directory / f"pages-{head.pages_id}.img"
        assert present * C.PAGE_SIZE == pages.stat().st_size
        rendered = to_crit_dict(image)["entries"][1]
        assert rendered["vaddr"].startswith("0x") and "PE_PRESENT" in rendered["flags"]
        assert rendered["compat_nr_pages"] == 0 and rendered["nr_pages"] == runs[0].nr_pages


def test_fixture_facts(checkpoint_dir):
    # memhog: one process, four threads 1, 6, 7, 8
    pstree = decode_file(checkpoint_dir("memhog-16m-threads") / "pstree.img")
    assert [list(e.message.threads) for e in pstree.entries] == [[1, 6, 7, 8]]
    # web-httpd: httpd listens on :::8080
    files = to_crit_dict(decode_file(checkpoint_dir("web-httpd") / "files.img"))
    listen = [e["isk"] for e in files["entries"] if e["type"] == "INETSK"]
    assert any(s["state"] == "LISTEN" and s["src_port"] == 8080 and s["family"] == "INET6"
               and s["src_addr"] == ["::"] for s in listen)
    # tcp-established: nc connected to 10.88.0.27:9000
    files = to_crit_dict(decode_file(checkpoint_dir("tcp-established") / "files.img"))
    est = [e["isk"] for e in files["entries"] if e["type"] == "INETSK"]
    assert any(s["state"] == "ESTABLISHED" and s["dst_addr"] == ["10.88.0.27"] and s["dst_port"] == 9000
               for s in est)
    # tcp-server: IPv4-mapped IPv6 addresses, printed as crit does on any Python
    files = to_crit_dict(decode_file(checkpoint_dir("tcp-server") / "files.img"))
    srv = next(e["isk"] for e in files["entries"] if e["type"] == "INETSK")
    assert srv["src_addr"] == ["::ffff:a58:1b"] and srv["src_port"] == 9000
    assert srv["tcp_opts"] == {"keepcnt": 9, "keepidle": 7200, "keepintvl": 75}
    # stats-dump: all 14 dump fields
    stats = decode_file(checkpoint_dir("web-httpd") / "stats-dump")
    assert stats.head == "SERVICE" and stats.magic == "STATS"
    dump = to_crit_dict(stats)["entries"][0]["dump"]
    assert len(dump) == 14 and dump["pages_written"] > 0
    # inventory: no head word, image version 2
    inv = decode_file(checkpoint_dir("web-httpd") / "inventory.img")
    assert inv.head is None and inv.magic == "INVENTORY" and inv.entries[0].message.img_version == 2
    # creds: containers run with a bounded capability set
    core = decode_file(checkpoint_dir("web-httpd") / "core-1.img").entries[0].message
    creds = core.thread_core.creds
    caps = C.caps_from_words(list(creds.cap_eff))
    assert "CAP_CHOWN" in caps and "CAP_SYS_ADMIN" not in caps
    assert len(C.caps_from_words(list(creds.cap_bnd))) == len(caps)


def test_tcp_stream_and_pipe_payloads(checkpoint_dir):
    directory = checkpoint_dir("tcp-established")
    (stream,) = directory.glob("tcp-stream-*.img")
    image = decode_file(stream)
    entry = image.entries[0]
    assert entry.extra is not None and len(entry.extra) == entry.message.inq_len + entry.message.outq_len
    assert set(to_crit_dict(image)["entries"][0]["extra"]) == {"inq", "outq"}
    pipes = decode_file(directory / "pipes-data.img")
    assert all(len(e.extra) == e.message.bytes for e in pipes.entries)


# ---------------------------------------------------------------------------
# synthetic payload images


def test_synthetic_payloads_render_like_crit():
    imgs = {name: decode_image(data, name) for name, data in synthetic_images().items()}
    for name, image in imgs.items():
        assert image.problems == [], (name, image.problems)
        json.dumps(to_crit_dict(image))
    d = lambda n: to_crit_dict(imgs[n])["entries"]  # noqa: E731
    sk = d("sk-queues.img")
    assert base64.decodebytes(sk[0]["extra"].encode()) == bytes(range(256)) + b"x" * 44
    assert sk[0]["extra"].endswith("\n") and sk[1]["scm"] == [{"type": 1, "rights": [7, 8]}]
    assert d("fifo-data.img")[0]["extra"] == base64.encodebytes(b"hello").decode()
    assert d("pipes-data.img")[1]["extra"] == ""
    assert [e["extra"] for e in d("ipcns-sem-11.img")] == [[1, 2, 65535], [42]]
    msgs = d("ipcns-msg-11.img")
    assert msgs[0]["extra"][0] == {"mtype": 1, "msize": 5}
    assert base64.decodebytes(msgs[0]["extra"][3].encode()) == b"second message!"
    assert msgs[1]["extra"] == []
    shm = d("ipcns-shm-11.img")
    assert [base64.decodebytes(e["extra"].encode()) for e in shm] == [b"12345", b"abcdefghi"]
    ghost = d("ghost-file-1a.img")
    assert ghost[0]["dev"] == "8:1" and base64.decodebytes(ghost[0]["extra"].encode()) == b"deleted!!\n\0"
    chunks = d("ghost-file-2b.img")
    assert chunks[0]["chunks"] is True and "extra" not in chunks[0]
    assert [(c["off"], base64.decodebytes(c["extra"].encode())) for c in chunks[1:]] == [(0, b"head"),
                                                                                          (8192, b"tailtailtail")]
    assert base64.decodebytes(d("bpfmap-data.img")[0]["extra"].encode()) == bytes(range(24))
    tcp = d("tcp-stream-1f.img")[0]
    assert base64.decodebytes(tcp["extra"]["inq"].encode()) == b"in!" and tcp["opt_mask"] == "0x7"
    unix = d("unixsk.img")
    assert unix[0]["name"] == "/run/x.sock" and unix[0]["state"] == "LISTEN" and unix[0]["type"] == "STREAM"
    assert unix[1]["name"] == "=00abstract=3Dname=FF" and unix[1]["flags"] == "0x800"
    inet = d("inetsk.img")
    assert inet[0]["src_addr"] == ["127.0.0.1"] and inet[0]["proto"] == "UDP" and inet[0]["type"] == "DGRAM"
    assert inet[1]["src_addr"] == ["fe80::1"] and inet[1]["dst_addr"] == ["::"] and inet[1]["state"] == "CLOSING"
    mnt = d("mountpoints-3.img")[0]
    assert mnt["root_dev"] == "259:3" and mnt["flags"] == "0x1" and mnt["fstype"] == 17
    assert C.MOUNT_FSTYPES[mnt["fstype"]] == "overlay"
    assert d("memfd.img")[0]["seals"] == ("F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | "
                                          "F_SEAL_FUTURE_WRITE | 0x40")
    nd = d("netdev-9.img")[0]
    assert nd["type"] == "SIT" and nd["flags"] == "0x1043" and nd["sit"]["local"] == ["10.0.0.1"]
    assert nd["address"] == base64.encodebytes(b"\x00\x11\x22\x33\x44\x55").decode()
    assert imgs["signal-p-5.img"].magic == "PSIGNAL"
    assert d("filelocks.img")[0]["len"] == -1
    assert imgs["stats-restore"].head == "SERVICE"
    assert d("stats-restore")[0]["restore"]["pages_restored"] == 5


def test_plain_mode_and_unknown_display():
    image = decode_image(synthetic_images()["inetsk.img"], "inetsk.img")
    plain = to_crit_dict(image, pretty=False)["entries"][0]
    assert plain["src_addr"] == [0x0100007F] and plain["state"] == 7 and plain["flags"] == 0
    core = msg("core_entry", mtype=1)
    core.MergeFromString(b"\x98\x06\x05")  # field 99, varint 5
    assert message_to_dict(core, unknown=True) == {"mtype": "X86_64", "#99": 5}
    assert "#99" not in message_to_dict(core)


def test_as_text_round_trips_non_utf8_names():
    from google.protobuf.internal import api_implementation

    if api_implementation.Type() != "upb":
        pytest.skip("only the upb runtime hands back non-UTF-8 proto2 strings as bytes")
    entry = message_class("reg_file_entry")()
    entry.MergeFromString(b"\x32\x04/a\xff\xfe")  # name = b"/a\xff\xfe"
    assert as_text(entry.name).encode("utf-8", "surrogateescape") == b"/a\xff\xfe"
    assert message_to_dict(entry)["name"] == "/a\udcff\udcfe"
    assert as_text("plain") == "plain"


# ---------------------------------------------------------------------------
# framing, magics and names


@pytest.mark.parametrize(("name", "kind"), [
    ("inventory.img", "INVENTORY"), ("checkpoint/core-1.img", "CORE"), ("pages-2.img", "RAW"),
    ("pagemap-1.img", "PAGEMAP"), ("pagemap-shmem-5.img", "PAGEMAP"), ("signal-p-7.img", "PSIGNAL"),
    ("signal-s-7.img", "SIGNAL"), ("tcp-stream-f97e.img", "TCP_STREAM"), ("ghost-file-1a.img", "GHOST_FILE"),
    ("tmpfs-dev-44.tar.gz.img", "RAW"), ("tmpfs-3.tar.gz.img", "RAW"), ("ifaddr-10.img", "RAW"),
    ("route6-10.img", "RAW"), ("rule-10.img", "RAW"), ("ip6tables-10.img", "RAW"), ("nftables-1.img", "RAW"),
    ("netns-ct-10.img", "RAW"), ("netns-exp-10.img", "RAW"), ("netns-10.img", "NETNS"),
    ("ipcns-var-11.img", "IPC_VAR"), ("mountpoints-13.img", "MNTS"), ("stats-dump", "STATS"),
    ("stats-restore", "STATS"), ("irmap-cache", "IRMAP_CACHE"), ("files.img", "FILES"),
    ("memfd.img", "MEMFD_INODE"), ("binfmt-misc-1.img", "BINFMT_MISC"), ("timens-0.img", "TIMENS"),
    ("descriptors.json", None), ("core-x.img", None), ("spec.dump", None), ("bogus-1.img", None), ("", None),
])
def test_expected_magic(name, kind):
    assert expected_magic(name) == kind


def test_magic_table():
    assert len(MAGICS) == len(set(MAGICS.values())) >= 68
    assert MAGICS[0x58313116] == "INVENTORY" and MAGICS[0x56084025] == "PAGEMAP"
    assert MAGIC_VALUES["PSIGNAL"] == MAGIC_VALUES["SIGNAL"] == 0x59255647
    assert MAGIC_VALUES["SHMEM_PAGEMAP"] == 0x56084025
    assert 0 not in MAGICS and HEAD_COMMON not in MAGICS and HEAD_SERVICE not in MAGICS


def test_raw_and_unknown_and_wrong_magic(checkpoint_dir):
    directory = checkpoint_dir("web-httpd")
    pages = (directory / "pages-1.img").read_bytes()
    with pytest.raises(ImageError, match="raw image"):
        decode_image(pages, "checkpoint/pages-1.img")
    with pytest.raises(ImageError, match=r"unknown magic 0x[0-9a-f]{8}.*raw"):
        decode_image(pages[:64])
    with pytest.raises(ImageError, match="unknown image magic 0xdeadbeef"):
        decode_image(struct.pack("<II", HEAD_COMMON, 0xDEADBEEF) + b"\0" * 8, "core-1.img")
    core = (directory / "core-1.img").read_bytes()
    with pytest.raises(ImageError, match=r"expected a PSTREE image.*CORE"):
        decode_image(core, "pstree.img")
    with pytest.raises(ImageError, match="empty"):
        decode_image(b"", "core-1.img")
    with pytest.raises(ImageError, match="too short"):
        decode_image(b"\x19C", "core-1.img")
    with pytest.raises(ImageError, match="head word"):
        decode_image(struct.pack("<I", HEAD_COMMON))
    with pytest.raises(ImageError, match="KDAT"):
        decode_image(struct.pack("<I", 0x57023458) + b"\0" * 12)
    with pytest.raises(ImageError):
        decode_image("not bytes")  # type: ignore[arg-type]
    assert issubclass(ImageError, CkptError)
    # an image with only a header decodes to no entries
    empty = decode_image(build_image("CORE"), "core-1.img")
    assert empty.entries == [] and empty.problems == []


def test_truncation_keeps_what_precedes(checkpoint_dir):
    data = (checkpoint_dir("web-httpd") / "files.img").read_bytes()
    full = decode_image(data, "files.img")
    cut = decode_image(data[: len(data) - 10], "files.img")
    assert len(cut.entries) == len(full.entries) - 1
    assert len(cut.problems) == 1 and "truncated" in cut.problems[0]
    assert [e.message for e in cut.entries] == [e.message for e in full.entries[:-1]]
    tiny = decode_image(data[:10], "files.img")
    assert tiny.entries == [] and "trailing" in tiny.problems[0]


def test_giant_and_garbage_sizes():
    huge = build_image("CORE", struct.pack("<I", 0xFFFFFFFF) + b"\0" * 16)
    image = decode_image(huge, "core-1.img")
    assert image.entries == [] and "4294967295" in image.problems[0]
    garbage = build_image("PSTREE", frame(b"\xff" * 10))
    image = decode_image(garbage, "pstree.img")
    assert image.entries == [] and "not a valid pstree_entry" in image.problems[0]
    payload = build_image("PIPES_DATA", frame(msg("pipe_data_entry", pipe_id=1, bytes=0xFFFFFFFF), b"abc"))
    image = decode_image(payload, "pipes-data.img")
    assert len(image.entries) == 1 and image.entries[0].extra == b"abc" and "truncated payload" in image.problems[0]
    missing = build_image("PSTREE", frame(msg("pstree_entry", pid=1, ppid=0, pgid=1).SerializePartialToString()))
    image = decode_image(missing, "pstree.img")
    assert len(image.entries) == 1 and "sid" in image.problems[0]


def test_header_problems_and_big_endian():
    entries = [frame(msg("pstree_entry", pid=p, ppid=0, pgid=1, sid=1, threads=[p])) for p in (1, 2)]
    legacy = decode_image(build_image("PSTREE", *entries, head=None), "pstree.img")
    assert len(legacy.entries) == 2 and legacy.head is None and "v1.0" in legacy.problems[0]
    wrong_head = decode_image(build_image("STATS", head=HEAD_COMMON), "stats-dump")
    assert "SERVICE" in wrong_head.problems[0]
    be_entries = [frame(msg("pstree_entry", pid=p, ppid=0, pgid=1, sid=1), big_endian=True) for p in (1, 2)]
    be = decode_image(build_image("PSTREE", *be_entries, big_endian=True), "pstree.img")
    assert be.big_endian and [e.message.pid for e in be.entries] == [1, 2] and "big-endian" in be.problems[0]
    sem_entry = frame(msg("ipc_sem_entry", desc=_desc(1), nsems=2), struct.pack(">2H", 1, 2) + b"\0" * 4,
                      big_endian=True)
    sem = build_image("IPCNS_SEM", sem_entry, big_endian=True)
    assert to_crit_dict(decode_image(sem, "ipcns-sem-1.img"))["entries"][0]["extra"] == [1, 2]


def test_unknown_fields_are_kept(checkpoint_dir):
    data = (checkpoint_dir("web-httpd") / "core-1.img").read_bytes()
    image = decode_image(data, "core-1.img")
    core = image.entries[0].message
    # a field 99 at the top level and another inside thread_core, as a newer CRIU might write
    tc_bytes = core.thread_core.SerializeToString() + b"\x98\x06\x2a"
    core.thread_core.Clear()
    core.thread_core.MergeFromString(tc_bytes)
    newer = build_image("CORE", frame(core.SerializeToString() + b"\x98\x06\x07"))
    decoded = decode_image(newer, "core-1.img")
    assert decoded.unknown_fields and decoded.problems == []
    assert sorted(find_unknown_fields(decoded.entries[0].message)) == ["99", "thread_core.99"]
    assert b"\x98\x06\x2a" in decoded.entries[0].message.SerializeToString()  # kept, not dropped
    # what crit would show still matches
    assert to_crit_dict(decoded)["entries"][0]["tc"] == to_crit_dict(image)["entries"][0]["tc"]
    assert not image.unknown_fields


def test_iter_entries_streams_the_same(checkpoint_dir):
    data = (checkpoint_dir("ps-tree") / "pagemap-1.img").read_bytes()
    problems: list[str] = []
    streamed = list(iter_entries(data, "pagemap-1.img", problems))
    assert [e.message for e in streamed] == decode_image(data, "pagemap-1.img").messages
    assert problems == [] and streamed[0].offset == 8 and streamed[1].offset == 8 + 4 + streamed[0].size
    gen = iter_entries(b"nope", "core-1.img")
    with pytest.raises(ImageError):
        next(gen)


def test_decode_file_errors(tmp_path):
    with pytest.raises(ImageError, match="cannot read"):
        decode_file(tmp_path / "core-1.img")


def test_many_entries(checkpoint_dir):
    """A 50 000-entry pagemap decodes whole, with no problems (its speed is in bench/)."""
    entry = frame(msg("pagemap_entry", vaddr=0x400000, compat_nr_pages=0, flags=4, nr_pages=1))
    data = build_image("PAGEMAP", frame(msg("pagemap_head", pages_id=1)), *([entry] * 50_000))
    image = decode_image(data, "pagemap-1.img")
    assert len(image.entries) == 50_001 and image.problems == []
    assert image.entries[-1].message.nr_pages == 1


def test_constants():
    assert len(C.CAPABILITIES) == 41 and C.CAPABILITIES[40] == "CAP_CHECKPOINT_RESTORE"
    assert C.caps_from_words([1 << 21, 1 << (40 - 32)]) == ["CAP_SYS_ADMIN", "CAP_CHECKPOINT_RESTORE"]
    assert C.caps_from_words([0, 1 << 9]) == ["CAP_41"]
    assert C.caps_to_mask([0xFFFFFFFF, 0x1FF]) == (1 << 41) - 1
    assert C.TCP_STATES[1] == "ESTABLISHED" and C.TCP_STATES[10] == "LISTEN" and C.TCP_STATES[11] == "CLOSING"
    assert C.flag_names(0x3 | 0x40, C.VMA_STATUS) == ["VMA_AREA_REGULAR", "VMA_AREA_STACK", "VMA_FILE_PRIVATE"]
    assert C.flag_names(0x4 | 0x1000000, C.PAGEMAP_FLAGS) == ["PE_PRESENT", "0x1000000"]
    assert C.FD_TYPES[20] == "PIDFD" and C.NETDEV_TYPES[2] == "VETH" and C.MOUNT_FSTYPES[23] == "cgroup2"
    # the tables agree with the schema's enums
    fd_enum = message_class("fdinfo_entry").DESCRIPTOR.fields_by_name["type"].enum_type
    assert {v.number: v.name for v in fd_enum.values if v.number < 65534} == C.FD_TYPES
    nd_enum = message_class("net_device_entry").DESCRIPTOR.fields_by_name["type"].enum_type
    assert {v.number: v.name for v in nd_enum.values} == C.NETDEV_TYPES


def test_generated_modules_are_current():
    """scripts/gen_protos.py --check: the committed _pb2 modules match the .proto sources."""
    grpc_tools = pytest.importorskip("grpc_tools")
    assert grpc_tools
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(["python", str(root / "scripts" / "gen_protos.py"), "--check"],
                            capture_output=True, text=True, cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------------------
# crit itself, when it is installed (Debian: apt-get install criu)

CRIT = shutil.which("crit")


def _crit_decode(path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    result = subprocess.run([CRIT, "decode", "-i", str(path), "--pretty"], capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@lru_cache(maxsize=1)
def _crit_works() -> bool:
    if CRIT is None:
        return False
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    probe = subprocess.run([CRIT, "--help"], capture_output=True, env=env, timeout=60)
    return probe.returncode == 0


@pytest.mark.skipif(CRIT is None, reason="crit is not installed (Debian: apt-get install criu)")
def test_live_crit_on_fixture_images(checkpoint_dir):
    if not _crit_works():
        pytest.skip("crit is installed but does not run here")
    directory = checkpoint_dir("tcp-established")
    checked = set()
    for path in sorted(directory.iterdir()):
        kind = expected_magic(path.name)
        if kind in (None, "RAW") or kind in checked:
            continue  # one image of each kind keeps this quick
        checked.add(kind)
        mismatches, extra = compare_image(decode_file(path), _crit_decode(path))
        assert mismatches == [], path.name
        assert extra <= NEWER_FIELDS, path.name
    assert {"CORE", "FILES", "TCP_STREAM", "PIPES_DATA", "MM", "PAGEMAP", "STATS"} <= checked


@pytest.mark.skipif(CRIT is None, reason="crit is not installed (Debian: apt-get install criu)")
def test_live_crit_on_synthetic_images(tmp_path):
    if not _crit_works():
        pytest.skip("crit is installed but does not run here")
    for name, data in synthetic_images().items():
        if expected_magic(name) == "PSIGNAL":
            continue  # crit has no handler for signal images
        path = tmp_path / name
        path.write_bytes(data)
        mismatches, extra = compare_image(decode_image(data, name), _crit_decode(path))
        assert mismatches == [], (name, mismatches)
        assert extra <= NEWER_FIELDS, name


def test_decode_accepts_any_buffer(checkpoint_dir, tmp_path):
    import mmap

    path = checkpoint_dir("web-httpd") / "mm-1.img"
    data = path.read_bytes()
    want = decode_image(data, path.name).messages
    assert decode_image(bytearray(data), path.name).messages == want
    assert decode_image(memoryview(data), path.name).messages == want
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        image = decode_image(mapped, path.name)
    assert image.messages == want  # nothing refers to the closed mapping
    assert to_crit_dict(image)["entries"][0]["vmas"][0]["start"].startswith("0x")


def test_unknown_field_check_agrees_with_the_walk():
    """The fast check (a copy without unknown fields is smaller) says what walking every
    nested message says, on every real message and on copies given an unknown field."""
    from ckpt_tui.archive import open_source
    from ckpt_tui.criu import images

    checked = 0
    with open_source(DATA / "web-httpd.tar.zst") as src:
        for name in src.names("checkpoint/"):
            base = name.rsplit("/", 1)[-1]
            if not base.endswith(".img") or base.startswith("pages-"):
                continue
            try:
                img = images.decode_image(src.read(name), base)
            except Exception:
                continue
            for entry in img.entries:
                msg = entry.message
                assert images._has_unknown(msg) is images._has_unknown_walk(msg) is False
                # field 1999, varint 1: unknown to every schema
                odd = type(msg).FromString(msg.SerializeToString() + b"\xf8\x7c\x01")
                assert images._has_unknown(odd) is images._has_unknown_walk(odd) is True
                checked += 1
    assert checked > 50
    # a message lacking required fields cannot be sized: the fast check compares partial
    # serialisations instead, with the same answers
    for cls_name in ("file_entry", "core_entry", "mm_entry"):
        cls = images.message_class(cls_name)
        empty = cls.FromString(b"")
        assert not empty.IsInitialized()
        assert images._has_unknown(empty) is images._has_unknown_walk(empty) is False
        odd = cls.FromString(b"\xf8\x7c\x01")
        assert images._has_unknown(odd) is images._has_unknown_walk(odd) is True
