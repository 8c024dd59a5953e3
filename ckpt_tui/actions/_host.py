# SPDX-License-Identifier: Apache-2.0
"""Facts about the machine the actions run on (not about a checkpoint)."""

from __future__ import annotations

import os
import platform

# uname -m -> the OCI / Go architecture name an image's platform carries
_OCI_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x",
             "riscv64": "riscv64"}


def architecture() -> str:
    """This host's architecture by its OCI name (``amd64``, ``arm64``...); uname's word when unknown."""
    machine = platform.machine()
    return _OCI_ARCH.get(machine, machine)


def kernel() -> str:
    """This host's kernel release (``uname -r``)."""
    return platform.release()


def node() -> str:
    return platform.node()


def is_root() -> bool:
    return os.geteuid() == 0
