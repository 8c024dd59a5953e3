"""The schemas against what CRIU 4.2 writes: the turn-2 fixtures decode completely.

tests/data/turn2/ was dumped by CRIU 4.2 on a CPU with CET shadow stacks, so
every core image carries user_x86_xsave_entry field 9 (the CET user state),
which the schemas lacked before they were brought up to CRIU 4.2.  The oracle
fixtures (tests/data/*.tar*) come from a CPU without CET and never had it.

Debian's crit (CRIU 3.17) predates field 9 and drops it silently: the live
crit test below checks that every value it shows agrees with ours and that
the CET state is among the keys only we print (NEWER_FIELDS).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ckpt_tui.criu import (
    ImageError,
    decode_file,
    decode_image,
    expected_magic,
    find_unknown_fields,
    message_class,
    to_crit_dict,
)
from ckpt_tui.criu import constants as C
from ckpt_tui.criu.writer import encode_image
from ckpt_tui.model import load_checkpoint
from tests.corpus import unpack
from tests.criu_images import (
    CRIT,
    NEWER_FIELDS,
    compare_image,
    crit_decode,
    crit_works,
    extract_checkpoint,
)

TURN2 = Path(__file__).parent / "data" / "turn2"
ARCHIVES = sorted(p.name for p in TURN2.glob("*.tar.zst"))
#: Linux's default PKRU (init_pkru_value): access disabled for every protection key but 0.
LINUX_DEFAULT_PKRU = 0x55555554
#: XSAVE component -> the user_x86_xsave_entry field CRIU stores it in.
STORED_COMPONENTS = {
    "XFEATURE_YMM": "ymmh_space", "XFEATURE_BNDREGS": "bndreg_state", "XFEATURE_BNDCSR": "bndcsr_state",
    "XFEATURE_OPMASK": "opmask_reg", "XFEATURE_ZMM_Hi256": "zmm_upper", "XFEATURE_Hi16_ZMM": "hi16_zmm",
    "XFEATURE_PKRU": "pkru",
}


@pytest.fixture(scope="module")
def turn2_dir(tmp_path_factory):
    """turn2_dir("tty.tar.zst") -> a directory with that archive's CRIU images (flat)."""
    done: dict[str, Path] = {}

    def get(archive: str) -> Path:
        if archive not in done:
            done[archive] = extract_checkpoint(TURN2 / archive, tmp_path_factory.mktemp("turn2"))
        return done[archive]

    return get


def test_turn2_archives_found():
    assert ARCHIVES == ["diff-a1.tar.zst", "diff-a2.tar.zst", "tty.tar.zst", "volume-devshm.tar.zst"]


@pytest.mark.parametrize("archive", ARCHIVES)
def test_every_turn2_image_decodes_completely(turn2_dir, archive):
    """Each protobuf image decodes with no problems and no unknown field, and
    re-encodes to the very bytes CRIU wrote (nothing dropped, nothing guessed)."""
    kinds = set()
    for path in sorted(turn2_dir(archive).iterdir()):
        kind = expected_magic(path.name)
        if kind is None:
            assert path.suffix != ".img", f"unrecognised image name {path.name}"
            continue
        if kind == "RAW":
            with pytest.raises(ImageError, match="raw image"):
                decode_image(path.read_bytes(), path.name)
            continue
        image = decode_file(path)
        assert image.problems == [], path.name
        assert not image.unknown_fields, (path.name, [find_unknown_fields(e.message) for e in image.entries])
        assert image.entries and image.magic == kind, path.name
        to_crit_dict(image)
        rebuilt = encode_image(image.magic, [(e.message, e.extra or b"") for e in image.entries])
        assert rebuilt == path.read_bytes(), path.name
        kinds.add(kind)
    assert {"INVENTORY", "PSTREE", "CORE", "MM", "PAGEMAP", "FILES", "FDINFO", "STATS"} <= kinds


@pytest.mark.parametrize("archive", ARCHIVES)
def test_model_has_no_unknown_field_problem(archive):
    """What `inspect` showed before: "holds fields this version does not know"."""
    with load_checkpoint(TURN2 / archive, keep_pages=False) as ck:
        assert ck.processes
        unknown = [p for p in ck.problems if "does not know" in p.message]
        assert unknown == []


def _tasks(directory: Path):
    """(pid, tid, core_entry, [vma_entry]) for every thread of the dump."""
    pstree = decode_file(directory / "pstree.img")
    for entry in pstree.entries:
        pid = entry.message.pid
        vmas = list(decode_file(directory / f"mm-{pid}.img").entries[0].message.vmas)
        for tid in entry.message.threads or [pid]:
            yield pid, tid, decode_file(directory / f"core-{tid}.img").entries[0].message, vmas


@pytest.mark.parametrize("archive", ARCHIVES)
def test_xsave_cet_state_is_decoded(turn2_dir, archive):
    """xsave.cet is there for every thread, with what the rest of the dump says:
    no VMA is a shadow stack (VMA_AREA_SHSTK in mm-PID.img), so the shadow stack
    is off (ARCH_SHSTK_SHSTK clear) and there is no shadow stack pointer."""
    seen = 0
    for pid, tid, core, vmas in _tasks(turn2_dir(archive)):
        assert C.ARCHITECTURES[core.mtype] == "X86_64"
        xsave = core.thread_info.fpregs.xsave
        assert xsave.HasField("cet"), (pid, tid)
        assert not any(v.status & dict(C.VMA_STATUS)["VMA_AREA_SHSTK"] for v in vmas), (pid, tid)
        assert not xsave.cet.cet & C.ARCH_SHSTK_SHSTK and xsave.cet.ssp == 0, (pid, tid)
        rendered = to_crit_dict(decode_file(turn2_dir(archive) / f"core-{tid}.img"))
        assert rendered["entries"][0]["thread_info"]["fpregs"]["xsave"]["cet"] == {"cet": "0x0", "ssp": "0x0"}
        # every component xstate_bv says is live is stored; PKRU holds Linux's default
        features = C.flag_names(xsave.xstate_bv, C.XSAVE_FEATURES)
        for feature in features:
            if feature in STORED_COMPONENTS:
                assert len(getattr(xsave, STORED_COMPONENTS[feature])) > 0, (tid, feature)
        assert "XFEATURE_PKRU" in features and xsave.pkru[0] == LINUX_DEFAULT_PKRU
        seen += 1
    assert seen >= 1


def test_cpu_without_cet_has_no_cet_state(tmp_path):
    """The oracle fixtures' CPU had no shadow stacks: no xsave.cet, and the model says None."""
    directory = extract_checkpoint(TURN2.parent / "web-httpd.tar.zst", tmp_path)
    cores = [core for _, _, core, _ in _tasks(directory)]
    assert cores and not any(c.thread_info.fpregs.xsave.HasField("cet") for c in cores)
    with load_checkpoint(TURN2.parent / "web-httpd.tar.zst", keep_pages=False) as ck:
        threads = [t for p in ck.processes.values() for t in p.threads]
        assert threads and {t.shadow_stack for t in threads} == {None}
        assert {t.xstate_bv for t in threads} == {c.thread_info.fpregs.xsave.xstate_bv for c in cores}


def test_model_reads_xsave_features_and_shadow_stack(tmp_path):
    """Thread.xstate_bv / Thread.shadow_stack from the real tty dump, then from a
    copy whose core-1.img says the shadow stack is on (derived with the project's
    image writer: no fixture has a task using one)."""
    root = unpack("turn2/tty.tar.zst", tmp_path / "tty")
    with load_checkpoint(root, keep_pages=False) as ck:
        (thread,) = ck.processes[1].threads
        assert thread.shadow_stack is False
        assert thread.xstate_bv == 0x202  # SSE and PKRU state live; x87 and AVX in their init state
        assert C.flag_names(thread.xstate_bv, C.XSAVE_FEATURES) == ["XFEATURE_SSE", "XFEATURE_PKRU"]

    core_path = root / "checkpoint" / "core-1.img"
    image = decode_file(core_path)
    core = image.entries[0].message
    core.thread_info.fpregs.xsave.cet.cet = C.ARCH_SHSTK_SHSTK | dict(C.CET_FEATURES)["ARCH_SHSTK_WRSS"]
    core.thread_info.fpregs.xsave.cet.ssp = 0x7FFFF7FFEFF8
    core_path.write_bytes(encode_image("CORE", [core]))
    changed = to_crit_dict(decode_file(core_path))["entries"][0]["thread_info"]["fpregs"]["xsave"]["cet"]
    assert changed == {"cet": "0x3", "ssp": "0x7ffff7ffeff8"}
    with load_checkpoint(root, keep_pages=False) as ck:
        assert ck.processes[1].threads[0].shadow_stack is True


def _field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field (wire type 2), written by hand."""
    assert number < 16 and len(payload) < 128
    return bytes([number << 3 | 2, len(payload)]) + payload


def test_fields_new_since_317_decode_from_raw_bytes(turn2_dir):
    """netns_entry.ipv4_sysctl (10) and thread_info_aarch64.pac_keys (5): no
    fixture has them (the container's network namespace is external, the CPU
    is x86), so they are written here as raw wire bytes from CRIU 4.2's field
    numbers and must decode as those fields, not as unknown ones."""
    netns_path = next(turn2_dir("diff-a1.tar.zst").glob("netns-*.img"))
    netns = decode_file(netns_path).entries[0].message
    sysctl = b"\x08\x05" + b"\x1a\x030\t0"  # type CTL_STR, sarg "0\t0" (ping_group_range "0 0")
    grown = type(netns).FromString(netns.SerializeToString() + _field(10, sysctl))
    assert not find_unknown_fields(grown)
    assert [(s.type, s.sarg) for s in grown.ipv4_sysctl] == [(5, "0\t0")]
    assert grown.ext_key == netns.ext_key

    ti = message_class("thread_info_aarch64")
    address = b"".join(bytes([n << 3, n]) for n in range(1, 10))  # apiakey_lo = 1 ... pac_enabled_key = 9
    generic = b"\x08\x0a\x10\x0b"  # apgakey_lo = 10, apgakey_hi = 11
    base = b"\x08\x00\x10\x00" + _field(3, b"\x10\x00\x18\x00\x20\x00") + _field(4, b"\x10\x00\x18\x00")
    decoded = ti.FromString(base + _field(5, _field(6, address) + _field(7, generic)))
    assert not find_unknown_fields(decoded)
    keys = decoded.pac_keys
    assert (keys.pac_address_keys.apiakey_lo, keys.pac_address_keys.pac_enabled_key) == (1, 9)
    assert (keys.pac_generic_keys.apgakey_lo, keys.pac_generic_keys.apgakey_hi) == (10, 11)


@pytest.mark.skipif(CRIT is None, reason="crit is not installed (Debian: apt-get install criu)")
def test_live_crit_on_turn2_images(turn2_dir):
    """crit 3.17 agrees on every value it can show, one image of each kind; the
    CET state is a key only we print (crit's schema has no xsave field 9)."""
    if not crit_works():
        pytest.skip("crit is installed but does not run here")
    checked: set[str] = set()
    extra_seen: set[str] = set()
    for archive in ARCHIVES:
        for path in sorted(turn2_dir(archive).iterdir()):
            kind = expected_magic(path.name)
            if kind in (None, "RAW") or kind in checked:
                continue
            checked.add(kind)
            crit = crit_decode(path)
            mismatches, extra = compare_image(decode_file(path), crit)
            assert mismatches == [], path.name
            assert extra <= NEWER_FIELDS, path.name
            extra_seen |= extra
            if kind == "CORE":
                assert "cet" not in crit["entries"][0]["thread_info"]["fpregs"]["xsave"]
    assert "CORE.thread_info.fpregs.xsave.cet" in extra_seen
    assert {"CORE", "TTY_INFO", "FILES", "MM", "FIFO_DATA"} <= checked
