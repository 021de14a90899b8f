"""`chord serve` driven by the official `openai` Python package and a `websockets` client.

Usage: sdk_test.py PATH/TO/chord. Starts the server on 127.0.0.1 (free port), runs the checks,
stops it, and prints cargo-style "test result: ok. N passed; M failed" for scripts/test.sh.
"""

import asyncio
import json
import socket
import subprocess
import sys
import time
import traceback
import urllib.request

import openai
import websockets

CHORD = sys.argv[1]
MODEL = "gemma3-270m"
PROMPT = "Once upon a time"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chord_run(prompt, n):
    out = subprocess.run(
        [CHORD, "run", "-m", MODEL, "-p", prompt, "-n", str(n), "--temp", "0"],
        check=True, capture_output=True, timeout=300,
    )
    return out.stdout.decode()


def main():
    port = free_port()
    server = subprocess.Popen(
        [CHORD, "serve", "-m", MODEL, "--port", str(port), "--slots", "4", "--ctx", "1024",
         "--shutdown-grace", "2"],
    )
    base = f"http://127.0.0.1:{port}"
    results = []
    try:
        deadline = time.time() + 120
        while True:
            try:
                with urllib.request.urlopen(base + "/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except Exception:
                pass
            if time.time() > deadline or server.poll() is not None:
                raise RuntimeError("server did not become ready")
            time.sleep(0.2)
        client = openai.OpenAI(base_url=base + "/v1", api_key="unused", timeout=120, max_retries=0)
        want = chord_run(PROMPT, 24)

        def completion():
            r = client.completions.create(model=MODEL, prompt=PROMPT, max_tokens=24, temperature=0)
            assert r.choices[0].text == want, (r.choices[0].text, want)
            assert r.usage.completion_tokens == 24
            assert r.choices[0].finish_reason == "length"

        def completion_stream():
            text = "".join(
                c.choices[0].text
                for c in client.completions.create(
                    model=MODEL, prompt=PROMPT, max_tokens=24, temperature=0, stream=True
                )
                if c.choices
            )
            assert text == want, (text, want)

        def chat():
            msgs = [{"role": "user", "content": "Name three colours."}]
            r = client.chat.completions.create(model=MODEL, messages=msgs, max_tokens=16, temperature=0)
            text = r.choices[0].message.content
            assert r.choices[0].message.role == "assistant"
            assert text, "empty chat reply"
            streamed = "".join(
                c.choices[0].delta.content or ""
                for c in client.chat.completions.create(
                    model=MODEL, messages=msgs, max_tokens=16, temperature=0, stream=True
                )
                if c.choices
            )
            assert streamed == text, (streamed, text)

        def models_and_errors():
            ids = [m.id for m in client.models.list()]
            assert ids == [MODEL], ids
            try:
                client.completions.create(model=MODEL, prompt=PROMPT, max_tokens=10**9)
                raise AssertionError("huge max_tokens accepted")
            except openai.BadRequestError as e:
                assert e.body["code"] == "invalid_value", e.body

        def websocket():
            async def go():
                async with websockets.connect(f"ws://127.0.0.1:{port}/v1/ws") as ws:
                    ready = json.loads(await ws.recv())
                    assert ready["type"] == "ready", ready
                    await ws.send(json.dumps({"type": "generate", "id": "a", "prompt": "Tell me a story.",
                                              "max_tokens": 300, "ignore_eos": True}))
                    await ws.send(json.dumps({"type": "generate", "id": "b", "prompt": PROMPT,
                                              "max_tokens": 24, "temperature": 0}))
                    text_b, done, cancelled = "", {}, False
                    while len(done) < 2:
                        m = json.loads(await asyncio.wait_for(ws.recv(), 120))
                        if m["type"] == "token" and m["id"] == "a" and not cancelled:
                            await ws.send(json.dumps({"type": "cancel", "id": "a"}))
                            cancelled = True
                        elif m["type"] == "token" and m["id"] == "b":
                            text_b += m["text"]
                        elif m["type"] == "done":
                            done[m["id"]] = m
                        elif m["type"] == "error":
                            raise AssertionError(m)
                    assert done["a"]["finish_reason"] == "cancelled", done["a"]
                    assert done["b"]["finish_reason"] == "length", done["b"]
                    assert text_b == want, (text_b, want)
            asyncio.run(go())

        for name, f in [("completion", completion), ("completion_stream", completion_stream),
                        ("chat", chat), ("models_and_errors", models_and_errors),
                        ("websocket", websocket)]:
            try:
                f()
                print(f"test {name} ... ok")
                results.append(True)
            except Exception:
                print(f"test {name} ... FAILED")
                traceback.print_exc()
                results.append(False)
        # SIGTERM with a stream in flight: during the grace period a new request gets 503 with
        # an OpenAI error; at its end the stream is cancelled and still ends cleanly (a last
        # chunk with finish_reason, then [DONE], which the SDK's iterator needs to stop).
        try:
            stream = client.completions.create(model=MODEL, prompt="Tell me a long story.",
                                               max_tokens=900, stream=True,
                                               extra_body={"ignore_eos": True})
            it = iter(stream)
            first = next(it)
            assert first.choices[0].text is not None
            server.terminate()
            time.sleep(0.3)
            try:
                client.completions.create(model=MODEL, prompt="Hi", max_tokens=2)
                raise AssertionError("a request during shutdown was served")
            except openai.APIStatusError as e:
                assert e.status_code == 503, e
                assert e.body["code"] == "shutting_down", e.body
            finishes = [c.choices[0].finish_reason for c in it if c.choices]
            assert finishes[-1] == "cancelled", finishes[-5:]
            print("test sigterm_ends_streams_cleanly ... ok")
            results.append(True)
        except Exception:
            print("test sigterm_ends_streams_cleanly ... FAILED")
            traceback.print_exc()
            results.append(False)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            results.append(False)
            print("test graceful_exit ... FAILED (no exit 30 s after SIGTERM)")
    passed, failed = results.count(True), results.count(False)
    if server.returncode not in (0, None):
        print(f"test graceful_exit ... FAILED (exit code {server.returncode})")
        failed += 1
    else:
        print("test graceful_exit ... ok")
        passed += 1
    status = "ok" if failed == 0 else "FAILED"
    print(f"test result: {status}. {passed} passed; {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
