// Speed of the wasm engine in Node next to the native `chord bench`, same model, one thread:
//
//   node bindings/js/bench/wasm_vs_native.mjs [--models gemma3-270m,qwen2.5-coder-0.5b]
//        [-p 64] [-n 32] [-r 2] [--write BENCHMARKS.md]
//
// The wasm side loads the model from its path (the SIMD128 build, or the ones --wasm names,
// comma-separated, e.g. `--wasm simd,relaxed`: each is a row, run in turn in every round), feeds a prompt of exactly P tokens (a text tokenized and cut to P ids, then
// detokenized, so both engines read P tokens) and decodes N tokens greedily with the end token
// ignored: prefill tok/s = P / time to the first token, decode tok/s = (N - 1) / the time after
// it. The native side is `chord bench -p P -n N -t 1 -r R --json` with the best kernel flavour
// of this CPU (CHORD_ISA is passed through). Each engine runs R times, alternating; the best run
// of each is reported (this machine is shared: the best is the least disturbed), and the ratio
// is wasm / native. --write appends a markdown entry with the command and the load average.
import { spawnSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { loadavg, cpus } from 'node:os';
import { loadModel } from '../src/index.js';
import { chordBin, modelPath } from '../test/native.mjs';

function parseArgs(argv) {
  const o = { models: ['gemma3-270m', 'qwen2.5-coder-0.5b'], p: 64, n: 32, r: 2, wasm: ['simd'], write: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--models') o.models = v().split(',');
    else if (a === '-p') o.p = Number(v());
    else if (a === '-n') o.n = Number(v());
    else if (a === '-r') o.r = Number(v());
    else if (a === '--wasm') o.wasm = v().split(',');
    else if (a === '--write') o.write = v();
    else throw new Error(`unknown argument ${a}`);
  }
  for (const k of ['p', 'n', 'r']) {
    if (!Number.isInteger(o[k]) || o[k] < 1) throw new Error(`-${k} must be a positive integer`);
  }
  if (o.n < 2) throw new Error('-n must be at least 2 (decode speed needs two tokens)');
  return o;
}

/** A prompt text that tokenizes (with BOS as the model adds it) to exactly `p` ids. */
function promptOfLength(model, p) {
  const base = 'The quick brown fox jumps over the lazy dog while the river runs to the sea. ';
  let text = base;
  while (model.tokenize(text).length < p + 8) text += base;
  const ids = model.tokenize(text);
  const bos = model.metadata.tokenizer.add_bos ? 1 : 0;
  // Cut the ids (not the text) so the count is exact, then check it round-trips.
  const cut = model.detokenize(ids.slice(bos, p), { removeSpecial: true });
  const n = model.tokenize(cut).length;
  if (n !== p) throw new Error(`prompt of ${p} tokens came back as ${n}`);
  return cut;
}

async function wasmRun(model, prompt, n) {
  const t0 = performance.now();
  let first = null;
  let count = 0;
  const gen = model.generate(prompt, { maxTokens: n, temperature: 0, ignoreEos: true });
  for await (const piece of gen) {
    if (piece.id < 0) continue;
    count += 1;
    if (first === null) first = performance.now();
  }
  const end = performance.now();
  const result = await gen.result;
  model.reset();
  if (count !== n) throw new Error(`wasm generated ${count} of ${n} tokens`);
  return {
    prefill: result.usage.promptTokens / ((first - t0) / 1000),
    decode: (n - 1) / ((end - first) / 1000),
  };
}

function nativeRun(path, p, n) {
  const args = ['bench', '-m', path, '-p', String(p), '-n', String(n), '-t', '1', '-r', '1', '--json', '--no-bandwidth'];
  const r = spawnSync(chordBin, args, { maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`chord ${args.join(' ')} failed: ${r.stderr}`);
  const j = JSON.parse(r.stdout.toString());
  return { prefill: j.prompt_tokens_per_s, decode: j.decode_tokens_per_s, isa: j.isa };
}

const best = (runs, k) => Math.max(...runs.map((x) => x[k]));
const f1 = (x) => x.toFixed(1);

const o = parseArgs(process.argv.slice(2));
const load = loadavg()[0].toFixed(2);
const rows = [];
for (const name of o.models) {
  const path = modelPath(name);
  const models = [];
  for (const flavor of o.wasm) models.push(await loadModel(path, { wasm: flavor }));
  const prompt = promptOfLength(models[0], o.p);
  const wasm = models.map(() => []);
  const native = [];
  for (let i = 0; i < o.r; i++) {
    for (const [k, model] of models.entries()) {
      console.error(`[bench] ${name} round ${i + 1}: wasm (${model.wasmFlavor})`);
      wasm[k].push(await wasmRun(model, prompt, o.n));
    }
    console.error(`[bench] ${name} round ${i + 1}: native`);
    native.push(nativeRun(path, o.p, o.n));
  }
  for (const [k, model] of models.entries()) {
    rows.push({
      name,
      flavor: model.wasmFlavor,
      isa: native[0].isa,
      wp: best(wasm[k], 'prefill'),
      wd: best(wasm[k], 'decode'),
      np: best(native, 'prefill'),
      nd: best(native, 'decode'),
    });
    model.dispose();
  }
}

const header = [
  `| model | wasm build | native ISA | pp${o.p} wasm | pp${o.p} native | ratio | tg${o.n} wasm | tg${o.n} native | ratio |`,
  '|---|---|---|---:|---:|---:|---:|---:|---:|',
];
const lines = rows.map(
  (r) =>
    `| ${r.name} | ${r.flavor} | ${r.isa} | ${f1(r.wp)} | ${f1(r.np)} | ${(r.wp / r.np).toFixed(2)}× | ${f1(r.wd)} | ${f1(r.nd)} | ${(r.wd / r.nd).toFixed(2)}× |`,
);
const table = [...header, ...lines].join('\n');
console.log(table);

if (o.write) {
  const flags = process.execArgv.length ? `${process.execArgv.join(' ')} ` : '';
  const cmd = `node ${flags}bindings/js/bench/wasm_vs_native.mjs ${process.argv.slice(2).join(' ')}`;
  const entry = [
    '',
    `## wasm vs native, one thread, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    '',
    `- machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}; load average before ${load}`,
    `- command: \`${cmd}\` (best of ${o.r} alternating runs per engine; ratio = wasm / native)`,
    '',
    table,
    '',
  ].join('\n');
  appendFileSync(o.write, entry);
  console.error(`[bench] appended to ${o.write}`);
}
