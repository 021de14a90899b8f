#!/usr/bin/env python3
"""Makes tests/data/tokenizer/fuzz/: random strings and llama.cpp's tokenizations of them.

usage: make_fuzz.py VOCABTOOL OUTDIR
  VOCABTOOL: vocabtool.cpp built against llama.cpp 0c1e570 (see README.md)
Models come from ~/.cache/wasm-chord/models and ../shared/fixtures. Vocabularies marked with a
pre-tokenizer override are Qwen2.5-Coder's with `tokenizer.ggml.pre` replaced (mkvocab.py).
"""
import json, os, pathlib, subprocess, sys, tempfile

tool, outdir = sys.argv[1], pathlib.Path(sys.argv[2])
here = pathlib.Path(__file__).resolve().parent
gen = lambda script, seed, n: json.loads(subprocess.run(
    [sys.executable, str(here / script), str(seed), str(n)], capture_output=True, text=True, check=True).stdout)
strings = gen("gen_mixed.py", 1, 110) + gen("gen_codepoints.py", 7, 50)
(outdir / "strings.json").write_text(json.dumps(strings, ensure_ascii=False, indent=0) + "\n")
blob = b"".join(s.encode() + b"\0" for s in strings)
home = pathlib.Path.home() / ".cache/wasm-chord/models"
fixtures = pathlib.Path(os.environ.get("CHORD_FIXTURES", "../shared/fixtures"))
vocabs = [
    ("gemma-3-270m-q4_k_m", home / "gemma-3-270m-q4_k_m.gguf", None),
    ("qwen2.5-coder-0.5b-instruct-q4_k_m", home / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", None),
    ("tiny-llama-f32", fixtures / "tiny-llama-f32.gguf", None),
]
qwen = home / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
for pre in ("llama-bpe", "gpt-2", "default", "starcoder"):
    vocabs.append((f"qwen-pre-{pre}", qwen, pre))
with tempfile.TemporaryDirectory() as tmp:
    inp = pathlib.Path(tmp) / "strings.bin"
    inp.write_bytes(blob)
    for name, path, pre in vocabs:
        if pre is not None:
            vpath = pathlib.Path(tmp) / f"{name}.gguf"
            subprocess.run([sys.executable, str(here / "mkvocab.py"), str(path), str(vpath), pre], check=True)
            path = vpath
        lines = subprocess.run([tool, str(path), str(inp)], capture_output=True, text=True, check=True,
                               env=dict(os.environ, DETOK="1")).stdout.split("\n")
        special, plain, detok = [], [], []
        per = 12  # per string: (ids, D00, D01, D10, D11, P) for each of the two modes
        for i in range(len(strings)):
            blk = lines[i * per:(i + 1) * per]
            special.append([int(x) for x in blk[0].split()])
            detok.append(blk[1].split(" ", 1)[1] if " " in blk[1] else "")
            plain.append([int(x) for x in blk[6].split()])
        out = {"vocab": path.name if pre is None else f"{qwen.name} with tokenizer.ggml.pre={pre}",
               "pre_override": pre, "special": special, "plain": plain, "decode_hex": detok}
        (outdir / f"{name}.json").write_text(json.dumps(out, separators=(",", ":")) + "\n")
        print(name, len(special))
