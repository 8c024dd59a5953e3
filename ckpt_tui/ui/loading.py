"""Opening checkpoints: the load worker, a directory's list of checkpoints, switching, pods.

The worker (a thread) reads the checkpoint and posts ``LoadProgress``, ``MetadataReady``,
``CheckpointsFound``, ``CheckpointLoaded`` or ``LoadFailed``; the App hands each to this
controller on the UI thread, and the controller sets the session. With one checkpoint open,
a checkpoint picked from the list loads beside it (``session.switching_to``): the open one
stays usable until the other has loaded, and stays open when it cannot be.
"""

from __future__ import annotations

import gc
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.worker import Worker, get_current_worker

from .. import archive, model, shutdown
from ..archive.registry.reference import RemotePath, as_path
from ..errors import Cancelled, CkptError
from ..messages import CheckpointLoaded, CheckpointsFound, LoadFailed, LoadProgress, MetadataReady
from ..model.metadata import info_from_peek
from ..screens.picker import ContainerPickerScreen, PickerScreen, RepickScreen
from .session import Listing, LoadStatus

if TYPE_CHECKING:  # pragma: no cover
    from .app import CkptApp


class LoadingController:
    """Starts loads and turns what the load worker posts into session state."""

    def __init__(self, app: CkptApp) -> None:
        self.app = app
        self.session = app.session
        self._closed = False  # the app is going: whatever still arrives is closed unseen

    # -- starting a load -------------------------------------------------------
    def start(self) -> None:
        """Load the path the app was started on (a directory of several lists them first)."""
        self._run(self.session.path, first=True)

    def open_picked(self, path: Path, *, may_list: bool = False) -> None:
        """Load a checkpoint picked from the list. With one open, that one stays open (and
        everything acts on it) until the picked one has loaded; with none open (the first
        pick, or the last one failed) the main screen shows the picked one loading.
        ``may_list``: ``path`` was typed (``o``): a directory of several checkpoints, or a
        registry repository, lists them to pick from as at the start."""
        s = self.session
        if s.checkpoint is not None:
            s.switching_to = path
        else:
            s.switching_to = None
            s.path = path
            s.error = ""
            s.preview = None
            s.status = LoadStatus(f"opening {path.name}…")
        self._run(path, first=may_list)

    def open_other(self, path: Path) -> None:
        """``o``: open another checkpoint by its path (or a directory, or a ``docker://`` reference)."""
        self.open_picked(path, may_list=True)

    def _run(self, path: Path, *, first: bool) -> None:
        self.session.loading = True
        self.app.run_worker(partial(self._work, path, first), name=str(path), thread=True, exclusive=True,
                            group="load", exit_on_error=False, description="loading checkpoint")

    # -- the worker (a thread: it only posts messages) --------------------------
    def _work(self, path: Path, first: bool) -> None:
        # No cyclic garbage collection while loading: a collection scans every widget too and
        # holds the GIL, which is what made keys pressed during a load wait 100+ ms; a load
        # makes few reference cycles. (The collector is process-wide; it is back on after.)
        gc.disable()
        try:
            self._load(get_current_worker(), path, first)
        finally:
            gc.enable()

    def _load(self, worker: Worker[Any], path: Path, first: bool) -> None:
        post = self.app.post_message

        def cancelled() -> bool:  # the user quit or switched, or SIGTERM / SIGHUP: stop at the next step
            return worker.is_cancelled or shutdown.stopping()

        if first and isinstance(path, RemotePath) and path.is_dir():  # a registry repository: its tags
            from ..archive.registry.listing import list_repository

            try:
                rows = list_repository(str(path)).rows
            except CkptError as exc:
                post(LoadFailed(path, str(exc)))
                return
            post(CheckpointsFound(path, [(as_path(ref), meta) for ref, meta in rows]))
            return
        if first and path.is_dir():
            try:
                found = archive.find_checkpoints(path)
            except CkptError:
                found = []  # an unreadable directory: loading it says why
            if len(found) > 1:
                post(CheckpointsFound(path, [(item, _peek(item)) for item in found]))
                return
            if len(found) == 1:
                path = found[0]

        post(LoadProgress(f"opening {path.name}…"))
        if cancelled():
            return

        def metadata(meta: dict[str, Any]) -> None:
            # config.dump / spec.dump as they stream past: the overview shows them while the
            # rest of the archive is read (one pass, nothing decompressed twice)
            if (meta.get("config") or meta.get("spec")) and not cancelled():
                post(MetadataReady(path, meta))

        def progress(done: int, total: int, member: str) -> None:
            if cancelled():  # the user quit: stop indexing (cleans up through the loader)
                raise Cancelled()
            if total and done >= total:
                text = f"{path.name}: reading processes, memory maps and files…"
            else:
                text = f"opening {path.name}" + (f": {member}" if member else "…")
            post(LoadProgress(text, done, total))

        limits = self.session.options.limits()
        try:
            checkpoint = model.load_checkpoint(str(path) if isinstance(path, RemotePath) else path, limits=limits, progress=progress,
                                               log_files=self.session.options.log_files, on_metadata=metadata,
                                               cancelled=cancelled)
        except Cancelled:
            return
        except CkptError as exc:
            post(LoadFailed(path, str(exc) or type(exc).__name__))
            return
        if cancelled():
            checkpoint.close()
            return
        post(CheckpointLoaded(checkpoint))

    # -- what the worker posted (on the UI thread) -------------------------------
    def progressed(self, message: LoadProgress) -> None:
        if self._closed or self.session.checkpoint is not None:
            return  # a checkpoint picked beside the open one: its progress is in the header
        self.session.status = LoadStatus(message.stage, message.done, message.total)

    def metadata_ready(self, message: MetadataReady) -> None:
        if self._closed or self.session.checkpoint is not None:
            return
        self.session.preview = info_from_peek(message.metadata, str(message.path))

    def loaded(self, message: CheckpointLoaded) -> None:
        checkpoint = message.checkpoint
        if self._closed:
            checkpoint.close()  # nobody will look at it: remove its temp files now
            return
        s = self.session
        old = s.top
        if old is not None:
            # the screens over the main one (a pod's containers, a hex view, a search…)
            # belong to the one about to be closed
            self.app.back_to_main()
        if s.switching_to is not None:
            s.path = s.switching_to
            s.switching_to = None
        s.current_pid = None
        s.error = ""
        # a pod checkpoint: the pod's overview first, then a container is picked to browse
        s.pod = checkpoint if checkpoint.containers else None
        s.checkpoint = checkpoint
        s.preview = None
        s.loading = False
        if old is not None:
            old.close()
            gc.unfreeze()  # what was frozen with it may be collected again
        gc.freeze()  # the model's objects: 100,000 root-FS entries would make every collection slow
        if s.pod is not None:
            self.pick_container()

    def failed(self, message: LoadFailed) -> None:
        if self._closed:
            return
        s = self.session
        s.loading = False
        if s.switching_to is not None and s.checkpoint is not None:
            # picked from the list while another is open: say so, and stay on the open one
            s.switching_to = None
            self.app.notify(f"{message.error}\n\nStill showing {s.path.name}.",
                            title=f"Cannot open {message.path.name}", severity="error", timeout=10)
            return
        s.switching_to = None
        s.error = message.error
        self.app.notify(message.error, title="Cannot open the checkpoint", severity="error", timeout=10)

    def found(self, message: CheckpointsFound) -> None:
        if self._closed:
            return
        s = self.session
        s.listing = Listing(message.directory, tuple(message.entries))
        s.loading = False
        if s.checkpoint is not None:  # a directory opened with ``o``: Escape stays on the one open
            s.switching_to = None

            def repicked(path: Path | None) -> None:
                if path is not None:
                    self.open_picked(path)

            self.app.push_screen(RepickScreen(message.directory, list(message.entries), current=s.path), repicked)
            return

        def chosen(path: Path | None) -> None:
            if path is None:
                self.app.exit(0)
                return
            self.open_picked(path)

        self.app.push_screen(PickerScreen(message.directory, message.entries), chosen)

    def worker_failed(self, worker: Worker[object]) -> None:
        """The load raised something other than CkptError (a reader bug the checkpoint's bytes
        met): the same as a failed open, so nothing stays "loading…"."""
        if not worker.is_cancelled:
            self.failed(LoadFailed(as_path(worker.name), f"{type(worker.error).__name__}: {worker.error}"))

    # -- the lists ---------------------------------------------------------------
    def can_go_back_to_list(self) -> bool | None:
        """``L``: False (hidden) without a list or on the list itself, None (dimmed) while a
        checkpoint loads or a build/restore reads the open one, else True."""
        s = self.session
        if s.listing is None or isinstance(self.app.screen, PickerScreen):
            return False
        return None if (s.loading or s.busy) else True

    def back_to_list(self) -> None:
        """Back to the list of the directory's checkpoints (when the app was opened on one)."""
        s = self.session
        if not self.can_go_back_to_list() or s.listing is None:
            return

        def chosen(path: Path | None) -> None:
            if path is None:
                return  # Escape: stay with the one open
            if path == s.path and s.checkpoint is not None:
                return  # the one open
            self.open_picked(path)

        self.app.push_screen(RepickScreen(s.listing.directory, list(s.listing.entries), current=s.path), chosen)

    def pick_container(self) -> None:
        """Pick a container of the open pod checkpoint to browse."""
        pod = self.session.pod
        if pod is None:
            return

        def chosen(index: int | None) -> None:
            if index is None or self.session.pod is not pod:
                return
            self.session.current_pid = None
            self.session.checkpoint = pod.containers[index]

        self.app.push_screen(ContainerPickerScreen(pod), chosen)

    def close(self) -> None:
        """The app is going: close what is open (its temp files go) and drop what arrives later."""
        self._closed = True
        top = self.session.top
        if top is not None:
            top.close()


def _peek(path: Path) -> dict[str, Any]:
    """The metadata of one listed checkpoint, for the list."""
    try:
        return archive.peek_metadata(path)
    except Exception as exc:  # noqa: BLE001  (guards one listed file's bytes: an unreadable one is marked, the list stays)
        return {"error": str(exc) or type(exc).__name__}
