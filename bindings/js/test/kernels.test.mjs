// The SIMD128 and relaxed-SIMD kernels run only inside a wasm engine, so their bit-for-bit
// check against the scalar kernels (the truth) runs here, in Node, through each build's
// self-check. The relaxed one needs an engine with relaxed SIMD (Node >= 22, or Node 20 with
// --experimental-wasm-relaxed-simd, as scripts/test.d/wasm.sh runs it): without, it fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kernelSelfCheck, relaxedSimdSupported } from '../src/index.js';

test('SIMD128 kernels equal the scalar kernels bit for bit', async () => {
  const r = await kernelSelfCheck({ seed: 12345, rows: 24, wasm: 'simd' });
  assert.equal(r.isa, 'simd128');
  for (const ty of ['Q4_0', 'Q5_0', 'Q8_0', 'Q4_K', 'Q6_K']) {
    assert.match(r.kernels[ty], /\/simd128$/, ty);
  }
  assert.equal(Object.keys(r.kernels).length, 15);
  assert.deepEqual(r.mismatches, []);
});

test('relaxed-SIMD kernels equal the scalar kernels bit for bit (Q8_0 bytes of -128 included)', async () => {
  assert.equal(relaxedSimdSupported(), true, 'this engine lacks relaxed SIMD');
  const r = await kernelSelfCheck({ seed: 12345, rows: 24, wasm: 'relaxed' });
  assert.equal(r.isa, 'simd128');
  for (const ty of ['Q4_0', 'Q5_0', 'Q8_0']) assert.match(r.kernels[ty], /\/relaxed-simd$/, ty);
  for (const ty of ['Q4_K', 'Q6_K']) assert.match(r.kernels[ty], /\/simd128$/, ty);
  assert.equal(Object.keys(r.kernels).length, 15);
  assert.deepEqual(r.mismatches, []);
  // Other seeds: more rows through the one-row, two-row and tail paths.
  for (const seed of [1, 2, 3]) {
    assert.deepEqual((await kernelSelfCheck({ seed, rows: 16, wasm: 'relaxed' })).mismatches, []);
  }
});

test('the scalar build runs the scalar kernels', async () => {
  const r = await kernelSelfCheck({ rows: 2, wasm: 'scalar' });
  assert.equal(r.isa, 'scalar');
  assert.match(r.kernels.Q4_K, /\/scalar$/);
  assert.deepEqual(r.mismatches, []);
});
