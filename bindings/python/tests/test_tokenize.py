"""tokenize()/detokenize() against `chord tokenize` and llama.cpp's reference ids, and metadata
against `chord inspect --json`."""

import json

import pytest

from conftest import chord

MODELS = ["gemma3-270m", "qwen2.5-coder-0.5b"]


@pytest.mark.parametrize("name", MODELS)
def test_tokenize_equals_llama_cpp_and_round_trips(load, reference, name):
    model = load(name)
    cases = reference(name)["tokenize"]
    assert len(cases) > 10
    for case in cases:
        assert model.tokenize(case["text"]) == case["ids"], case["text"]
        assert model.detokenize(case["ids"]) == case["text"], case["text"]


@pytest.mark.parametrize("name", MODELS)
def test_tokenize_equals_chord_tokenize(load, name):
    model = load(name)
    for text in ["Hello world", "<|im_start|>user\nhi<|im_end|>", "café 🙂"]:
        assert model.tokenize(text) == json.loads(chord("tokenize", "-m", name, text)), text
        no_bos = json.loads(chord("tokenize", "-m", name, "--no-bos", text))
        assert model.tokenize(text, add_special=False) == no_bos, text
        literal = json.loads(chord("tokenize", "-m", name, "--no-parse-special", text))
        assert model.tokenize(text, parse_special=False) == literal, text


def test_bos_follows_the_model(load):
    gemma, qwen = load("gemma3-270m"), load("qwen2.5-coder-0.5b")
    assert gemma.tokenize("hi")[0] == gemma.metadata["tokenizer.ggml.bos_token_id"]
    assert gemma.tokenize("hi", add_special=False)[0] != gemma.metadata["tokenizer.ggml.bos_token_id"]
    assert qwen.tokenize("hi") == qwen.tokenize("hi", add_special=False)


@pytest.mark.parametrize("name", MODELS)
def test_metadata_equals_chord_inspect(load, name):
    model = load(name)
    want = json.loads(chord("inspect", name, "--json"))["metadata"]
    md = model.metadata
    assert md == want
    assert md["general.architecture"] in ("gemma3", "qwen2")
    assert md["tokenizer.ggml.tokens"]["len"] == model.n_vocab
    assert model.path.endswith(".gguf")
    assert model.n_ctx == 4096
