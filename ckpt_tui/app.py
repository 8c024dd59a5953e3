"""The Textual application lives in :mod:`ckpt_tui.ui.app`; this name stays for the command
line, the tests and scripts that import ``ckpt_tui.app``."""

from .ui.app import DEMO_PATH, CkptApp, run_app

__all__ = ["DEMO_PATH", "CkptApp", "run_app"]
