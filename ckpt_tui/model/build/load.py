"""Build a :class:`Checkpoint` from an opened source, part by part.

Each part (metadata, network, images, processes with their files and memory, root FS
diff, mounts, namespaces, sizes, logs) loads on its own: a missing or unreadable member
becomes a Problem naming the member and the pane it affects, and the rest still loads.
Everything is decided here; reading the Checkpoint afterwards never changes it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from ...archive import Limits, Workspace, open_source
from ...errors import CkptError, Pane, Problem

if TYPE_CHECKING:  # pragma: no cover
    from ...criu import Image
    from ..checkpoint import Checkpoint
    from ..memory import CapturedPages
    from ..types import SourceView
    from .context import Budget
    from .tap import PageSearch


def load_checkpoint(
    path: str | Path,
    *,
    workspace: Workspace | None = None,
    limits: Limits | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    log_files: Iterable[str | Path] = (),
    on_metadata: Callable[[dict], object] | None = None,
    keep_pages: bool = True,
    search: PageSearch | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> Checkpoint:
    """Open ``path`` (any source the archive layer opens) and build its model.

    ``on_metadata``: see :func:`ckpt_tui.archive.open_source`. ``keep_pages=False`` (for
    an overview such as ``inspect``): the memory pages of a compressed archive are not
    kept; command lines and environments are taken from them as they stream past
    (:mod:`ckpt_tui.model.build.tap`), and reading or searching memory later raises CkptError.
    ``search`` (a ``tap.StreamSearch``, implies ``keep_pages=False``): also search the pages
    as they stream past (see :func:`ckpt_tui.model.tap.load_and_search`). ``cancelled()``
    is asked between the steps of building the model and every few processes; when it
    says True, :class:`ckpt_tui.errors.Cancelled` is raised (the source is closed)."""
    # the CRIU decoder and the model's builders are imported by build_checkpoint, after the one
    # indexing pass has handed on_metadata the overview (the UI's header does not wait for them)
    tap = None
    if not keep_pages or search is not None:
        from .tap import ArgvEnvTap

        tap = ArgvEnvTap(search)
    source = open_source(path, workspace=workspace, limits=limits, progress=progress, on_metadata=on_metadata,
                         watch=tap)
    from .context import Budget

    try:
        return build_checkpoint(source, log_files=log_files, captured=tap.captured if tap is not None else None,
                                cancelled=cancelled, decoded=tap.images if tap is not None else None,
                                budget=Budget(limits.max_entries if limits is not None else None))
    except BaseException:
        source.close()
        raise


def build_checkpoint(source: SourceView, *, log_files: Iterable[str | Path] = (),
                     captured: dict[str, CapturedPages | None] | None = None,
                     cancelled: Callable[[], bool] | None = None,
                     decoded: dict[str, Image] | None = None, budget: Budget | None = None) -> Checkpoint:
    """The model of an opened source. ``captured`` and ``decoded``: what a streaming tap
    kept of the pages images and the images it decoded on the way (not decoded again).
    ``budget``: the entries the model may hold (a pod's containers share one)."""
    from ..checkpoint import Checkpoint
    from ..pods import is_pod
    from . import network, system
    from .context import STRICT, Context
    from .images import catalogue
    from .pods import build_pod
    from .processes import ProcessBuilder
    from .rootfs import rootfs, volumes

    ck = Checkpoint(source=source)
    ck.problems.extend(source.problems)
    ctx = Context(ck, cancelled=cancelled, decoded=decoded, captured=captured, budget=budget)
    if is_pod(source):
        options = ctx.json_member("pod.options") or {}
        system.metadata(ctx)
        system.sizes(ctx)
        build_pod(ck, options, lambda view: build_checkpoint(view, log_files=log_files, cancelled=cancelled,
                                                             budget=ctx.budget))
        ck.problems = summarise(ck.problems, folded=ctx.folded)
        return ck
    procs = ProcessBuilder(ctx)
    steps: tuple[tuple[str, Callable[[], None], Pane], ...] = (
        ("metadata", lambda: system.metadata(ctx), Pane.OVERVIEW),
        ("network", lambda: network.network(ctx), Pane.NETWORK),
        ("images_list", lambda: ck.images.extend(catalogue(ctx.src, ctx.problem)), Pane.LOGS),
        ("inventory", lambda: system.inventory(ctx), Pane.OVERVIEW),
        ("stats", lambda: system.stats(ctx), Pane.LOGS),
        ("processes", procs.build, Pane.PROCESSES),
        ("memory", procs.memory.settle, Pane.MEMORY),
        ("terminals", procs.files.terminals, Pane.PROCESSES),
        ("rootfs", lambda: rootfs(ctx), Pane.FILES),
        ("volumes", lambda: volumes(ctx), Pane.FILES),
        ("mounts", lambda: system.mounts(ctx), Pane.MOUNTS),
        ("devices", lambda: network.devices(ctx), Pane.NETWORK),
        ("namespaces", lambda: system.namespaces(ctx), Pane.OVERVIEW),
        ("sizes", lambda: system.sizes(ctx), Pane.OVERVIEW),
    )
    for name, step, pane in steps:
        ctx.check()
        try:
            step()
        except CkptError as exc:  # a whole part failed: say which, keep the rest
            ctx.problem("", f"{name}: {exc}", pane)
        except Exception as exc:  # guards odd input meeting a bug in a part: never lose the rest of the checkpoint
            if STRICT:
                raise
            ctx.problem("", f"{name} stopped on unexpected data ({type(exc).__name__}: {exc}); "
                        "the other parts are shown", pane)
    system.logs(ctx, log_files)
    ctx.budget_problem()
    ck.problems = summarise(ck.problems, folded=ctx.folded)
    return ck


def summarise(problems: list[Problem], keep: int | None = None,
              folded: dict[tuple[str, str, str], int] | None = None) -> list[Problem]:
    """Fold many problems with the same message (thousands of missing images) into one
    (more than ``keep``, default ``context.SAME_PROBLEMS``, of them).
    ``folded``: problems only counted while building (by message, pane and severity); those
    whose message no kept problem has are told in one line at the end."""
    from .context import MAX_PROBLEMS, SAME_PROBLEMS

    keep = SAME_PROBLEMS if keep is None else keep
    folded = folded or {}
    groups: dict[tuple[str, str, str], list[Problem]] = {}
    for p in problems:
        groups.setdefault((p.message, p.pane, p.severity), []).append(p)
    out: list[Problem] = []
    done: set[tuple[str, str, str]] = set()
    for p in problems:
        key = (p.message, p.pane, p.severity)
        group = groups[key]
        total = len(group) + folded.get(key, 0)
        if total <= keep:
            out.append(p)
        elif key not in done:
            done.add(key)
            names = ", ".join(g.source.rsplit("/", 1)[-1] for g in group[:keep])
            out.append(Problem(group[0].source, f"{p.message} — and so are {total - 1:,} more: {names}, ...",
                               p.pane, p.severity))
    unlisted = sum(n for key, n in folded.items() if key not in groups)
    if unlisted:
        out.append(Problem("", f"... and {unlisted:,} more problems (at most {MAX_PROBLEMS:,} are listed)",
                           Pane.OVERVIEW, "warning"))
    return out
