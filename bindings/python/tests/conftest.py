"""Shared fixtures: the real models (loaded once per test session), the `chord` CLI whose output
the binding must reproduce, and llama.cpp's reference outputs committed under tests/data.

The CLI is found through CHORD_BIN (scripts/test.d/python.sh sets it) or at
target/release/chord; the models through the model cache, like `chord run -m`. Nothing is
skipped: a missing piece fails with the command that provides it.
"""

import json
import os
import subprocess
from pathlib import Path

import pytest

import wasm_chord

REPO = Path(__file__).resolve().parents[3]
REFERENCE = REPO / "tests" / "data" / "reference"

# Reference file of each model name (llama.cpp's outputs, see tests/data/reference/ORIGIN.md).
REFERENCE_FILES = {
    "gemma3-270m": "gemma-3-270m-q4_k_m.json",
    "qwen2.5-coder-0.5b": "qwen2.5-coder-0.5b-instruct-q4_k_m.json",
    "qwen2.5-coder-1.5b": "qwen2.5-coder-1.5b-instruct-q4_k_m.json",
}


def chord_bin() -> str:
    path = os.environ.get("CHORD_BIN") or str(REPO / "target" / "release" / "chord")
    if not os.access(path, os.X_OK):
        pytest.fail(f"chord CLI not found at {path}: run `cargo build --release -p chord-cli` or set CHORD_BIN")
    return path


def chord(*args: str, stdin: str = "") -> bytes:
    """Runs `chord ARGS`; returns stdout (bytes); fails the test on a non-zero exit."""
    out = subprocess.run([chord_bin(), *args], input=stdin.encode(), capture_output=True, timeout=600)
    assert out.returncode == 0, f"chord {args} failed: {out.stderr.decode(errors='replace')}"
    return out.stdout


@pytest.fixture(scope="session")
def load():
    """load(name, **kw) -> Model, one per (name, kw) for the whole session (loading is cheap
    but sessions keep KV caches of n_ctx tokens)."""
    cache = {}

    def get(name: str, **kw) -> wasm_chord.Model:
        key = (name, tuple(sorted(kw.items())))
        if key not in cache:
            cache[key] = wasm_chord.Model(name, **kw)
        return cache[key]

    return get


@pytest.fixture(scope="session")
def reference():
    def get(name: str) -> dict:
        return json.loads((REFERENCE / REFERENCE_FILES[name]).read_text())

    return get
