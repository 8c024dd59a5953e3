# SPDX-License-Identifier: Apache-2.0
"""actions layer: build an OCI checkpoint image, restore with the engine, preflight checks, log diagnosis.

No Textual here. Every action takes a loaded :class:`~ckpt_tui.model.Checkpoint` and asks it;
long-running calls take ``on_output(line)`` and ``cancelled()`` so the UI can run them in
thread workers; all return dataclasses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import exports

_WHERE = {
    "BuildResult": ".build",
    "LoadResult": ".build",
    "build_image": ".build",
    "checkpoint_annotations": ".build",
    "load_image": ".build",
    "normalize_image_name": ".build",
    "Check": ".checks",
    "preflight": ".checks",
    "summarize": ".checks",
    "Cause": ".diagnose",
    "Diagnosis": ".diagnose",
    "LogError": ".diagnose",
    "diagnose": ".diagnose",
    "diagnose_file": ".diagnose",
    "find_criu_log": ".diagnose",
    "RestoreOptions": ".restore",
    "RestoreResult": ".restore",
    "RestoreTarget": ".restore",
    "build_restore_command": ".restore",
    "restore_target": ".restore",
    "run_restore": ".restore",
}

if TYPE_CHECKING:  # pragma: no cover
    from .build import BuildResult, LoadResult, build_image, checkpoint_annotations, load_image, normalize_image_name
    from .checks import Check, preflight, summarize
    from .diagnose import Cause, Diagnosis, LogError, diagnose, diagnose_file, find_criu_log
    from .restore import (
        RestoreOptions,
        RestoreResult,
        RestoreTarget,
        build_restore_command,
        restore_target,
        run_restore,
    )


__all__ = [
    "BuildResult",
    "Cause",
    "Check",
    "Diagnosis",
    "LoadResult",
    "LogError",
    "RestoreOptions",
    "RestoreResult",
    "RestoreTarget",
    "build_image",
    "build_restore_command",
    "checkpoint_annotations",
    "diagnose",
    "diagnose_file",
    "find_criu_log",
    "load_image",
    "normalize_image_name",
    "preflight",
    "restore_target",
    "run_restore",
    "summarize",
]

__getattr__, __dir__ = exports(__name__, _WHERE, globals())
