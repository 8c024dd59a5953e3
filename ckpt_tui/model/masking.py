"""What counts as a secret, decided once: the names whose values are masked, and the mask.

The UI (every pane), the CLI (``inspect`` masks by default) and the exports all ask here."""

from __future__ import annotations

import re

SECRET_NAME = re.compile(r"PASS(WORD|WD)?|TOKEN|SECRET|KEY|CREDENTIAL|PRIVATE|AUTH", re.IGNORECASE)
MASK = "\u2022" * 8


def is_secret_name(name: str) -> bool:
    """True for names whose values should be masked (``DB_PASSWORD``, ``API_TOKEN`` ...)."""
    return bool(SECRET_NAME.search(name))


def masked(name: str, value: str, reveal: bool = False) -> str:
    """``value``, or the mask when ``name`` looks secret and ``reveal`` is off."""
    return MASK if not reveal and is_secret_name(name) else value
