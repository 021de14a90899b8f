#!/usr/bin/env python3
"""Expected reference-quantization outputs for chord-quant (Q8_0 and Q4_0).

Writes `tests/data/quant/quantize_ref.json`: a fixed-seed f32 input (with edge cases: an all-zero
block, exact .5 ties, a negative extreme, tiny and huge magnitudes) and its quantization by
`gguf.quants.quantize` (gguf-py 0.19, which reproduces llama.cpp's `quantize_row_q8_0_ref` /
`quantize_row_q4_0_ref` bit for bit). Everything is hex of little-endian bytes.

Usage: python3 tools/quant_expected.py [--out FILE]
"""

import argparse
import importlib.metadata
import json
import os

import numpy as np
from gguf.constants import GGMLQuantizationType
from gguf.quants import quantize


def make_input() -> np.ndarray:
    rng = np.random.default_rng(20261122)
    blocks = []
    blocks.append(np.zeros(32, dtype=np.float32))                                # all zero
    blocks.append(np.arange(-16, 16, dtype=np.float32) + 0.5)                   # .5 ties
    blocks.append((np.arange(32, dtype=np.float32) - 20.0) / 7.0)               # negative extreme
    blocks.append(rng.standard_normal(32).astype(np.float32) * 1e-6)            # tiny
    blocks.append(rng.standard_normal(32).astype(np.float32) * 3e3)             # large
    b = rng.standard_normal(32).astype(np.float32)
    b[5] = -np.abs(b).max() * 1.5                                                 # single outlier
    blocks.append(b)
    blocks.append(np.full(32, 0.25, dtype=np.float32))                          # constant
    for _ in range(57):                                                           # plain data
        blocks.append(rng.standard_normal(32).astype(np.float32) * rng.uniform(0.01, 2.0))
    return np.concatenate(blocks).astype(np.float32)  # 64 blocks = 2048 values


def main() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "data", "quant", "quantize_ref.json"))
    args = ap.parse_args()
    x = make_input()
    doc = {
        "generator": "tools/quant_expected.py with gguf " + importlib.metadata.version("gguf")
        + ", numpy " + np.__version__,
        "n": int(x.size),
        "input_f32": x.astype("<f4").tobytes().hex(),
        "q8_0": np.asarray(quantize(x.reshape(1, -1), GGMLQuantizationType.Q8_0)).tobytes().hex(),
        "q4_0": np.asarray(quantize(x.reshape(1, -1), GGMLQuantizationType.Q4_0)).tobytes().hex(),
    }
    assert len(doc["q8_0"]) == 2 * 34 * (x.size // 32)
    assert len(doc["q4_0"]) == 2 * 18 * (x.size // 32)
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(args.out)


if __name__ == "__main__":
    main()
