// The memory64 build under an engine with memory64 (Node >= 24; scripts/test.d/wasm.sh runs
// this with the Node 24 that scripts/setup.d/wasm.sh installs): a synthetic model whose KV cache
// puts linear memory past 4 GiB computes the same logits as with a small cache, and the real
// Gemma 3 270M gives native `chord run`'s greedy text on this build.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel, memory64Supported, memory64Check } from '../../src/index.js';
import { autoFlavor } from '../../src/runtime.js';
import { modelPath, nativeRun } from '../native.mjs';

const GiB = 2 ** 30;

test('this engine has memory64; auto picks wasm64 only for files wasm32 cannot hold', () => {
  assert.ok(memory64Supported(), `Node ${process.version} lacks memory64 (Node >= 24 needed)`);
  assert.equal(autoFlavor(5 * GiB), 'wasm64');
  assert.equal(autoFlavor(300 << 20), 'relaxed');
  assert.equal(autoFlavor(null), 'relaxed');
});

test('a synthetic model with a KV cache beyond 4 GiB computes the small-cache logits', async (t) => {
  const small = await memory64Check(64);
  // 4 layers × (K + V) × 256 floats per position: 8 KiB per position.
  const big = await memory64Check(600_000);
  assert.ok(big.kvBytes > 4.5 * GiB, JSON.stringify(big));
  assert.ok(big.memoryBytes > 4.5 * GiB, `linear memory ${big.memoryBytes}`);
  assert.equal(big.checksum, small.checksum);
  t.diagnostic(`KV cache ${big.kvBytes} bytes, linear memory ${big.memoryBytes} bytes`);
});

test('gemma on the wasm64 build equals native chord run', async () => {
  const GEMMA = modelPath('gemma3-270m');
  const model = await loadModel(GEMMA, { wasm: 'wasm64' });
  try {
    assert.equal(model.wasmFlavor, 'wasm64');
    const prompt = 'The capital of France is';
    const r = await model.generate(prompt, { maxTokens: 16, temperature: 0 }).complete();
    assert.equal(r.text, nativeRun(GEMMA, prompt, 16));
  } finally {
    model.dispose();
  }
});
