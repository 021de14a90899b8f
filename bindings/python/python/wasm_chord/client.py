"""``wasm_chord.Client``: an asyncio client for the WebSocket protocol of ``chord serve``
(``GET /v1/ws``, docs/websocket.md).

    >>> async with Client("ws://127.0.0.1:8080/v1/ws", api_key="sk-...") as client:
    ...     result = await client.generate("Once upon a time", max_tokens=32, temperature=0)
    ...     async for event in client.stream("Tell me a story", max_tokens=64):
    ...         print(event.text, end="")

One socket carries every generation of the client, told apart by id; a reader task routes the
server's events to each generation's queue. When the socket drops, the generations running on
it fail with :class:`ConnectionClosedError` (the server cancels them, so they cannot resume) and
the next call reconnects, retrying with exponential backoff up to ``max_attempts`` times.

Needs the ``websockets`` package (``pip install 'wasm-chord[client]'``); it is imported only
when a connection is opened, so ``import wasm_chord`` works without it.
"""

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Set, Tuple, Union

from .errors import (
    AuthenticationError,
    ClientError,
    ConnectionClosedError,
    ReconnectFailedError,
    from_protocol,
)

# The protocol's generation options (docs/websocket.md). The server ignores unknown fields, so a
# misspelt option would be silently dropped: the client refuses it instead.
OPTIONS = frozenset(
    {
        "model",
        "max_tokens",
        "temperature",
        "top_p",
        "top_k",
        "min_p",
        "repeat_penalty",
        "frequency_penalty",
        "presence_penalty",
        "seed",
        "stop",
        "ignore_eos",
    }
)


@dataclass(frozen=True)
class TokenEvent:
    """One ``token`` event: ``text`` is what this token makes safe to show (never empty)."""

    id: str
    index: int
    text: str


@dataclass(frozen=True)
class GenerationResult:
    """A finished generation: the joined text, ``finish_reason`` (``"stop"``, ``"length"`` or
    ``"cancelled"``) and the server's ``usage`` (``prompt_tokens``, ``completion_tokens``,
    ``total_tokens``, ``prompt_tokens_details``)."""

    id: str
    text: str
    finish_reason: str
    usage: Dict[str, Any] = field(default_factory=dict)


def _websockets() -> Tuple[Any, Any, Any, Any]:
    try:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
    except ImportError as e:  # absent, or older than 13.0 (no websockets.asyncio)
        raise ClientError(
            "wasm_chord.Client needs the websockets package (>= 13): "
            "pip install 'wasm-chord[client]' or pip install websockets"
        ) from e
    return connect, ConnectionClosed, InvalidStatus, WebSocketException


class _Connection:
    """One open socket, its reader task and the queues of the generations running on it."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.gens: Dict[str, "asyncio.Queue[Optional[Dict[str, Any]]]"] = {}
        # Ids a `cancel` was sent for: sent once, and a late `unknown_id` for them is no failure.
        self.cancelled: Set[str] = set()
        self.closed = False
        self.reader: Optional["asyncio.Task[None]"] = None


class Client:
    """An asyncio client of ``chord serve``'s WebSocket protocol.

    ``url``: ``ws://HOST:PORT/v1/ws``. ``api_key``: the tenant's key, sent as an
    ``Authorization: Bearer`` header (``auth="header"``) or as the protocol's first ``auth``
    message (``auth="message"``); None for an open server. ``max_attempts``: connection attempts
    per (re)connect, waiting ``backoff * 2**n`` seconds (at most ``max_backoff``) between them;
    a refused key is never retried. ``open_timeout``: seconds for the handshake and ``ready``.

    Connects on first use (or ``await client.connect()``, or ``async with``). ``tenant`` and
    ``model`` are those of the last ``ready`` message; ``connections`` counts the connections made
    (1 + successful reconnects).
    """

    def __init__(
        self,
        url: str = "ws://127.0.0.1:8080/v1/ws",
        api_key: Optional[str] = None,
        *,
        auth: str = "header",
        max_attempts: int = 5,
        backoff: float = 0.25,
        max_backoff: float = 8.0,
        open_timeout: float = 10.0,
    ) -> None:
        if auth not in ("header", "message"):
            raise ValueError(f"auth must be 'header' or 'message', not {auth!r}")
        if not isinstance(max_attempts, int) or max_attempts < 1:
            raise ValueError("max_attempts must be an int >= 1")
        if backoff < 0 or max_backoff < 0 or open_timeout <= 0:
            raise ValueError("backoff and max_backoff must be >= 0, open_timeout > 0")
        self.url = url
        self.api_key = api_key
        self.auth = auth
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.open_timeout = open_timeout
        self.tenant: Optional[str] = None
        self.model: Optional[str] = None
        self.connections = 0
        self._conn: Optional[_Connection] = None
        self._lock: Optional[asyncio.Lock] = None  # made in the running loop (Python 3.9)
        self._ids = itertools.count(1)
        self._closed = False

    # -- connection ---------------------------------------------------------------------------

    async def connect(self) -> "Client":
        """Opens the socket now (with the retries of a reconnect) and waits for ``ready``.
        Raises AuthenticationError for a refused key, ReconnectFailedError when every attempt
        failed."""
        await self._connection()
        return self

    async def close(self) -> None:
        """Closes the socket; running generations end with ConnectionClosedError."""
        self._closed = True
        conn, self._conn = self._conn, None
        if conn is not None:
            await self._drop(conn)

    async def __aenter__(self) -> "Client":
        return await self.connect()

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def _delay(self, n: int) -> float:
        return float(min(self.max_backoff, self.backoff * (2**n)))

    async def _connection(self) -> _Connection:
        conn = self._conn
        if conn is not None and not conn.closed:
            return conn
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            conn = self._conn
            if conn is not None and not conn.closed:
                return conn
            if self._closed:
                raise ClientError("the client is closed")
            # A missing websockets package fails at once, not after max_attempts retries.
            _, ConnectionClosed, InvalidStatus, WebSocketException = _websockets()
            last: Optional[BaseException] = None
            for attempt in range(self.max_attempts):
                if attempt:
                    await asyncio.sleep(self._delay(attempt - 1))
                try:
                    conn = await self._open()
                except AuthenticationError:
                    raise
                except (OSError, asyncio.TimeoutError, ClientError) as e:
                    last = e
                    continue
                except (ConnectionClosed, InvalidStatus, WebSocketException) as e:
                    last = e  # websockets' handshake errors (a 503, a reset, ...)
                    continue
                self._conn = conn
                return conn
            raise ReconnectFailedError(
                f"could not connect to {self.url} in {self.max_attempts} attempts: {last}",
                self.max_attempts,
            ) from last

    async def _open(self) -> _Connection:
        connect, ConnectionClosed, InvalidStatus, _ = _websockets()
        headers = None
        if self.api_key is not None and self.auth == "header":
            headers = {"Authorization": f"Bearer {self.api_key}"}
        try:
            ws = await connect(self.url, additional_headers=headers, open_timeout=self.open_timeout, max_size=None)
        except InvalidStatus as e:
            if e.response.status_code == 401:
                raise AuthenticationError(_body_message(e.response.body), "invalid_api_key", 401) from None
            raise
        try:
            if self.api_key is not None and self.auth == "message":
                await ws.send(json.dumps({"type": "auth", "api_key": self.api_key}))
            try:
                first = json.loads(await asyncio.wait_for(ws.recv(), self.open_timeout))
            except asyncio.TimeoutError:
                if self.api_key is None:
                    # A server with tenants waits for an `auth` message before saying anything.
                    raise AuthenticationError(
                        "no 'ready' from the server: it probably needs an API key", "invalid_api_key", 401
                    ) from None
                raise
            except ConnectionClosed as e:
                raise ConnectionClosedError(f"the server closed the socket before 'ready': {e}") from e
            if not isinstance(first, dict):
                raise ClientError(f"unexpected first message from the server: {first!r}")
            if first.get("type") == "error":
                raise from_protocol(first)
            if first.get("type") != "ready":
                raise ClientError(f"expected 'ready' from the server, got {first!r}")
        except BaseException:
            await ws.close()
            raise
        self.tenant = first.get("tenant")
        self.model = first.get("model")
        self.connections += 1
        conn = _Connection(ws)
        conn.reader = asyncio.ensure_future(self._read(conn))
        return conn

    async def _read(self, conn: _Connection) -> None:
        """Routes every server message to its generation's queue until the socket closes, then
        wakes every generation still waiting with None (connection lost)."""
        try:
            async for raw in conn.ws:
                try:
                    msg = json.loads(raw)
                except ValueError:
                    continue
                if not isinstance(msg, dict):
                    continue
                q = conn.gens.get(msg.get("id"))  # type: ignore[arg-type]
                if q is not None:
                    q.put_nowait(msg)
                # Errors tied to no running generation (e.g. a late `unknown_id` for a cancel
                # that crossed the `done`) concern nobody waiting: dropped.
        except Exception:
            pass  # ConnectionClosedError and friends: the socket is gone either way
        finally:
            conn.closed = True
            for q in conn.gens.values():
                q.put_nowait(None)

    async def _drop(self, conn: _Connection) -> None:
        conn.closed = True
        try:
            await conn.ws.close()
        except Exception:
            pass
        if conn.reader is not None:
            try:
                await conn.reader
            except BaseException:
                pass

    # -- generations --------------------------------------------------------------------------

    def stream(
        self,
        prompt: Optional[str] = None,
        *,
        messages: Optional[Iterable[Mapping[str, str]]] = None,
        id: Optional[str] = None,
        **options: Any,
    ) -> "Stream":
        """A generation as an async iterator of :class:`TokenEvent`; it starts at the first
        iteration. Exactly one of ``prompt`` (text) or ``messages`` (chat, rendered with the
        model's template) is given; ``options`` are the protocol's (``max_tokens``,
        ``temperature``, ``top_k``, ``top_p``, ``min_p``, ``seed``, ``stop``, ...). ``id``
        defaults to a fresh one. ``stream.result`` holds the :class:`GenerationResult` at the
        end; ``async with`` cancels it if left early."""
        body = _request(prompt, messages, options)
        gid = id if id is not None else f"py-{next(self._ids)}"
        if not isinstance(gid, str) or not gid:
            raise TypeError("id must be a non-empty str")
        return Stream(self, gid, body)

    async def generate(self, prompt: str, *, id: Optional[str] = None, **options: Any) -> GenerationResult:
        """Runs a generation from a text prompt to its end; returns the result."""
        return await self.stream(prompt, id=id, **options).collect()

    async def chat(
        self, messages: Iterable[Mapping[str, str]], *, id: Optional[str] = None, **options: Any
    ) -> GenerationResult:
        """Runs a chat generation (``[{"role", "content"}]``, the model's template) to its end."""
        return await self.stream(messages=messages, id=id, **options).collect()

    async def cancel(self, id: str) -> None:
        """Cancels a running generation of this client: its stream then ends with
        ``finish_reason == "cancelled"``. ValueError if no generation with that id runs."""
        conn = self._conn
        if conn is None or conn.closed or id not in conn.gens:
            raise ValueError(f"no generation {id!r} is running")
        if id not in conn.cancelled:
            conn.cancelled.add(id)
            await _send(conn, {"type": "cancel", "id": id})


class Stream:
    """A running generation (see :meth:`Client.stream`): async iterator of TokenEvent."""

    def __init__(self, client: Client, id: str, body: Dict[str, Any]) -> None:
        self.id = id
        self.result: Optional[GenerationResult] = None
        self._client = client
        self._body = body
        self._conn: Optional[_Connection] = None
        self._q: "Optional[asyncio.Queue[Optional[Dict[str, Any]]]]" = None
        self._pieces: List[str] = []
        self._done = False

    @property
    def text(self) -> str:
        """The text received so far."""
        return "".join(self._pieces)

    def __aiter__(self) -> "Stream":
        return self

    async def __aenter__(self) -> "Stream":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self._conn is not None and not self._done and not self._conn.closed:
            try:
                await self.cancel()
            except ClientError:
                pass
        self._finish()

    async def _start(self) -> None:
        conn = await self._client._connection()
        if self.id in conn.gens:
            raise ValueError(f"a generation {self.id!r} is already running on this client")
        self._conn = conn
        self._q = asyncio.Queue()
        conn.gens[self.id] = self._q
        await self._send_request()

    async def _send_request(self) -> None:
        assert self._conn is not None
        try:
            await _send(self._conn, dict(self._body, type="generate", id=self.id))
        except ConnectionClosedError:
            self._finish()
            raise

    async def __anext__(self) -> TokenEvent:
        if self._done:
            raise StopAsyncIteration
        if self._q is None:
            await self._start()
        assert self._q is not None
        loading_retries = 0
        while True:
            msg = await self._q.get()
            if msg is None:
                self._finish()
                raise ConnectionClosedError(f"the connection closed during generation {self.id!r}")
            kind = msg.get("type")
            if kind == "token":
                ev = TokenEvent(self.id, int(msg.get("index", 0)), str(msg.get("text", "")))
                self._pieces.append(ev.text)
                return ev
            if kind == "done":
                self.result = GenerationResult(
                    self.id, self.text, str(msg.get("finish_reason")), dict(msg.get("usage") or {})
                )
                self._finish()
                raise StopAsyncIteration
            if kind == "error":
                err = from_protocol(msg)
                if err.code == "unknown_id" and self._conn is not None and self.id in self._conn.cancelled:
                    continue  # a cancel that crossed the end; the `done` comes (or came) anyway
                # Right after a server (re)starts it accepts sockets before the model is loaded;
                # a refused request had no effect, so it is sent again with the same backoff.
                if err.code == "model_loading" and loading_retries + 1 < self._client.max_attempts:
                    await asyncio.sleep(self._client._delay(loading_retries))
                    loading_retries += 1
                    await self._send_request()
                    continue
                self._finish()
                raise err

    def _finish(self) -> None:
        self._done = True
        if self._conn is not None and self._conn.gens.get(self.id) is self._q:
            del self._conn.gens[self.id]
            self._conn.cancelled.discard(self.id)

    async def cancel(self) -> None:
        """Cancels this generation (it then ends with ``finish_reason == "cancelled"``); before
        it started, it simply never starts."""
        if self._q is None:
            self._done = True
            self.result = GenerationResult(self.id, "", "cancelled", {})
            return
        if not self._done:
            await self._client.cancel(self.id)

    async def collect(self) -> GenerationResult:
        """Reads the rest of the stream; returns the result."""
        async for _ in self:
            pass
        assert self.result is not None
        return self.result


async def _send(conn: _Connection, msg: Dict[str, Any]) -> None:
    if conn.closed:
        raise ConnectionClosedError("the connection is closed")
    try:
        await conn.ws.send(json.dumps(msg))
    except Exception as e:  # websockets' ConnectionClosed (imported lazily)
        conn.closed = True
        raise ConnectionClosedError(f"the connection closed: {e}") from e


def _request(
    prompt: Optional[str], messages: Optional[Iterable[Mapping[str, str]]], options: Mapping[str, Any]
) -> Dict[str, Any]:
    unknown = sorted(set(options) - OPTIONS)
    if unknown:
        raise TypeError(f"unknown generation option(s) {', '.join(unknown)}; known: {', '.join(sorted(OPTIONS))}")
    body: Dict[str, Any] = {k: v for k, v in options.items() if v is not None}
    if (prompt is None) == (messages is None):
        raise ValueError("give exactly one of prompt and messages")
    if prompt is not None:
        if not isinstance(prompt, str):
            raise TypeError(f"prompt must be a str, not {type(prompt).__name__}")
        body["prompt"] = prompt
    else:
        assert messages is not None
        msgs = [dict(m) for m in messages]
        for m in msgs:
            if not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
                raise TypeError('messages must be mappings with str "role" and "content"')
        body["messages"] = msgs
    return body


def _body_message(body: Union[bytes, None]) -> str:
    """The message of an OpenAI-style error body (the server's 401), else the raw text."""
    text = (body or b"").decode("utf-8", "replace")
    try:
        return str(json.loads(text)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return text or "invalid API key"


__all__ = ["Client", "Stream", "TokenEvent", "GenerationResult"]
