"""``ckpt-tui redact`` of a containerd checkpoint image (``ctr c checkpoint``): a new OCI layout of
the same container (tar or directory) whose rewritten blobs are under their new digests, that opens
and decodes as the original, differs from it only inside the recorded ranges, and holds no secret.

The real fixture (containerd-checkpoint.oci.tar) holds no secret: its environment is
``CTR_DEMO=containerd-env``. :func:`_derive` makes one that does from it, with protobuf's own
writer (the project's pb module for the container record), tarfile and hashlib: the spec's env
gains ``DB_PASSWORD=...`` (the Any re-encoded), the processes' environments in the pages images
read ``DB_TOKEN=containerd-env`` (the name patched in place, same length), the rw layer gains an
``etc/app.env`` holding an AWS secret key; in the ``record`` shape the spec is wrapped in a
container record (``containerd.services.containers.v1.Container``) with a secret label, as a
containerd that stores the whole record writes it.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from google.protobuf import any_pb2

from ckpt_tui.actions.redact import RECORD_NAME, redact_checkpoint
from ckpt_tui.actions.redact.content import redact_json
from ckpt_tui.actions.redact.jsonfill import fill_json
from ckpt_tui.annotations import CKPT_TUI_REDACTED, MT_REDACTED_RECORD
from ckpt_tui.archive.containerd import CONTAINER_TYPE, config_blob_strings, decode_config_blob
from ckpt_tui.archive.pb import containerd_container_pb2 as cpb
from ckpt_tui.cli import main
from ckpt_tui.errors import CkptError
from ckpt_tui.model import load_checkpoint

from .archive_corpus import read_tar_members, tar_of, write_layout_dir
from .conftest import DATA
from .registry_fixtures import no_auth_files
from .test_redact import (
    AWS_SECRET,
    _all_bytes,
    _bytes,
    assert_only_recorded_ranges_differ,
    assert_processes_differ_only_in_env,
)

FIXTURE = DATA / "containerd-checkpoint.oci.tar"
MT_CRIU = "application/vnd.containerd.container.criu.checkpoint.criu.tar"
MT_CONFIG = "application/vnd.containerd.container.checkpoint.config.v1+proto"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
SPEC_SECRET = b"hunter2-ctr-spec"
LABEL_SECRET = "tok_live_label_9c1f"
SECRETS = (SPEC_SECRET, b"DB_TOKEN=containerd-env", AWS_SECRET.encode(), LABEL_SECRET.encode())


def _blob(files: dict[str, bytes], digest: str) -> str:
    return "blobs/" + digest.replace(":", "/")


def _checkpoint_index(files: dict[str, bytes]) -> tuple[str, dict]:
    name = _blob(files, json.loads(files["index.json"])["manifests"][0]["digest"])
    return name, json.loads(files[name])


def _config_blob(spec_any: bytes, shape: str) -> bytes:
    msg = any_pb2.Any()
    msg.ParseFromString(spec_any)
    env = b'"env":["'
    assert msg.value.count(env) == 1
    msg.value = msg.value.replace(env, env + b"DB_PASSWORD=" + SPEC_SECRET + b'","', 1)
    if shape == "any":
        return msg.SerializeToString()
    rec = cpb.ContainerRecord(id="ctrweb2", image="localhost/busybox:latest", snapshotter="overlayfs",
                              snapshot_key="ctrweb2", labels={"api-token": LABEL_SECRET, "tier": "web"})
    rec.runtime.name = "io.containerd.runc.v2"
    rec.spec.CopyFrom(msg)
    rec.created_at.seconds = 1_700_000_000
    return any_pb2.Any(type_url=f"types.containerd.io/{CONTAINER_TYPE}", value=rec.SerializeToString()).SerializeToString()


def _layer_with_secret(layer_gz: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer_gz))) as src, \
            tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as dst:
        for ti in src:
            dst.addfile(ti, src.extractfile(ti) if ti.isreg() else None)
        data = f"REGION=eu\nAWS_SECRET_ACCESS_KEY={AWS_SECRET}\n".encode()
        ti = tarfile.TarInfo("etc/app.env")
        ti.size, ti.mtime = len(data), 1_700_000_000
        dst.addfile(ti, io.BytesIO(data))
    return gzip.compress(buf.getvalue(), mtime=0)


def _derive(dest: Path, shape: str, as_dir: bool = False) -> Path:
    """The real fixture with secrets added (see the module's docstring), written as a tar or a dir."""
    files = read_tar_members(FIXTURE.read_bytes())
    ix_name, index = _checkpoint_index(files)
    for desc in index["manifests"]:
        old = _blob(files, desc["digest"])
        data = files.pop(old)
        if desc["mediaType"] == MT_CONFIG:
            data = _config_blob(data, shape)
        elif desc["mediaType"] == MT_CRIU:
            assert data.count(b"CTR_DEMO=containerd-env") == 3  # one environment per process
            data = data.replace(b"CTR_DEMO=containerd-env", b"DB_TOKEN=containerd-env")
        elif desc["mediaType"] == MT_LAYER:
            data = _layer_with_secret(data)
        desc["digest"], desc["size"] = "sha256:" + hashlib.sha256(data).hexdigest(), len(data)
        files[_blob(files, desc["digest"])] = data
    del files[ix_name]
    ix_data = json.dumps(index, separators=(",", ":")).encode()
    top = json.loads(files["index.json"])
    top["manifests"][0].update(digest="sha256:" + hashlib.sha256(ix_data).hexdigest(), size=len(ix_data))
    files[_blob(files, top["manifests"][0]["digest"])] = ix_data
    files["index.json"] = json.dumps(top, separators=(",", ":")).encode()
    if as_dir:
        return write_layout_dir(dest, files)
    dest.write_bytes(tar_of(files))
    return dest


def _layout_files(path: Path) -> dict[str, bytes]:
    if path.is_dir():
        return {str(p.relative_to(path)): p.read_bytes() for p in path.rglob("*") if p.is_file()}
    return read_tar_members(path.read_bytes())


def _assert_digests_hold(files: dict[str, bytes]) -> None:
    """Every descriptor of every index names a file of the layout with that sha256 and size."""
    todo = [json.loads(files["index.json"])]
    while todo:
        doc = todo.pop()
        for desc in doc.get("manifests", []):
            data = files[_blob(files, desc["digest"])]
            assert desc["digest"] == "sha256:" + hashlib.sha256(data).hexdigest() and desc["size"] == len(data)
            if desc["mediaType"].endswith("index.v1+json"):
                todo.append(json.loads(data))


@pytest.fixture(scope="module", params=[("any", False), ("record", False), ("any", True)],
                ids=["spec-any-tar", "container-record-tar", "spec-any-dir"])
def derived(request, tmp_path_factory):
    shape, as_dir = request.param
    root = tmp_path_factory.mktemp("ctr")
    orig = _derive(root / ("orig" if as_dir else "orig.oci.tar"), shape, as_dir)
    out = root / ("copy" if as_dir else "copy.oci.tar")
    with load_checkpoint(orig) as ck:
        result = redact_checkpoint(ck, out)
    return shape, orig, out, result


def test_the_derived_image_holds_the_secrets_where_the_reader_sees_them(derived):
    _shape, orig, _out, _result = derived
    with load_checkpoint(orig) as ck:
        assert ck.source_kind == "containerd-image" and not ck.problems
        assert {p.env_dict.get("DB_TOKEN") for p in ck.process_list()} == {"containerd-env"}
        assert b"DB_PASSWORD=" + SPEC_SECRET in _bytes(ck, "spec.dump")
        assert AWS_SECRET.encode() in ck.read_rootfs_file("etc/app.env")
        assert ck.info.id == "ctrweb2"


def test_copy_is_a_containerd_image_of_the_same_container_that_differs_only_where_recorded(derived):
    shape, orig, out, result = derived
    assert out.is_dir() == orig.is_dir() and result.kind == "containerd-image" and result.output == str(out)
    with load_checkpoint(orig) as before, load_checkpoint(out) as copy:
        assert copy.source_kind == "containerd-image"
        record = assert_only_recorded_ranges_differ(before, copy)
        assert {"spec.dump", "rootfs-diff.tar", "checkpoint/pages-1.img"} <= set(record["members"])
        assert record["members"]["spec.dump"]["ranges"] == [[r[0], r[1], "environment-value"]
                                                           for r in record["members"]["spec.dump"]["ranges"]]
        # it decodes as the original: the same processes, command lines, variables, files, problems
        assert [(p.pid, p.cmdline, [v.name for v in p.env]) for p in copy.process_list()] == \
               [(p.pid, p.cmdline, [v.name for v in p.env]) for p in before.process_list()]
        assert {p.env_dict["DB_TOKEN"] for p in copy.process_list()} == {"*" * len("containerd-env")}
        assert [(e.path, e.size) for e in copy.rootfs.entries] == [(e.path, e.size) for e in before.rootfs.entries]
        assert [x.message for x in copy.problems] == [x.message for x in before.problems]
        assert copy.info.runtime == before.info.runtime and copy.info.id == before.info.id
        # the secrets are gone from every member, and from every file of the copy's layout
        for secret in SECRETS:
            assert secret not in _all_bytes(copy) and not list(copy.search_memory(secret)), secret
        copied = _layout_files(out)
        for name, data in copied.items():
            plain = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
            assert not any(secret in plain for secret in SECRETS), name
        # the mark and the record
        mark = json.loads(copy.info.image_annotations[CKPT_TUI_REDACTED])
        assert mark["record"] == RECORD_NAME and mark["memory"] == "filled"
        assert json.loads(_bytes(copy, RECORD_NAME)) == result.record
        if shape == "record":
            assert [c["field"] for c in record["image"]["config"]] == ["labels"]
            assert record["rules"]["secret-name-value"] >= 1


def test_rewritten_blobs_are_under_their_new_digests_and_the_rest_is_copied(derived):
    _shape, orig, out, result = derived
    before, after = _layout_files(orig), _layout_files(out)
    _assert_digests_hold(after)
    _name, old_ix = _checkpoint_index(before)
    _name, new_ix = _checkpoint_index(after)
    old = {d["mediaType"]: d for d in old_ix["manifests"]}
    new = {d["mediaType"]: d for d in new_ix["manifests"]}
    assert list(new) == [*old, MT_REDACTED_RECORD]  # same order, the record's descriptor last
    rewritten = {b["media_type"] for b in result.record["image"]["blobs"]}
    assert rewritten == {MT_CRIU, MT_CONFIG, MT_LAYER}
    for mt, desc in old.items():
        if mt in rewritten:
            assert new[mt]["digest"] != desc["digest"] and _blob(before, desc["digest"]) not in after
        else:  # the option blobs: the very same file
            assert new[mt] == desc and after[_blob(after, desc["digest"])] == before[_blob(before, desc["digest"])]
    assert {k: v for k, v in new_ix["annotations"].items() if k != CKPT_TUI_REDACTED} == old_ix["annotations"]
    # the config blob keeps its size, its spec sits where it sat, and decodes to the copy's spec.dump
    oconf, nconf = before[_blob(before, old[MT_CONFIG]["digest"])], after[_blob(after, new[MT_CONFIG]["digest"])]
    assert len(oconf) == len(nconf) and config_blob_strings(oconf) == config_blob_strings(nconf)
    with load_checkpoint(out) as copy:
        assert decode_config_blob(nconf).spec_json == _bytes(copy, "spec.dump")
    assert decode_config_blob(nconf).record == {**decode_config_blob(oconf).record,
                                                **({"labels": {"api-token": "*" * len(LABEL_SECRET), "tier": "web"}}
                                                   if decode_config_blob(oconf).record else {})}


def test_skopeo_reads_the_copy_as_it_reads_the_original(derived):
    _shape, orig, out, _result = derived
    exe = shutil.which("skopeo")
    if exe is None:
        pytest.skip("skopeo is not installed")
    transport = "oci" if out.is_dir() else "oci-archive"
    got = {}
    for which, path in (("orig", orig), ("copy", out)):
        run = subprocess.run([exe, "inspect", "--raw", f"{transport}:{path}"], capture_output=True, text=True,
                             timeout=120)
        assert run.returncode == 0, run.stderr
        got[which] = json.loads(run.stdout)
    # the raw manifest skopeo picks is the checkpoint index, as written in each
    assert got["copy"] == _checkpoint_index(_layout_files(out))[1]
    assert [d["mediaType"] for d in got["copy"]["manifests"]] == \
           [d["mediaType"] for d in got["orig"]["manifests"]] + [MT_REDACTED_RECORD]


def test_the_copy_diffs_against_the_original_only_in_the_redacted_values(derived, capsys):
    _shape, orig, out, _result = derived
    assert main(["diff", str(orig), str(out), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    summary = report["summary"]
    for area in ("metadata", "mounts", "network", "stats", "layers"):
        assert summary[area]["added"] == summary[area]["removed"] == summary[area]["modified"] == 0, area
    marks = [(a["key"], a["status"]) for group in report["sections"]["annotations"]["children"]
             for a in group["children"]]
    assert marks == [(CKPT_TUI_REDACTED, "added")]  # on the checkpoint index
    files = [(f["key"], f["status"]) for f in report["sections"]["files"]["children"]]
    assert files == [("/etc/app.env", "modified")]  # the one root FS file holding a secret
    with load_checkpoint(orig) as before:
        assert_processes_differ_only_in_env(report, before, "DB_TOKEN", "*" * len("containerd-env"))


def test_the_real_fixture_is_copied_with_every_blob_but_the_index_unchanged(tmp_path):
    """The fixture as ctr wrote it has nothing to fill: the copy is its blobs, the record and the mark."""
    out = tmp_path / "copy.oci.tar"
    with load_checkpoint(FIXTURE) as ck:
        result = redact_checkpoint(ck, out)
    assert result.fills == 0 and result.record["image"]["blobs"] == []
    before, after = _layout_files(FIXTURE), _layout_files(out)
    _assert_digests_hold(after)
    changed = {n for n in before if after.get(n) != before[n]}
    assert changed == {"index.json", _checkpoint_index(before)[0]}
    with load_checkpoint(FIXTURE) as orig, load_checkpoint(out) as copy:
        assert_only_recorded_ranges_differ(orig, copy)
        assert json.loads(_bytes(copy, RECORD_NAME))["members"] == {}


def test_redacting_a_redacted_copy_replaces_its_record(derived, tmp_path):
    _shape, _orig, out, _result = derived
    again = tmp_path / ("again" if out.is_dir() else "again.oci.tar")
    with load_checkpoint(out) as ck:
        result = redact_checkpoint(ck, again)
    assert result.record["image"]["blobs"] == []  # filler over filler: every blob as the first copy has it
    _name, ix = _checkpoint_index(_layout_files(again))
    assert [d["mediaType"] for d in ix["manifests"]].count(MT_REDACTED_RECORD) == 1
    with load_checkpoint(again) as copy:
        assert json.loads(_bytes(copy, RECORD_NAME))["source"] == out.name


def test_strip_pages_leaves_the_pages_out_of_the_criu_blob(tmp_path):
    orig = _derive(tmp_path / "orig.oci.tar", "any")
    out = tmp_path / "meta.oci.tar"
    with load_checkpoint(orig) as ck:
        result = redact_checkpoint(ck, out, strip_pages=True)
    assert sorted(result.stripped) == ["checkpoint/pages-1.img", "checkpoint/pages-2.img", "checkpoint/pages-3.img"]
    with load_checkpoint(orig) as before, load_checkpoint(out) as copy:
        assert_only_recorded_ranges_differ(before, copy)
        assert not copy.member_names("checkpoint/pages-")
        assert [p.pid for p in copy.process_list()] == [p.pid for p in before.process_list()]


@pytest.mark.parametrize("shape", ["any", "record"])
def test_config_blob_strings_are_where_the_reader_decodes_them(shape):
    """The spec's byte range is the bytes decode_config_blob takes as spec.dump, in the real blob and
    in a container record; same-length bytes written there leave a blob that decodes the same way."""
    files = read_tar_members(FIXTURE.read_bytes())
    _name, index = _checkpoint_index(files)
    [desc] = [d for d in index["manifests"] if d["mediaType"] == MT_CONFIG]
    real = files[_blob(files, desc["digest"])]
    blob = real if shape == "any" else _config_blob(real, "record")
    strings = config_blob_strings(blob)
    [spec] = [s for s in strings if s.field == "spec"]
    assert blob[spec.offset:spec.offset + spec.size] == decode_config_blob(blob).spec_json
    if shape == "any":
        assert strings == [spec] and spec.offset + spec.size == len(blob)
        return
    decoded = decode_config_blob(blob).record
    fields = {(s.field, s.key): blob[s.offset:s.offset + s.size].decode() for s in strings if s.field != "spec"}
    assert fields == {("id", ""): decoded["id"], ("image", ""): decoded["image"], ("runtime", ""): decoded["runtime"],
                      ("snapshotter", ""): "overlayfs", ("snapshot_key", ""): "ctrweb2",
                      **{("labels", k): v for k, v in decoded["labels"].items()}}
    # every string overwritten with as many bytes: every protobuf length still holds
    out = bytearray(blob)
    for s in strings:
        if s.field != "spec":
            out[s.offset:s.offset + s.size] = b"x" * s.size
    again = decode_config_blob(bytes(out))
    assert not again.problems and again.spec_json == decode_config_blob(blob).spec_json
    assert again.record["labels"] == {k: "x" * len(v) for k, v in decoded["labels"].items()}
    assert again.record["id"] == "x" * len("ctrweb2") and again.record["created"] == decoded["created"]


def test_a_containerd_image_in_a_registry_is_refused(fake_registry, tmp_path, monkeypatch):
    import ckpt_tui.archive.registry.source as rs

    no_auth_files(monkeypatch, tmp_path / "auth")
    monkeypatch.setattr(rs, "_defaults", rs.Options(tls_verify=False, retries=2))
    out = tmp_path / "c.oci.tar"
    fake_registry.add_layout("ctr/web", "2", FIXTURE)
    with load_checkpoint(fake_registry.url("ctr/web", "2")) as ck:
        assert ck.source_kind == "containerd-image" and ck.source_remote
        with pytest.raises(CkptError, match="copy it to an OCI layout first"):
            redact_checkpoint(ck, out)
    assert not out.exists() and not list(tmp_path.glob("*.part"))


def test_json_filled_in_place_fills_what_the_rewrite_fills_at_the_same_length():
    """Escapes, UTF-8, a document inside a string, secret keys, env entries, a token in free text:
    the in-place fill keeps every byte outside its ranges and means what redact_json's rewrite means."""
    inner = json.dumps({"env": [{"name": "X", "value": "y"}], "secret": "zz\u00e9"})
    doc = {"a": "x&y", "env": ["API_TOKEN=ab\u00e9&c\U0001f600", "OK=1", "HOME=/"], "password": 'p\\"q',
           "annotations": {"last-applied": inner, "secretsPath": "/run/secrets"},
           "args": ["sh", "-c", "aws --key AKIAABCDEFGHIJKLMNOP --region eu"], "n": 3, "ok": True}
    for raw in (json.dumps(doc).encode().replace(b"&", b"\\u0026"), json.dumps(doc, ensure_ascii=False, indent=2).encode()):
        out, ranges = fill_json(raw)
        assert len(out) == len(raw) and ranges
        expected = bytearray(raw)
        for lo, hi, _rule in ranges:
            expected[lo:hi] = b"*" * (hi - lo)
        assert out == bytes(expected)
        got, want = json.loads(out), json.loads(redact_json(raw)[0])
        assert got.keys() == want.keys() and got["a"] == "x&y" and got["n"] == 3
        assert got["env"][1:] == ["OK=1", "HOME=/"] and got["env"][0].startswith("API_TOKEN=*")
        assert set(got["env"][0][len("API_TOKEN="):]) == {"*"} and set(got["password"]) == {"*"}
        assert got["annotations"]["secretsPath"] == "/run/secrets"
        assert json.loads(got["annotations"]["last-applied"])["env"] == [{"name": "X", "value": "y"}]
        assert set(json.loads(got["annotations"]["last-applied"])["secret"]) == {"*"}
        assert got["args"][2] == want["args"][2] == "aws --key " + "*" * 20 + " --region eu"
        assert {k: v for k, v in got.items() if k not in ("env", "password", "annotations")} == \
            {k: v for k, v in want.items() if k not in ("env", "password", "annotations")}
    assert fill_json(b'"just a string"') is None and fill_json(b"{not json") is None


def test_a_gzip_layout_whose_index_json_is_the_checkpoint_index(tmp_path):
    """Derived: the checkpoint index moved up into index.json, the layout tar gzip'd (both shapes the
    reader accepts). The copy is gzip'd as well, its index.json carries the mark and the record."""
    files = read_tar_members(_derive(tmp_path / "d.oci.tar", "any").read_bytes())
    name, index = _checkpoint_index(files)
    del files[name]
    files["index.json"] = json.dumps(index).encode()
    orig, out = tmp_path / "top.oci.tar.gz", tmp_path / "copy.oci.tar.gz"
    orig.write_bytes(gzip.compress(tar_of(files)))
    with load_checkpoint(orig) as ck:
        redact_checkpoint(ck, out)
    copied = read_tar_members(gzip.decompress(out.read_bytes()))
    _assert_digests_hold(copied)
    top = json.loads(copied["index.json"])
    assert CKPT_TUI_REDACTED in top["annotations"] and top["manifests"][-1]["mediaType"] == MT_REDACTED_RECORD
    with load_checkpoint(orig) as before, load_checkpoint(out) as copy:
        assert_only_recorded_ranges_differ(before, copy)
        assert {p.env_dict["DB_TOKEN"] for p in copy.process_list()} == {"*" * len("containerd-env")}
