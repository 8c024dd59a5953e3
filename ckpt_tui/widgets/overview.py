"""Overview pane: who, when, how big, where the bytes go, statistics, annotations, problems."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from textual.containers import VerticalScroll
from textual.widgets import Static

from . import format as fmt
from .base import Pane, dumps
from .format import esc

if TYPE_CHECKING:  # pragma: no cover
    from ..model.checkpoint import Checkpoint
    from ..model.types import ContainerInfo

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


def _container_rows(info: "ContainerInfo", now: datetime) -> list[tuple[str, str]]:
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
        ("Created", esc(fmt.when(info.created, now))),
        ("Checkpointed", esc(fmt.when(info.checkpointed, now))),
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
    for (name, value), count, (_label, var, char) in zip(parts, cells, BAR_PARTS):
        if count:
            bar += f"[{var}]{char * count}[/]"
        pct = 100 * value / total
        legend.append(f"[{var}]{char}[/] {esc(name)} {fmt.size(value)} ({pct:.0f}%)")
    return bar + "\n" + "\n".join(legend)


def size_rows(sizes: Any) -> list[tuple[str, int]]:
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
    if sizes.archive:
        rows.append((f"{indent}metadata, logs and other", max(sizes.archive - sizes.total - sizes.rootfs_diff, 0)))
    return rows


class OverviewPane(Pane):
    pane_id = "overview"
    title = "Overview"

    def __init__(self, checkpoint: "Checkpoint | None", metadata: dict | None = None, **kwargs: Any) -> None:
        super().__init__(checkpoint, **kwargs)  # type: ignore[arg-type]
        self.metadata = metadata or {}

    def compose(self):
        with VerticalScroll(id="overview-scroll", can_focus=True):
            yield Static(id="ov-container", classes="section")
            yield Static(id="ov-sizes", classes="section")
            yield Static(id="ov-network", classes="section")
            yield Static(id="ov-stats", classes="section")
            yield Static(id="ov-annotations", classes="section")
            yield Static(id="ov-problems", classes="section")

    def on_mount(self) -> None:
        self.refresh_content()

    def set_checkpoint(self, checkpoint: "Checkpoint") -> None:
        self.checkpoint = checkpoint
        if self.is_mounted:
            self.refresh_content()

    def _section(self, widget_id: str, title: str, body: str) -> None:
        widget = self.query_one(f"#{widget_id}", Static)
        widget.border_title = title
        widget.update(body)

    def refresh_content(self) -> None:
        now = self.app.now() if hasattr(self.app, "now") else datetime.now().astimezone()
        cp = self.checkpoint
        if cp is None:
            self._from_metadata(now)
            return
        info = cp.info
        rows = _container_rows(info, now)
        rows.append(("Processes", str(len(cp.processes))))
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
            lines = []
            for iface in cp.interfaces:
                lines.append(
                    f"[b]{esc(iface.name or '?')}[/] [$text-muted]{esc(iface.network)}[/]  "
                    f"{esc(iface.ip)}  mac {esc(iface.mac)}  gw {esc(iface.gateway)}"
                )
            for dev in cp.devices:
                lines.append(
                    f"[b]{esc(dev.name)}[/] [$text-muted]{esc(dev.type)}[/]  mtu {dev.mtu}  "
                    f"{esc(dev.mac)}"
                )
            net = "\n".join(lines)
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
        if annotations:
            width = min(max(len(k) for k in annotations) + 1, 52)
            ann = _kv([(k, esc(str(v))) for k, v in sorted(annotations.items())], width)
        else:
            ann = "[$text-muted](none)[/]"
        self._section("ov-annotations", "Annotations", ann)

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
        self._section("ov-problems", f"Problems ({len(cp.problems)})", probs)

    def _from_metadata(self, now: datetime) -> None:
        from ..model.metadata import info_from_peek

        info = info_from_peek(self.metadata)
        annotations = info.annotations
        rows = _container_rows(info, now)
        self._section("ov-container", "Container (from metadata; loading the rest…)", _kv(rows))
        for widget_id, title in (
            ("ov-sizes", "Sizes"),
            ("ov-network", "Network interfaces"),
            ("ov-stats", "Dump statistics"),
            ("ov-problems", "Problems"),
        ):
            self._section(widget_id, title, "[$text-muted]loading…[/]")
        if annotations:
            width = min(max(len(k) for k in annotations) + 1, 52)
            self._section("ov-annotations", "Annotations",
                          _kv([(k, esc(str(v))) for k, v in sorted(annotations.items())], width))
        else:
            self._section("ov-annotations", "Annotations", "[$text-muted]loading…[/]")

    def copy_text(self) -> str:
        if self.checkpoint is not None:
            return self.checkpoint.info.id
        from ..model.metadata import info_from_peek

        return info_from_peek(self.metadata).id

    def export_payload(self):
        if self.checkpoint is None:
            return None
        try:
            from ..model.export import to_json

            data = to_json(self.checkpoint)
        except Exception:  # export module not there yet: the dataclasses as they are
            cp = self.checkpoint
            data = {"info": cp.info, "sizes": cp.sizes, "stats": cp.stats, "problems": cp.problems}
        if isinstance(data, dict) and not getattr(self.app, "secrets_revealed", False):
            # as on screen: secret-looking environment values stay masked (S reveals them)
            for proc in data.get("processes", []):
                env = proc.get("env")
                if isinstance(env, dict):
                    proc["env"] = {k: (fmt.MASK if fmt.is_secret_name(k) else v) for k, v in env.items()}
        name = self.checkpoint.info.name or "checkpoint"
        return f"{name}-checkpoint.json", dumps(data)
