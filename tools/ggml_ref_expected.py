#!/usr/bin/env python3
"""Bit-exact expectations from llama.cpp's own C code for chord-quant's kernels.

Compiles llama.cpp's `ggml/src/ggml-quants.c` and `ggml/src/ggml-cpu/quants.c` (unmodified, from
the vendored source of llama-cpp-python 0.3.36) with `-DGGML_CPU_GENERIC -ffp-contract=off`
together with `tools/ggml_ref/stubs.c` into a throwaway shared library, then records for fixed
random inputs:

- the reference quantization of f32 rows to Q8_0, Q8_1, Q8_K and Q4_0
  (`quantize_row_*_ref`), as bytes;
- the scalar dot product (`ggml_vec_dot_<w>_<act>`, i.e. the `_generic` kernels) of random
  valid weight rows of every supported quantized type with the quantized activations, as f32
  bits;
- the SHA-256 of `dequantize_row_<type>` of each of those weight rows (and of the Q8_K
  activations), so dequantization is checked against the C code too, not only gguf-py;
- the same dot products for F32, F16 and BF16 rows (`ggml_vec_dot_{f32,f16,bf16}` from `ggml-cpu/vec.cpp`,
  compiled without SIMD so it takes the scalar branch), with activations converted by numpy /
  gguf-py (`float16` round-to-nearest-even; gguf-py's BF16, which mirrors
  `ggml_compute_fp32_to_bf16`).

`-ffp-contract=off` keeps every float multiply and add separately rounded, as written in the
source (and as Rust compiles it). Output: `tests/data/quant/ggml_ref.json` (hex of little-endian
bytes).

Usage: python3 tools/ggml_ref_expected.py [--llama-cpp DIR] [--out FILE]
"""

import argparse
import ctypes
import hashlib
import json
import os
import subprocess
import tempfile

import numpy as np
from gguf.quants import BF16

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_LLAMA = os.environ.get(
    "LLAMA_CPP_DIR", "/tmp/dl/llama_cpp_python-0.3.36/vendor/llama.cpp")
CFLAGS = ["-O2", "-ffp-contract=off", "-fPIC", "-shared", "-std=gnu11", "-DGGML_CPU_GENERIC"]

# weight type -> (activation type, block elements, block bytes, f16 field offsets, C kernel)
WEIGHTS = {
    "Q4_0": ("Q8_0", 32, 18, [0], "ggml_vec_dot_q4_0_q8_0"),
    "Q4_1": ("Q8_1", 32, 20, [0, 2], "ggml_vec_dot_q4_1_q8_1"),
    "Q5_0": ("Q8_0", 32, 22, [0], "ggml_vec_dot_q5_0_q8_0"),
    "Q5_1": ("Q8_1", 32, 24, [0, 2], "ggml_vec_dot_q5_1_q8_1"),
    "Q8_0": ("Q8_0", 32, 34, [0], "ggml_vec_dot_q8_0_q8_0"),
    "Q2_K": ("Q8_K", 256, 84, [80, 82], "ggml_vec_dot_q2_K_q8_K"),
    "Q3_K": ("Q8_K", 256, 110, [108], "ggml_vec_dot_q3_K_q8_K"),
    "Q4_K": ("Q8_K", 256, 144, [0, 2], "ggml_vec_dot_q4_K_q8_K"),
    "Q5_K": ("Q8_K", 256, 176, [0, 2], "ggml_vec_dot_q5_K_q8_K"),
    "Q6_K": ("Q8_K", 256, 210, [208], "ggml_vec_dot_q6_K_q8_K"),
    "IQ4_NL": ("Q8_0", 32, 18, [0], "ggml_vec_dot_iq4_nl_q8_0"),
    "IQ4_XS": ("Q8_K", 256, 136, [0], "ggml_vec_dot_iq4_xs_q8_K"),
}
# activation / reference-quantized type -> (block elements, block bytes, C function)
QUANTIZERS = {
    "Q8_0": (32, 34, "quantize_row_q8_0_ref"),
    "Q8_1": (32, 36, "quantize_row_q8_1_ref"),
    "Q8_K": (256, 292, "quantize_row_q8_K_ref"),
    "Q4_0": (32, 18, "quantize_row_q4_0_ref"),
}


def build(llama: str, tmp: str) -> ctypes.CDLL:
    g = os.path.join(llama, "ggml")
    out = os.path.join(tmp, "libggmlref.so")
    inc = [f"-I{g}/include", f"-I{g}/src", f"-I{g}/src/ggml-cpu"]
    # The float dot products live in C++ (vec.cpp); without SIMD macros it takes the scalar
    # branch: f32 products summed in a double.
    vec_o = os.path.join(tmp, "vec.o")
    subprocess.run(["g++", *[f for f in CFLAGS if f not in ("-shared", "-std=gnu11")], "-std=c++17",
                    "-c", *inc, f"{g}/src/ggml-cpu/vec.cpp", "-o", vec_o], check=True)
    cmd = ["gcc", *CFLAGS, *inc, f"{g}/src/ggml-quants.c", f"{g}/src/ggml-cpu/quants.c",
           os.path.join(HERE, "ggml_ref", "stubs.c"), vec_o, "-lstdc++", "-lm", "-o", out]
    subprocess.run(cmd, check=True)
    lib = ctypes.CDLL(out)
    lib.ref_init()
    return lib


def quantize(lib, ty: str, x: np.ndarray) -> bytes:
    blk, size, fn = QUANTIZERS[ty]
    buf = ctypes.create_string_buffer(x.size // blk * size)  # zeroed
    xs = np.ascontiguousarray(x, dtype=np.float32)
    getattr(lib, fn)(xs.ctypes.data_as(ctypes.c_void_p), buf, ctypes.c_int64(x.size))
    return buf.raw


def vec_dot(lib, fn: str, n: int, w: bytes, a: bytes) -> int:
    s = ctypes.c_float(0.0)
    f = getattr(lib, fn)
    f.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_float), ctypes.c_size_t, ctypes.c_char_p,
                  ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int]
    f(n, ctypes.byref(s), 0, w, 0, a, 0, 1)
    return int(np.float32(s.value).view(np.uint32))


# float weight type -> C kernel (activations of the same type)
FLOAT_WEIGHTS = {
    "F32": "ggml_vec_dot_f32",
    "F16": "ggml_vec_dot_f16",
    "BF16": "ggml_vec_dot_bf16",
}


def float_bytes(ty: str, v: np.ndarray) -> bytes:
    v = np.ascontiguousarray(v, dtype=np.float32)
    if ty == "F32":
        return v.astype("<f4").tobytes()
    if ty == "F16":
        return v.astype("<f2").tobytes()  # round to nearest even, as GGML_FP32_TO_FP16
    return np.asarray(BF16.quantize_blocks(v.reshape(-1, 1))).tobytes()  # ggml_compute_fp32_to_bf16


def dequant_sha256(lib, ty: str, data: bytes, n: int) -> str:
    """SHA-256 of llama.cpp's `dequantize_row_<ty>` output (little-endian f32)."""
    fn = "dequantize_row_" + ty.lower().replace("_k", "_K")
    out = np.zeros(n, dtype=np.float32)
    getattr(lib, fn)(data, out.ctypes.data_as(ctypes.c_void_p), ctypes.c_int64(n))
    return hashlib.sha256(out.astype("<f4").tobytes()).hexdigest()


def random_weights(rng, ty: str, n: int) -> bytes:
    _, blk, size, f16s, _ = WEIGHTS[ty]
    w = rng.integers(0, 256, size=(n // blk, size), dtype=np.uint8)
    for off in f16s:
        d = (rng.uniform(-0.02, 0.02, size=n // blk)).astype(np.float16).view(np.uint8).reshape(-1, 2)
        w[:, off:off + 2] = d
    return w.tobytes()


def make_x(rng, n: int, case: int) -> np.ndarray:
    x = (rng.standard_normal(n) * [0.02, 1.0, 40.0][case % 3]).astype(np.float32)
    if case == 2 and n >= 1024:
        x[256:512] = 0.0                                   # an all-zero super-block
        x[512:768] = np.round(rng.standard_normal(256) * 20.0) + 0.5   # many .5 values
        x[512] = -127.0                                    # so iscale = 1 and ties are exact
        x[768 + 3] = 1e4                                   # an outlier
    return x


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--llama-cpp", default=DEFAULT_LLAMA)
    ap.add_argument("--out", default=os.path.join(HERE, "..", "tests", "data", "quant", "ggml_ref.json"))
    args = ap.parse_args()
    rng = np.random.default_rng(1122)
    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        lib = build(args.llama_cpp, tmp)
        for case, n in enumerate([256, 768, 1024]):
            x = make_x(rng, n, case)
            c = {"n": n, "x": x.astype("<f4").tobytes().hex()}
            acts = {}
            for ty in QUANTIZERS:
                acts[ty] = quantize(lib, ty, x)
                c[ty.lower()] = acts[ty].hex()
            c["q8_k_dequant_sha256"] = dequant_sha256(lib, "Q8_K", acts["Q8_K"], n)
            dots = []
            for wty, (aty, _, _, _, fn) in WEIGHTS.items():
                for _ in range(2):
                    w = random_weights(rng, wty, n)
                    dots.append({"type": wty, "w": w.hex(), "bits": vec_dot(lib, fn, n, w, acts[aty]),
                                 "dequant_sha256": dequant_sha256(lib, wty, w, n)})
            for fty, fn in FLOAT_WEIGHTS.items():
                act = float_bytes(fty, x)
                c[fty.lower()] = act.hex()
                for _ in range(2):
                    w = float_bytes(fty, rng.standard_normal(n) * 0.1)
                    dots.append({"type": fty, "w": w.hex(), "bits": vec_dot(lib, fn, n, w, act)})
            c["dots"] = dots
            cases.append(c)
    doc = {
        "generator": "tools/ggml_ref_expected.py",
        "source": "llama.cpp vendored in llama-cpp-python 0.3.36: ggml/src/ggml-quants.c, "
                  "ggml/src/ggml-cpu/quants.c, ggml/src/ggml-cpu/vec.cpp",
        "cflags": " ".join(CFLAGS),
        "cases": cases,
    }
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(os.path.relpath(args.out))


if __name__ == "__main__":
    main()
