#!/usr/bin/env python3
"""Registry benchmark (issue #14): bytes transferred and time until the overview and until the
process tree of a checkpoint image in a local registry, against ``skopeo copy`` of the whole
image followed by opening it.

    python bench/registry.py            # the 200 MB checkpoint (120 + 80 MiB of pages), ~1 min the first time
    python bench/registry.py --quick    # 38 MiB of pages: a smoke run
    python bench/registry.py --repeat 5 --json out.json

The checkpoint is bench/gen.py's ``mem`` archive (derived from the real memhog fixture); ``ckpt-tui
build``'s writer makes two images of it, an uncompressed layer (read by HTTP range) and a gzip
layer (streamed once), and skopeo recompresses the first as zstd:chunked (read by its table of
contents); all are pushed with our own push to Debian's ``docker-registry serve`` on 127.0.0.1
(storage in a temp dir). Each measurement is a fresh child process; bytes are response bodies
(ours: the client's count; skopeo: the blobs and manifests of the image, which it fetches whole).
Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.append(str(ROOT))

import gen  # noqa: E402
from gen import MiB, Spec  # noqa: E402

MEMHOG = "memhog-16m-threads.tar.zst"
FULL = [120 * MiB, 80 * MiB]
QUICK = [20 * MiB, 18 * MiB]

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import ckpt_tui.archive.registry.client as C
clients = []
init = C.Client.__init__
def register(self, *a, **k):
    init(self, *a, **k)
    clients.append(self)
C.Client.__init__ = register
from ckpt_tui.archive.registry.source import configure
configure(tls_verify=False)
from ckpt_tui.model import load_checkpoint
got = {}
def body():
    return sum(c.stats.body_bytes for c in clients)
def requests():
    return sum(c.stats.requests for c in clients)
def early(meta):
    if "overview_s" not in got:
        got["overview_s"], got["overview_bytes"], got["overview_requests"] = time.perf_counter() - t0, body(), requests()
mode = sys.argv[2]
if mode == "open":
    ck = load_checkpoint(sys.argv[1], on_metadata=early, keep_pages=False)
    got["tree_s"], got["tree_bytes"], got["tree_requests"] = time.perf_counter() - t0, body(), requests()
    got["processes"] = len(ck.processes)
    ck.close()
else:
    ck = load_checkpoint(sys.argv[1])
    n = sum(1 for _ in ck.search_memory(b"BENCH_SECRET=swordfish"))
    got["search_s"], got["search_bytes"], got["matches"] = time.perf_counter() - t0, body(), n
    ck.close()
print(json.dumps(got))
"""

LOCAL = r"""
import json, sys, time
t0 = time.perf_counter()
from ckpt_tui.model import load_checkpoint
ck = load_checkpoint(sys.argv[1], keep_pages=False)
print(json.dumps({"open_s": time.perf_counter() - t0, "processes": len(ck.processes)}))
ck.close()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_registry(tmp: Path) -> tuple[subprocess.Popen, str]:
    exe = shutil.which("docker-registry")
    if exe is None:
        raise SystemExit("docker-registry is not installed (apt-get install docker-registry)")
    port = free_port()
    (tmp / "config.yml").write_text(
        f"version: 0.1\nlog: {{level: error}}\nstorage: {{filesystem: {{rootdirectory: {tmp / 'data'}}}}}\n"
        f"http: {{addr: 127.0.0.1:{port}, secret: bench}}\n")
    proc = subprocess.Popen([exe, "serve", str(tmp / "config.yml")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("docker-registry did not start")


def layouts(mem: list[int], log) -> tuple[Path, dict[str, Path]]:
    from ckpt_tui.actions.build import build_image
    from ckpt_tui.model import load_checkpoint

    spec = Spec(f"mem-{'+'.join(f'{m // MiB}M' for m in mem)}", MEMHOG, "tar", mem=mem)
    archive = gen.generate(spec, log=log)
    out = {}
    for comp in ("none", "gzip"):
        d = gen.CACHE / f"registry-{spec.key()}-{comp}"
        if not (d / "index.json").exists():
            log(f"building the {comp} image of {archive.name}")
            shutil.rmtree(d, ignore_errors=True)
            ck = load_checkpoint(archive)
            try:
                build_image(ck, f"localhost/bench:{comp}", oci_dir=d, compression=comp)
            finally:
                ck.close()
        out["uncompressed" if comp == "none" else "gzip"] = d
    zc = gen.CACHE / f"registry-{spec.key()}-zstd-chunked"
    if shutil.which("skopeo") and not (zc / "index.json").exists():
        log("recompressing the uncompressed image as zstd:chunked with skopeo")
        shutil.rmtree(zc, ignore_errors=True)
        env = {**__import__("os").environ, "HOME": str(gen.CACHE / "skopeo-home")}
        subprocess.run(["skopeo", "copy", "--dest-compress-format", "zstd:chunked", "--dest-compress",
                        f"oci:{out['uncompressed']}", f"oci:{zc}"], check=True, capture_output=True, env=env)
    if (zc / "index.json").exists():
        out["zstd:chunked"] = zc
    return archive, out


def image_bytes(layout: Path) -> int:
    return sum(f.stat().st_size for f in (layout / "blobs" / "sha256").iterdir()) + (layout / "index.json").stat().st_size


def child(code: str, *args: str) -> dict:
    got = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=900,
                         env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    if got.returncode != 0:
        raise SystemExit(f"child failed: {got.stderr[-3000:]}")
    return json.loads(got.stdout.strip().splitlines()[-1])


def best(runs: list[dict], key: str) -> float:
    return min(r[key] for r in runs)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--json", metavar="FILE")
    a = p.parse_args(argv)
    mem = QUICK if a.quick else FULL
    log = lambda msg: print(f"# {msg}", file=sys.stderr)  # noqa: E731
    archive, lays = layouts(mem, log)
    sys.path.insert(0, str(ROOT))
    from ckpt_tui.archive.registry import parse
    from ckpt_tui.archive.registry.push import push_layout
    from ckpt_tui.archive.registry.source import Options, make_client

    rows = []
    with tempfile.TemporaryDirectory(prefix="ckpt-bench-registry-") as tmp:
        proc, host = start_registry(Path(tmp))
        try:
            for kind, lay in lays.items():
                url = f"docker://{host}/bench/mem:{kind.replace(':', '-')}"
                ref = parse(url)
                client = make_client(ref, Options(tls_verify=False))
                t = time.perf_counter()
                push_layout(client, ref, lay)
                push_s = time.perf_counter() - t
                client.close()
                size = image_bytes(lay)
                ours = [child(CHILD, url, "open") for _ in range(a.repeat)]
                search = [child(CHILD, url, "search") for _ in range(max(1, a.repeat // 2))]
                base = []
                for _ in range(a.repeat):
                    target = Path(tmp) / f"{kind.replace(':', '-')}.oci.tar"
                    target.unlink(missing_ok=True)
                    t = time.perf_counter()
                    got = subprocess.run(["skopeo", "copy", "--src-tls-verify=false", url, f"oci-archive:{target}"],
                                         capture_output=True, text=True, timeout=900)
                    if got.returncode != 0:
                        raise SystemExit(got.stderr)
                    copy_s = time.perf_counter() - t
                    opened = child(LOCAL, str(target))
                    base.append({"copy_s": copy_s, "open_s": opened["open_s"], "total_s": copy_s + opened["open_s"]})
                rows.append({
                    "image": kind, "image_bytes": size, "push_s": push_s,
                    "overview_bytes": ours[0]["overview_bytes"], "overview_requests": ours[0]["overview_requests"],
                    "overview_s": best(ours, "overview_s"),
                    "tree_bytes": ours[0]["tree_bytes"], "tree_requests": ours[0]["tree_requests"],
                    "tree_s": best(ours, "tree_s"), "tree_s_median": statistics.median(r["tree_s"] for r in ours),
                    "search_bytes": search[0]["search_bytes"], "search_s": best(search, "search_s"),
                    "matches": search[0]["matches"],
                    "skopeo_bytes": size, "skopeo_copy_s": best(base, "copy_s"), "skopeo_total_s": best(base, "total_s"),
                })
        finally:
            proc.terminate()
            proc.wait(10)
    print(f"checkpoint: {archive.name} ({sum(mem) // MiB} MiB of pages grown in 2 processes); "
          f"best of {a.repeat}, fresh process each")
    head = ("image", "layer+blobs", "overview: bytes / requests / s", "process tree: bytes / s (fraction)",
            "search all memory: bytes / s", "skopeo copy + open: bytes / s")
    print(" | ".join(head))
    for r in rows:
        print(" | ".join([
            r["image"], f"{r['image_bytes'] / MiB:.1f} MiB",
            f"{r['overview_bytes'] / 1024:.1f} KiB / {r['overview_requests']} / {r['overview_s']:.3f}",
            f"{r['tree_bytes'] / MiB:.2f} MiB / {r['tree_s']:.3f} ({r['tree_bytes'] / r['image_bytes']:.1%})",
            f"{r['search_bytes'] / MiB:.1f} MiB / {r['search_s']:.2f}",
            f"{r['skopeo_bytes'] / MiB:.1f} MiB / {r['skopeo_total_s']:.2f} (copy {r['skopeo_copy_s']:.2f})",
        ]))
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
