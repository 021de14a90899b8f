"""wasm_chord.Client against a real `chord serve -m gemma3-270m` on 127.0.0.1 (a free port, a
tenants file), started once for this module. Greedy output must equal `chord run`'s; the
reconnect tests kill the server and start it again on the same port, so they come last.
"""

import asyncio
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

import wasm_chord
from wasm_chord import (
    AuthenticationError,
    Client,
    ClientError,
    ConnectionClosedError,
    RateLimitError,
    ReconnectFailedError,
    ServerError,
)

from conftest import chord, chord_bin

MODEL = "gemma3-270m"
PROMPT = "Once upon a time"
LONG = {"max_tokens": 300, "ignore_eos": True}
TENANTS = """
[tenants.alice]
api_keys = ["sk-alice"]

[tenants.carol]
api_keys = ["sk-carol"]
max_concurrent = 1
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`chord serve` on a fixed port, which kill() and start() keep across restarts."""

    def __init__(self, tenants_file: str) -> None:
        self.port = free_port()
        self.tenants = tenants_file
        self.proc = None
        self.url = f"ws://127.0.0.1:{self.port}/v1/ws"

    def spawn(self) -> None:
        self.proc = subprocess.Popen(
            [chord_bin(), "serve", "-m", MODEL, "--port", str(self.port), "--slots", "4",
             "--ctx", "1024", "--tenants", self.tenants, "--shutdown-grace", "1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def wait_ready(self) -> None:
        deadline = time.time() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except Exception:
                pass
            if time.time() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"chord serve did not become ready (exit {self.proc.poll()})")
            time.sleep(0.1)

    def start(self) -> None:
        self.spawn()
        self.wait_ready()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    path = tmp_path_factory.mktemp("serve") / "tenants.toml"
    path.write_text(TENANTS)
    srv = Server(str(path))
    srv.start()
    yield srv
    if srv.proc.poll() is None:
        srv.proc.terminate()
        try:
            srv.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            srv.proc.kill()


@pytest.fixture
def live(server):
    """The server, restarted if an earlier test left it down."""
    if not server.running():
        server.start()
    return server


@pytest.fixture(scope="module")
def want() -> str:
    return chord("run", "-m", MODEL, "-p", PROMPT, "-n", "24", "--temp", "0").decode()


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 300))


def test_generate_equals_chord_run(live, want):
    async def go():
        async with Client(live.url, api_key="sk-alice") as c:
            assert (c.tenant, c.model) == ("alice", MODEL)
            return await c.generate(PROMPT, max_tokens=24, temperature=0)

    r = run(go())
    assert r.text == want
    assert r.finish_reason == "length"
    assert r.usage["completion_tokens"] == 24
    assert r.usage["total_tokens"] == r.usage["prompt_tokens"] + 24


def test_stream_pieces_join_to_the_text(live, want):
    async def go():
        async with Client(live.url, api_key="sk-alice", auth="message") as c:
            s = c.stream(PROMPT, max_tokens=24, temperature=0)
            events = [e async for e in s]
            return s, events

    s, events = run(go())
    assert len(events) > 1
    assert all(e.text and e.id == s.id for e in events)
    assert [e.index for e in events] == sorted(e.index for e in events)
    assert "".join(e.text for e in events) == s.result.text == want
    assert s.result.finish_reason == "length"


def test_chat_equals_in_process_model(live, load):
    messages = [{"role": "user", "content": "Name three colours."}]
    expected = load(MODEL).chat(messages, max_tokens=16, temperature=0)

    async def go():
        async with Client(live.url, api_key="sk-alice") as c:
            r = await c.chat(messages, max_tokens=16, temperature=0)
            streamed = "".join([e.text async for e in c.stream(messages=messages, max_tokens=16, temperature=0)])
            return r, streamed

    r, streamed = run(go())
    assert r.text and r.text == expected == streamed


def test_two_generations_on_one_socket_one_cancelled(live, want):
    async def go():
        async with Client(live.url, api_key="sk-alice") as c:
            long = c.stream("Tell me a long story.", **LONG)

            async def cancel_after_first():
                first = None
                async for e in long:
                    if first is None:
                        first = e
                        await long.cancel()
                        await c.cancel(long.id)  # a second cancel is not sent again, nor an error
                return long.result

            a, b = await asyncio.gather(cancel_after_first(), c.generate(PROMPT, max_tokens=24, temperature=0))
            return a, b, c.connections

    a, b, connections = run(go())
    assert connections == 1
    assert a.finish_reason == "cancelled"
    assert a.usage["completion_tokens"] < LONG["max_tokens"]
    assert b.text == want and b.finish_reason == "length"


@pytest.mark.parametrize("auth", ["header", "message"])
def test_bad_key_is_an_authentication_error(live, auth):
    async def go():
        async with Client(live.url, api_key="sk-wrong", auth=auth, max_attempts=3):
            pass

    with pytest.raises(AuthenticationError) as e:
        run(go())
    assert (e.value.code, e.value.status) == ("invalid_api_key", 401)
    assert isinstance(e.value, ClientError)


def test_missing_key_is_an_authentication_error(live):
    with pytest.raises(AuthenticationError):
        run(Client(live.url, open_timeout=2).connect())


def test_rate_limit_carries_retry_after(live):
    async def go():
        async with Client(live.url, api_key="sk-carol") as c:
            async with c.stream("Tell me a long story.", **LONG) as long:
                await long.__anext__()  # running: carol's one concurrent request is taken
                with pytest.raises(RateLimitError) as e:
                    await c.generate(PROMPT, max_tokens=4)
                await long.cancel()
                rest = [ev async for ev in long]
            return e.value, long.result, rest

    err, result, _ = run(go())
    assert err.code == "too_many_concurrent_requests" and err.status == 429
    assert err.retry_after is not None and err.retry_after > 0
    assert result.finish_reason == "cancelled"


def test_server_errors_carry_the_protocol_code(live):
    async def go():
        async with Client(live.url, api_key="sk-alice") as c:
            with pytest.raises(ServerError) as e:
                await c.generate(PROMPT, max_tokens=10**9, id="huge")
            # The socket stays usable after a refused request.
            ok = await c.generate(PROMPT, max_tokens=2, temperature=0)
            return e.value, ok

    err, ok = run(go())
    assert (err.code, err.status, err.id) == ("invalid_value", 400, "huge")
    assert not isinstance(err, (AuthenticationError, RateLimitError))
    assert ok.usage["completion_tokens"] == 2


def test_bad_arguments_fail_before_sending():
    c = Client("ws://127.0.0.1:9/v1/ws")
    with pytest.raises(TypeError, match="max_token"):
        c.stream(PROMPT, max_token=3)
    with pytest.raises(ValueError):
        c.stream(PROMPT, messages=[{"role": "user", "content": "x"}])
    with pytest.raises(ValueError):
        c.stream()
    with pytest.raises(TypeError):
        c.stream(123)
    with pytest.raises(ValueError):
        Client("ws://x", auth="cookie")
    with pytest.raises(ValueError):
        Client("ws://x", max_attempts=0)


def test_import_works_without_websockets():
    # `websockets` made unimportable: the package and Client still load; connecting says why not.
    code = (
        "import sys; sys.modules['websockets'] = None\n"
        "import asyncio, wasm_chord\n"
        "c = wasm_chord.Client('ws://127.0.0.1:9/v1/ws')\n"
        "try:\n"
        "    asyncio.run(c.connect())\n"
        "except wasm_chord.ClientError as e:\n"
        "    assert 'websockets' in str(e), e\n"
        "    print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "ok", out.stderr


def test_reconnects_with_backoff_after_a_restart(live, want):
    async def go():
        async with Client(live.url, api_key="sk-alice", max_attempts=10, backoff=0.1, max_backoff=2) as c:
            long = c.stream("Tell me a long story.", **LONG)
            await long.__anext__()
            live.kill()
            with pytest.raises(ConnectionClosedError):
                async for _ in long:
                    pass
            # The server comes back a second later; the next call reconnects meanwhile.
            restarter = threading.Timer(1.0, live.spawn)
            restarter.start()
            try:
                r = await c.generate(PROMPT, max_tokens=24, temperature=0)
            finally:
                restarter.join()
            return r, c.connections

    r, connections = run(go())
    assert r.text == want
    assert connections == 2


def test_reconnect_gives_up_with_a_typed_error(live):
    async def go():
        async with Client(live.url, api_key="sk-alice", max_attempts=3, backoff=0.05) as c:
            live.kill()
            await asyncio.sleep(0.3)  # the reader task sees the socket close (a FIN on loopback)
            started = time.monotonic()
            with pytest.raises(ReconnectFailedError) as e:
                await c.generate(PROMPT, max_tokens=4)
            return e.value, time.monotonic() - started

    err, took = run(go())
    assert err.attempts == 3 and isinstance(err, ConnectionClosedError)
    assert took >= 0.05 + 0.1  # it waited between the attempts
    assert "3 attempts" in str(err)


def test_client_is_exported():
    assert wasm_chord.Client is Client
    assert issubclass(ReconnectFailedError, ConnectionClosedError)
    assert issubclass(RateLimitError, ServerError) and issubclass(ServerError, ClientError)
