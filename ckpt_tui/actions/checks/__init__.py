# SPDX-License-Identifier: Apache-2.0
"""Pre-restore checks: will this checkpoint restore here, and what will it bring with it?

``preflight(checkpoint, options)`` returns a list of :class:`Check` rows
(status "pass", "warn", "fail" or "info"). It never raises for a missing tool:
a check that needs one says so. Queries run only short, read-only commands
(``--version``, ``podman container exists``, ``podman image exists``,
``podman info``, ``criu check``). ``host`` checks this machine, ``contents`` the checkpoint.
"""

from __future__ import annotations

from ...errors import CkptError
from ...model.checkpoint import Checkpoint
from ..restore import RestoreOptions, RestoreTarget, default_engine, restore_target
from . import contents, host
from .base import FAIL, INFO, PASS, WARN, Check

__all__ = ["Check", "preflight", "summarize"]


def summarize(checks: list[Check]) -> dict[str, int]:
    out = {PASS: 0, WARN: 0, FAIL: 0, INFO: 0}
    for c in checks:
        out[c.status] = out.get(c.status, 0) + 1
    return out


def preflight(checkpoint: Checkpoint, options: RestoreOptions | None = None, *, criu_check: bool = True) -> list[Check]:
    """Check whether the loaded ``checkpoint`` can be restored here with ``options``.

    ``criu_check`` runs ``criu check`` (as root) to catch a CRIU that cannot work
    on this kernel at all. Never raises for missing tools.
    """
    o = options or RestoreOptions()
    engine = (o.engine or default_engine(checkpoint)).lower()
    target: RestoreTarget | None = None
    err = ""
    try:
        target = restore_target(checkpoint, o)
    except CkptError as exc:  # no restorable source: reported as a failed check
        err = str(exc)
    checks: list[Check] = [host.check_engine(engine, o), host.check_root(engine)]
    checks.append(contents.check_target(engine, o, target, err))
    checks += host.check_runtime(checkpoint, engine, o, target)
    checks += host.check_criu(checkpoint, criu_check)
    checks.append(contents.check_complete(checkpoint))
    checks.append(contents.check_tcp(checkpoint, o))
    checks += contents.check_name(checkpoint, engine, o, target)
    base = contents.check_base_image(checkpoint, engine, o)
    if base is not None:
        checks.append(base)
    checks += host.check_host(checkpoint)
    checks += contents.check_flags(checkpoint, o, target)
    checks += contents.check_spec(checkpoint)
    return checks
