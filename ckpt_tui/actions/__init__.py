# SPDX-License-Identifier: Apache-2.0
"""actions layer: build an OCI checkpoint image, restore with the engine, preflight checks, log diagnosis.

No Textual here. Every action takes a loaded :class:`~ckpt_tui.model.Checkpoint` and asks it;
long-running calls take ``on_output(line)`` and ``cancelled()`` so the UI can run them in
thread workers; all return dataclasses.
"""

from .build import BuildResult, LoadResult, build_image, checkpoint_annotations, load_image, normalize_image_name
from .checks import Check, preflight, summarize
from .diagnose import Cause, Diagnosis, LogError, diagnose, diagnose_file, find_criu_log
from .restore import RestoreOptions, RestoreResult, RestoreTarget, build_restore_command, restore_target, run_restore

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
