"""chat(): the conversation is rendered with the model's chat template, as `chord chat` does,
and the reply equals llama.cpp's for the same rendered prompt."""

from conftest import chord

QUESTION = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "What is 2+2?"},
]


def test_chat_equals_llama_cpp_on_the_rendered_template(load, reference):
    # The reference prompt is the ChatML text of QUESTION; llama.cpp's greedy reply ends at
    # <|im_end|>.
    p = reference("qwen2.5-coder-0.5b")["prompts"]["chat_qwen"]
    model = load("qwen2.5-coder-0.5b")
    assert model.chat(QUESTION, max_tokens=32, temperature=0) == p["greedy_text"]
    # The same text when the template is written out by hand: chat goes through the template.
    assert model.generate(p["text"], max_tokens=32, temperature=0) == p["greedy_text"]


def test_chat_equals_chord_chat(load):
    for name in ["qwen2.5-coder-0.5b", "gemma3-270m"]:
        out = chord("chat", "-m", name, "--temp", "0", "-n", "24", "--system", "Answer briefly.",
                    stdin="Name a color.\n").decode(errors="replace")
        assert out.endswith("\n")
        messages = [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "Name a color."}]
        got = load(name).chat(messages, max_tokens=24, temperature=0)
        assert got == out[:-1], name


def test_chat_stream_joins_to_the_reply(load):
    model = load("qwen2.5-coder-0.5b")
    whole = model.chat(QUESTION, max_tokens=32, temperature=0)
    stream = model.chat(QUESTION, max_tokens=32, temperature=0, stream=True)
    assert "".join(stream) == whole
    assert stream.finish_reason == "stop"  # <|im_end|> ended it
