"""In-process measurements, run by bench/run.py in a fresh child process each time.

    python bench/probe.py TASK ARCHIVE [options]     -> one JSON object on stdout

Tasks: ``load`` (open + build + to_json, split), ``search`` (literal / regex / UTF-16 over
all memory, after a load), ``ui`` (first overview frame, fully loaded), ``hexview``
(keystroke to frame in a big VMA), ``rootfs`` (files tree render and filter).
The UI tasks print ``{"skipped": reason}`` when the app cannot be imported or driven.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.append(str(Path(__file__).resolve().parent.parent))  # after PYTHONPATH

from gen import SECRET, SECRET_REGEX, WIDE


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_now_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1 << 20)
    except OSError:
        return 0.0


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) so a phase can be measured on its own."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_mb() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return maxrss_mb()


# -- core tasks ---------------------------------------------------------------------


def task_load(args) -> dict:
    t0 = time.perf_counter()
    from ckpt_tui.archive import open_source
    from ckpt_tui.model import build_checkpoint
    from ckpt_tui.model.export import to_json

    t1 = time.perf_counter()
    src = open_source(args.archive)
    t2 = time.perf_counter()
    ck = build_checkpoint(src)
    t3 = time.perf_counter()
    doc = json.dumps(to_json(ck), default=str)
    t4 = time.perf_counter()
    ck.close()
    t5 = time.perf_counter()
    return {"import": t1 - t0, "open": t2 - t1, "build": t3 - t2, "json": t4 - t3, "close": t5 - t4,
            "total": t5 - t0, "json_bytes": len(doc), "processes": len(ck.processes),
            "problems": len(ck.problems), "peak_rss_mb": maxrss_mb()}


def task_search(args) -> dict:
    from ckpt_tui.model import load_checkpoint
    from ckpt_tui.model.memory import search_memory
    from ckpt_tui.model.patterns import SearchPattern

    t0 = time.perf_counter()
    ck = load_checkpoint(args.archive)
    t1 = time.perf_counter()
    scanned = sum(r.present_bytes for r in ck.readers.values())
    out = {"load": t1 - t0, "load_peak_rss_mb": peak_mb(), "scanned_bytes": scanned}
    modes = [m for m in args.modes.split(",") if m]
    for mode in modes:
        reset_peak()
        if mode == "literal":
            pattern = SearchPattern.of(SECRET)
        elif mode == "regex":
            pattern = SearchPattern.of(SECRET_REGEX, regex=True)
        elif mode == "utf16":
            pattern = SearchPattern.of(WIDE, utf16=True)
        else:
            raise SystemExit(f"unknown mode {mode}")
        times = []
        n = 0
        for _ in range(args.repeat):
            s = time.perf_counter()
            n = sum(1 for _m in search_memory(ck, pattern))
            times.append(time.perf_counter() - s)
        out[mode] = {"first": times[0], "best": min(times), "matches": n, "peak_rss_mb": peak_mb()}
    ck.close()
    out["peak_rss_mb"] = maxrss_mb()
    return out


# -- UI tasks -------------------------------------------------------------------------


def _screen_text(app) -> str:
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(seg.text for seg in strip) for strip in strips)


def _import_app():
    try:
        from ckpt_tui.app import CkptApp
    except ImportError as exc:  # the UI's dependencies are missing: skip cleanly
        return None, f"ckpt_tui.app not importable: {type(exc).__name__}: {exc}"
    return CkptApp, ""


def task_ui(args) -> dict:
    CkptApp, why = _import_app()
    if CkptApp is None:
        return {"skipped": why}
    name = args.name

    async def run() -> dict:
        t0 = time.perf_counter()
        app = CkptApp(args.archive)
        first = loaded = None
        async with app.run_test(size=(160, 50)) as pilot:
            t_started = time.perf_counter() - t0
            while time.perf_counter() - t0 < args.timeout:
                await pilot.pause(0.005)
                if first is None and name and name in _screen_text(app):
                    first = time.perf_counter() - t0
                if app.checkpoint is not None or getattr(app, "load_error", ""):
                    await pilot.pause()
                    _screen_text(app)
                    loaded = time.perf_counter() - t0
                    if first is None:
                        first = loaded
                    break
            error = getattr(app, "load_error", "")
            await app.workers.wait_for_complete() if hasattr(app, "workers") else None
        return {"app_started": t_started, "first_overview_frame": first, "fully_loaded": loaded,
                "error": error, "peak_rss_mb": maxrss_mb()}

    return asyncio.run(run())


async def _wait_loaded(app, pilot, timeout: float) -> None:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        await pilot.pause(0.01)
        if app.checkpoint is not None or getattr(app, "load_error", ""):
            break
    if app.checkpoint is None:
        raise RuntimeError(f"not loaded: {getattr(app, 'load_error', '') or 'timeout'}")
    await app.workers.wait_for_complete()
    await pilot.pause()


def task_hexview(args) -> dict:
    CkptApp, why = _import_app()
    if CkptApp is None:
        return {"skipped": why}

    async def run() -> dict:
        app = CkptApp(args.archive)
        async with app.run_test(size=(160, 50)) as pilot:
            await _wait_loaded(app, pilot, args.timeout)
            ck = app.checkpoint
            pid = min(ck.processes)
            vma = max(ck.processes[pid].vmas, key=lambda v: v.end - v.start)
            addr = vma.start + (vma.end - vma.start) // 2
            t0 = time.perf_counter()
            app.open_hex(pid, addr)
            await pilot.pause()
            await app.workers.wait_for_complete()
            await pilot.pause()
            _screen_text(app)
            t_open = time.perf_counter() - t0
            from ckpt_tui.screens.memory import HexScreen

            if not isinstance(app.screen, HexScreen):
                return {"skipped": "the hex screen did not open"}
            async def press(key: str) -> tuple[float, float]:
                s, c = time.perf_counter(), time.process_time()
                await pilot.press(key)
                await pilot.pause()
                _screen_text(app)
                return time.perf_counter() - s, time.process_time() - c

            base = sorted(press_ for press_, _cpu in [await press("f19") for _ in range(5)])  # unbound key
            keys = ["down"] * 5 + ["pagedown"] * 5 + ["up"] * 3 + ["pageup"] * 3 + ["right_square_bracket", "left_square_bracket"]
            lat: dict[str, list[float]] = {}
            cpu: list[float] = []
            for key in keys:
                wall, used = await press(key)
                lat.setdefault(key, []).append(wall)
                cpu.append(used)
            allv = sorted(v for vs in lat.values() for v in vs)
            # the same keys posted straight to the view (no pilot): until the cursor or the
            # scroll position changed, plus rendering the whole frame once
            from textual import events

            from ckpt_tui.widgets.hexview import HexView

            view = app.screen.query_one(HexView)
            direct: list[float] = []
            direct_keys: dict[str, float] = {}
            for key in keys:
                state = (view.cursor_row, view.scroll_offset.y)
                s = time.perf_counter()
                app.post_message(events.Key(key, None))
                while (view.cursor_row, view.scroll_offset.y) == state and time.perf_counter() - s < 2:
                    await asyncio.sleep(0)
                _screen_text(app)
                direct.append(time.perf_counter() - s)
                direct_keys[key] = max(direct_keys.get(key, 0.0), direct[-1])
                await asyncio.sleep(0.01)
            direct.sort()
            return {"vma_bytes": vma.end - vma.start, "open": t_open, "median": allv[len(allv) // 2],
                    "direct_median": direct[len(direct) // 2], "direct_max": direct[-1], "direct_keys": direct_keys,
                    "max": allv[-1], "noop_median": base[len(base) // 2], "cpu_median": sorted(cpu)[len(cpu) // 2],
                    "per_key": {k: max(v) for k, v in lat.items()}, "peak_rss_mb": maxrss_mb()}

    return asyncio.run(run())


def task_rootfs(args) -> dict:
    CkptApp, why = _import_app()
    if CkptApp is None:
        return {"skipped": why}

    async def run() -> dict:
        app = CkptApp(args.archive)
        async with app.run_test(size=(160, 50)) as pilot:
            await _wait_loaded(app, pilot, args.timeout)
            entries = len(app.checkpoint.rootfs.entries)
            from ckpt_tui.widgets.files import FilesTree

            t0 = time.perf_counter()
            await app.goto_section("files")
            await pilot.pause()
            _screen_text(app)
            t_render = time.perf_counter() - t0
            trees = app.screen.query(FilesTree)
            if not trees:
                return {"skipped": "no files tree on the screen", "entries": entries}
            tree = trees.first()
            out = {"entries": entries, "render": t_render}
            for label, text in (("filter", "gamma-0042"), ("filter_none", "no-such-name-xyz"), ("clear", "")):
                s = time.perf_counter()
                tree.set_filter(text)
                await pilot.pause()
                _screen_text(app)
                out[label] = time.perf_counter() - s
            tree.focus()
            s = time.perf_counter()
            await pilot.press("end")
            await pilot.pause()
            _screen_text(app)
            out["key_end"] = time.perf_counter() - s
            # scrolling, keys posted straight to the app (no pilot): until the cursor moved,
            # plus rendering the whole frame once
            from textual import events

            tree.set_filter("gamma")  # ~12,000 matches shown expanded: a long list to scroll
            await pilot.pause()
            await pilot.press("home")
            await pilot.pause()
            out["scroll_lines"] = tree.last_line + 1
            scroll: dict[str, float] = {}
            all_keys: list[float] = []
            for key in ["down"] * 10 + ["pagedown"] * 10 + ["end", "pageup", "up", "home"]:
                before = tree.cursor_line
                s = time.perf_counter()
                app.post_message(events.Key(key, None))
                while tree.cursor_line == before and time.perf_counter() - s < 2:
                    await asyncio.sleep(0)
                _screen_text(app)
                took = time.perf_counter() - s
                if "first" not in out:
                    out["first"] = took  # the tree lays out its lines again after a filter
                else:
                    scroll[key] = max(scroll.get(key, 0.0), took)
                    all_keys.append(took)
                await asyncio.sleep(0.01)
            out["scroll"] = scroll
            all_keys.sort()
            out["scroll_median"] = all_keys[len(all_keys) // 2]
            out["peak_rss_mb"] = maxrss_mb()
            return out

    return asyncio.run(run())


def task_ui_keys(args) -> dict:
    """Keys while the checkpoint is still loading. Key events are posted straight to the app
    (Textual's test pilot waits for the whole process to go idle after each key, which
    a loading thread never lets it do) and timed until their handler has run: section keys
    ``2`` / ``1`` (processes, overview) and the help screen opened and closed."""
    CkptApp, why = _import_app()
    if CkptApp is None:
        return {"skipped": why}
    from textual import events

    from ckpt_tui.screens.help import HelpScreen

    steps = [
        (events.Key("2", "2"), lambda app: app.main.current == "processes", "section"),
        (events.Key("1", "1"), lambda app: app.main.current == "overview", "section"),
        (events.Key("question_mark", "?"), lambda app: isinstance(app.screen, HelpScreen), "help"),
        (events.Key("escape", None), lambda app: not isinstance(app.screen, HelpScreen), "help"),
    ]

    async def run() -> dict:
        app = CkptApp(args.archive)
        times: dict[str, list[float]] = {"section": [], "help": []}
        async with app.run_test(size=(160, 50)):
            t0 = time.perf_counter()
            i = 0
            while app.checkpoint is None and not getattr(app, "load_error", "") and time.perf_counter() - t0 < args.timeout:
                event, done, kind = steps[i % len(steps)]
                i += 1
                t = time.perf_counter()
                app.post_message(event)
                while not done(app) and time.perf_counter() - t < 5:
                    await asyncio.sleep(0.001)
                if app.checkpoint is None:  # only keys answered while the load was going on
                    times[kind].append(time.perf_counter() - t)
                await asyncio.sleep(0.02)  # a fast typist, not a flood
            loaded = time.perf_counter() - t0
        out: dict = {"loaded": loaded}
        for kind, values in times.items():
            values.sort()
            out[kind] = {"n": len(values), "median": values[len(values) // 2] if values else None,
                         "p90": values[int(len(values) * 0.9)] if values else None,
                         "max": values[-1] if values else None}
        return out

    return asyncio.run(run())


TASKS = {"load": task_load, "search": task_search, "ui": task_ui, "hexview": task_hexview, "rootfs": task_rootfs,
         "ui_keys": task_ui_keys}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("task", choices=sorted(TASKS))
    p.add_argument("archive")
    p.add_argument("--modes", default="literal,regex,utf16")
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--name", default="", help="text the first overview frame shows (container name)")
    p.add_argument("--timeout", type=float, default=300)
    args = p.parse_args()
    try:
        result = TASKS[args.task](args)
    except Exception as exc:  # noqa: BLE001 - the task's failure is the probe's answer (JSON on stdout)
        result = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-2000:]}
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    os._exit(0)  # skip slow interpreter teardown (and any lingering UI threads)


if __name__ == "__main__":
    main()
