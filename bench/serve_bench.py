#!/usr/bin/env python3
"""Aggregate generation throughput of an OpenAI-compatible server at several concurrency levels.

    bench/serve_bench.py --url http://127.0.0.1:8080 --model gemma3-270m [--streams 1,4,8,16]
                         [--tokens 128] [--rounds 2] [--json]

Each level runs `streams` concurrent streaming /v1/completions requests (greedy, `ignore_eos`,
`max_tokens` = --tokens, different prompts so no two share a cached prefix beyond BOS), `rounds`
times, and reports completion tokens per second summed over the streams (from each stream's
usage chunk) and the speed-up over the single-stream level. Works against `chord serve` and
`llama-server` alike (both accept `ignore_eos` and `stream_options.include_usage`). Stdlib only.
Timings mean something only on a quiet machine.
"""

import argparse
import json
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
    n, ok = 0, False
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
    except Exception as e:  # reported as a failed stream
        print(f"stream {i}: {e}", file=sys.stderr)
    out[i] = (n, ok)


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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--model", default="gemma3-270m")
    ap.add_argument("--streams", default="1,4,8,16")
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
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
    sys.exit(1 if any(lv["failed_streams"] for lv in levels) else 0)


if __name__ == "__main__":
    main()
