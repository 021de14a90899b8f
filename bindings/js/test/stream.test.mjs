// Layer streaming in Node: Gemma 3 270M with a quarter of its file as the budget, read through
// `fs.readSync`, generates the same greedy tokens as the full load and the native `chord run`,
// reports its cache statistics and the open's reads through onProgress, and bad
// budgets/sources/callbacks are Errors. Also times both, for
// BENCHMARKS.md (printed as a diagnostic).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { loadModel, memory64Supported } from '../src/index.js';
import { autoFlavor } from '../src/runtime.js';
import { modelPath, nativeRun } from './native.mjs';

const GEMMA = modelPath('gemma3-270m');
const PROMPT = 'def fibonacci(n):';
const N = 32;

async function greedy(model) {
  const t0 = performance.now();
  const r = await model.generate(PROMPT, { maxTokens: N, temperature: 0 }).complete();
  return { ...r, ms: performance.now() - t0 };
}

test('gemma streamed with a quarter budget equals the full load and native chord run', async (t) => {
  const size = statSync(GEMMA).size;
  const budget = Math.floor(size / 4);
  const full = await loadModel(GEMMA);
  let want;
  try {
    assert.equal(full.streamStats, null);
    want = await greedy(full);
  } finally {
    full.dispose();
  }
  const native = nativeRun(GEMMA, PROMPT, N);
  assert.equal(want.text, native);

  const progress = [];
  const model = await loadModel(GEMMA, {
    streamBudget: budget,
    onProgress: (p) => progress.push({ ...p }),
  });
  try {
    // onProgress: the open's reads, from 0 up, monotone, bounded by the file size; the header
    // and tokenizer alone are well over 0, the layers (read while generating) are not included.
    assert.ok(progress.length >= 2, JSON.stringify(progress));
    assert.deepEqual(progress[0], { loaded: 0, total: size });
    for (let i = 1; i < progress.length; i++) {
      assert.equal(progress[i].total, size);
      assert.ok(progress[i].loaded >= progress[i - 1].loaded, `not monotone at ${i}`);
    }
    const opened = progress.at(-1).loaded;
    assert.ok(opened > 1 << 20 && opened < size / 2, `open read ${opened} of ${size}`);
    const atOpen = progress.length;
    assert.equal(model.metadata.file_size, size);
    const got = await greedy(model);
    assert.deepEqual(got.tokens, want.tokens);
    assert.equal(got.text, native);
    const s = model.streamStats;
    assert.equal(s.budget, budget);
    assert.ok(s.misses > 0, JSON.stringify(s));
    assert.ok(s.bytesRead > size, `re-reads expected: ${JSON.stringify(s)}`);
    assert.ok(s.residentBytes <= budget, JSON.stringify(s));
    assert.ok(s.hitRate > 0 && s.hitRate < 1, JSON.stringify(s));
    assert.equal(progress.length, atOpen, 'generation reads are not load progress');
    const tps = (r) => (r.tokens.length / (r.ms / 1000)).toFixed(2);
    t.diagnostic(
      `gemma3-270m, ${N} tokens incl. prompt: full ${tps(want)} tok/s, streamed (budget ${budget} of ` +
        `${size}) ${tps(got)} tok/s; hit rate ${s.hitRate.toFixed(3)}, ${s.bytesRead} bytes read`,
    );
  } finally {
    model.dispose();
  }
});

test('streaming errors: bad budgets, a budget below one layer, sources without random access', async () => {
  for (const b of [0, -1, 1.5, '64M', NaN]) {
    await assert.rejects(loadModel(GEMMA, { streamBudget: b }), TypeError, String(b));
  }
  await assert.rejects(loadModel(GEMMA, { streamBudget: 1 << 20 }), /more than the stream budget of 1048576 bytes/);
  await assert.rejects(loadModel(new ArrayBuffer(8), { streamBudget: 1 << 26 }), /random access/);
  await assert.rejects(loadModel('/nonexistent/model.gguf', { streamBudget: 1 << 26 }), /cannot open model file/);
  await assert.rejects(
    loadModel(new Blob([new Uint8Array(16)]), { streamBudget: 1 << 26 }),
    /FileReaderSync/,
  );
  // An exception of onProgress fails the load with that very exception.
  const boom = new Error('progress bar gone');
  await assert.rejects(
    loadModel(GEMMA, {
      streamBudget: 1 << 26,
      onProgress: ({ loaded }) => {
        if (loaded > 0) throw boom;
      },
    }),
    (e) => e === boom,
  );
  // The engine is still usable afterwards.
  const m = await loadModel(GEMMA, { streamBudget: 1 << 26 });
  try {
    const r = await m.generate('Hi', { maxTokens: 2, temperature: 0 }).complete();
    assert.equal(r.tokens.length, 2);
  } finally {
    m.dispose();
  }
});

test('auto takes wasm64 for a file too large for wasm32 only where memory64 exists', () => {
  // Node 20 (this suite): no memory64, so wasm32 (relaxed SIMD: wasm.sh enables it); Node 24
  // runs test/wasm64/.
  assert.equal(autoFlavor(5 * 2 ** 30), memory64Supported() ? 'wasm64' : 'relaxed');
  assert.equal(autoFlavor(300 << 20), 'relaxed');
});
