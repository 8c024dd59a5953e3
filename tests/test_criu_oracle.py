"""ckpt_tui.criu against the real fixtures and against crit (its JSON in tests/data/oracle, and
crit itself when it is installed).

Every podman fixture in tests/data is unpacked here (tarfile + zstandard, on
purpose not through ckpt_tui.archive) and every image that has an oracle JSON
in tests/data/oracle/<fixture>/crit/ is decoded and rendered with
to_crit_dict; every value crit shows must agree.

The oracle was made by crit 3.17.1 (Debian) while CRIU 4.2 wrote the images,
so two kinds of difference are expected, and both are spelled out below
instead of being silently tolerated:

* fields CRIU added after 3.17 are absent from crit's JSON: ours may carry
  extra keys, but only the ones listed in NEWER_FIELDS;
* 3.17's schema and tables differ in two places (CRIT_317_* in tests/criu_images.py).
"""

from __future__ import annotations

import json

import pytest

from ckpt_tui.criu import (
    ImageError,
    decode_file,
    decode_image,
    expected_magic,
    find_unknown_fields,
    message_to_dict,
    to_crit_dict,
)
from ckpt_tui.criu import constants as C

from .conftest import DATA, ORACLE
from .criu_images import (
    CRIT,
    NEWER_FIELDS,
    ORACLE_CASES,
    PODMAN_ARCHIVES,
    compare_image,
    crit317_to_ours,
    crit_decode,
    crit_works,
    msg,
    oci_images,
    synthetic_images,
)

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
    assert crit317_to_ours("CORE", 0, {"tc": {"task_state": "Zombie"}})["tc"]["task_state"] == "Stopped"
    assert crit317_to_ours("CORE", 0, {"tc": {"task_state": "Stopped"}})["tc"]["task_state"] == "Zombie"


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
# crit itself, when it is installed (Debian: apt-get install criu)


@pytest.mark.skipif(CRIT is None, reason="crit is not installed (Debian: apt-get install criu)")
def test_live_crit_on_fixture_images(checkpoint_dir):
    if not crit_works():
        pytest.skip("crit is installed but does not run here")
    directory = checkpoint_dir("tcp-established")
    checked = set()
    for path in sorted(directory.iterdir()):
        kind = expected_magic(path.name)
        if kind in (None, "RAW") or kind in checked:
            continue  # one image of each kind keeps this quick
        checked.add(kind)
        mismatches, extra = compare_image(decode_file(path), crit_decode(path))
        assert mismatches == [], path.name
        assert extra <= NEWER_FIELDS, path.name
    assert {"CORE", "FILES", "TCP_STREAM", "PIPES_DATA", "MM", "PAGEMAP", "STATS"} <= checked


@pytest.mark.skipif(CRIT is None, reason="crit is not installed (Debian: apt-get install criu)")
def test_live_crit_on_synthetic_images(tmp_path):
    if not crit_works():
        pytest.skip("crit is installed but does not run here")
    for name, data in synthetic_images().items():
        if expected_magic(name) == "PSIGNAL":
            continue  # crit has no handler for signal images
        path = tmp_path / name
        path.write_bytes(data)
        mismatches, extra = compare_image(decode_image(data, name), crit_decode(path))
        assert mismatches == [], (name, mismatches)
        assert extra <= NEWER_FIELDS, name
