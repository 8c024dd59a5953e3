"""The registry options every command that takes a PATH accepts (skopeo's and podman's spelling).

``--tls-verify=false`` (plain HTTP or a self-signed certificate), ``--creds USER[:PASSWORD]``,
``--authfile FILE``, ``--platform OS/ARCH[/VARIANT]``. Standard library only: adding them costs a
command nothing; :func:`apply` imports the registry code only when a ``docker://`` source is used.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .reference import is_remote

_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


def _bool(text: str) -> bool:
    t = text.strip().lower()
    if t in _TRUE:
        return True
    if t in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {text!r}")


def _platform(text: str) -> str:
    parts = text.strip().split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise argparse.ArgumentTypeError(f"expected OS/ARCH[/VARIANT], e.g. linux/arm64, not {text!r}")
    return "/".join(parts)


DEFAULTS: dict[str, Any] = {"tls_verify": None, "creds": None, "authfile": None, "platform": None}


def add_arguments(p: Any, *, suppress: bool = False) -> None:
    """Add the options to a parser or argument group. ``suppress``: argparse.SUPPRESS defaults
    (an option given before the command name is then kept; fill in :data:`DEFAULTS` after)."""
    kw: dict[str, Any] = {"default": argparse.SUPPRESS} if suppress else {}
    p.add_argument("--tls-verify", type=_bool, nargs="?", const=True, metavar="BOOL", **({"default": None} | kw),
                   help="docker:// sources: require HTTPS and verify certificates (default true; "
                        "--tls-verify=false also allows plain HTTP)")
    p.add_argument("--creds", metavar="USER[:PASSWORD]", **kw,
                   help="docker:// sources: registry credentials (the password is asked for on a terminal "
                        "when left out)")
    p.add_argument("--authfile", metavar="FILE", **kw,
                   help="docker:// sources: containers-auth.json with credentials (default "
                        "$XDG_RUNTIME_DIR/containers/auth.json, then ~/.docker/config.json)")
    p.add_argument("--platform", type=_platform, metavar="OS/ARCH", **kw,
                   help="docker:// sources: the image of a multi-platform index (default: this host's)")


def uses_registry(args: argparse.Namespace) -> bool:
    values: list[Any] = [getattr(args, k, None) for k in ("path", "image", "checkpoint")]
    values += list(getattr(args, "dirs", None) or [])
    return any(is_remote(v) for v in values)


def apply(args: argparse.Namespace) -> None:
    """Hand the options to the registry layer (a no-op when no ``docker://`` source is named)."""
    if not uses_registry(args):
        return
    from ...errors import CkptError
    from .source import configure

    creds = getattr(args, "creds", None)
    if creds is not None and ":" not in creds:
        if not sys.stdin.isatty():
            raise CkptError(f"--creds {creds}: no password given (use USER:PASSWORD, or run it on a terminal "
                            "to be asked)")
        import getpass

        creds = f"{creds}:{getpass.getpass(f'Password for {creds}: ')}"
    tls = getattr(args, "tls_verify", None)
    configure(tls_verify=True if tls is None else tls, creds=creds, authfile=getattr(args, "authfile", None),
              platform=getattr(args, "platform", None))
