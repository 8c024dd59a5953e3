"""Robustness of the CRIU decoder (issue #7): whatever the bytes, only
CkptError subclasses escape, in bounded time and memory.

Inputs are random bytes, random bytes behind a valid head + magic, and real
images (from a fixture and the synthetic payload images) with bit flips,
truncations, insertions, deletions and corrupted size words.  Every image
that decodes is also rendered (to_crit_dict, message_to_dict with unknown
fields, find_unknown_fields), since the UI does that next.
"""

from __future__ import annotations

import json
import os
import struct
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ckpt_tui.criu import (
    MAGICS,
    ImageError,
    decode_image,
    expected_magic,
    find_unknown_fields,
    iter_entries,
    message_to_dict,
    to_crit_dict,
)
from ckpt_tui.criu.magic import HEAD_COMMON, HEAD_SERVICE
from ckpt_tui.errors import CkptError

from .conftest import DATA
from .criu_images import PODMAN_ARCHIVES, build_image, extract_checkpoint, frame, msg, synthetic_images

NAMES = [
    "", "core-1.img", "pstree.img", "files.img", "pagemap-1.img", "mm-1.img", "inventory.img", "stats-dump",
    "pages-1.img", "ghost-file-1.img", "ipcns-msg-1.img", "ipcns-sem-1.img", "ipcns-shm-1.img",
    "tcp-stream-1.img", "sk-queues.img", "pipes-data.img", "cgroup.img", "signal-p-1.img", "bogus.bin",
]

# CKPT_FUZZ_EXAMPLES=20000 for a longer local run.
FUZZ_SETTINGS = settings(
    max_examples=int(os.environ.get("CKPT_FUZZ_EXAMPLES", "300")),
    deadline=2000,  # ms per example: bounded time
    database=None,  # keep .hypothesis/ out of the work tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def exercise(data: bytes, name: str) -> None:
    """Decode and render; the only acceptable failure is a CkptError."""
    try:
        image = decode_image(data, name)
    except CkptError as exc:
        assert "internal decoder error" not in str(exc), exc
        return
    json.dumps(to_crit_dict(image))
    json.dumps(to_crit_dict(image, pretty=False))
    for entry in image.entries:
        message_to_dict(entry.message, unknown=True)
        find_unknown_fields(entry.message)
    assert all(isinstance(p, str) for p in image.problems)
    try:
        streamed = list(iter_entries(data, name))
    except CkptError:  # pragma: no cover - decode_image accepted the header
        pytest.fail("iter_entries refused what decode_image accepted")
    assert len(streamed) == len(image.entries)


_CORPUS: list[tuple[str, bytes]] = []


def corpus(tmp_dir_factory=None) -> list[tuple[str, bytes]]:
    """Real images of one fixture plus the synthetic payload images."""
    if not _CORPUS:
        import tempfile
        from pathlib import Path

        with tempfile.TemporaryDirectory() as tmp:
            directory = extract_checkpoint(DATA / PODMAN_ARCHIVES["tcp-established"], Path(tmp))
            for path in sorted(directory.iterdir()):
                kind = expected_magic(path.name)
                if kind not in (None, "RAW"):
                    _CORPUS.append((path.name, path.read_bytes()))
        _CORPUS.extend(synthetic_images().items())
    return _CORPUS


@st.composite
def mutated_images(draw):
    name, data = draw(st.sampled_from(corpus()))
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "truncate", "size", "insert", "delete", "byte"]))
        if not data:
            break
        pos = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "byte":
            data[pos] = draw(st.integers(0, 255))
        elif kind == "truncate":
            del data[pos:]
        elif kind == "size":
            value = draw(st.sampled_from([0, 1, 0x7F, 0x80, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]) |
                         st.integers(0, 0xFFFFFFFF))
            pos -= pos % 4
            data[pos:pos + 4] = struct.pack("<I", value)
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        else:
            del data[pos:pos + draw(st.integers(1, 16))]
    keep_name = draw(st.booleans())
    return (name if keep_name else draw(st.sampled_from(NAMES))), bytes(data)


@FUZZ_SETTINGS
@given(data=st.binary(max_size=4096), name=st.sampled_from(NAMES))
def test_random_bytes(data, name):
    exercise(data, name)


@FUZZ_SETTINGS
@given(
    head=st.sampled_from([HEAD_COMMON, HEAD_SERVICE, None]),
    magic=st.sampled_from(sorted(MAGICS)),
    tail=st.binary(max_size=4096),
    name=st.sampled_from(NAMES),
)
def test_random_bytes_behind_valid_magic(head, magic, tail, name):
    prefix = (b"" if head is None else struct.pack("<I", head)) + struct.pack("<I", magic)
    exercise(prefix + tail, name)
    exercise(prefix + tail, "")  # no name: every magic is accepted, so the payload decoder runs


@FUZZ_SETTINGS
@given(case=mutated_images())
def test_mutated_real_images(case):
    name, data = case
    exercise(data, name)
    exercise(data, "")


@FUZZ_SETTINGS
@given(
    magic=st.sampled_from(sorted(MAGICS)),
    entries=st.lists(st.binary(max_size=64), max_size=8),
    junk=st.binary(max_size=64),
)
def test_well_framed_garbage_messages(magic, entries, junk):
    """Correct framing around random message bytes reaches the protobuf parser."""
    data = struct.pack("<II", HEAD_COMMON, magic) + b"".join(frame(e) for e in entries) + junk
    exercise(data, "")


# ---------------------------------------------------------------------------
# bounded memory: lengths that claim gigabytes allocate nothing

_GIANT = [0x7FFFFFFF, 0xFFFFFFFF]


def _giant_cases() -> list[tuple[str, bytes]]:
    cases = []
    for size in _GIANT:
        cases.append(("core-1.img", build_image("CORE", struct.pack("<I", size) + b"\0" * 32)))
        pipe = msg("pipe_data_entry", pipe_id=1, bytes=size)
        cases.append(("pipes-data.img", build_image("PIPES_DATA", frame(pipe))))
        cases.append(("sk-queues.img", build_image("SK_QUEUES", frame(msg("sk_packet_entry", id_for=1, length=size)))))
        cases.append(("tcp-stream-1.img", build_image("TCP_STREAM", frame(msg(
            "tcp_stream_entry", inq_len=size, inq_seq=0, outq_len=size, outq_seq=0, opt_mask=0, snd_wscale=0,
            mss_clamp=0)))))
        desc = msg("ipc_desc_entry", key=1, uid=0, gid=0, cuid=0, cgid=0, mode=0, id=1)
        cases.append(("ipcns-sem-1.img", build_image("IPCNS_SEM", frame(msg("ipc_sem_entry", desc=desc, nsems=size)))))
        cases.append(("ipcns-msg-1.img", build_image("IPCNS_MSG", frame(msg("ipc_msg_entry", desc=desc, qbytes=0,
                                                                            qnum=size)), b"\0" * 4096)))
        cases.append(("ipcns-msg-1.img", build_image("IPCNS_MSG", frame(msg("ipc_msg_entry", desc=desc, qbytes=0,
                                                                            qnum=1)),
                                                     frame(msg("ipc_msg", mtype=1, msize=size)))))
        cases.append(("ipcns-shm-1.img", build_image("IPCNS_SHM", frame(msg("ipc_shm_entry", desc=desc,
                                                                            size=size << 32)))))
        cases.append(("ghost-file-1.img", build_image(
            "GHOST_FILE", frame(msg("ghost_file_entry", uid=0, gid=0, mode=0, chunks=True)),
            frame(msg("ghost_chunk_entry", len=(size << 32) | size, off=0)))))
        cases.append(("bpfmap-data.img", build_image("BPFMAP_DATA", frame(msg(
            "bpfmap_data_entry", map_id=1, keys_bytes=size, values_bytes=size, count=1)))))
    return cases


_GIANT_CASES = _giant_cases()


@pytest.mark.parametrize(("name", "data"), _GIANT_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(_GIANT_CASES)])
def test_giant_lengths_cost_nothing(name, data):
    tracemalloc.start()
    try:
        image = decode_image(data, name)
        to_crit_dict(image)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert image.problems, name
    assert peak < 4 * 1024 * 1024, f"{name}: {peak} bytes traced"  # nothing sized by the claimed length


def test_corrupting_every_size_word_of_real_images():
    """Deterministic sweep: each 4-byte-aligned word in the first 256 bytes of
    each corpus image set to 0xFFFFFFFF (a size word claiming 4 GiB when it
    hits one); the huge-size memory bound itself is checked above."""
    for name, data in corpus():
        for pos in range(0, min(len(data), 256) - 3, 4):
            exercise(data[:pos] + b"\xff\xff\xff\xff" + data[pos + 4:], name)


def test_truncating_every_real_image_everywhere():
    for name, data in corpus():
        step = max(1, len(data) // 200)
        for cut in range(0, len(data), step):
            exercise(data[:cut], name)


def test_corpus_is_real():
    names = {n for n, _ in corpus()}
    assert {"core-1.img", "files.img", "pagemap-1.img", "pipes-data.img", "inventory.img"} <= names
    assert any(n.startswith("tcp-stream-") for n in names)
    for name, data in corpus():
        assert not decode_image(data, name).problems, name


def test_non_ckpt_errors_never_escape_for_odd_inputs():
    for data in (b"", b"\0", bytearray(b"\x19\x43\x56\x54" * 3), memoryview(b"\x16\x31\x31\x58" + b"\x00" * 8)):
        exercise(bytes(data), "")
    with pytest.raises(ImageError):
        decode_image(12345)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# issue #19: the bounds on what one image may make the decoder build


@FUZZ_SETTINGS
@given(
    magic=st.sampled_from(["PAGEMAP", "FDINFO", "FILES", "CORE", "MM", "PSTREE", "TCP_STREAM"]),
    sizes=st.lists(st.integers(0, 40), max_size=60),
    limit=st.none() | st.integers(0, 30),
    seed=st.binary(min_size=1, max_size=64),
)
def test_entry_bounds_hold_for_any_framing(magic, sizes, limit, seed):
    """Any number of entries of any sizes: never more than the bound decoded, ``truncated``
    exactly when a bound (not damage) stopped it, iter_entries agreeing with decode_image,
    and at most MAX_IMAGE_PROBLEMS + a few problems."""
    from ckpt_tui.criu import images

    body = b"".join(frame((seed * 41)[:n]) for n in sizes)
    data = build_image(magic, body)
    try:
        image = decode_image(data, "", max_entries=limit)
    except CkptError:
        return
    bound = images.entry_limit(magic) if limit is None else limit
    assert len(image.entries) <= bound
    if len(image.entries) < min(bound, len(sizes)) and not image.truncated:
        assert image.problems  # stopped early by damage, and said so
    assert len(image.problems) <= images.MAX_IMAGE_PROBLEMS + 3
    assert len(list(iter_entries(data, "", max_entries=limit))) == len(image.entries)
    exercise(data, "")


@FUZZ_SETTINGS
@given(words=st.lists(st.integers(0, 0xFFFFFFFF), max_size=40))
def test_capabilities_of_any_length(words):
    from ckpt_tui.criu.constants import MAX_CAP_WORDS, caps_from_words, caps_to_mask

    names = caps_from_words(words)
    assert names == caps_from_words(words[:MAX_CAP_WORDS])
    assert len(names) == bin(caps_to_mask(words)).count("1") <= 32 * MAX_CAP_WORDS
