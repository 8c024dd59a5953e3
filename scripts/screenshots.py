#!/usr/bin/env python3
"""Drive ckpt-tui headless on the test fixtures and write an SVG of each pane into screenshots/.

    python scripts/screenshots.py [--out screenshots] [--size 120x40]
    python scripts/screenshots.py browser     # ckpt-tui serve in headless Chromium: 20-browser-serve.png

The clock is frozen so the pictures do not change from one run to the next.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ckpt_tui.app import CkptApp  # noqa: E402

DATA = ROOT / "tests" / "data"
NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=timezone.utc)

Step = Callable[[CkptApp, object], Awaitable[None]]


async def wait_loaded(app: CkptApp, pilot) -> None:
    for _ in range(300):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if app.checkpoint is not None or app.load_error:
            break
    await pilot.pause()


def keys(*names: str) -> Step:
    async def run(app: CkptApp, pilot) -> None:
        for name in names:
            await pilot.press(name)
            await pilot.pause()

    return run


def process_tab(tab: str, env_name: str | None = None, pid: int | None = None) -> Step:
    async def run(app: CkptApp, pilot) -> None:
        target = pid
        if target is None and env_name:
            target = next(p.pid for p in app.checkpoint.process_list() if any(v.name == env_name for v in p.env))
        await app.goto_process(target if target is not None else app.checkpoint.roots[0], tab)

    return run


def hex_at(pattern: bytes) -> Step:
    async def run(app: CkptApp, pilot) -> None:
        match = next(app.checkpoint.search_memory(pattern))
        app.open_hex(match.pid, match.address)

    return run


def search(pattern: str) -> Step:
    async def run(app: CkptApp, pilot) -> None:
        app.open_search(pattern)
        await pilot.pause()
        app.screen.action_start()
        await app.workers.wait_for_complete()

    return run


def view_file(path: str) -> Step:
    async def run(app: CkptApp, pilot) -> None:
        await app.goto_file(path)
        await pilot.pause()
        await pilot.press("enter")

    return run


def diff_with(other: str, *then: str, vma: str = "", after: tuple[str, ...] = ()) -> Step:
    """Compare the open checkpoint with tests/data/<other>, then press keys; ``vma``: put the
    cursor on the first VMA whose label has it (its page map shows below the tree), then
    press ``after``."""

    async def run(app: CkptApp, pilot) -> None:
        app.compare_with(DATA / other)
        for _ in range(100):
            await app.workers.wait_for_complete()
            await pilot.pause()
            if getattr(app.screen, "result", None) is not None:
                break
        await keys(*then)(app, pilot)
        if vma:
            from ckpt_tui.actions.diff.result import VmaNode
            from ckpt_tui.widgets.difftree import DiffTree

            tree = app.screen.query_one(DiffTree)
            for line in range(tree.last_line + 1):
                node = tree.get_node_at_line(line)
                if node is not None and isinstance(node.data, VmaNode) and vma in node.data.label:
                    tree.cursor_line = line
                    break
            await pilot.pause()
        await keys(*after)(app, pilot)

    return run


SHOTS: list[tuple[str, str | None, dict, Step]] = [
    ("01-overview", "web-httpd.tar.zst", {}, keys()),
    ("02-processes", "ps-tree.tar.gz", {}, keys("2")),
    ("03-process-command", "web-httpd.tar.zst", {}, process_tab("tab-command", pid=1)),
    ("04-process-environment", "ps-tree.tar.gz", {}, process_tab("tab-env", env_name="DB_PASSWORD")),
    ("05-process-memory-map", "memhog-16m-threads.tar.zst", {}, process_tab("tab-memory", pid=1)),
    ("06-process-credentials", "web-httpd.tar.zst", {}, process_tab("tab-creds", pid=10)),
    ("07-memory-vmas", "memhog-16m-threads.tar.zst", {}, keys("3")),
    ("08-hex-view", "memhog-16m-threads.tar.zst", {}, hex_at(b"CKPT-MARKER-000000-needle")),
    ("09-memory-search", "memhog-16m-threads.tar.zst", {}, search("CKPT-MARKER")),
    ("10-files", "web-httpd.tar.zst", {}, keys("4", "enter")),
    ("11-file-view", "web-httpd.tar.zst", {}, view_file("/etc/motd")),
    ("12-network", "tcp-server.tar.zst", {}, keys("5")),
    ("13-mounts", "web-httpd.tar.zst", {}, keys("6")),
    ("14-logs", "broken-missing-pages.tar", {"log_files": [str(DATA / "logs" / "restore-missing-pages.log")]},
     keys("7", "enter", "tab", "e")),
    ("15-problems", "broken-missing-pages.tar", {}, keys("8", "enter")),
    ("16-help", "web-httpd.tar.zst", {}, keys("question_mark")),
    ("21-diff", "turn2/diff-a1.tar.zst", {}, diff_with("turn2/diff-a2.tar.zst", "2")),
    ("22-diff-memory", "turn2/diff-a1.tar.zst", {}, diff_with("turn2/diff-a2.tar.zst", "3", vma="[heap]")),
    ("23-diff-hex", "turn2/diff-a1.tar.zst", {}, diff_with("turn2/diff-a2.tar.zst", "3", vma="[heap]", after=("x",))),
    ("24-diff-files", "turn2/diff-a1.tar.zst", {}, diff_with("turn2/diff-a2.tar.zst", "4")),
]


async def shoot(out: Path, size: tuple[int, int], only: set[str]) -> list[Path]:
    written = []
    for name, fixture, kwargs, step in SHOTS:
        if only and name not in only and name.split("-", 1)[-1] not in only:
            continue
        app = CkptApp(str(DATA / fixture) if fixture else None, now=NOW, **kwargs)
        async with app.run_test(size=size) as pilot:
            await wait_loaded(app, pilot)
            await step(app, pilot)
            await app.workers.wait_for_complete()
            await pilot.pause()
            await pilot.pause()
            path = out / f"{name}.svg"
            path.write_text(app.export_screenshot(title=f"ckpt-tui — {name.split('-', 1)[1]}"), "utf-8")
            written.append(path)
            print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return written


BROWSER_SHOT = "20-browser-serve"


def shoot_browser(out: Path) -> Path:
    """``ckpt-tui serve`` of web-httpd in headless Chromium (tests/browser.py), on its Processes pane."""
    import tempfile

    from tests.browser import Screen, browser, drive_served, served

    path = out / f"{BROWSER_SHOT}.png"
    with served(DATA / "web-httpd.tar.zst") as (url, _proc), tempfile.TemporaryDirectory() as tmp, \
            browser(Path(tmp) / "profile", (url,), size=(1400, 860)) as (page, _requests):
        seen = drive_served(page, url, Screen(page), path)
    if not all(seen.values()):
        raise SystemExit(f"the served inspector did not show everything: {seen}")
    print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "screenshots"), help="directory for the SVGs")
    parser.add_argument("--size", default="120x40", help="terminal size, COLSxROWS")
    parser.add_argument("only", nargs="*", help="names of the shots to take (default: all)")
    args = parser.parse_args(argv)
    cols, rows = (int(v) for v in args.size.lower().split("x"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    only = set(args.only)
    if not only or "browser" in only or BROWSER_SHOT in only:
        shoot_browser(out)
    only -= {"browser", BROWSER_SHOT}
    if only or not args.only:
        asyncio.run(shoot(out, (cols, rows), only))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
