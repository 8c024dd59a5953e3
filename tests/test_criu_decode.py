"""ckpt_tui.criu on images we make or break: the payloads of synthetic images rendered as crit
does, framing, magics and names, truncation and damage, unknown fields, the decoder's bounds;
the constants and the generated modules. (Against the real fixtures and crit: test_criu_oracle.py.)
"""

from __future__ import annotations

import base64
import json
import struct
import subprocess
from pathlib import Path

import pytest

from ckpt_tui.criu import (
    MAGICS,
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

from .conftest import DATA
from .criu_images import (
    _desc,
    build_image,
    frame,
    msg,
    synthetic_images,
)

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
