#!/usr/bin/env python3
"""Copies the tokenizer-relevant part of llama.cpp's reference outputs (../shared/reference) here.

Kept per file: model, sha256, engine, `tokenize` ([{text, ids}]) and, per prompt, text,
prompt_ids, the greedy token ids and greedy_bytes_hex (their pieces, to test token_to_piece).
Run from the repository root: python3 tests/data/tokenizer/trim.py ../shared/reference
"""
import json
import pathlib
import sys

src = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/reference")
dst = pathlib.Path(__file__).resolve().parent
files = [src / f"{m}.json" for m in ("gemma-3-270m-q4_k_m", "qwen2.5-coder-0.5b-instruct-q4_k_m",
                                     "qwen2.5-coder-1.5b-instruct-q4_k_m")]
files += sorted((src / "tiny").glob("*.json"))
for f in files:
    d = json.loads(f.read_text())
    out = {k: d[k] for k in ("model", "sha256", "engine", "tokenize")}
    out["prompts"] = {
        name: {
            "text": p["text"],
            "prompt_ids": p["prompt_ids"],
            "greedy_ids": [g["id"] for g in p["greedy"]],
            "greedy_bytes_hex": p["greedy_bytes_hex"],
        }
        for name, p in d["prompts"].items()
    }
    sub = "tiny/" if f.parent.name == "tiny" else ""
    (dst / sub).mkdir(exist_ok=True)
    (dst / sub / f.name).write_text(json.dumps(out, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(dst / sub / f.name)
