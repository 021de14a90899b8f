"""Bad input raises the right exception with the runtime's message, and never breaks the model:
ModelError for files that cannot be loaded, ValueError for bad values, TypeError for wrong types."""

import math
import shutil

import pytest

import wasm_chord
from wasm_chord import Model, ModelError


def test_model_error_is_an_exception_class():
    assert issubclass(ModelError, Exception)
    assert ModelError.__module__ == "wasm_chord"


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.gguf"
    with pytest.raises(ModelError, match="nope.gguf"):
        Model(str(missing))


def test_unknown_model_name_lists_the_known_ones():
    with pytest.raises(ModelError, match="gemma3-270m"):
        Model("no-such-model")


def test_not_a_gguf_file(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"this is not a model" * 100)
    with pytest.raises(ModelError, match="bad.gguf"):
        Model(str(bad))


def test_truncated_model_file(tmp_path, load):
    # The first 64 KiB of a real model: a valid magic and version, then the metadata runs out.
    src = load("gemma3-270m").path
    cut = tmp_path / "cut.gguf"
    with open(src, "rb") as f:
        cut.write_bytes(f.read(65536))
    with pytest.raises(ModelError):
        Model(str(cut))


def test_header_only_model_file(tmp_path, load):
    # A complete header whose tensors lie past the end of the file.
    src = load("qwen2.5-coder-0.5b").path
    cut = tmp_path / "header.gguf"
    with open(src, "rb") as f:
        cut.write_bytes(f.read(8 << 20))
    with pytest.raises(ModelError):
        Model(str(cut))


def test_wrong_types(load):
    model = load("gemma3-270m")
    with pytest.raises(TypeError):
        Model(123)
    with pytest.raises(TypeError):
        model.generate(123)
    with pytest.raises(TypeError):
        model.generate("hi", max_tokens="many")
    with pytest.raises(TypeError):
        model.generate("hi", stop=5)
    with pytest.raises(TypeError):
        model.generate("hi", stop=["ok", 5])
    with pytest.raises(TypeError):
        model.chat("hello")
    with pytest.raises(TypeError):
        model.chat([{"role": "user", "content": 3}])
    with pytest.raises(TypeError):
        model.chat(["hello"])
    with pytest.raises(TypeError):
        model.tokenize(b"bytes")
    with pytest.raises(TypeError):
        model.detokenize("abc")


def test_bad_values(load):
    model = load("gemma3-270m")
    bad = [
        dict(max_tokens=-1),
        dict(top_k=-5),
        dict(seed=-1),
        dict(seed=2**64),
        dict(temperature=math.nan),
        dict(top_p=math.inf),
        dict(repeat_penalty=0.0),
    ]
    for kw in bad:
        with pytest.raises(ValueError):
            model.generate("hi", **kw)
        with pytest.raises(ValueError):
            model.chat([{"role": "user", "content": "hi"}], **kw)
    with pytest.raises(ValueError, match="max_tokens"):
        model.generate("hi", max_tokens=-1)
    with pytest.raises(ValueError, match="role"):
        model.chat([{"content": "hi"}])
    with pytest.raises(ValueError):
        model.chat([])
    with pytest.raises(ValueError):
        model.detokenize([-1])
    with pytest.raises(ValueError, match="vocabulary"):
        model.detokenize([model.n_vocab])
    with pytest.raises(ValueError):
        Model("gemma3-270m", n_ctx=-1)
    with pytest.raises(ValueError):
        Model("gemma3-270m", n_threads=0)
    with pytest.raises(ValueError, match="kv_type"):
        Model("gemma3-270m", kv_type="q8")
    # None of it touched the model.
    assert model.generate("Once upon a time", max_tokens=4, temperature=0) == ", there was a"


def test_prompt_longer_than_the_context(load):
    model = load("gemma3-270m", n_ctx=16)
    assert model.n_ctx == 16
    with pytest.raises(ValueError, match="context"):
        model.generate("word " * 40, max_tokens=4)
    stream = model.generate("word " * 40, max_tokens=4, stream=True)
    with pytest.raises(ValueError, match="context"):
        next(stream)
    # Still usable, and the context bound ends a long generation with "length".
    stream = model.generate("Once upon a time", max_tokens=100, temperature=0, stream=True)
    text = "".join(stream)
    assert text.startswith(", there was a")
    assert stream.finish_reason == "length"


def test_empty_prompt_without_bos(load):
    # Qwen adds no BOS: an empty prompt has no tokens to condition on.
    with pytest.raises(ValueError, match="empty"):
        load("qwen2.5-coder-0.5b").generate("", max_tokens=4)


def test_version():
    assert isinstance(wasm_chord.__version__, str) and wasm_chord.__version__
