"""The Textual UI's application layer: the session (the UI's state), the controllers that
change it (loading, operations), the protocols the panes answer to, and the App.

``ckpt_tui.ui.app`` holds ``CkptApp`` and ``run_app``; the screens and widgets live in
``ckpt_tui.screens`` and ``ckpt_tui.widgets`` and read the session they are given.
"""
