"""wasm-chord: in-process LLM inference on GGUF models, and a client for ``chord serve``.

    >>> from wasm_chord import Model
    >>> model = Model("gemma3-270m")          # a .gguf path or a known model name
    >>> model.generate("Once upon a time", max_tokens=32, temperature=0)

``Model.generate`` and ``Model.chat`` return the text, or with ``stream=True`` an iterator of
text pieces. Errors from the runtime are :class:`ModelError`; bad arguments raise ``ValueError``
(or ``TypeError`` for a value of the wrong type). Generation runs without the GIL and Ctrl-C
interrupts it (``KeyboardInterrupt``), leaving the model usable.

:class:`Client` talks to a running ``chord serve`` over its WebSocket protocol (asyncio; needs
the ``websockets`` package, imported only when it connects: ``pip install 'wasm-chord[client]'``).
Its errors derive from :class:`ClientError`.
"""

from ._native import Model, ModelError, TextStream, __version__, kernel_isa
from .client import Client, GenerationResult, Stream, TokenEvent
from .errors import (
    AuthenticationError,
    ClientError,
    ConnectionClosedError,
    RateLimitError,
    ReconnectFailedError,
    ServerError,
)

__all__ = [
    "Model",
    "ModelError",
    "TextStream",
    "__version__",
    "kernel_isa",
    "Client",
    "Stream",
    "TokenEvent",
    "GenerationResult",
    "ClientError",
    "ServerError",
    "AuthenticationError",
    "RateLimitError",
    "ConnectionClosedError",
    "ReconnectFailedError",
]
