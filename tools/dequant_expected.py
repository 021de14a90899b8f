#!/usr/bin/env python3
"""Expected dequantization outputs for chord-quant's reference tests.

For every GGUF file given, writes `tests/data/quant/<file-stem>.json` (relative to the repo
root) holding, per tensor:

- `name`, `type` (ggml name, e.g. "Q4_K"), `type_id`, `n_elements`
- `sha256`: SHA-256 of the dequantized tensor as little-endian f32 bytes
- `sum`, `abs_sum`: f64 sums of the values and of their absolute values (numpy pairwise sum)
- `samples`: `[index, f32 bits, value]` at deterministic positions (first and last included)

Dequantization is `gguf.quants.dequantize` from the `gguf` Python package (0.19), llama.cpp's
own numpy port. The tensors are processed a few million elements at a time, so the 1.5B model
fits in memory.

Usage: python3 tools/dequant_expected.py FILE.gguf [FILE.gguf ...] [--out DIR]
"""

import argparse
import hashlib
import importlib.metadata
import json
import os
import sys

import numpy as np
from gguf import GGUFReader
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType
from gguf.quants import dequantize

N_SAMPLES = 64
CHUNK_ELEMENTS = 1 << 24


def sample_positions(n: int) -> list[int]:
    """~64 positions: evenly spread (incl. first and last) plus a few from a fixed LCG."""
    if n <= N_SAMPLES:
        return list(range(n))
    pos = {(i * (n - 1)) // (N_SAMPLES // 2 - 1) for i in range(N_SAMPLES // 2)}
    state = 0x2545F491
    while len(pos) < N_SAMPLES:
        state = (state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        pos.add((state >> 33) % n)
    return sorted(pos)


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 24)
            if not b:
                return h.hexdigest()
            h.update(b)


def tensor_entry(raw: np.ndarray, qtype: GGMLQuantizationType, n_elements: int) -> dict:
    block, type_size = GGML_QUANT_SIZES[qtype]
    n_blocks = n_elements // block
    assert n_blocks * block == n_elements and raw.size == n_blocks * type_size
    blocks = raw.reshape((n_blocks, type_size))
    per_chunk = max(1, CHUNK_ELEMENTS // block)
    h = hashlib.sha256()
    total = 0.0
    abs_total = 0.0
    positions = sample_positions(n_elements)
    samples = []
    pi = 0
    done = 0
    for start in range(0, n_blocks, per_chunk):
        chunk = np.ascontiguousarray(blocks[start:start + per_chunk])
        vals = np.asarray(dequantize(chunk, qtype), dtype=np.float32).reshape(-1)
        assert vals.size == chunk.shape[0] * block
        h.update(vals.astype("<f4", copy=False).tobytes())
        total += float(np.sum(vals, dtype=np.float64))
        abs_total += float(np.sum(np.abs(vals), dtype=np.float64))
        end = done + vals.size
        while pi < len(positions) and positions[pi] < end:
            v = vals[positions[pi] - done]
            bits = int(np.float32(v).view(np.uint32))
            samples.append([positions[pi], bits, float(v)])
            pi += 1
        done = end
    assert pi == len(positions)
    return {
        "sha256": h.hexdigest(),
        "sum": total,
        "abs_sum": abs_total,
        "samples": samples,
    }


def process(path: str, out_dir: str) -> str:
    reader = GGUFReader(path, "r")
    raw_all = np.memmap(path, dtype=np.uint8, mode="r")
    tensors = []
    for t in reader.tensors:
        qtype = GGMLQuantizationType(int(t.tensor_type))
        n = int(t.n_elements)
        raw = raw_all[int(t.data_offset):int(t.data_offset) + int(t.n_bytes)]
        entry = {"name": t.name, "type": qtype.name, "type_id": int(qtype), "n_elements": n}
        entry.update(tensor_entry(raw, qtype, n))
        tensors.append(entry)
    stem = os.path.splitext(os.path.basename(path))[0]
    doc = {
        "file": os.path.basename(path),
        "file_sha256": file_sha256(path),
        "file_size": os.path.getsize(path),
        "generator": "tools/dequant_expected.py with gguf " + importlib.metadata.version("gguf")
        + ", numpy " + np.__version__,
        "tensors": tensors,
    }
    os.makedirs(out_dir, exist_ok=True)
    out = os.path.join(out_dir, stem + ".json")
    with open(out, "w") as f:
        # One tensor per line: small diffs, still readable.
        f.write("{\n")
        for k in ("file", "file_sha256", "file_size", "generator"):
            f.write(f"  {json.dumps(k)}: {json.dumps(doc[k])},\n")
        f.write('  "tensors": [\n')
        for i, t in enumerate(tensors):
            sep = "," if i + 1 < len(tensors) else ""
            f.write("    " + json.dumps(t, separators=(",", ":")) + sep + "\n")
        f.write("  ]\n}\n")
    return out


def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+")
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "data", "quant"))
    args = ap.parse_args()
    for p in args.files:
        out = process(p, args.out)
        print(f"{p} -> {os.path.relpath(out)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
