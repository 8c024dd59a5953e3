"""ckpt-tui: an interactive inspector for container checkpoints.

Layers (each importable alone, none of the lower ones imports Textual):
``archive`` (open sources) -> ``criu`` (CRIU image decoding) -> ``model``
(the checkpoint tree model) -> ``actions`` (build / restore / diagnose) -> UI.
"""

__version__ = "0.1.0"
