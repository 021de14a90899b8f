import random, sys, json
rng = random.Random(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
N = int(sys.argv[2]) if len(sys.argv) > 2 else 300
ascii_words = ["the", "Hello", "world", "HTTP", "x", "fooBar", "snake_case", "CamelCase", "I", "a", "don", "can", "ll"]
pieces = [
    lambda: rng.choice(ascii_words),
    lambda: "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 9))),
    lambda: rng.choice(["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Ll", "'", "''"]),
    lambda: "".join(rng.choice(" \t\n\r") for _ in range(rng.randint(1, 6))),
    lambda: " " * rng.randint(1, 40),
    lambda: "\n" * rng.randint(1, 35),
    lambda: "\t" * rng.randint(1, 20),
    lambda: rng.choice(["\u00a0", "\u3000", "\u2009", "\u200b", "\u0085", "\u2028", "\r\n"]),
    lambda: "".join(rng.choice("!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~") for _ in range(rng.randint(1, 5))),
    lambda: rng.choice(["café", "naïve", "résumé", "Ünïcödé", "e\u0301", "a\u0308\u0301", "ǅ", "ß", "İ", "ﬁ"]),
    lambda: rng.choice(["Привет", "мир", "日本語", "のテキスト", "中文字符", "한국어", "العربية", "हिन्दी", "ไทย", "עברית"]),
    lambda: rng.choice(["🙂", "🚀", "👍🏽", "👨‍👩‍👧", "🏳️‍🌈", "❤️", "\U0001F600\U0001F601"]),
    lambda: rng.choice(["½", "²", "Ⅻ", "٣", "߀", "𝟘", "①"]),
    lambda: rng.choice(["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<start_of_turn>", "<end_of_turn>",
                        "<bos>", "<eos>", "<pad>", "<unk>", "<s>", "</s>", "<unused7>", "<mask>", "[multimodal]",
                        "<tool_call>", "</tool_call>", "<|im_", "im_end|>", "<start_of", "<|fim_prefix|>",
                        "<start_of_image>", "<|file_sep|>", "<0x41>", "▁", "▁▁the", "Ġ"]),
    lambda: rng.choice(["\x01", "\x7f", "\x1b[0m", "\ue000", "\U0010fffd", "\u0378", "\ufffd", "\ufeff"]),
    lambda: rng.choice("abcdefghijklmnopqrstuvwxyz") * rng.randint(2, 60),
    lambda: rng.choice(["fn main() {", "}", "print(x)", "def f(a, b):", "#include <stdio.h>", "x => x * 2", "a != b"]),
]
out = []
for i in range(N):
    n = rng.randint(0, 12)
    parts = [rng.choice(pieces)() for _ in range(n)]
    sep = rng.choice(["", " ", " ", "", "\n"])
    out.append(sep.join(parts))
json.dump(out, sys.stdout, ensure_ascii=False)
