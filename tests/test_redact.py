"""``ckpt-tui redact``: the copy is of the same kind, opens, and differs from the original only
inside the ranges its record names, each of them filler; the secrets are gone from it.

The real fixtures carry real secrets (ps-tree's ``DB_PASSWORD=hunter2`` in every environment,
config.dump and spec.dump; memhog's ``API_TOKEN=tok_live_...`` on its heap). Shapes no fixture has
(a root FS diff holding secret files, gzip'd; a bare CRIU directory; a pod) are derived from the
real fixtures by unpacking them and adding to them with tarfile, as each test says.
"""

from __future__ import annotations

import gzip
import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest

from ckpt_tui.actions.redact import RECORD_NAME, redact_checkpoint
from ckpt_tui.annotations import CKPT_TUI_REDACTED
from ckpt_tui.cli import main
from ckpt_tui.errors import CkptError
from ckpt_tui.model import load_checkpoint
from ckpt_tui.model.masking import FILLER

from .conftest import DATA
from .corpus import unpack
from .test_cli_pods import _pod_dir

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # AWS's documentation example, not a live key
PEM = ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n"
       "-----END RSA PRIVATE KEY-----\n")


def _bytes(ck, name: str) -> bytes:
    with ck.open_member(name) as fh:
        return fh.read()


def _record(ck) -> dict:
    # a bare CRIU directory's files are seen under checkpoint/
    return json.loads(_bytes(ck, RECORD_NAME if ck.has(RECORD_NAME) else "checkpoint/" + RECORD_NAME))


def _ranges(entry: dict) -> list[list]:
    return entry.get("ranges") or [r for rs in entry.get("files", {}).values() for r in rs]


def assert_only_recorded_ranges_differ(orig, copy) -> dict:
    """Every member of the copy against the original: the same bytes outside the recorded
    ranges, filler inside them; JSON members the same document but for the recorded values."""
    record = _record(copy)
    for name in orig.member_names():
        member = orig.member(name)
        if member.type != "file":
            assert copy.member(name) is not None and copy.member(name).type == member.type, name
            continue
        if name in record["stripped"]:
            assert not copy.has(name)
            continue
        entry = record["members"].get(name, {})
        before, after = _bytes(orig, name), _bytes(copy, name)
        if entry.get("rewritten"):
            _assert_same_json_but(json.loads(before), json.loads(after), {v["path"] for v in entry["values"]})
            continue
        if before[:2] == b"\x1f\x8b" and entry:  # a gzip'd tar: the record's offsets are uncompressed
            before, after = gzip.decompress(before), gzip.decompress(after)
        assert len(before) == len(after), name
        expected = bytearray(before)
        for lo, hi, _rule in _ranges(entry):
            assert after[lo:hi] == FILLER * (hi - lo), (name, lo, hi)
            assert before[lo:hi] != FILLER * (hi - lo), (name, lo, hi)  # it covered something
            expected[lo:hi] = FILLER * (hi - lo)
        assert bytes(expected) == after, name
    return record


def _assert_same_json_but(before, after, paths: set[str], path: str = "") -> None:
    if isinstance(before, dict):
        if path == "" and CKPT_TUI_REDACTED in after.get("annotations", {}):
            after = {**after, "annotations": {k: v for k, v in after["annotations"].items() if k != CKPT_TUI_REDACTED}}
        assert list(before) == list(after)
        for key in before:
            _assert_same_json_but(before[key], after[key], paths, f"{path}.{key}" if path else key)
    elif isinstance(before, list):
        assert len(before) == len(after)
        for i, (a, b) in enumerate(zip(before, after, strict=True)):
            _assert_same_json_but(a, b, paths, f"{path}[{i}]")
    elif path in paths:
        assert isinstance(after, str) and after != before and len(after.encode()) == len(before.encode())
        assert FILLER.decode() in after
    else:
        assert before == after, path


def _all_bytes(ck) -> bytes:
    return b"".join(_bytes(ck, n) for n in ck.member_names() if ck.member(n).type == "file")


@pytest.fixture(scope="module")
def ps_copy(tmp_path_factory):
    out = tmp_path_factory.mktemp("redact") / "ps-tree-redacted.tar.gz"
    with load_checkpoint(DATA / "ps-tree.tar.gz") as ck:
        result = redact_checkpoint(ck, out)
    return out, result


def test_ps_tree_copy_is_a_gzip_archive_that_differs_only_where_recorded(ps_copy):
    out, result = ps_copy
    assert out.read_bytes()[:2] == b"\x1f\x8b" and result.kind == "tar+gzip"
    with load_checkpoint(DATA / "ps-tree.tar.gz") as orig, load_checkpoint(out) as copy:
        assert copy.source_kind == "tar+gzip"
        record = assert_only_recorded_ranges_differ(orig, copy)
        # every CRIU image keeps its size
        for name in orig.member_names("checkpoint/"):
            assert copy.member(name).size == orig.member(name).size, name
        assert record["fills"] == result.fills > 0 and record["memory"] == "filled"
        assert {"config.dump", "spec.dump"} <= set(record["members"])
        assert all(f"checkpoint/pages-{n}.img" in record["members"] for n in range(1, 7))
        # the secret is gone from every member, the copy decodes as the original and opens without new problems
        assert b"hunter2" in _all_bytes(orig) and b"hunter2" not in _all_bytes(copy)
        assert [p.pid for p in copy.process_list()] == [p.pid for p in orig.process_list()]
        assert [p.cmdline for p in copy.process_list()] == [p.cmdline for p in orig.process_list()]
        assert [x.message for x in copy.problems] == [x.message for x in orig.problems]
        for proc in copy.process_list():
            env = proc.env_dict
            assert env["DB_PASSWORD"] == "*******" and env["APP_MODE"] == "inspect-me"
            assert [v.name for v in proc.env] == [v.name for v in orig.processes[proc.pid].env]
        assert list(copy.search_memory(b"hunter2")) == [] and list(orig.search_memory(b"hunter2"))
        spec = json.loads(_bytes(copy, "spec.dump"))
        mark = json.loads(spec["annotations"][CKPT_TUI_REDACTED])
        assert mark["record"] == RECORD_NAME and mark["memory"] == "filled"


def test_json_members_keep_their_layout_byte_for_byte_outside_the_values(ps_copy):
    """podman's config.dump is Go's indented JSON with \\u0026 escapes: the copy is written the same."""
    out, _ = ps_copy
    with load_checkpoint(DATA / "ps-tree.tar.gz") as orig, load_checkpoint(out) as copy:
        before, after = _bytes(orig, "config.dump"), _bytes(copy, "config.dump")
        assert len(before) == len(after) and b"\\u0026" in after
        assert before.replace(b"DB_PASSWORD=hunter2", b"DB_PASSWORD=*******") == after


def test_heap_token_of_memhog_is_filled_and_the_memory_map_is_the_same(tmp_path):
    out = tmp_path / "mem.tar.zst"
    with load_checkpoint(DATA / "memhog-16m-threads.tar.zst") as ck:
        redact_checkpoint(ck, out)
    assert out.read_bytes()[:4] == b"\x28\xb5\x2f\xfd"  # zstd, as the original
    with load_checkpoint(DATA / "memhog-16m-threads.tar.zst") as orig, load_checkpoint(out) as copy:
        record = assert_only_recorded_ranges_differ(orig, copy)
        assert "checkpoint/pages-1.img" in record["members"]
        assert list(orig.search_memory(b"tok_live_4f8a2c91e7b3"))
        assert list(copy.search_memory(b"tok_live_4f8a2c91e7b3")) == []
        [hit] = copy.search_memory(b"API_TOKEN=")
        assert hit.after.startswith(FILLER * 20)
        assert [(v.start, v.end, v.pages_present) for v in copy.processes[1].vmas] == \
               [(v.start, v.end, v.pages_present) for v in orig.processes[1].vmas]
        assert len(list(copy.search_memory(b"CKPT-MARKER-"))) == 16  # the rest of memory is untouched


def _with_secret_rootfs(base: Path, compress: bool = False) -> Path:
    """web-httpd unpacked, its rootfs-diff.tar with two secret files added (and gzip'd on demand)."""
    root = unpack("web-httpd.tar.zst", base / "web")
    tar_path = root / "rootfs-diff.tar"
    buf = io.BytesIO()
    with tarfile.open(tar_path) as src, tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as dst:
        for ti in src:
            dst.addfile(ti, src.extractfile(ti) if ti.isreg() else None)
        for name, text in (("etc/app.env", f"REGION=eu\nAWS_SECRET_ACCESS_KEY={AWS_SECRET}\n"),
                           ("root/.ssh/id_rsa", PEM)):
            data = text.encode()
            ti = tarfile.TarInfo(name)
            ti.size, ti.mtime = len(data), 1_700_000_000
            dst.addfile(ti, io.BytesIO(data))
    tar_path.write_bytes(gzip.compress(buf.getvalue(), mtime=0) if compress else buf.getvalue())
    return root


@pytest.mark.parametrize("compress", [False, True], ids=["tar", "gzip"])
def test_root_fs_diff_files_are_filled_in_place(tmp_path, compress):
    root = _with_secret_rootfs(tmp_path, compress)
    out = tmp_path / "copy"
    with load_checkpoint(root) as ck:
        result = redact_checkpoint(ck, out)
    assert out.is_dir() and result.kind == "directory" and (out / RECORD_NAME).is_file()
    with load_checkpoint(root) as orig, load_checkpoint(out) as copy:
        record = assert_only_recorded_ranges_differ(orig, copy)
        files = record["members"]["rootfs-diff.tar"]["files"]
        assert set(files) == {"etc/app.env", "root/.ssh/id_rsa"}
        env = copy.read_rootfs_file("etc/app.env").decode()
        assert env == f"REGION=eu\nAWS_SECRET_ACCESS_KEY={'*' * len(AWS_SECRET)}\n"
        assert copy.read_rootfs_file("root/.ssh/id_rsa") == b"*" * (len(PEM) - 1) + b"\n"
        assert copy.read_rootfs_file("etc/motd") == orig.read_rootfs_file("etc/motd")
        assert [(e.path, e.size) for e in copy.rootfs.entries] == [(e.path, e.size) for e in orig.rootfs.entries]
        if not compress:
            assert copy.member("rootfs-diff.tar").size == orig.member("rootfs-diff.tar").size


def test_bare_criu_directory_stays_bare(tmp_path):
    """ps-tree's checkpoint/ alone, as `criu dump -D` leaves it."""
    full = unpack("ps-tree.tar.gz", tmp_path / "full")
    bare = tmp_path / "bare"
    shutil.copytree(full / "checkpoint", bare)
    out = tmp_path / "bare-copy"
    with load_checkpoint(bare) as ck:
        assert ck.source_kind == "criu-directory"
        redact_checkpoint(ck, out)
    assert (out / "inventory.img").is_file() and not (out / "checkpoint").exists()
    with load_checkpoint(bare) as orig, load_checkpoint(out) as copy:
        assert copy.source_kind == "criu-directory"
        assert_only_recorded_ranges_differ(orig, copy)
        assert {p.env_dict["DB_PASSWORD"] for p in copy.process_list()} == {"*******"}


def test_strip_pages_leaves_memory_out_and_says_what_is_missing(tmp_path):
    out = tmp_path / "meta.tar"
    with load_checkpoint(DATA / "ps-tree-uncompressed.tar") as ck:
        result = redact_checkpoint(ck, out, strip_pages=True)
    with load_checkpoint(DATA / "ps-tree-uncompressed.tar") as orig, load_checkpoint(out) as copy:
        assert copy.source_kind == "tar"
        record = assert_only_recorded_ranges_differ(orig, copy)
        pages = [n for n in orig.member_names("checkpoint/") if n.rsplit("/", 1)[-1].startswith("pages-")]
        assert sorted(record["stripped"]) == sorted(pages) == sorted(result.stripped)
        assert record["memory"] == "stripped" and "memory pages" in record["lacks"]
        assert [p.pid for p in copy.process_list()] == [p.pid for p in orig.process_list()]
        assert all(not p.env for p in copy.process_list())
        assert b"hunter2" not in _all_bytes(copy)
        assert any("pages-1.img" in x.source for x in copy.problems)


def test_pod_containers_are_redacted_each(tmp_path):
    root = _pod_dir(tmp_path)
    out = tmp_path / "pod-copy"
    with load_checkpoint(root) as ck:
        redact_checkpoint(ck, out)
    with load_checkpoint(root) as orig, load_checkpoint(out) as copy:
        record = assert_only_recorded_ranges_differ(orig, copy)
        assert "bbb222-tree/checkpoint/pages-1.img" in record["members"]
        tree = next(c for c in copy.containers if c.info.name == "tree")
        assert {p.env_dict.get("DB_PASSWORD") for p in tree.process_list()} == {"*******"}


def test_refusals(tmp_path):
    with load_checkpoint(DATA / "ps-tree.tar.gz") as ck:
        taken = tmp_path / "taken"
        taken.write_text("x")
        with pytest.raises(CkptError, match="exists"):
            redact_checkpoint(ck, taken)
        with pytest.raises(CkptError, match="not a directory"):
            redact_checkpoint(ck, tmp_path / "no" / "such" / "x.tar.gz")
    with load_checkpoint(DATA / "ps-tree.tar.gz") as ck:  # a kind no writer writes
        ck.source.kind = "registry"
        with pytest.raises(CkptError, match="cannot write a redacted copy of a registry checkpoint"):
            redact_checkpoint(ck, tmp_path / "r.tar")
    assert not list(tmp_path.glob("*.part"))


def test_cli_redact(tmp_path, capsys):
    out = tmp_path / "r.tar.gz"
    assert main(["redact", str(DATA / "ps-tree.tar.gz"), "-o", str(out), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["output"] == str(out) and got["kind"] == "tar+gzip" and got["fills"] > 0
    assert "spec.dump" in got["members"] and got["rules"]["environment-value"] >= 1
    assert main(["redact", str(DATA / "ps-tree.tar.gz"), "-o", str(out)]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["redact", str(DATA / "tcp-server.tar.zst"), "-o", str(tmp_path / "m.tar.zst"),
                 "--strip-pages", "-q"]) == 0
    text = capsys.readouterr().out
    assert "Left out 3 pages images" in text and "lacks the memory pages" in text


def test_checkpoint_image_copy_is_an_image_with_the_original_name_and_annotations(tmp_path):
    """podman's checkpoint image (oci-archive): the copy is written by the image writer."""
    out = tmp_path / "image-redacted.oci.tar"
    with load_checkpoint(DATA / "podman-checkpoint-image.oci.tar") as ck:
        result = redact_checkpoint(ck, out)
    assert result.kind == "oci-archive" and result.output == str(out)
    with load_checkpoint(DATA / "podman-checkpoint-image.oci.tar") as orig, load_checkpoint(out) as copy:
        assert copy.source_kind == "oci-archive"
        assert_only_recorded_ranges_differ(orig, copy)
        for key in ("io.podman.annotations.checkpoint.criu.version", "io.podman.annotations.checkpoint.podman.version",
                    "io.podman.annotations.checkpoint.name"):
            assert copy.info.image_annotations[key] == orig.info.image_annotations[key], key
        assert [p.cmdline for p in copy.process_list()] == [p.cmdline for p in orig.process_list()]
    from ckpt_tui.actions.build.reference import ref_name_of

    assert ref_name_of(out) == ref_name_of(DATA / "podman-checkpoint-image.oci.tar") != ""


def test_the_copy_diffs_against_the_original_only_where_it_was_redacted(ps_copy, capsys):
    """The copy "still diffs": `ckpt-tui diff ORIGINAL COPY` matches every process by identity and
    reports only the filled environment value, the page holding it, and the redaction's mark."""
    out, _result = ps_copy
    assert main(["diff", str(DATA / "ps-tree.tar.gz"), str(out), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    summary = report["summary"]
    for area in ("metadata", "files", "mounts", "network", "stats", "layers"):
        assert summary[area]["added"] == summary[area]["removed"] == summary[area]["modified"] == 0, area
    assert summary["processes"] == {"added": 0, "removed": 0, "modified": 6, "unchanged": 0}
    assert summary["annotations"]["modified"] == 1  # the org.ckpt-tui.redacted mark
    with load_checkpoint(DATA / "ps-tree.tar.gz") as orig:
        assert_processes_differ_only_in_env(report, orig, "DB_PASSWORD", "*" * len("hunter2"))


def assert_processes_differ_only_in_env(report: dict, orig, name: str, value: str) -> None:
    """Every process of a ``diff ORIGINAL COPY --json`` report is matched by identity, and differs in
    the one variable ``name`` (now ``value``) and in the pages holding its environment block only."""
    for node in report["sections"]["processes"]["children"]:
        assert node["matched_by"] == "identity" and node["pid_a"] == node["pid_b"]
        kinds = {child["kind"]: child for child in node["children"]}
        assert set(kinds) == {"environment", "memory"}, node["key"]
        assert [(e["key"], e["changes"][0]["b"]) for e in kinds["environment"]["children"]] == [(name, value)]
        mm = orig.processes[node["pid_a"]].mm
        env_pages = range(mm["mm_env_start"] & ~0xFFF, mm["mm_env_end"])
        changed = [int(addr, 16) + i * 4096 for vma in kinds["memory"]["children"]
                   for addr, count, state in vma["page_map"] if state == "changed" for i in range(count)]
        assert changed and all(page in env_pages for page in changed), (node["key"], changed)
        assert kinds["memory"]["pages"]["only_a"] == kinds["memory"]["pages"]["only_b"] == 0
