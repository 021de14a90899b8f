// Time of one vec-dot kernel per engine build, without a model: a random matrix of ROWS × COLS
// of each weight type times one activation (with its side data, through the two-row kernel
// where the build has one: decode's path), run REPS times per sample, builds alternating
// (the machine is shared and noisy), best of R samples:
//
//   node [--experimental-wasm-relaxed-simd] bindings/js/bench/kernels.mjs
//        [--wasm simd,relaxed] [--types Q8_0,Q5_0,Q4_0,Q4_K,Q6_K] [--cols 1024] [--rows 2048]
//        [--reps 20] [-r 5]
//
// Prints ns per weight row and weight bytes read per second for each build and type.
import { runtime } from '../src/runtime.js';

const o = {
  wasm: ['simd', 'relaxed'],
  types: ['Q8_0', 'Q5_0', 'Q4_0', 'Q4_K', 'Q6_K'],
  cols: 1024,
  rows: 2048,
  reps: 20,
  r: 5,
};
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const [k, v] = [argv[i], argv[i + 1]];
  if (v === undefined) throw new Error(`${k} needs a value`);
  if (k === '--wasm') o.wasm = v.split(',');
  else if (k === '--types') o.types = v.split(',');
  else if (k === '--cols') o.cols = Number(v);
  else if (k === '--rows') o.rows = Number(v);
  else if (k === '--reps') o.reps = Number(v);
  else if (k === '-r') o.r = Number(v);
  else throw new Error(`unknown argument ${k}`);
}

// Bytes per block and elements per block of the types timed here.
const BLOCK = {
  Q8_0: [34, 32],
  Q5_0: [22, 32],
  Q4_0: [18, 32],
  Q4_K: [144, 256],
  Q5_K: [176, 256],
  Q6_K: [210, 256],
};

const rts = [];
for (const f of o.wasm) rts.push(await runtime(f));
console.log(`| type | cols × rows | ${o.wasm.map((f) => `${f} ns/row | ${f} GB/s`).join(' | ')} |`);
console.log(`|---|---|${o.wasm.map(() => '---:|---:').join('|')}|`);
for (const ty of o.types) {
  const [bb, be] = BLOCK[ty] ?? [0, 1];
  if (o.cols % be) {
    console.log(`| ${ty} | ${o.cols} is not a whole number of blocks |`);
    continue;
  }
  const best = o.wasm.map(() => Infinity);
  const sums = o.wasm.map(() => null);
  for (let s = 0; s < o.r; s++) {
    for (const [k, rt] of rts.entries()) {
      rt.glue.kernelBench(ty, o.cols, o.rows, 0); // makes the data (kept for the next call)
      const t0 = performance.now();
      sums[k] = rt.glue.kernelBench(ty, o.cols, o.rows, o.reps);
      best[k] = Math.min(best[k], (performance.now() - t0) / o.reps);
    }
  }
  if (sums.some((x) => x !== sums[0])) throw new Error(`${ty}: the builds' results differ: ${sums}`);
  const bytes = (o.cols / be) * bb * o.rows;
  const cells = best.map((ms) => `${((ms * 1e6) / o.rows).toFixed(1)} | ${(bytes / (ms * 1e6)).toFixed(2)}`);
  console.log(`| ${ty} | ${o.cols} × ${o.rows} | ${cells.join(' | ')} |`);
}
