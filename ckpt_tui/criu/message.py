# SPDX-License-Identifier: Apache-2.0
"""The type of a decoded CRIU message (no protobuf import)."""

from __future__ import annotations

from typing import Any

__all__ = ["PbMessage"]

#: A decoded CRIU protobuf message whose fields are read by name. Its schema is chosen at run
#: time (by an image's magic, :func:`message_class`) and the generated ``_pb2`` modules have no
#: type stubs, so those fields are untyped: this alias (``Any``) is the one place that says so
#: (``model.types`` uses it too; it lives in a module of its own, not beside the schemas, so naming
#: it imports no protobuf module). Code that only walks a message generically takes a ``Message``.
PbMessage = Any
