"""Our .proto schemas against CRIU's own.

* Debian's pycriu (CRIU 3.17) ships compiled descriptors: read as data, never
  imported, they must agree with ours wherever they overlap.
* A CRIU source tree (``CKPT_TUI_CRIU_IMAGES`` = its ``images/`` directory,
  CRIU 4.2 or later), compiled with grpc_tools.protoc: ours must hold every
  message, field and enum value, and its ``criu/include/magic.h`` every magic.
  Without the variable those two tests are skipped.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from ckpt_tui.criu import message_class

# ---------------------------------------------------------------------------
# our schema against CRIU 3.17's, where they overlap (Debian's pycriu ships
# its compiled descriptors; they are read as data, never imported)

PYCRIU_IMAGES = Path("/usr/lib/python3/dist-packages/pycriu/images")

#: Where our schema deliberately differs from 3.17's.
SCHEMA_DIFFERENCES_FROM_317 = {
    # field 2 was renamed when the 64-bit count moved to field 5
    "pagemap_entry.2 name compat_nr_pages vs nr_pages",
}
#: 3.17 messages that are not image contents (image streamer RPC, crit's own options).
NOT_IMAGE_MESSAGES_317 = {"img_streamer_request_entry", "img_streamer_reply_entry", "CRIU_Opts"}


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def _criu_options(raw: bytes) -> dict[str, Any]:
    """CRIU's (criu) field options (extension 1018 of FieldOptions) from raw bytes."""
    names = {1: "hex", 2: "ipadd", 3: "flags", 4: "dev", 5: "odev", 6: "dict", 7: "conv"}
    out: dict[str, Any] = {}
    i = 0
    while i < len(raw):
        tag, i = _varint(raw, i)
        if tag & 7 == 0:
            _, i = _varint(raw, i)
            continue
        length, i = _varint(raw, i)
        value, i = raw[i:i + length], i + length
        if tag >> 3 != 1018:
            continue
        j = 0
        while j < len(value):
            inner, j = _varint(value, j)
            if inner & 7 == 0:
                flag, j = _varint(value, j)
                out[names[inner >> 3]] = bool(flag)
            else:
                n, j = _varint(value, j)
                out[names[inner >> 3]] = value[j:j + n].decode()
                j += n
    return out


def schema_differences(files, not_images: set[str]) -> tuple[set[str], int]:
    """Where CRIU's schema (FileDescriptorProtos) and ours differ, and how many messages were compared.

    Every enum value, every field (number, name, type, label, message/enum type
    name, display options) of every top-level message not in ``not_images``;
    fields only we have are not differences (a newer CRIU's, or reserved ones).
    """
    from ckpt_tui.criu import pb
    from ckpt_tui.criu.pretty import _hints

    our_enums = {name: {v.name: v.number for v in enum.values}
                 for mod in pb.__all__ for name, enum in getattr(pb, mod).DESCRIPTOR.enum_types_by_name.items()}
    differences: set[str] = set()
    checked = 0
    for theirs in files:
        for enum in theirs.enum_type:
            for v in enum.value:
                if our_enums.get(enum.name, {}).get(v.name) != v.number:
                    differences.add(f"{enum.name}.{v.name}")
        for m in theirs.message_type:
            if m.name in not_images:
                continue
            try:
                desc = message_class(m.name).DESCRIPTOR
            except KeyError:
                differences.add(f"{m.name} missing")
                continue
            checked += 1
            for f in m.field:
                mine = desc.fields_by_number.get(f.number)
                if mine is None:
                    differences.add(f"{m.name}.{f.number} missing")
                    continue
                if mine.name != f.name:
                    differences.add(f"{m.name}.{f.number} name {mine.name} vs {f.name}")
                if mine.type != f.type:
                    differences.add(f"{m.name}.{f.name} type {mine.type} vs {f.type}")
                label = 3 if mine.is_repeated else 2 if mine.is_required else 1
                if label != f.label:
                    differences.add(f"{m.name}.{f.name} label {label} vs {f.label}")
                related = mine.message_type or mine.enum_type
                if f.type_name and related.name != f.type_name.rpartition(".")[2]:
                    differences.add(f"{m.name}.{f.name} type name {related.name} vs {f.type_name}")
                hints = _hints(mine)
                ours = {k: getattr(hints, k) for k in ("hex", "ipadd", "flags", "dev", "odev", "dict", "conv")
                        if getattr(hints, k)}
                if ours != _criu_options(f.options.SerializeToString()):
                    differences.add(f"{m.name}.{f.name} display options {ours}")
            for enum in m.enum_type:
                mine_enum = {v.name: v.number for v in desc.enum_types_by_name[enum.name].values}
                for v in enum.value:
                    if mine_enum.get(v.name) != v.number:
                        differences.add(f"{m.name}.{enum.name}.{v.name}")
    return differences, checked


@pytest.mark.skipif(not PYCRIU_IMAGES.is_dir(), reason="Debian's criu (pycriu) is not installed")
def test_schema_agrees_with_criu_317():
    import ast

    from google.protobuf import descriptor_pb2

    files = []
    for module in sorted(PYCRIU_IMAGES.glob("*_pb2.py")):
        source = module.read_text()
        start = source.find("AddSerializedFile(")
        if start < 0:
            continue
        end = source.index("')", start) + 1
        blob = ast.literal_eval(source[start + len("AddSerializedFile("):end])
        files.append(descriptor_pb2.FileDescriptorProto.FromString(blob))
    differences, checked = schema_differences(files, NOT_IMAGE_MESSAGES_317)
    assert checked > 130
    assert differences == SCHEMA_DIFFERENCES_FROM_317


# ---------------------------------------------------------------------------
# our schema and magic table against a CRIU source tree

#: A CRIU source tree's images/ directory: a checkout of tag v4.2 or later (3.17's
#: pagemap_entry field 2 still has its old name, nr_pages).
CRIU_IMAGES = os.environ.get("CKPT_TUI_CRIU_IMAGES", "")
#: CRIU files that are not image contents: the RPC and image-streamer protocols.
NOT_IMAGE_FILES = {"rpc.proto", "img-streamer.proto"}


@pytest.mark.skipif(not CRIU_IMAGES, reason="set CKPT_TUI_CRIU_IMAGES to a CRIU checkout's images/ directory")
def test_schema_agrees_with_criu_source(tmp_path):
    """Our schema has every message, field and enum value of a CRIU source tree
    (compiled with grpc_tools.protoc), with the same display options."""
    pytest.importorskip("grpc_tools")
    from google.protobuf import descriptor_pb2

    src = Path(CRIU_IMAGES)
    protos = sorted(p.name for p in src.glob("*.proto") if p.name not in NOT_IMAGE_FILES)
    assert protos, f"no .proto files in {src}"
    import grpc_tools
    from grpc_tools import protoc

    out = tmp_path / "criu.pb"
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    assert protoc.main(["protoc", f"-I{well_known}", f"-I{src}", f"--descriptor_set_out={out}", *protos]) == 0
    files = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file
    differences, checked = schema_differences(files, {"CRIU_Opts"})
    assert checked > 130
    assert differences == set()


@pytest.mark.skipif(not CRIU_IMAGES, reason="set CKPT_TUI_CRIU_IMAGES to a CRIU checkout's images/ directory")
def test_magic_table_agrees_with_criu_source():
    """Every magic of the tree's criu/include/magic.h is in our table under its name
    (RAW_IMAGE_MAGIC, 0, is what magic-less images are said to have)."""
    import re

    from ckpt_tui.criu.magic import HEAD_MAGICS, MAGIC_VALUES, NON_IMAGE_MAGICS

    header = (Path(CRIU_IMAGES).parent / "criu" / "include" / "magic.h").read_text()
    defined = {name: int(value, 16) for name, value in re.findall(r"#define (\w+)_MAGIC\s+(0x[0-9a-fA-F]+)", header)}
    assert len(defined) > 60
    heads = {f"IMG_{name}": value for value, name in HEAD_MAGICS.items()}
    missing = {name for name, value in defined.items() if value != 0
               and heads.get(name) != value and MAGIC_VALUES.get(name) != value and value not in NON_IMAGE_MAGICS}
    assert missing == set()
