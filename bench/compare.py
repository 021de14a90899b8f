#!/usr/bin/env python3
"""Side-by-side speed of wasm-chord and llama.cpp on the same machine, model, prompt length,
generated length and thread count.

    bench/compare.py [--models gemma3-270m,qwen2.5-coder-0.5b,qwen2.5-coder-1.5b]
                     [-p 128] [-n 64] [-t 1,2] [-r 3] [--rounds 2] [--write BENCHMARKS.md]

llama.cpp is built once per machine from the llama-cpp-python sdist on PyPI (it carries
llama.cpp's full source under vendor/llama.cpp) into $CHORD_HOME/llama.cpp or
~/.cache/wasm-chord/llama.cpp (~15 min on 2 quiet cores); LLAMA_BENCH=/path/to/llama-bench
uses an existing build instead. Then llama-bench and `chord bench` run alternately, `--rounds`
times each, and the table shows both engines' tokens/s (mean of the rounds), their ratio, and
each process's peak RSS (from wait4). Startup is the wall time of a run that loads the model
and decodes one token (`-p 0 -n 1 -r 1`), the closest common measure of load time.

Only the standard library is needed (plus pip, cmake and ninja from PyPI for the build).
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LLAMA_CPP_PYTHON = "0.3.36"


def cache_dir() -> Path:
    home = os.environ.get("CHORD_HOME")
    base = Path(home) if home else Path.home() / ".cache" / "wasm-chord"
    return base / "llama.cpp"


def say(msg: str) -> None:
    print(f"[compare] {msg}", file=sys.stderr, flush=True)


def build_llama_bench() -> Path:
    if os.environ.get("LLAMA_BENCH"):
        return Path(os.environ["LLAMA_BENCH"])
    root = cache_dir()
    src = root / f"llama_cpp_python-{LLAMA_CPP_PYTHON}" / "vendor" / "llama.cpp"
    binary = src / "build" / "bin" / "llama-bench"
    if binary.exists():
        return binary
    root.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    say("building llama.cpp once for this machine (cached in %s)" % root)
    # scikit-build-core: `pip download --no-build-isolation` of the sdist prepares its metadata
    # with llama-cpp-python's own build backend, which must already be installed.
    subprocess.run([py, "-m", "pip", "install", "-q", "scikit-build-core", "cmake", "ninja"],
                   check=True)
    sdist = root / f"llama_cpp_python-{LLAMA_CPP_PYTHON}.tar.gz"
    if not sdist.exists():
        subprocess.run(
            [py, "-m", "pip", "download", "-q", "--no-deps", "--no-build-isolation",
             "--no-binary", "llama-cpp-python", "-d", str(root),
             f"llama-cpp-python=={LLAMA_CPP_PYTHON}"],
            check=True,
        )
    if not src.exists():
        subprocess.run(["tar", "xzf", str(sdist), "-C", str(root)], check=True)
    cmake = shutil.which("cmake") or str(Path(py).parent / "cmake")
    subprocess.run(
        [cmake, "-B", "build", "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release", "-DLLAMA_CURL=OFF",
         "-DGGML_NATIVE=ON", "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_OPENSSL=OFF",
         "-DLLAMA_USE_PREBUILT_UI=OFF"],
        cwd=src, check=True,
    )
    subprocess.run([cmake, "--build", "build", "-j2", "--target", "llama-bench", "llama-server"],
                   cwd=src, check=True)
    return binary


def chord_binary() -> Path:
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "chord-cli"], cwd=REPO, check=True)
    return REPO / "target" / "release" / "chord"


def run_measured(cmd, env=None):
    """Runs cmd, returns (stdout, wall seconds, peak RSS bytes)."""
    t = time.time()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out_chunks = []
    # Read stdout fully before waiting (avoid a full pipe blocking the child).
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.time() - t
    if p.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({p.returncode}): {err.decode()[-2000:]}")
    out_chunks.append(out)
    return b"".join(out_chunks).decode(), wall, usage.ru_maxrss * 1024


def llama_env(binary: Path):
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = str(binary.parent) + ":" + env.get("LD_LIBRARY_PATH", "")
    return env


def llama_once(binary, model, p, n, t, r):
    out, wall, rss = run_measured(
        [str(binary), "-m", str(model), "-p", str(p), "-n", str(n), "-t", str(t), "-r", str(r),
         "-o", "json"],
        env=llama_env(binary),
    )
    res = {"rss": rss, "wall": wall}
    for row in json.loads(out):
        if row.get("n_prompt", 0) > 0 and row.get("n_gen", 0) == 0:
            res["pp"] = row["avg_ts"]
        elif row.get("n_gen", 0) > 0 and row.get("n_prompt", 0) == 0:
            res["tg"] = row["avg_ts"]
    return res


def chord_once(binary, model, p, n, t, r):
    out, wall, rss = run_measured(
        [str(binary), "bench", "-m", str(model), "-p", str(p), "-n", str(n), "-t", str(t),
         "-r", str(r), "--json", "--no-bandwidth"]
    )
    j = json.loads(out)
    return {"rss": rss, "wall": wall, "pp": j["prompt_tokens_per_s"],
            "tg": j["decode_tokens_per_s"], "share": None}


def mean(xs):
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="gemma3-270m,qwen2.5-coder-0.5b,qwen2.5-coder-1.5b")
    ap.add_argument("-p", type=int, default=128)
    ap.add_argument("-n", type=int, default=64)
    ap.add_argument("-t", default="1,2", help="thread counts, comma-separated")
    ap.add_argument("-r", type=int, default=3, help="repetitions inside each run")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved runs per engine")
    ap.add_argument("--write", help="append the results to this markdown file")
    args = ap.parse_args()

    llama = build_llama_bench()
    chord = chord_binary()
    rows = []
    for name in args.models.split(","):
        path = subprocess.run([str(chord), "pull", name], capture_output=True, text=True,
                              check=True).stdout.strip().splitlines()[-1]
        model = Path(path) if Path(path).exists() else Path(name)
        for t in [int(x) for x in args.t.split(",")]:
            res = {"llama.cpp": [], "chord": []}
            for rnd in range(args.rounds):
                order = [("llama.cpp", llama_once, llama), ("chord", chord_once, chord)]
                if rnd % 2:
                    order.reverse()
                for eng, fn, binary in order:
                    say(f"{name} t={t} round {rnd + 1}: {eng}")
                    res[eng].append(fn(binary, model, args.p, args.n, t, args.r))
            # Startup: load + one decoded token.
            ls = llama_once(llama, model, 0, 1, t, 1)["wall"]
            cs = chord_once(chord, model, 0, 1, t, 1)["wall"]
            row = {"model": name, "threads": t}
            for key in ("pp", "tg"):
                row[f"llama_{key}"] = mean(r.get(key) for r in res["llama.cpp"])
                row[f"chord_{key}"] = mean(r.get(key) for r in res["chord"])
            row["llama_rss"] = max(r["rss"] for r in res["llama.cpp"])
            row["chord_rss"] = max(r["rss"] for r in res["chord"])
            row["llama_start"], row["chord_start"] = ls, cs
            rows.append(row)

    lines = [
        f"| model | threads | pp{args.p} llama.cpp | pp{args.p} chord | ratio | "
        f"tg{args.n} llama.cpp | tg{args.n} chord | ratio | peak RSS llama.cpp / chord (MiB) | "
        f"startup llama.cpp / chord (s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['threads']} | {r['llama_pp']:.1f} | {r['chord_pp']:.1f} | "
            f"{r['chord_pp'] / r['llama_pp']:.2f}× | {r['llama_tg']:.1f} | {r['chord_tg']:.1f} | "
            f"{r['chord_tg'] / r['llama_tg']:.2f}× | {r['llama_rss'] / 2**20:.0f} / "
            f"{r['chord_rss'] / 2**20:.0f} | {r['llama_start']:.2f} / {r['chord_start']:.2f} |"
        )
    table = "\n".join(lines)
    print(table)
    if args.write:
        cmd = " ".join(["bench/compare.py"] + sys.argv[1:])
        load = os.getloadavg()
        head = (
            f"\n## {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n\n"
            f"- machine: {platform.machine()}, {os.cpu_count()} cores, "
            f"{platform.processor() or platform.platform()}; load average before "
            f"{load[0]:.2f}\n"
            f"- command: `{cmd}`\n"
            f"- llama.cpp: llama-bench from llama-cpp-python {LLAMA_CPP_PYTHON}'s vendored source; "
            f"wasm-chord: `chord bench` at {git_head()}\n\n"
        )
        with open(REPO / args.write, "a") as f:
            f.write(head + table + "\n")
        say(f"appended to {args.write}")


def git_head() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                              capture_output=True, text=True, check=True).stdout.strip()
    except Exception:
        return "unknown"


if __name__ == "__main__":
    main()
