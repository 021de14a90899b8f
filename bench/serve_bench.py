#!/usr/bin/env python3
"""Aggregate generation throughput of an OpenAI-compatible server at several concurrency levels.

    bench/serve_bench.py --url http://127.0.0.1:8080 --model gemma3-270m [--streams 1,4,8,16]
                         [--tokens 128] [--rounds 2] [--json]
                         [--write BENCHMARKS.md --label "chord serve, 16 slots, 2 threads"]

Each level runs `streams` concurrent streaming /v1/completions requests (greedy, `ignore_eos`,
`max_tokens` = --tokens, different prompts so no two share a cached prefix beyond BOS), `rounds`
times, and reports completion tokens per second summed over the streams (from each stream's
usage chunk) and the speed-up over the single-stream level. Works against `chord serve` and
`llama-server` alike (both accept `ignore_eos` and `stream_options.include_usage`). Stdlib only.
Timings mean something only on a quiet machine. `--write FILE` appends the table to a
markdown file under a heading with `--label`, the date, the machine, the load average before
the run and the exact command line.
"""

import argparse
import json
import os
import platform
import shlex
import sys
import threading
import time
import urllib.request


def stream_once(url, model, prompt, tokens, out, i):
    body = json.dumps({
        "model": model, "prompt": prompt, "max_tokens": tokens, "temperature": 0,
        "ignore_eos": True, "stream": True, "stream_options": {"include_usage": True},
    }).encode()
    req = urllib.request.Request(url + "/v1/completions", data=body,
                                 headers={"Content-Type": "application/json"})
    n, ok, pieces = 0, False, 0
    try:
        with urllib.request.urlopen(req, timeout=600) as r:
            for line in r:
                line = line.decode().strip()
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    ok = True
                    break
                chunk = json.loads(data)
                if chunk.get("usage"):
                    n = chunk["usage"]["completion_tokens"]
                elif chunk.get("choices") and chunk["choices"][0].get("text"):
                    pieces += 1
    except Exception as e:  # reported as a failed stream
        print(f"stream {i}: {e}", file=sys.stderr)
    # A server without a usage chunk: one text chunk per token, as both servers stream.
    out[i] = (n or pieces, ok)


def level(url, model, streams, tokens, rounds):
    total, wall, failed = 0, 0.0, 0
    for r in range(rounds):
        out = [None] * streams
        threads = [threading.Thread(target=stream_once, args=(
            url, model, f"Story {r}-{i}: once upon a time", tokens, out, i)) for i in range(streams)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall += time.perf_counter() - t0
        total += sum(n for n, _ in out)
        failed += sum(1 for _, ok in out if not ok)
    return {"streams": streams, "tokens": total, "seconds": wall,
            "tokens_per_second": total / wall if wall > 0 else 0.0, "failed_streams": failed}


def table(levels):
    rows = ["| streams | tokens | seconds | aggregate tok/s | per stream tok/s | vs 1 stream | failed |",
            "|---:|---:|---:|---:|---:|---:|---:|"]
    for lv in levels:
        rows.append(f"| {lv['streams']} | {lv['tokens']} | {lv['seconds']:.2f} | "
                    f"{lv['tokens_per_second']:.1f} | {lv['tokens_per_second'] / lv['streams']:.1f} | "
                    f"{lv['speedup']:.2f}× | {lv['failed_streams']} |")
    return "\n".join(rows) + "\n"


def write(a, levels, load_before):
    now = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    after = os.getloadavg()
    cmd = " ".join(shlex.quote(x) for x in ["bench/serve_bench.py"] + sys.argv[1:])
    head = (f"\n### {a.label}, {now}\n\n"
            f"- machine: {platform.machine()}, {os.cpu_count()} cores; load average before "
            f"{load_before[0]:.2f} / {load_before[1]:.2f} / {load_before[2]:.2f} (1/5/15 min), "
            f"after {after[0]:.2f}\n"
            f"- command: `{cmd}`\n"
            f"- {a.tokens} tokens per stream (greedy, `ignore_eos`), {a.rounds} rounds per level\n\n")
    with open(a.write, "a") as f:
        f.write(head + table(levels))
    print(f"appended to {a.write}", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--model", default="gemma3-270m")
    ap.add_argument("--streams", default="1,4,8,16")
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--write", help="append the table to this markdown file")
    ap.add_argument("--label", default="server", help="heading of the --write entry")
    a = ap.parse_args()
    load = os.getloadavg()
    levels = [level(a.url, a.model, int(s), a.tokens, a.rounds) for s in a.streams.split(",")]
    base = levels[0]["tokens_per_second"] or 1.0
    for lv in levels:
        lv["speedup"] = lv["tokens_per_second"] / base
    if a.json:
        print(json.dumps(levels, indent=2))
    else:
        print(f"{'streams':>8} {'tokens':>8} {'seconds':>8} {'tok/s':>9} {'speed-up':>9} {'failed':>7}")
        for lv in levels:
            print(f"{lv['streams']:>8} {lv['tokens']:>8} {lv['seconds']:>8.2f} "
                  f"{lv['tokens_per_second']:>9.1f} {lv['speedup']:>8.2f}x {lv['failed_streams']:>7}")
    if a.write:
        write(a, levels, load)
    sys.exit(1 if any(lv["failed_streams"] for lv in levels) else 0)


if __name__ == "__main__":
    main()
