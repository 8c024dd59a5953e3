# SPDX-License-Identifier: Apache-2.0
"""Pre-restore checks: will this checkpoint restore here, and what will it bring with it?

``preflight(checkpoint, options)`` returns a list of :class:`Check` rows
(status "pass", "warn", "fail" or "info"). It never raises for a missing tool:
a check that needs one says so. Queries run only short, read-only commands
(``--version``, ``podman container exists``, ``podman image exists``,
``podman info``, ``podman images``, ``criu check``) to profile this host, or judge a host
profile read from a file. ``host`` checks the host, ``contents`` the checkpoint, ``needs`` what
its images ask of the host (CPU, plugins, LSM, capabilities, open files...).
"""

from __future__ import annotations

from ...errors import CkptError
from ...model.checkpoint import Checkpoint
from ..hostprofile import HostProfile, collect_profile
from ..restore import RestoreOptions, RestoreTarget, default_engine, restore_target
from . import contents, host, needs
from .base import FAIL, INFO, PASS, WARN, Check, label

__all__ = ["Check", "host_profile_for", "label", "preflight", "summarize"]


def summarize(checks: list[Check]) -> dict[str, int]:
    out = {PASS: 0, WARN: 0, FAIL: 0, INFO: 0}
    for c in checks:
        out[c.status] = out.get(c.status, 0) + 1
    return out


def host_profile_for(checkpoint: Checkpoint | None, options: RestoreOptions | None = None, *,
                     criu_check: bool = True) -> HostProfile:
    """This host's profile, with the runtimes the checkpoint and the options name looked at too."""
    o = options or RestoreOptions()
    extra = [r for r in (o.runtime, checkpoint.info.runtime_name if checkpoint else "",
                         checkpoint.info.image_runtime if checkpoint else "") if r]
    return collect_profile(podman_bin=o.podman_bin, ctr_bin=o.ctr_bin, namespace=o.namespace or "",
                           criu_check=criu_check, runtimes=tuple(extra))


def preflight(checkpoint: Checkpoint, options: RestoreOptions | None = None, *, criu_check: bool = True,
              profile: HostProfile | None = None) -> list[Check]:
    """Check whether the loaded ``checkpoint`` can be restored with ``options`` on the host
    ``profile`` describes (None: this host, profiled now).

    ``criu_check`` runs ``criu check`` (as root) to catch a CRIU that cannot work
    on this kernel at all. Never raises for missing tools.
    """
    o = options or RestoreOptions()
    prof = profile if profile is not None else host_profile_for(checkpoint, o, criu_check=criu_check)
    engine = (o.engine or default_engine(checkpoint)).lower()
    target: RestoreTarget | None = None
    err = ""
    try:
        target = restore_target(checkpoint, o)
    except CkptError as exc:  # no restorable source: reported as a failed check
        err = str(exc)
    checks: list[Check] = [host.check_engine(engine, o, prof), host.check_root(engine, prof)]
    checks.append(contents.check_target(engine, o, target, err, prof))
    checks += host.check_runtime(checkpoint, engine, o, target, prof)
    checks += host.check_criu(checkpoint, criu_check, prof)
    checks.append(contents.check_complete(checkpoint))
    checks.append(contents.check_tcp(checkpoint, o))
    checks += contents.check_name(checkpoint, engine, o, target, prof)
    base = contents.check_base_image(checkpoint, engine, o, prof)
    if base is not None:
        checks.append(base)
    checks += host.check_host(checkpoint, prof)
    checks += needs.check_needs(checkpoint, prof, ignore_rootfs=o.ignore_rootfs)
    checks += contents.check_flags(checkpoint, o, target)
    checks += contents.check_spec(checkpoint, prof)
    return checks
