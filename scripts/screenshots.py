#!/usr/bin/env python3
"""Drive ckpt-tui headless on the test fixtures and write an SVG of each pane into screenshots/.

    python scripts/screenshots.py [--out screenshots] [--size 130x42] [NAME ...]
    python scripts/screenshots.py browser     # ckpt-tui serve in headless Chromium: 20-browser-serve.png

The clock is frozen and times are shown without "(7 days ago)", so the pictures neither change
from one run to the next nor go stale. Besides the real fixtures, two checkpoints are derived
from them with the project's own writers (bench/gen.py, tests/corpus.py) in a temp dir: a deep
process tree (ps-tree's shell copied under new pids and nested) and a 5,000-file root FS diff
(web-httpd's, grown). The failed restore is broken-missing-pages with its real restore log.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.gen import Spec, generate  # noqa: E402
from ckpt_tui.app import CkptApp  # noqa: E402
from tests.corpus import load_img, save_img, unpack  # noqa: E402

DATA = ROOT / "tests" / "data"
NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=timezone.utc)
FAILED_LOG = str(DATA / "logs" / "restore-missing-pages.log")

# the deep tree: child pid -> parent pid, over ps-tree's pid 1 and twelve copies of its pid 9
DEEP_TREE = {100: 1, 101: 100, 102: 101, 103: 102, 104: 103, 105: 104, 106: 101, 107: 101, 108: 103,
             109: 104, 110: 109, 111: 1}


def derive(tmp: Path) -> dict[str, Path]:
    """The derived checkpoints, by name (written into ``tmp``)."""
    tree_archive = generate(Spec("shots-tree", "ps-tree.tar.gz", "tar", procs=len(DEEP_TREE), copy_pid=9), cache=tmp,
                            log=lambda *_a: None)
    tree = unpack(str(tree_archive), tmp / "deep-tree")
    pstree = load_img(tree, "pstree.img")
    for entry in pstree.entries:
        if entry.message.pid in DEEP_TREE:
            entry.message.ppid = DEEP_TREE[entry.message.pid]
    save_img(tree, "pstree.img", pstree)
    files = generate(Spec("shots-files", "web-httpd.tar.zst", "zst", files=5000), cache=tmp, log=lambda *_a: None)
    return {"deep-tree": tree, "files-5000": files}

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


def files_deep(*prefixes: str) -> Step:
    """The files pane from its top, with the directories down to the first file under each of
    ``prefixes`` open (the last one's file selected)."""
    async def run(app: CkptApp, pilot) -> None:
        for prefix in prefixes:
            path = next(e.path for e in app.checkpoint.rootfs.entries if e.path.startswith(prefix) and e.type == "file")
            await app.goto_file(path)
            await pilot.pause()
        app.screen.query_one("#files-tree").scroll_home(animate=False)
        await pilot.pause()

    return run


def expand_tree() -> Step:
    async def run(app: CkptApp, pilot) -> None:
        await pilot.press("2")
        await pilot.pause()
        app.main.query_one("#nav").reveal_process(110)
        await pilot.pause()

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
    ("02-failed-restore", "broken-missing-pages.tar", {"log_files": [FAILED_LOG]}, keys()),
    ("03-process-tree", "@deep-tree", {}, expand_tree()),
    ("04-process-command", "web-httpd.tar.zst", {}, process_tab("tab-command", pid=1)),
    ("05-process-environment", "ps-tree.tar.gz", {}, process_tab("tab-env", env_name="DB_PASSWORD")),
    ("06-process-files", "tcp-server.tar.zst", {}, process_tab("tab-files", pid=6)),
    ("07-process-memory-map", "memhog-16m-threads.tar.zst", {}, process_tab("tab-memory", pid=1)),
    ("08-process-credentials", "web-httpd.tar.zst", {}, process_tab("tab-creds", pid=10)),
    ("09-memory-vmas", "memhog-16m-threads.tar.zst", {}, keys("3")),
    ("10-hex-view", "memhog-16m-threads.tar.zst", {}, hex_at(b"CKPT-MARKER-000000-needle")),
    ("11-memory-search", "memhog-16m-threads.tar.zst", {}, search("CKPT-MARKER")),
    ("12-files", "@files-5000", {}, files_deep("etc/", "root/", "var/www/docs/", "srv/bench/d0000/")),
    ("13-file-view", "web-httpd.tar.zst", {}, view_file("/etc/motd")),
    ("14-network", "tcp-server.tar.zst", {}, keys("5")),
    ("15-mounts", "web-httpd.tar.zst", {}, keys("6")),
    ("16-logs", "broken-missing-pages.tar", {"log_files": [FAILED_LOG]}, keys("7", "e")),
    ("17-problems", "broken-missing-pages.tar", {}, keys("8")),
    ("18-help", "web-httpd.tar.zst", {}, keys("question_mark")),
    ("21-diff", "turn2/diff-a1.tar.zst", {}, diff_with("turn2/diff-a2.tar.zst", "2")),
    ("22-diff-memory", "turn2/diff-a1.tar.zst", {}, diff_with("turn2/diff-a2.tar.zst", "3", vma="[heap]")),
    ("23-diff-hex", "turn2/diff-a1.tar.zst", {}, diff_with("turn2/diff-a2.tar.zst", "3", vma="[heap]", after=("x",))),
    ("24-diff-files", "turn2/diff-a1.tar.zst", {}, diff_with("turn2/diff-a2.tar.zst", "4")),
]


async def shoot(out: Path, size: tuple[int, int], only: set[str], derived: dict[str, Path]) -> list[Path]:
    written = []
    for name, fixture, kwargs, step in SHOTS:
        if only and name not in only and name.split("-", 1)[-1] not in only:
            continue
        source = derived[fixture[1:]] if fixture and fixture.startswith("@") else DATA / fixture if fixture else None
        app = CkptApp(str(source) if source else None, now=NOW, relative_times=False, **kwargs)
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
    parser.add_argument("--size", default="130x42", help="terminal size, COLSxROWS")
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
        with tempfile.TemporaryDirectory(prefix="ckpt-tui-shots-") as tmp:
            asyncio.run(shoot(out, (cols, rows), only, derive(Path(tmp))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
