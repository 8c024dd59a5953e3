#!/usr/bin/env python3
"""Coverage-guided fuzz target for the CRIU image decoder (atheris / libFuzzer).

Not collected by pytest (the file name does not start with ``test_``).
Run it by hand::

    pip install atheris
    python tests/fuzz_criu.py -max_total_time=600 [corpus_dir]

The first input byte picks the file name the decoder is told (which changes
the expected magic and the payload rules); the rest is the image.  Any
exception other than a CkptError is a bug and makes atheris stop with a
crash report.  Seed the corpus with real images, e.g. the files of an
unpacked tests/data/*.tar.zst checkpoint directory.
"""

from __future__ import annotations

import json
import sys

try:
    import atheris
except ImportError:  # pragma: no cover - optional tool
    atheris = None

if atheris is not None:
    with atheris.instrument_imports():
        from ckpt_tui.criu import decode_image, find_unknown_fields, message_to_dict, to_crit_dict
        from ckpt_tui.errors import CkptError
else:  # pragma: no cover
    from ckpt_tui.criu import decode_image, find_unknown_fields, message_to_dict, to_crit_dict
    from ckpt_tui.errors import CkptError

NAMES = [
    "", "core-1.img", "pstree.img", "files.img", "pagemap-1.img", "mm-1.img", "inventory.img", "stats-dump",
    "ghost-file-1.img", "ipcns-msg-1.img", "ipcns-sem-1.img", "ipcns-shm-1.img", "tcp-stream-1.img",
    "sk-queues.img", "pipes-data.img", "fifo-data.img", "bpfmap-data.img", "cgroup.img", "mountpoints-1.img",
    "netdev-1.img", "signal-p-1.img", "pages-1.img",
]


def test_one_input(data: bytes) -> None:
    if not data:
        return
    name = NAMES[data[0] % len(NAMES)]
    try:
        image = decode_image(data[1:], name)
    except CkptError:
        return
    json.dumps(to_crit_dict(image))
    for entry in image.entries:
        message_to_dict(entry.message, unknown=True)
        find_unknown_fields(entry.message)


def main() -> None:
    if atheris is None:
        sys.exit("fuzz_criu.py needs atheris: pip install atheris")
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
