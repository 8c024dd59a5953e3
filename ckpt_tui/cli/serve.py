"""``serve``: the inspector itself in a browser, through textual-serve (the Textual project's own
server): each browser tab that connects runs ``ckpt-tui [PATH] --readonly --masked`` in a process of its
own and shows its screen. Secrets stay masked (``S`` cannot show them unless ``--allow-reveal``),
build and restore are off unless ``--allow-actions``, and it listens on loopback unless ``--host`` says otherwise.

The page textual-serve sends asks a font service for its font; the server here leaves that link
out (the font is in its own static files) and sends a Content-Security-Policy that lets the page
reach only this server."""

from __future__ import annotations

import ipaddress
import re
import shlex
import sys
from typing import TYPE_CHECKING, Any

from ..errors import CkptError
from .common import add_command, console, line

if TYPE_CHECKING:  # pragma: no cover
    import argparse

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
_FONT_LINK = re.compile(rb"<link[^>]*fonts\.googleapis\.com[^>]*>\s*", re.IGNORECASE)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def app_command(path: str | None, *, allow_actions: bool, max_size: int | None, logs: list[str],
                allow_reveal: bool = False) -> str:
    """The shell command each browser session runs: this Python, this ckpt-tui, the inspector."""
    argv = [sys.executable, "-m", "ckpt_tui", "ui"]
    if path is not None:
        from pathlib import Path

        argv.append(str(Path(path).absolute()))  # the sessions may not start where serve did
    if not allow_actions:
        argv.append("--readonly")
    if not allow_reveal:
        argv.append("--masked")
    if max_size:
        argv += ["--max-size", str(max_size)]
    for log in logs:
        argv += ["--log", log]
    return " ".join(shlex.quote(a) for a in argv)


def csp(url: str) -> str:
    """The page may load from, and talk to, this server only."""
    ws = "ws" + url[4:] if url.startswith("http") else url
    return (f"default-src 'self'; connect-src 'self' {ws}; script-src 'self' 'unsafe-inline'; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
            "frame-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'")


def make_server(command: str, host: str, port: int, title: str, public_url: str | None = None) -> Any:
    from aiohttp import web
    from textual_serve.server import Server

    class InspectorServer(Server):
        async def _make_app(self) -> Any:
            app = await super()._make_app()
            policy = csp(self.public_url)

            @web.middleware
            async def local_only(request: Any, handler: Any) -> Any:
                response = await handler(request)
                body = response.body if isinstance(response, web.Response) else None
                if request.path == "/" and isinstance(body, (bytes, bytearray)):
                    response.body = _FONT_LINK.sub(b"", bytes(body))
                    response.headers["Content-Security-Policy"] = policy
                return response

            app.middlewares.append(local_only)
            return app

    return InspectorServer(command, host=host, port=port, title=title, public_url=public_url)


def cmd_serve(args: argparse.Namespace) -> int:
    from pathlib import Path

    if args.path is not None and not Path(args.path).exists():
        raise CkptError(f"no such file or directory: {args.path}")
    if not 0 < args.port < 65536:
        raise CkptError(f"--port {args.port}: not a port number")
    try:
        import textual_serve  # noqa: F401
    except ImportError:
        raise CkptError("serve needs the textual-serve package: pip install textual-serve") from None
    host = args.host
    url = args.public_url or f"http://{f'[{host}]' if ':' in host else host}:{args.port}"
    command = app_command(args.path, allow_actions=args.allow_actions, max_size=args.max_size, logs=args.log or [],
                          allow_reveal=args.allow_reveal)
    out = console(stderr=True)
    out.print(line(("ckpt-tui serve: ", "bold"), "the inspector of ", args.path or "the bundled demo", " on ",
                   (url, "bold")))
    if is_loopback(host):
        out.print(line(f"Listening on {host} (loopback): only this machine can connect; --host ADDRESS lets "
                       "others in."))
    else:
        out.print(line((f"Listening on {host}: anyone who can reach this machine on port {args.port} can open the "
                        "inspector and read the checkpoint.", "bold yellow")))
    out.print(line("Secrets are masked" + (" (S shows them: --allow-reveal)" if args.allow_reveal else
                                           " and S cannot show them") + "; build and restore are "
                   + ("on (--allow-actions)." if args.allow_actions else "off (--allow-actions turns them on).")))
    make_server(command, host, args.port, f"ckpt-tui {args.path or 'demo'}", args.public_url).serve()
    return 0


def register(sub: Any) -> None:
    s = add_command(
        sub, "serve", cmd_serve, summary="the inspector in a browser", path=None,
        description="Serve the inspector to a web browser (textual-serve): every tab that connects gets the "
                    "inspector of PATH (no PATH: the bundled demo) in a process of its own. Secrets are masked "
                    "(S cannot show them unless --allow-reveal) and build/restore are off unless --allow-actions. "
                    "It listens on "
                    "127.0.0.1 (this machine only) unless --host says otherwise, and the page loads nothing from "
                    "anywhere but this server.")
    s.add_argument("path", nargs="?", help="archive, directory, OCI image, or a directory of checkpoints")
    s.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST}: loopback)")
    s.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    s.add_argument("--public-url", metavar="URL",
                   help="the URL browsers reach this server at, when it is not http://HOST:PORT (a proxy)")
    s.add_argument("--allow-actions", action="store_true", help="let the served inspector build and restore")
    s.add_argument("--allow-reveal", action="store_true", help="let S show the secrets in the served inspector")
    s.add_argument("--log", action="append", metavar="FILE", help="attach an external CRIU log")
