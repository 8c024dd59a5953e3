#!/usr/bin/env python3
"""ckpt-tui benchmark (issue #6): speed and memory on large checkpoints.

    python bench/run.py                 # everything, full sizes (first run generates ~2 GB of archives)
    python bench/run.py --quick         # small sizes, a smoke run
    python bench/run.py --only inspect,memsearch --repeat 5
    python bench/run.py --sizes mem=120M+80M,big=1G,procs=1000,files=100000

Archives are derived from the real fixtures in tests/data by bench/gen.py and cached in
bench/.cache/ (gitignored). Every measurement runs in a fresh child process: wall time,
CPU time and peak RSS (ru_maxrss from wait4) of the child. ``cold`` means a new process
with no ckpt-tui cache (the archive itself is in the OS page cache unless --drop-cache,
which evicts it with posix_fadvise first). Where ``checkpointctl`` is on PATH the same
work is run with it and the speed ratio is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.append(str(ROOT))  # after PYTHONPATH / the installed package

import gen  # noqa: E402
from gen import SECRET, SECRET_REGEX, WIDE, GiB, MiB, Spec  # noqa: E402

BENCHES = ("inspect", "reopen", "memsearch", "rss", "ui", "hexview", "rootfs")
FULL = {"mem": [120 * MiB, 80 * MiB], "big": 1 * GiB, "procs": 1000, "files": 100_000}
QUICK = {"mem": [20 * MiB, 18 * MiB], "big": 48 * MiB, "procs": 40, "files": 3000}

MEMHOG = "memhog-16m-threads.tar.zst"
MEMHOG_PAGES = 16859136  # pages-1.img of the fixture: what pid 1 holds before growing
WEB = "web-httpd.tar.zst"


# -- sizes and archives ------------------------------------------------------------


def parse_size(text: str) -> int:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*", text, re.I)
    if not m:
        raise argparse.ArgumentTypeError(f"not a size: {text!r}")
    return int(float(m.group(1)) * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[m.group(2).lower()])


def parse_sizes(text: str, base: dict) -> dict:
    sizes = dict(base)
    for item in filter(None, (t.strip() for t in text.split(","))):
        key, _, value = item.partition("=")
        if key == "mem":
            sizes["mem"] = [parse_size(v) for v in value.split("+")]
        elif key == "big":
            sizes["big"] = parse_size(value)
        elif key in ("procs", "files"):
            sizes[key] = int(value)
        else:
            raise SystemExit(f"--sizes: unknown key {key!r} (mem, big, procs, files)")
    return sizes


def archive_specs(sizes: dict) -> dict[str, Spec]:
    mem = sizes["mem"]
    tag = "+".join(f"{m // MiB}M" for m in mem)
    return {
        "mem.zst": Spec(f"mem-{tag}", MEMHOG, "zst", mem=mem),
        "mem.gz": Spec(f"mem-{tag}", MEMHOG, "gz", mem=mem),
        "mem.tar": Spec(f"mem-{tag}", MEMHOG, "tar", mem=mem),
        # one process whose grown VMA alone is `big` bytes
        "big.zst": Spec(f"big-{sizes['big'] // MiB}M", MEMHOG, "zst", mem=[sizes["big"] + MEMHOG_PAGES]),
        "procs.zst": Spec(f"procs-{sizes['procs']}", WEB, "zst", procs=sizes["procs"], copy_pid=10),
        "files.zst": Spec(f"files-{sizes['files']}", WEB, "zst", files=sizes["files"]),
    }


NEEDS = {
    "inspect": ["mem.zst", "mem.gz", "mem.tar", "procs.zst", "files.zst", "big.zst"],
    "reopen": ["mem.zst", "files.zst"],
    "memsearch": ["mem.zst", "mem.tar"],
    "rss": ["big.zst"],
    "ui": ["mem.zst", "big.zst"],
    "hexview": ["big.zst"],
    "rootfs": ["files.zst"],
}


# -- child processes -----------------------------------------------------------------


@dataclass
class Run:
    wall: float
    cpu: float
    rss_mb: float
    rc: int
    out: bytes = b""
    err: str = ""

    @staticmethod
    def best(runs: list[Run]) -> Run:
        """The fastest of repeated runs (by wall time)."""
        return min(runs, key=lambda r: r.wall)


# A child's ru_maxrss includes the resident size of the process it was forked from (Linux
# carries the pre-exec mm's high-water mark over exec), so children are started by a small
# spawner process started before this one grows; its own RSS is ~10 MB.
_SPAWNER_CODE = r"""
import json, os, subprocess, sys, time
for line in sys.stdin:
    job = json.loads(line)
    out = open(job["stdout"], "wb") if job["stdout"] else subprocess.DEVNULL
    err = open(job["stderr"], "wb")
    t0 = time.perf_counter()
    p = subprocess.Popen(job["cmd"], stdout=out, stderr=err, env=job["env"])
    _pid, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    err.close()
    if job["stdout"]:
        out.close()
    print(json.dumps([wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss, p.returncode]), flush=True)
"""
_spawner: subprocess.Popen | None = None


def start_spawner() -> None:
    global _spawner
    if _spawner is None:
        _spawner = subprocess.Popen([sys.executable, "-S", "-c", _SPAWNER_CODE], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, text=True)


def run_child(cmd: list[str], env: dict | None = None, capture: bool = False) -> Run:
    """Run ``cmd``; wall time, CPU time and peak RSS of the child (wait4, in the spawner)."""
    start_spawner()
    assert _spawner is not None and _spawner.stdin and _spawner.stdout
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        out, err = Path(tmp, "out"), Path(tmp, "err")
        job = {"cmd": cmd, "env": {**os.environ, **(env or {})}, "stdout": str(out) if capture else None,
               "stderr": str(err)}
        _spawner.stdin.write(json.dumps(job) + "\n")
        _spawner.stdin.flush()
        wall, cpu, maxrss, rc = json.loads(_spawner.stdout.readline())
        return Run(wall, cpu, maxrss / 1024, rc, out.read_bytes() if capture else b"",
                   err.read_bytes().decode("utf-8", "replace")[-2000:])


def ckpt_tui_cmd() -> list[str]:
    exe = shutil.which("ckpt-tui")
    return [exe] if exe else [sys.executable, "-m", "ckpt_tui"]


def probe(task: str, archive: Path, *extra: str, env: dict | None = None) -> dict:
    r = run_child([sys.executable, str(HERE / "probe.py"), task, str(archive), *extra], env=env, capture=True)
    try:
        return json.loads(r.out.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": f"probe {task} failed (exit {r.rc}): {r.err.strip()[-500:]}"}


def drop_cache(path: Path) -> None:
    """Evict one file from the OS page cache (only that file; harmless)."""
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    except (OSError, AttributeError):
        pass


def warm(path: Path) -> None:
    with path.open("rb") as f:
        while f.read(8 * MiB):
            pass


# -- results ---------------------------------------------------------------------------


@dataclass
class Row:
    bench: str
    case: str
    metric: str
    value: float | None
    unit: str
    target: float | None = None
    better: str = "lower"  # or "higher"
    ctl: float | None = None  # checkpointctl's value for the same work
    note: str = ""

    def fmt(self, v: float | None) -> str:
        if v is None:
            return "-"
        if self.unit == "s":
            return f"{v:.3f} s" if v < 10 else f"{v:.1f} s"
        if self.unit == "ms":
            return f"{v:.1f} ms"
        if self.unit == "MB":
            return f"{v:.0f} MB"
        if self.unit == "MB/s":
            return f"{v:,.0f} MB/s"
        if self.unit == "x":
            return f"{v:.2f}x"
        return f"{v:g} {self.unit}".strip()

    @property
    def verdict(self) -> str:
        if self.value is None or self.target is None:
            return ""
        ok = self.value <= self.target if self.better == "lower" else self.value >= self.target
        return "ok" if ok else "MISS"


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    archives: dict[str, dict] = field(default_factory=dict)

    def add(self, *args, **kwargs) -> Row:
        row = Row(*args, **kwargs)
        self.rows.append(row)
        return row

    def skip(self, bench: str, case: str, why: str) -> None:
        self.rows.append(Row(bench, case, "skipped", None, "", note=why))


def print_table(res: Results) -> None:
    head = ("bench", "archive / case", "metric", "ckpt-tui", "target", "", "checkpointctl", "ckpt-tui is", "note")
    body = []
    for r in res.rows:
        tgt = "" if r.target is None else ("<= " if r.better == "lower" else ">= ") + r.fmt(r.target)
        ratio = ""
        if r.ctl is not None and r.value and r.ctl:
            speed = r.ctl / r.value if r.better == "lower" else r.value / r.ctl  # > 1: ckpt-tui is ahead
            ratio = f"{speed:.2f}x faster" if speed >= 1 else f"{1 / speed:.2f}x slower"
        body.append((r.bench, r.case, r.metric, r.fmt(r.value) if r.metric != "skipped" else "skipped", tgt,
                     r.verdict, r.fmt(r.ctl) if r.ctl is not None else "", ratio, r.note))
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=True)]
    widths[-1] = min(widths[-1], 70)

    def line(cells) -> str:
        return "  ".join(str(c)[:w].ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    print(line(head))
    print(line(["-" * w for w in widths]))
    last = None
    for cells in body:
        if last is not None and cells[0] != last:
            print()
        last = cells[0]
        print(line(cells))


# -- machine ---------------------------------------------------------------------------


def machine() -> dict:
    info: dict = {"python": platform.python_version(), "cores": os.cpu_count()}
    try:
        cpu = Path("/proc/cpuinfo").read_text()
        m = re.search(r"^model name\s*:\s*(.+)$", cpu, re.M)
        info["cpu"] = m.group(1).strip() if m else platform.processor()
    except OSError:
        info["cpu"] = platform.processor() or "?"
    try:
        mem = Path("/proc/meminfo").read_text()
        kb = int(re.search(r"^MemTotal:\s*(\d+)", mem, re.M).group(1))
        info["ram"] = f"{kb / (1 << 20):.1f} GiB"
    except (OSError, AttributeError):
        info["ram"] = "?"
    os_name = platform.platform()
    try:
        rel = Path("/etc/os-release").read_text()
        m = re.search(r'^PRETTY_NAME="?([^"\n]+)', rel, re.M)
        if m:
            os_name = f"{m.group(1)}, {platform.system()} {platform.release()}"
    except OSError:
        pass
    info["os"] = os_name
    try:
        info["load"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        pass
    info["tmp"] = tempfile.gettempdir()
    versions = {}
    for mod in ("zstandard", "google.protobuf", "textual"):
        try:
            m = __import__(mod, fromlist=["__version__"])
            versions[mod.split(".")[-1]] = getattr(m, "__version__", "?")
        except ImportError:
            versions[mod.split(".")[-1]] = "not installed"
    info["versions"] = versions
    ctl = shutil.which("checkpointctl")
    info["checkpointctl"] = ctl or "not on PATH"
    return info


def python_startup() -> float:
    best = min(run_child([sys.executable, "-c", "pass"]).wall for _ in range(3))
    return best


# -- the benchmarks -------------------------------------------------------------------


class Bench:
    def __init__(self, args, archives: dict[str, Path], res: Results) -> None:
        self.args = args
        self.archives = archives
        self.res = res
        self.ctl = shutil.which("checkpointctl")
        self.cli = ckpt_tui_cmd()

    def prepare(self, path: Path) -> None:
        if self.args.drop_cache:
            drop_cache(path)
        else:
            warm(path)

    def timed(self, cmd: list[str], path: Path, env: dict | None = None, n: int | None = None) -> list[Run]:
        runs = []
        for _ in range(n or self.args.repeat):
            self.prepare(path)
            r = run_child(cmd, env=env)
            if r.rc != 0:
                raise RuntimeError(f"{' '.join(cmd)} failed (exit {r.rc}): {r.err.strip()[-400:]}")
            runs.append(r)
        return runs

    def ctl_time(self, cmd: list[str], path: Path) -> float | None:
        if not self.ctl:
            return None
        try:
            return min(r.wall for r in self.timed([self.ctl, *cmd], path))
        except RuntimeError as exc:
            print(f"  checkpointctl: {exc}", file=sys.stderr)
            return None

    # inspect --json, cold
    def inspect(self) -> None:
        targets = {"mem.zst": 0.35}
        for key in NEEDS["inspect"]:
            path = self.archives[key]
            runs = self.timed([*self.cli, "inspect", "--json", str(path)], path)
            ctl = self.ctl_time(["inspect", "--all", "--format", "json", str(path)], path)
            case = f"{key} ({_human(path.stat().st_size)})"
            self.res.add("inspect", case, "wall (best)", min(r.wall for r in runs), "s", targets.get(key), ctl=ctl,
                         note=f"median {statistics.median(r.wall for r in runs):.3f} s, cpu {min(r.cpu for r in runs):.3f} s")
            self.res.add("inspect", case, "peak RSS", max(r.rss_mb for r in runs), "MB", 150 if key == "big.zst" else None)
        # where the time goes (in-process split)
        d = probe("load", self.archives["mem.zst"])
        if "error" not in d:
            self.res.add("inspect", "mem.zst in-process", "import / open / build / json", d["total"], "s",
                         note=f"import {d['import']:.3f}, open {d['open']:.3f}, build {d['build']:.3f}, "
                              f"json {d['json']:.3f}, close {d['close']:.3f}")
        else:
            self.res.skip("inspect", "mem.zst in-process", d["error"])

    # warm re-open with the opt-in cache
    def reopen(self) -> None:
        for key in NEEDS["reopen"]:
            path = self.archives[key]
            cache = Path(tempfile.mkdtemp(prefix="appcache-", dir=self.args.cache))
            try:
                env = {"CKPT_TUI_CACHE_DIR": str(cache)}
                first = self.timed([*self.cli, "inspect", "--json", str(path)], path, env=env, n=1)[0]
                runs = self.timed([*self.cli, "inspect", "--json", str(path)], path, env=env)
                case = f"{key} cache on"
                self.res.add("reopen", case, "1st open (fills cache)", first.wall, "s")
                self.res.add("reopen", case, "re-open `inspect --json` (best)", min(r.wall for r in runs), "s", 0.1,
                             note=f"peak RSS {max(r.rss_mb for r in runs):.0f} MB; the kept result is printed")
                d = probe("load", path, env=env)
                if "error" not in d:
                    # what the UI and the other commands do: the archive layer answers from the
                    # cache (no decompression), the model is built again
                    self.res.add("reopen", case, "re-open + model build in-process", d["open"] + d["build"], "s",
                                 note=f"open {d['open']:.3f}, build {d['build']:.3f} (imports {d['import']:.3f} not counted)")
                used = sum(f.stat().st_size for f in cache.rglob("*") if f.is_file())
                self.res.add("reopen", case, "cache size", used / MiB, "MB")
            finally:
                shutil.rmtree(cache, ignore_errors=True)

    # memsearch over all memory
    def memsearch(self) -> None:
        for key in NEEDS["memsearch"]:
            path = self.archives[key]
            cmds = {
                "literal": [SECRET.decode()],
                "regex": ["--regex", SECRET_REGEX.decode()],
                "utf16": ["--utf16", WIDE],
            }
            literal_wall = None
            for mode, extra in cmds.items():
                runs = self.timed([*self.cli, "memsearch", str(path), *extra], path)
                ctl = None
                if self.ctl and mode != "utf16":
                    ctl = self._ctl_memparse(path, mode)
                wall = min(r.wall for r in runs)
                if mode == "literal":
                    literal_wall = wall
                    target = 0.4 if key == "mem.zst" else None  # issue #6: search all memory of it, end to end
                else:
                    target = 3 * literal_wall if literal_wall else None
                self.res.add("memsearch", f"{key} CLI {mode}", "wall (best)", wall, "s", target, ctl=ctl,
                             note=f"peak RSS {max(r.rss_mb for r in runs):.0f} MB; opens the archive and searches "
                                  "while it streams")
            d = probe("search", path, "--repeat", "2")
            if "error" in d:
                self.res.skip("memsearch", key, d["error"])
                continue
            mb = d["scanned_bytes"] / 1e6
            lit = d["literal"]["first"]
            self.res.add("memsearch", f"{key} in-process", "memory scanned", mb, "MB", note=f"load {d['load']:.3f} s")
            for mode in ("literal", "regex", "utf16"):
                m = d[mode]
                target = 0.4 if (key == "mem.zst" and mode == "literal") else (3 * lit if mode != "literal" else None)
                self.res.add("memsearch", f"{key} in-process {mode}", "search time (1st)", m["first"], "s", target,
                             note=f"{mb / m['first']:,.0f} MB/s 1st, {mb / m['best']:,.0f} MB/s warm; "
                                  f"{m['matches']} matches; peak RSS {m['peak_rss_mb']:.0f} MB")
                self.res.add("memsearch", f"{key} in-process {mode}", "throughput (warm)", mb / m["best"], "MB/s",
                             1000 if mode == "literal" else None, better="higher")

    def _ctl_memparse(self, path: Path, mode: str) -> float | None:
        # checkpointctl searches one pid per run: run it for every pid and add up
        from ckpt_tui.errors import CkptError
        from ckpt_tui.model import load_checkpoint

        try:
            with load_checkpoint(path) as ck:
                pids = [p for p, proc in ck.processes.items() if proc.alive]
        except CkptError:
            return None
        flag = ["--search", SECRET.decode()] if mode == "literal" else ["--search-regex", SECRET_REGEX.decode()]
        total = 0.0
        for pid in pids:
            t = self.ctl_time(["memparse", "--pid", str(pid), *flag, str(path)], path)
            if t is None:
                return None
            total += t
        return total

    # peak RSS opening and searching a 1 GB archive
    def rss(self) -> None:
        path = self.archives["big.zst"]
        case = f"big.zst ({_human(path.stat().st_size)})"
        runs = self.timed([*self.cli, "memsearch", str(path), SECRET.decode()], path, n=1)
        self.res.add("rss", case, "memsearch peak RSS", runs[0].rss_mb, "MB", 150,
                     note=f"wall {runs[0].wall:.2f} s")
        d = probe("search", path, "--repeat", "1", "--modes", "literal")
        if "error" in d:
            self.res.skip("rss", case, d["error"])
            return
        self.res.add("rss", case, "open peak RSS", d["load_peak_rss_mb"], "MB", 150, note=f"load {d['load']:.2f} s")
        self.res.add("rss", case, "search peak RSS", d["literal"]["peak_rss_mb"], "MB", 150,
                     note=f"{d['scanned_bytes'] / 1e6 / d['literal']['first']:,.0f} MB/s")

    # UI: first overview frame and fully loaded
    def ui(self) -> None:
        path = self.archives["mem.zst"]
        self.prepare(path)
        d = probe("ui", path, "--name", "mem16")
        if d.get("skipped") or d.get("error"):
            self.res.skip("ui", "mem.zst", d.get("skipped") or d.get("error"))
            return
        self.res.add("ui", "mem.zst", "first overview frame", d["first_overview_frame"], "s",
                     note=f"app started {d['app_started']:.3f} s (Textual headless)")
        self.res.add("ui", "mem.zst", "fully loaded", d["fully_loaded"], "s", note=f"peak RSS {d['peak_rss_mb']:.0f} MB")
        # keys during a load: the 1 GiB archive loads for long enough to press many
        big = self.archives.get("big.zst")
        if big is None:
            return
        self.prepare(big)
        k = probe("ui_keys", big)
        if k.get("skipped") or k.get("error"):
            self.res.skip("ui", "keys while loading", k.get("skipped") or k.get("error"))
            return
        for kind, what in (("section", "section key (1/2)"), ("help", "help open/close")):
            d = k.get(kind) or {}
            if not d.get("n"):
                self.res.skip("ui", f"big.zst {what}", "the load ended before a key was pressed")
                continue
            self.res.add("ui", f"big.zst {what} while loading", "key answered (max)", d["max"] * 1000, "ms", 100,
                         note=f"median {d['median'] * 1000:.0f} ms, p90 {d['p90'] * 1000:.0f} ms over {d['n']} keys "
                              f"during a {k['loaded']:.1f} s load")

    def hexview(self) -> None:
        path = self.archives["big.zst"]
        d = probe("hexview", path)
        if d.get("skipped") or d.get("error"):
            self.res.skip("hexview", "big.zst", d.get("skipped") or d.get("error"))
            return
        case = f"VMA {_human(d['vma_bytes'])}"
        self.res.add("hexview", case, "open hex screen", d["open"], "s")
        self.res.add("hexview", case, "keystroke to frame (median)", d["median"] * 1000, "ms",
                     note=f"Textual pilot round trip; an unbound key takes {d['noop_median'] * 1000:.0f} ms")
        self.res.add("hexview", case, "keystroke to frame (max)", d["max"] * 1000, "ms",
                     note=", ".join(f"{k} {v * 1000:.0f}" for k, v in d["per_key"].items()))
        self.res.add("hexview", case, "CPU per keystroke (median)", d["cpu_median"] * 1000, "ms",
                     note="all threads; includes the pilot's own work")
        if d.get("direct_max") is not None:
            self.res.add("hexview", case, "key to new frame, no pilot (max)", d["direct_max"] * 1000, "ms", 100,
                         note=f"median {d['direct_median'] * 1000:.1f} ms (key event in, cursor moved, whole 160x50 "
                              "frame rendered); " + ", ".join(f"{k} {v * 1000:.0f}" for k, v in d["direct_keys"].items()))

    def rootfs(self) -> None:
        path = self.archives["files.zst"]
        d = probe("rootfs", path)
        if d.get("skipped") or d.get("error"):
            self.res.skip("rootfs", "files.zst", d.get("skipped") or d.get("error"))
            return
        case = f"{d['entries']:,} entries"
        self.res.add("rootfs", case, "tree render", d["render"], "s")
        for k in ("filter", "filter_none", "clear", "key_end"):
            if k in d:
                self.res.add("rootfs", case, k.replace("_", " "), d[k], "s")
        if d.get("scroll"):
            self.res.add("rootfs", case, "scroll key to new frame, no pilot (median)", d["scroll_median"] * 1000, "ms",
                         100, note=f"{d.get('scroll_lines', 0):,} lines shown; the whole 160x50 frame is rendered "
                                   "each time (Textual itself repaints only the changed lines)")
            self.res.add("rootfs", case, "scroll key to new frame, no pilot (max)", max(d["scroll"].values()) * 1000,
                         "ms", 100, note=f"first key after the filter {d.get('first', 0) * 1000:.0f} ms; worst per key: "
                                    + ", ".join(f"{k} {v * 1000:.0f}" for k, v in d["scroll"].items()))


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    p.add_argument("--sizes", default="", help="mem=120M+80M,big=1G,procs=1000,files=100000 (overrides)")
    p.add_argument("--only", default="", help=f"comma list of: {', '.join(BENCHES)}")
    p.add_argument("--repeat", type=int, default=3, help="runs per timing (best and median are shown)")
    p.add_argument("--drop-cache", action="store_true", help="evict each archive from the OS page cache before a run")
    p.add_argument("--cache", type=Path, default=gen.CACHE, help="where generated archives are kept")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args(argv)

    only = [b.strip() for b in args.only.split(",") if b.strip()] or list(BENCHES)
    bad = [b for b in only if b not in BENCHES]
    if bad:
        p.error(f"--only: unknown {', '.join(bad)} (choose from {', '.join(BENCHES)})")
    sizes = parse_sizes(args.sizes, QUICK if args.quick else FULL)

    # An installed package has its bytecode compiled (pip does it); a source checkout run with
    # PYTHONDONTWRITEBYTECODE=1 (as on some CI and sandbox machines) would compile every module
    # on every run, 20-40 ms of each CLI timing that users never pay. Compile it once here.
    import compileall

    import ckpt_tui

    compileall.compile_dir(str(Path(ckpt_tui.__file__).parent), quiet=1)
    start_spawner()  # while this process is still small (see run_child)
    m = machine()
    print(f"machine: {m['cpu']}, {m['cores']} cores, {m['ram']} RAM; Python {m['python']}; {m['os']}")
    print(f"         load average {m.get('load', '?')}; temp dir {m['tmp']}; "
          + ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + f"; checkpointctl: {m['checkpointctl']}")
    startup = python_startup()
    print(f"         python -c pass: {startup:.3f} s (interpreter start-up, part of every CLI timing)")
    print(f"sizes:   mem {'+'.join(_human(x) for x in sizes['mem'])}, big VMA {_human(sizes['big'])}, "
          f"{sizes['procs']} extra processes, {sizes['files']:,} root-FS entries")

    specs = archive_specs(sizes)
    needed = sorted({k for b in only for k in NEEDS[b]})
    archives: dict[str, Path] = {}
    t0 = time.perf_counter()
    for key in needed:
        archives[key] = gen.generate(specs[key], args.cache, log=print)
    if time.perf_counter() - t0 > 1:
        print(f"archives ready in {time.perf_counter() - t0:.1f} s")
    res = Results()
    for key, path in archives.items():
        meta = gen.info(path)
        res.archives[key] = {"path": str(path), "bytes": path.stat().st_size, "memory": meta.get("memory")}
        memtxt = "+".join(_human(x) for x in meta.get("memory") or []) or "-"
        print(f"  {key:<10} {_human(path.stat().st_size):>10}  memory {memtxt:<22} {path.name}")
    print()

    bench = Bench(args, archives, res)
    for name in only:
        t = time.perf_counter()
        try:
            getattr(bench, name)()
        except Exception as exc:  # noqa: BLE001 - one broken benchmark must not hide the others
            res.skip(name, "-", f"{type(exc).__name__}: {exc}")
        print(f"  [{name} done in {time.perf_counter() - t:.1f} s]", file=sys.stderr)
    print()
    print_table(res)
    if args.json:
        args.json.write_text(json.dumps({"machine": m, "sizes": sizes, "archives": res.archives,
                                         "python_startup": startup,
                                         "rows": [r.__dict__ | {"verdict": r.verdict} for r in res.rows]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
