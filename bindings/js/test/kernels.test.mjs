// The SIMD128 kernels run only inside a wasm engine, so their bit-for-bit check against the
// scalar kernels (the truth) runs here, in Node, through the SIMD build's self-check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kernelSelfCheck } from '../src/index.js';

test('SIMD128 kernels equal the scalar kernels bit for bit', async () => {
  const r = await kernelSelfCheck({ seed: 12345, rows: 24, wasm: 'simd' });
  assert.equal(r.isa, 'simd128');
  for (const ty of ['Q4_0', 'Q5_0', 'Q8_0', 'Q4_K', 'Q6_K']) {
    assert.match(r.kernels[ty], /\/simd128$/, ty);
  }
  assert.equal(Object.keys(r.kernels).length, 15);
  assert.deepEqual(r.mismatches, []);
});

test('the scalar build runs the scalar kernels', async () => {
  const r = await kernelSelfCheck({ rows: 2, wasm: 'scalar' });
  assert.equal(r.isa, 'scalar');
  assert.match(r.kernels.Q4_K, /\/scalar$/);
  assert.deepEqual(r.mismatches, []);
});
