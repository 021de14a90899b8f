"""Ctrl-C (simulated with _thread.interrupt_main, which raises KeyboardInterrupt in the main
thread as SIGINT would) stops a generation promptly and leaves the model usable; generation runs
without the GIL."""

import _thread
import signal
import threading
import time

import pytest

PROMPT = "Once upon a time"
LONG = 4000  # far more tokens than can be generated before the interrupt


@pytest.fixture(autouse=True)
def python_handles_sigint():
    # interrupt_main does nothing when SIGINT is not Python's (a process started in the
    # background by a non-interactive shell inherits it ignored), so make it Python's here.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def interrupt_after(seconds: float) -> threading.Timer:
    t = threading.Timer(seconds, _thread.interrupt_main)
    t.start()
    return t


def expected(model):
    return model.generate(PROMPT, max_tokens=8, temperature=0)


def test_ctrl_c_interrupts_generate_and_model_stays_usable(load):
    model = load("gemma3-270m")
    before = expected(model)
    timer = interrupt_after(1.0)
    t0 = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            model.generate(PROMPT, max_tokens=LONG, temperature=0)
    finally:
        timer.cancel()
    assert time.monotonic() - t0 < 10, "the interrupt must not wait for the generation to end"
    assert expected(model) == before


def test_ctrl_c_interrupts_a_stream_and_model_stays_usable(load):
    model = load("gemma3-270m")
    before = expected(model)
    stream = model.generate(PROMPT, max_tokens=LONG, temperature=0, stream=True)
    pieces = []
    timer = interrupt_after(1.0)
    try:
        with pytest.raises(KeyboardInterrupt):
            for piece in stream:
                pieces.append(piece)
    finally:
        timer.cancel()
    # The interrupt lands either while next() waits (the stream cancels itself) or in the loop's
    # Python code (the stream is still alive): either way the next call on the model proceeds
    # at once, cancelling what is left.
    t0 = time.monotonic()
    assert expected(model) == before
    assert time.monotonic() - t0 < 30
    rest = list(stream)
    assert stream.finish_reason == "cancelled"
    assert len(pieces) + len(rest) < LONG
    assert "".join(pieces).startswith(before[: len("".join(pieces))])


def test_a_new_generation_cancels_an_abandoned_stream(load):
    model = load("gemma3-270m")
    before = expected(model)
    stream = model.generate(PROMPT, max_tokens=LONG, temperature=0, stream=True)
    first = [next(stream) for _ in range(3)]
    assert "".join(first) == before[: len("".join(first))]
    t0 = time.monotonic()
    assert expected(model) == before  # does not wait for 4000 tokens
    assert time.monotonic() - t0 < 30
    list(stream)
    assert stream.finish_reason == "cancelled"


def test_cancel_ends_a_stream(load):
    model = load("gemma3-270m")
    stream = model.generate(PROMPT, max_tokens=LONG, temperature=0, stream=True)
    next(stream)
    stream.cancel()
    rest = list(stream)
    assert len(rest) < LONG
    assert stream.finish_reason == "cancelled"


def test_gil_is_released_while_generating(load):
    model = load("gemma3-270m")
    done = threading.Event()
    ticks = [0]

    def count():
        while not done.is_set():
            ticks[0] += 1
            time.sleep(0.001)

    t = threading.Thread(target=count)
    t.start()
    try:
        t0 = time.monotonic()
        model.generate(PROMPT, max_tokens=16, temperature=0)
        elapsed = time.monotonic() - t0
    finally:
        done.set()
        t.join()
    # The counting thread ran all along (one tick per ~1 ms while it may run).
    assert ticks[0] > 0.2 * elapsed * 1000, (ticks[0], elapsed)


def test_calls_from_several_threads_take_turns(load):
    # Plain generate() calls are never cancelled by one another: each waits for the session.
    model = load("gemma3-270m")
    want = expected(model)
    results = []
    errors = []

    def work():
        try:
            results.append(expected(model))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert results == [want] * 3
