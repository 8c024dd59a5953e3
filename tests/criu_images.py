"""Helpers of the CRIU decoder tests (test_criu_oracle.py, test_criu_decode.py, test_criu_fuzz.py,
test_criu_42_images.py): the podman fixtures unpacked (tarfile + zstandard, on purpose not through
ckpt_tui.archive), synthetic images framed by hand, and the comparison of our to_crit_dict with
crit's JSON.

The oracle was made by crit 3.17.1 (Debian) while CRIU 4.2 wrote the images, so two kinds of
difference are expected, and both are spelled out below instead of being silently tolerated:

* fields CRIU added after 3.17 are absent from crit's JSON: ours may carry extra keys, but only
  the ones listed in NEWER_FIELDS;
* 3.17's schema and tables differ in two places (CRIT_317_* below).
"""

from __future__ import annotations

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

import zstandard

from ckpt_tui.criu import (
    Image,
    expected_magic,
    message_class,
    to_crit_dict,
)
from ckpt_tui.criu import constants as C
from ckpt_tui.criu.magic import HEAD_COMMON, HEAD_SERVICE, MAGIC_VALUES

from .conftest import FIXTURE_FILES, ORACLE

#: the podman archives crit was run on -> file in tests/data
PODMAN_ARCHIVES = FIXTURE_FILES

# ---------------------------------------------------------------------------
# unpacking the fixtures (shared with test_criu_fuzz.py and test_criu_42_images.py)


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


def crit317_to_ours(magic: str, index: int, oracle: dict) -> dict:
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
        problems += compare(a, crit317_to_ours(image.magic, i, b), f"entries[{i}]", extra, image.magic)
    return problems, extra


def _oracle_cases() -> list[tuple[str, str]]:
    cases = []
    for fixture in PODMAN_ARCHIVES:
        for path in sorted((ORACLE / fixture / "crit").glob("*.json")):
            cases.append((fixture, path.name[: -len(".json")]))
    return cases


ORACLE_CASES = _oracle_cases()


# ---------------------------------------------------------------------------
# crit itself, when it is installed (Debian: apt-get install criu)

CRIT = shutil.which("crit")


def crit_decode(path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    result = subprocess.run([CRIT, "decode", "-i", str(path), "--pretty"], capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@lru_cache(maxsize=1)
def crit_works() -> bool:
    if CRIT is None:
        return False
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    probe = subprocess.run([CRIT, "--help"], capture_output=True, env=env, timeout=60)
    return probe.returncode == 0
