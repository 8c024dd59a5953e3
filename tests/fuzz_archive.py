#!/usr/bin/env python3
"""Coverage-guided fuzz target for the archive reader and the model (atheris / libFuzzer).

Not collected by pytest. Run it by hand::

    pip install atheris
    python tests/fuzz_archive.py -max_total_time=600 [corpus_dir]

Each input is written to a temp file and opened as a checkpoint; anything but a
CkptError escaping open_source/build_checkpoint is a bug (CKPT_TUI_STRICT makes the
model re-raise instead of recording a problem). Seed the corpus with the fixtures in
tests/data (small ones: ps-tree.tar.gz, tcp-server.tar.zst, web-ignore-rootfs.tar.zst).
"""

from __future__ import annotations

import os
import sys
import tempfile

os.environ["CKPT_TUI_STRICT"] = "1"

try:
    import atheris
except ImportError:  # pragma: no cover - optional tool
    atheris = None

if atheris is not None:
    with atheris.instrument_imports():
        from ckpt_tui.archive import Limits, open_source
        from ckpt_tui.errors import CkptError
        from ckpt_tui.model import build_checkpoint
else:  # pragma: no cover
    from ckpt_tui.archive import Limits, open_source
    from ckpt_tui.errors import CkptError
    from ckpt_tui.model import build_checkpoint

LIMITS = Limits(max_total_bytes=64 << 20)


def one_input(data: bytes) -> None:
    fd, path = tempfile.mkstemp(prefix="ckpt-tui-fuzz-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        try:
            with open_source(path, limits=LIMITS) as src:
                ck = build_checkpoint(src)
                for proc in ck.process_list():
                    proc.title, proc.env_dict  # noqa: B018 - touch the lazily derived views
        except CkptError:
            pass
    finally:
        os.unlink(path)


def main() -> None:  # pragma: no cover - manual tool
    if atheris is None:
        sys.exit("atheris is not installed: pip install atheris")
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":  # pragma: no cover
    main()
