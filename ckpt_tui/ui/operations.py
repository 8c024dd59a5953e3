"""The long operations on the open checkpoint: build an image, restore it, export a selection.

Each asks first (a prompt, a confirmation naming exactly what will happen), then runs in a
thread worker that posts ``ActionOutput`` / ``ActionFinished`` (build, restore),
``RestorePrepared`` (the restore command and preflight, made off the UI thread) or
``ExportDone``; the App hands those back here. ``session.busy`` is set while a build or
restore runs (``L`` and a second one wait for it).
"""

from __future__ import annotations

import shlex
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from textual.worker import Worker, get_current_worker

from .. import shutdown
from ..errors import CkptError
from ..messages import ActionFinished, ActionOutput, ExportDone, RestorePrepared
from ..screens.dialogs import ConfirmScreen, ExportChoice, ExportScreen, PromptScreen
from ..screens.run import RunScreen
from ..text import size
from ..widgets.base import ExportPayload, ExportRequest
from ..widgets.format import esc
from .session import Operation

if TYPE_CHECKING:  # pragma: no cover
    from ..model.checkpoint import Checkpoint
    from .app import CkptApp

CHECK_MARKS = {"pass": "[$text-success]✓[/]", "warn": "[$text-warning]![/]", "fail": "[$text-error]✗[/]",
               "info": "[$text-muted]·[/]"}


def default_image_name(checkpoint: Checkpoint | None) -> str:
    name = (checkpoint.info.name if checkpoint is not None else "") or "checkpoint"
    cleaned = "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in name.lower()).strip("-._") or "checkpoint"
    return f"localhost/{cleaned}-checkpoint:latest"


class OperationsController:
    """Build, restore and export flows, from the first question to the last notification."""

    def __init__(self, app: CkptApp) -> None:
        self.app = app
        self.session = app.session
        self._run_screen: RunScreen | None = None

    def _open(self, operation: Operation) -> Checkpoint | None:
        """The checkpoint to act on, or None after saying why ``operation`` cannot run."""
        reason = self.session.operation_blocked(operation)
        if reason is not None:
            self.app.notify(reason, severity="warning")
            return None
        return self.session.checkpoint

    # -- build ---------------------------------------------------------------------
    def start_build(self) -> None:
        checkpoint = self._open("build")
        if checkpoint is None:
            return

        def named(image: str | None) -> None:
            if not image:
                return
            image = image.strip()
            output = Path.cwd() / f"{image.rsplit('/', 1)[-1].replace(':', '-')}.oci.tar"
            body = (
                f"Write an OCI checkpoint image of [b]{esc(checkpoint.info.name or self.session.path.name)}[/]\n"
                f"named [b]{esc(image)}[/]\n"
                f"to the file [b]{esc(output)}[/]\n\n"
                "Nothing is loaded into a container engine; `podman load -i FILE` does that."
            )

            def confirmed(ok: bool | None) -> None:
                if ok:
                    screen = self._start_run_screen(f"Building {image}", f"(internal) build_image → {output}")
                    self.app.run_worker(partial(self._build, checkpoint, image, output, screen), thread=True,
                                        group="action", exit_on_error=False, description="build")

            self.app.push_screen(ConfirmScreen("Build a checkpoint image", body, yes="Build"), confirmed)

        self.app.push_screen(PromptScreen("Image name", value=default_image_name(checkpoint)), named)

    def _build(self, checkpoint: Checkpoint, image: str, output: Path, screen: RunScreen) -> None:
        from ..actions.build import build_image  # not before the first frame

        post = self.app.post_message
        worker = get_current_worker()

        def out(line: str) -> None:
            post(ActionOutput(line))

        try:
            result = build_image(checkpoint, image, output_tar=output, on_output=out,
                                 cancelled=lambda: screen.cancelled or worker.is_cancelled or shutdown.stopping())
        except (CkptError, OSError) as exc:  # the checkpoint's members and the output file
            post(ActionFinished("build", False, str(exc)))
            return
        for note in result.notes:
            post(ActionOutput(f"note: {note}"))
        post(ActionFinished("build", not result.cancelled,
                            f"{result.image_name} → {result.output} ({size(result.size)})"))

    # -- restore ---------------------------------------------------------------------
    def start_restore(self) -> None:
        checkpoint = self._open("restore")
        if checkpoint is None:
            return
        self.app.notify("Checking whether this checkpoint can be restored here…", timeout=2)
        self.app.run_worker(partial(self._prepare_restore, checkpoint), thread=True, exclusive=True,
                            group="restore-prepare", exit_on_error=False, description="preflight")

    def _prepare_restore(self, checkpoint: Checkpoint) -> None:
        """Build the command and run the preflight checks (they call podman/criu) off the UI thread."""
        from ..actions.checks import preflight
        from ..actions.restore import RestoreOptions, build_restore_command  # not before the first frame

        post = self.app.post_message
        options = RestoreOptions(tcp_established=any(s.needs_tcp_established for s in checkpoint.sockets))
        try:
            command = build_restore_command(checkpoint, options)
        except CkptError as exc:
            post(RestorePrepared([], "", str(exc)))
            return
        try:
            checks = preflight(checkpoint, options, criu_check=True)
        except (CkptError, OSError) as exc:  # the checks ask podman and criu; they are advice
            text = f"\n\n[b]Preflight[/]\n[$text-warning]![/] the checks could not run: {esc(exc)}"
        else:
            text = "\n\n[b]Preflight[/]\n" + "\n".join(
                f"{CHECK_MARKS.get(c.status, '·')} {esc(c.name)}: {esc(c.reason)}" for c in checks)
        post(RestorePrepared(list(command), text))

    def restore_prepared(self, message: RestorePrepared) -> None:
        checkpoint = self.session.checkpoint
        if message.error or checkpoint is None:
            self.app.notify(message.error or "The checkpoint was closed.", title="Cannot restore this checkpoint",
                            severity="error", timeout=8)
            return
        command = message.command
        body = (f"Run this command to restore [b]{esc(checkpoint.info.name or self.session.path.name)}[/]:\n\n"
                f"[b]{esc(shlex.join(command))}[/]{message.checks}")

        def confirmed(ok: bool | None) -> None:
            if ok:
                screen = self._start_run_screen("Restoring", shlex.join(command))
                self.app.run_worker(partial(self._restore, checkpoint, command, screen), thread=True, group="action",
                                    exit_on_error=False, description="restore")

        self.app.push_screen(ConfirmScreen("Restore the container", body, yes="Restore"), confirmed)

    def _restore(self, checkpoint: Checkpoint, command: list[str], screen: RunScreen) -> None:
        from ..actions.restore import run_restore  # not before the first frame

        post = self.app.post_message
        worker = get_current_worker()

        def out(line: str) -> None:
            post(ActionOutput(line))

        # (run_streaming also stops the command, its whole process group, on SIGTERM / SIGHUP)
        result = run_restore(command, out, lambda: screen.cancelled or worker.is_cancelled, checkpoint=checkpoint)
        detail = result.message or ("ok" if result.ok else f"exit {result.returncode}")
        if result.diagnosis is not None and not result.ok:
            for cause in result.diagnosis.causes[:3]:
                post(ActionOutput(f"cause: {cause.title} — {cause.fix}"))
        post(ActionFinished("restore", result.ok, detail))

    # -- the run screen both stream into -------------------------------------------------
    def _start_run_screen(self, title: str, command: str) -> RunScreen:
        screen = RunScreen(title, command)
        self.app.push_screen(screen)
        self._run_screen = screen
        self.session.busy = True
        return screen

    def output(self, message: ActionOutput) -> None:
        screen = self._run_screen
        if screen is not None and screen.is_mounted:
            screen.write(message.line)

    def finished(self, message: ActionFinished) -> None:
        self.session.busy = False
        screen = self._run_screen
        if screen is not None and screen.is_mounted:
            screen.finish(message.ok, message.detail)
        self.app.notify(message.detail, title=f"{message.title} {'finished' if message.ok else 'failed'}",
                        severity="information" if message.ok else "error", timeout=8)

    def worker_failed(self, worker: Worker[object]) -> None:
        """A worker of these flows ended with an error it did not expect (a bug meeting odd input):
        end its flow as a failure, so nothing stays "running…"."""
        error = f"{type(worker.error).__name__}: {worker.error}"
        if worker.group == "action":
            self.finished(ActionFinished(worker.description, False, error))
        elif worker.group == "restore-prepare":
            self.restore_prepared(RestorePrepared([], "", error))
        elif worker.group == "export":
            self.app.notify(error, title="Export failed", severity="error")

    # -- export ------------------------------------------------------------------------
    def export(self, payload: ExportPayload) -> None:
        """Ask where to write ``payload`` (and, for memory, which range), then write it."""
        if payload is None:
            self.app.notify("Nothing to export here.", severity="warning", timeout=3)
            return
        if isinstance(payload, ExportRequest):
            request = payload
        else:
            name, content = payload
            request = ExportRequest(default_name=name, content=content)
        what = request.what or ("a memory range" if request.is_memory else "the selection")
        screen = ExportScreen(what, request.default_name,
                              memory_range=(request.start, request.end) if request.is_memory else None)
        checkpoint = self.session.checkpoint

        def chosen(choice: ExportChoice | None) -> None:
            if choice is not None:
                self.app.run_worker(partial(self._write_export, checkpoint, request, choice), thread=True,
                                    group="export", exit_on_error=False, description="export")

        self.app.push_screen(screen, chosen)

    def export_report(self, fmt: str) -> None:
        """The palette's "export report": the file ``ckpt-tui report`` writes (secrets masked), made
        in the export worker (the preflight runs there)."""
        checkpoint = self.session.checkpoint
        if checkpoint is None:
            self.app.notify("No checkpoint is open.", severity="warning", timeout=3)
            return
        from ..actions.report import report_name, report_text

        self.export(ExportRequest(default_name=report_name(checkpoint, fmt), what=f"the report ({fmt})",
                                  producer=lambda: report_text(checkpoint, fmt)))

    def _write_export(self, checkpoint: Checkpoint | None, request: ExportRequest, choice: ExportChoice) -> None:
        post = self.app.post_message
        written = 0
        try:
            if request.pid is not None:
                if checkpoint is None:
                    raise CkptError("the checkpoint was closed")
                reader = checkpoint.memory(request.pid)
                with open(choice.path, "wb") as out:
                    addr = choice.start
                    while addr < choice.end:
                        chunk = min(1 << 20, choice.end - addr)
                        out.write(reader.read(addr, chunk))
                        written += chunk
                        addr += chunk
            else:
                content = request.producer() if request.producer is not None else request.content
                data = content.encode("utf-8") if isinstance(content, str) else bytes(content or b"")
                choice.path.write_bytes(data)
                written = len(data)
        except (CkptError, OSError) as exc:  # the file chosen, and the checkpoint's bytes
            post(ExportDone(choice.path, 0, str(exc) or type(exc).__name__))
            return
        post(ExportDone(choice.path, written))

    def export_done(self, message: ExportDone) -> None:
        if message.error:
            self.app.notify(f"{message.path}: {message.error}", title="Export failed", severity="error")
        else:
            self.app.notify(f"{size(message.size)} written to {message.path}", title="Exported", timeout=5)
