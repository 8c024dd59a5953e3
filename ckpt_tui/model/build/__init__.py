"""Building the model: :func:`load_checkpoint` opens a source and :func:`build_checkpoint`
turns it into a :class:`~ckpt_tui.model.checkpoint.Checkpoint`, part by part.

``load`` runs the parts in order; ``context`` is what they share (the checkpoint, the
source, problems, cancelling) and ``images`` the CRIU images decoded once; ``system``
(metadata, inventory, statistics, mounts, namespaces, sizes, logs), ``network``,
``processes`` (the tree, cores, threads, credentials), ``files`` (fd tables: one function
per kind of file entry) and ``sockets``, ``memory`` (memory maps, pagemaps, readers,
argv/environ), ``rootfs`` and ``pods`` fill it in; ``tap`` takes argv/environ from the pages
as a compressed archive streams past.
"""

from .load import build_checkpoint, load_checkpoint, summarise

__all__ = ["build_checkpoint", "load_checkpoint", "summarise"]
