"""Overview pane: who, when, how big, where the bytes go, statistics, annotations, problems."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from ..model.checkpoint import expand_annotations
from ..model.export import to_json
from ..model.masking import masked
from ..model.types import ContainerInfo, NetDevice, NetInterface, Sizes
from . import format as fmt
from .base import DetailPane, ExportPayload, dumps
from .format import esc
from .logs import failed_log, render_diagnosis

if TYPE_CHECKING:  # pragma: no cover
    from ..model.checkpoint import Checkpoint

BAR_WIDTH = 50
# (label, css variable, character) — distinct characters keep the bar readable without colour
BAR_PARTS = (("memory pages", "$success", "█"), ("rootfs diff", "$warning", "▓"), ("other", "$secondary", "░"))


def _kv(rows: list[tuple[str, str]], width: int = 14) -> str:
    lines = []
    for key, value in rows:
        if value in ("", None):
            continue
        lines.append(f"[$text-muted]{esc(key).ljust(width)}[/] {value}")
    return "\n".join(lines) if lines else "[$text-muted](none)[/]"


def _container_rows(info: ContainerInfo, when: Callable[[datetime | None], str]) -> list[tuple[str, str]]:
    """The Container box, the same from the first metadata as from the whole model."""
    return [
        ("Container", f"[b]{esc(info.name or '?')}[/]"),
        ("Engine", esc(info.engine)),
        ("Runtime", esc(info.runtime)),
        ("Container ID", esc(info.id)),
        ("Image", esc(info.image)),
        ("Image ID", esc(info.image_id)),
        ("Pod", esc(info.pod_name)),
        ("Namespace", esc(info.namespace)),
        ("Hostname", esc(info.hostname)),
        ("Created", esc(when(info.created))),
        ("Checkpointed", esc(when(info.checkpointed))),
        ("CRIU version", esc(str(info.criu_version or ""))),
        ("Image version", esc(str(info.img_version)) if info.img_version is not None else ""),
        ("Source", esc(info.source_kind)),
    ]


def size_bar(parts: list[tuple[str, int]], width: int = BAR_WIDTH) -> str:
    """Markup for a bar of ``width`` cells split by size, plus a legend."""
    total = sum(max(v, 0) for _n, v in parts)
    if total <= 0:
        return "[$text-muted](no data)[/]"
    cells: list[int] = []
    for _name, value in parts:
        cells.append(round(width * max(value, 0) / total) if value > 0 else 0)
    # every non-empty part gets at least one cell, and the bar is exactly `width`
    for i, (_n, v) in enumerate(parts):
        if v > 0 and cells[i] == 0:
            cells[i] = 1
    while sum(cells) > width:
        j = max(range(len(cells)), key=lambda k: cells[k])
        cells[j] -= 1
    while sum(cells) < width:
        j = max(range(len(cells)), key=lambda k: parts[k][1])
        cells[j] += 1
    bar = ""
    legend = []
    for (name, value), count, (_label, var, char) in zip(parts, cells, BAR_PARTS, strict=False):
        if count:
            bar += f"[{var}]{char * count}[/]"
        pct = 100 * value / total
        legend.append(f"[{var}]{char}[/] {esc(name)} {fmt.size(value)} ({pct:.0f}%)")
    return bar + "\n" + "\n".join(legend)


def size_rows(sizes: Sizes) -> list[tuple[str, int]]:
    """The Sizes rows, indented by what holds what: the archive holds the CRIU images (memory pages
    and the other images), the root FS diff and the metadata/logs; the diff is not a CRIU image."""
    pages = sizes.memory_pages
    images = max(sizes.total - pages, 0)
    rows: list[tuple[str, int]] = []
    indent = ""
    if sizes.archive:
        rows.append(("archive", sizes.archive))
        indent = "  "
    rows += [
        (f"{indent}CRIU images", sizes.total),
        (f"{indent}  memory pages", pages),
        (f"{indent}  other CRIU images", images),
        (f"{indent}root FS diff", sizes.rootfs_diff),
    ]
    rows += [(f"{indent}{name}", value) for name, value in (("volumes", sizes.volumes), ("/dev/shm", sizes.devshm))
             if value]
    if sizes.archive:
        rows.append((f"{indent}metadata, logs and other",
                     max(sizes.archive - sizes.total - sizes.rootfs_diff - sizes.volumes - sizes.devshm, 0)))
    return rows


SECTIONS = (("ov-sizes", "Sizes"), ("ov-network", "Network interfaces"), ("ov-stats", "Dump statistics"),
            ("ov-annotations", "Annotations"), ("ov-problems", "Problems"))


class OverviewPane(DetailPane):
    """The first pane: from the first metadata while loading, the whole model once loaded, the
    error when the checkpoint cannot be opened (it follows the session)."""

    pane_id = "overview"
    title = "Overview"

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="overview-scroll", can_focus=True):
            yield Static(id="ov-diagnosis", classes="section diagnosis -failed")
            yield Static(id="ov-container", classes="section")
            for widget_id, _title in SECTIONS:
                yield Static(id=widget_id, classes="section")

    def on_mount(self) -> None:
        for name in ("checkpoint", "preview", "error"):
            self.watch(self.session, name, self.refresh_content, init=False)
        self.refresh_content()

    def _section(self, widget_id: str, title: str, body: str) -> None:
        widget = self.query_one(f"#{widget_id}", Static)
        widget.border_title = title
        widget.update(body)

    def _show_sections(self, shown: bool) -> None:
        for widget_id, _title in SECTIONS:
            self.query_one(f"#{widget_id}", Static).display = shown

    def _show_diagnosis(self, cp: Checkpoint | None) -> None:
        """A failed restore or dump in a log (``--log``, or one of the checkpoint's): why, and
        the fix, on the first screen; the log itself is in Logs & stats."""
        widget = self.query_one("#ov-diagnosis", Static)
        failed = failed_log(cp) if cp is not None else None
        widget.display = failed is not None
        if failed is not None:
            name, diagnosis = failed
            widget.border_title = f"Diagnosis of {name}"
            widget.update(render_diagnosis(diagnosis) + "\n[$text-muted]7 shows the log (Logs & stats)[/]")

    def refresh_content(self) -> None:
        s = self.session
        self._show_diagnosis(s.checkpoint)
        when = s.when
        if s.checkpoint is not None:
            self._show_sections(True)
            self._from_checkpoint(s.checkpoint, when)
        elif s.error:
            self._failed(s.error, s.preview, when)
        else:
            self._show_sections(True)
            self._from_preview(s.preview, when)

    def _from_checkpoint(self, cp: Checkpoint, when: Callable[[datetime | None], str]) -> None:
        info = cp.info
        rows = _container_rows(info, when)
        zombies = cp.state_counts.get("Zombie", 0)
        rows.append(("Processes", fmt.count(len(cp.processes)) + (f" ({fmt.plural(zombies, 'zombie')})" if zombies else "")))
        if cp.containers:
            rows.append(("Pod containers", esc(", ".join(c.info.name for c in cp.containers))))
        self._section("ov-container", "Container", _kv(rows))

        sizes = cp.sizes
        pages = sizes.memory_pages
        rootfs = sizes.rootfs_diff
        whole = sizes.archive or (sizes.total + rootfs)
        other = max(whole - pages - rootfs, 0)
        rows_in = size_rows(sizes)
        width = max(len(name) for name, _v in rows_in) + 2
        body = _kv([(name, f"{fmt.size(v):>10}  [$text-muted]{v:,} B[/]") for name, v in rows_in], width)
        body += "\n\n" + size_bar(
            [("memory pages", pages), ("rootfs diff", rootfs), ("other", other)]
        )
        self._section("ov-sizes", "Sizes", body)

        if cp.interfaces or cp.devices:
            net = "\n".join([interface_line(i) for i in cp.interfaces] + [device_line(d) for d in cp.devices])
        else:
            net = "[$text-muted](no network interfaces recorded)[/]"
        self._section("ov-network", "Network interfaces", net)

        stats = [(name, esc(fmt.stat_value(name, value))) for name, value in cp.stats.items()]
        stats_body = _kv(stats, 22) if stats else "[$text-muted](no dump statistics)[/]"
        if cp.restore_stats:
            stats_body += "\n\n[b]restore[/]\n" + _kv(
                [(n, esc(fmt.stat_value(n, v))) for n, v in cp.restore_stats.items()], 22
            )
        self._section("ov-stats", "Dump statistics", stats_body)

        annotations = dict(info.annotations)
        annotations.update(info.image_annotations)
        self._section("ov-annotations", "Annotations", _annotations(annotations))

        if cp.problems:
            lines = []
            for p in cp.problems:
                var = {"error": "$text-error", "warning": "$text-warning"}.get(p.severity, "$text-muted")
                lines.append(
                    f"[{var}]{esc(p.severity.upper()):8}[/] {esc(p.source)}: {esc(p.message)} "
                    f"[$text-muted]→ {esc(p.pane)}[/]"
                )
            probs = "\n".join(lines)
        else:
            probs = "[$text-success]No problems found.[/]"
        self._section("ov-problems", f"Problems ({fmt.count(len(cp.problems))})", probs)

    def _from_preview(self, info: ContainerInfo | None, when: Callable[[datetime | None], str]) -> None:
        """While loading: the container as config.dump / spec.dump say, the rest to come."""
        rows = _container_rows(info or ContainerInfo(), when)
        self._section("ov-container", "Container (from metadata; loading the rest…)", _kv(rows))
        for widget_id, title in SECTIONS:
            self._section(widget_id, title, "[$text-muted]loading…[/]")
        if info is not None and info.annotations:
            self._section("ov-annotations", "Annotations", _annotations(info.annotations))

    def _failed(self, error: str, info: ContainerInfo | None, when: Callable[[datetime | None], str]) -> None:
        """The error, and what the metadata said if it was read; nothing pretends to load."""
        body = f"[$text-error]This checkpoint could not be opened.[/]\n\n{esc(error)}"
        if info is not None:
            body += "\n\n[$text-muted]What its metadata says:[/]\n" + _kv(_container_rows(info, when))
        self._section("ov-container", f"Cannot open {self.session.path.name}", body)
        self._show_sections(False)

    def copy_text(self) -> str:
        s = self.session
        if s.checkpoint is not None:
            return s.checkpoint.info.id
        return s.preview.id if s.preview is not None else ""

    def export_payload(self) -> ExportPayload:
        cp = self.session.checkpoint
        if cp is None:
            return None
        data = to_json(cp)
        reveal = self.session.secrets_revealed
        for proc in data.get("processes", []):
            env = proc.get("env")
            if isinstance(env, dict):  # as on screen: secret-looking values stay masked (S reveals them)
                proc["env"] = {k: masked(k, v, reveal) for k, v in env.items()}
        return f"{cp.info.name or 'checkpoint'}-checkpoint.json", dumps(data)


def _labelled(parts: list[tuple[str, str]]) -> str:
    """``label value`` pairs, only those with a value (no empty label, no ``?``)."""
    return "  ".join(f"[$text-muted]{label}[/] {esc(value)}" if label else esc(value)
                     for label, value in parts if value)


def interface_line(iface: NetInterface) -> str:
    """One interface of network.status: its name (or the network's), address, MAC and gateway."""
    head = f"[b]{esc(iface.name)}[/]" if iface.name else "[b]interface[/]"
    rest = _labelled([("on", iface.network), ("", iface.ip), ("mac", iface.mac), ("gw", iface.gateway)])
    return f"{head}  {rest}" if rest else head


def device_line(dev: NetDevice) -> str:
    """One device of the network namespace (netdev image)."""
    head = f"[b]{esc(dev.name)}[/]" if dev.name else "[b]device[/]"
    rest = _labelled([("", dev.type), ("mtu", str(dev.mtu) if dev.mtu else ""), ("mac", dev.mac)])
    return f"{head}  {rest}" if rest else head


def _annotations(annotations: dict[str, str]) -> str:
    """Sorted by key; JSON-valued ones (CRI-O's labels, annotations, volumes, metadata; kubectl's
    last-applied configuration) expanded, one line per field, indented under their key."""
    if not annotations:
        return "[$text-muted](none)[/]"
    expanded = expand_annotations(annotations)
    width = min(max(len(k) for k in annotations) + 1, 52)
    lines: list[str] = []
    for key in sorted(expanded):
        value = expanded[key]
        if isinstance(value, (dict, list)) and value:
            lines.append(f"[$text-muted]{esc(key)}[/]")
            lines += [f"  {esc(line)}" for line in _json_lines(value)]
        else:
            shown = json.dumps(value) if isinstance(value, (dict, list)) else str(value)
            lines.append(_kv([(key, esc(shown))], width))
    return "\n".join(lines)


def _json_lines(value: Any, indent: str = "") -> list[str]:
    """A parsed JSON value as ``key: value`` lines, nested ones indented (no braces or quotes)."""
    out: list[str] = []
    items = value.items() if isinstance(value, dict) else (("- ", v) for v in value)
    for key, item in items:
        label = f"{indent}{key}" if isinstance(value, list) else f"{indent}{key}: "
        if isinstance(item, (dict, list)) and item:
            out.append(label.rstrip())
            out += _json_lines(item, indent + "  ")
        else:
            out.append(label + (json.dumps(item) if not isinstance(item, str) else item))
    return out
