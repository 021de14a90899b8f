"""Exceptions of :class:`wasm_chord.Client` (the WebSocket client of ``chord serve``).

Pure Python and free of third-party imports, so ``import wasm_chord`` works without the
``websockets`` package (only :meth:`Client.connect` needs it).
"""

from typing import Any, Dict, Optional


class ClientError(Exception):
    """Base class of every error the WebSocket client raises."""


class ServerError(ClientError):
    """The server refused a request or a generation failed: an ``error`` message of the protocol
    (docs/websocket.md). ``code`` is the protocol's error code (e.g. ``"invalid_value"``),
    ``status`` the HTTP status the same failure gets, ``id`` the generation's id (None when the
    error was not tied to one)."""

    def __init__(self, message: str, code: str, status: int, id: Optional[str] = None) -> None:
        super().__init__(f"{code} ({status}): {message}")
        self.message = message
        self.code = code
        self.status = status
        self.id = id


class AuthenticationError(ServerError):
    """A missing or wrong API key (``invalid_api_key``, 401): HTTP 401 on the upgrade request
    for a bearer header, or the protocol's ``error`` for an ``auth`` message. Never retried."""


class RateLimitError(ServerError):
    """The tenant's ``max_concurrent`` or ``tokens_per_minute`` limit (429); ``retry_after`` is
    the number of seconds the server says to wait (None if it gave none)."""

    def __init__(
        self,
        message: str,
        code: str,
        status: int,
        id: Optional[str] = None,
        retry_after: Optional[float] = None,
    ) -> None:
        super().__init__(message, code, status, id)
        self.retry_after = retry_after


class ConnectionClosedError(ClientError):
    """The connection to the server is gone: a generation running on it cannot finish (the
    server cancels everything a closed socket started), or it could not be opened."""


class ReconnectFailedError(ConnectionClosedError):
    """Every (re)connection attempt failed; ``attempts`` is how many were made and ``__cause__``
    the last failure."""

    def __init__(self, message: str, attempts: int) -> None:
        super().__init__(message)
        self.attempts = attempts


def from_protocol(msg: Dict[str, Any]) -> ServerError:
    """The exception for one ``error`` message of the protocol."""
    code = str(msg.get("code") or "unknown")
    status = int(msg.get("status") or 0)
    text = str(msg.get("message") or code)
    gid = msg.get("id")
    if code == "invalid_api_key" or status == 401:
        return AuthenticationError(text, code, status, gid)
    if status == 429:
        ra = msg.get("retry_after")
        return RateLimitError(text, code, status, gid, float(ra) if ra is not None else None)
    return ServerError(text, code, status, gid)
