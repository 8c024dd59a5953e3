"""Command palette providers: processes, files, sockets, addresses and actions.

Hits are listed by kind — processes first, then files, sockets, then memory (VMAs and
addresses), then the actions — and by how well they match within a kind: each provider's
``TIER`` is added to the matcher's score (0..1), and the palette sorts by the sum."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from textual.command import DiscoveryHit, Hit, Hits, Matcher, Provider
from textual.content import Content
from textual.markup import escape

from .text import parse_address, plural
from .widgets.format import vma_label
from .widgets.navtree import SECTIONS

if TYPE_CHECKING:  # pragma: no cover
    from .model.checkpoint import Checkpoint
    from .ui.app import CkptApp

MAX_HITS = 60
MAX_FILES_SCANNED = 50_000


def _bytes(n: int) -> str:
    """An exact byte count: "1 byte", "4,096 bytes"."""
    return f"{n:,} byte" if n == 1 else f"{n:,} bytes"


Item = tuple[str, Callable[[], Any], str]


def highlight(matcher: Matcher, text: str) -> Content:
    """``text`` as plain content (names from a checkpoint are never markup: ``[anon]``, a file
    called ``[b]``) with the characters the query matched highlighted."""
    content = Content(text)
    _score, offsets = matcher.fuzzy_search.match(matcher.query, text)
    for offset in offsets:
        if not text[offset].isspace():
            content = content.stylize(matcher.match_style, offset, offset + 1)
    return content


class _Base(Provider):
    """Items as (text, callback, help); search by fuzzy match, discover the first few."""

    TIER = 0.0  # added to every score: the palette lists higher tiers first

    @property
    def host(self) -> CkptApp:
        """The app these providers are registered on (``CkptApp.COMMANDS``)."""
        return cast("CkptApp", self.app)

    @property
    def checkpoint(self) -> Checkpoint | None:
        return self.host.session.checkpoint

    def items(self) -> Iterator[Item]:  # pragma: no cover - overridden
        return iter(())

    async def discover(self) -> Hits:
        for index, (text, callback, help_text) in enumerate(self.items()):
            if index >= 12:
                break
            if self.TIER:  # a tiered hit, so that the kinds keep their order before anything is typed
                yield Hit(self.TIER - index / 100, Content(text), callback, text=text, help=escape(help_text))
            else:
                yield DiscoveryHit(Content(text), callback, text=text, help=escape(help_text))

    def extra_score(self, query: str, text: str, help_text: str) -> float:
        """A score from more than the fuzzy match of ``text`` (0: none)."""
        return 0.0

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        hits = 0
        for index, (text, callback, help_text) in enumerate(self.items()):
            if index % 500 == 499:
                await asyncio.sleep(0)  # a big file list must not freeze the palette
            score = min(max(matcher.match(text), self.extra_score(query, text, help_text)), 1.0)  # (fuzzy can exceed 1)
            if score > 0:
                yield Hit(self.TIER + score, highlight(matcher, text), callback, text=text, help=escape(help_text))
                hits += 1
                if hits >= MAX_HITS:
                    break


class ProcessCommands(_Base):
    """Processes by pid and name, and by any part of their command line."""

    TIER = 40.0

    def items(self) -> Iterator[Item]:
        cp = self.checkpoint
        if cp is None:
            return
        app = self.host
        for proc in cp.process_list():
            title = proc.title.replace("\n", " ")
            yield (f"process {proc.pid} {proc.comm}", partial(app.goto_process, proc.pid),
                   f"{proc.state}, {plural(max(len(proc.threads), 1), 'thread')}: {title[:80]}")

    def extra_score(self, query: str, text: str, help_text: str) -> float:
        # the command line is in the help (after the first ": "): a plain substring of it matches
        needle = query.strip().lower()
        command = help_text.partition(": ")[2].lower()
        return 0.9 if len(needle) >= 2 and needle in command else 0.0


class FileCommands(_Base):
    TIER = 30.0

    def items(self) -> Iterator[Item]:
        cp = self.checkpoint
        if cp is None:
            return
        app = self.host
        for count, entry in enumerate(cp.rootfs.entries):
            if count >= MAX_FILES_SCANNED:
                break
            if entry.type in ("dir", "whiteout"):
                continue
            yield (f"file /{entry.path.strip('/')}", partial(app.goto_file, entry.path),
                   f"changed {entry.type}, {_bytes(entry.size)}")
        for path in cp.rootfs.deleted:
            yield (f"file {path} (deleted)", partial(app.goto_file, path), "deleted in the container")


class SocketCommands(_Base):
    TIER = 20.0

    def items(self) -> Iterator[Item]:
        cp = self.checkpoint
        if cp is None:
            return
        app = self.host
        for sock in cp.sockets:
            comm = cp.processes[sock.pid].comm if sock.pid in cp.processes else ""
            peer = sock.remote
            text = f"socket {sock.proto} {sock.local} {sock.state}" + (f" → {peer}" if peer else "")
            yield (text, partial(app.goto_socket, sock), f"pid {sock.pid} {comm}, fd {sock.fd}")


class AddressCommands(_Base):
    """Type an address (hex, ``0x`` or not) to open the hex view there; VMAs are listed by label too."""

    TIER = 10.0

    def items(self) -> Iterator[Item]:
        cp = self.checkpoint
        if cp is None:
            return
        app = self.host
        for proc in cp.process_list():
            for vma in proc.vmas:
                yield (f"memory 0x{vma.start:x} {vma_label(vma, proc.mm)} pid {proc.pid} {proc.comm}",
                       partial(app.open_hex, proc.pid, vma.start),
                       f"{vma.perms} {_bytes(vma.end - vma.start)}, {plural(vma.pages_present, 'page')} dumped")

    async def search(self, query: str) -> Hits:
        cp = self.checkpoint
        text = query.strip().lower()
        candidate = text[2:] if text.startswith("0x") else text
        if cp is not None and len(candidate) >= 3 and all(c in "0123456789abcdef" for c in candidate):
            addr = parse_address(candidate)
            app = self.host
            if addr is not None:
                for proc in cp.process_list():
                    for vma in proc.vmas:
                        if vma.start <= addr < vma.end:
                            label = vma_label(vma, proc.mm)
                            words = f"go to 0x{addr:x} in pid {proc.pid} {proc.comm}, {label}"
                            yield Hit(self.TIER + 5.0, Content(words), partial(app.open_hex, proc.pid, addr), text=words,
                                      help=escape(f"{vma.perms} 0x{vma.start:x}-0x{vma.end:x}, "
                                                  f"{_bytes(addr - vma.start)} into the VMA"))
        async for hit in super().search(query):
            yield hit


class ActionCommands(_Base):
    def items(self) -> Iterator[Item]:
        app = self.host
        session = app.session
        for kind, title in SECTIONS:
            yield (f"go to {title}", partial(app.goto_section, kind), f"show the {title} pane")
        if session.checkpoint is not None:
            yield ("search memory", app.open_search, "search every process's memory for text, hex or a regex")
            if session.operation_blocked("build") is None:
                yield ("build checkpoint image", app.operations.start_build, "write an OCI checkpoint image (asks first)")
            if session.operation_blocked("restore") is None:
                yield ("restore container", app.operations.start_restore,
                       "restore with the container engine (asks first)")
            yield ("export selection", app.action_export, "write the selection to a file (ctrl+s)")
            yield ("export report (HTML)", partial(app.operations.export_report, "html"),
                   "one self-contained HTML file for a bug report, secrets masked (as ckpt-tui report)")
            yield ("export report (Markdown)", partial(app.operations.export_report, "md"),
                   "the same report as Markdown, for pasting into an issue")
        yield ("copy selection", app.action_copy, "copy the selected value or path (c)")
        yield ("toggle secrets", app.action_toggle_secrets, "show / mask secret-looking environment values (S)")
        yield ("keys and help", app.action_help, "list the keys (?)")
