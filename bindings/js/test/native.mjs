// The native `chord` command as the oracle: the wasm engine must print what it prints.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const chordBin = process.env.CHORD_BIN || path.join(root, 'target/release/chord');

function chord(args) {
  if (!existsSync(chordBin)) {
    throw new Error(`native chord not found at ${chordBin}: run cargo build --release -p chord-cli`);
  }
  // CHORD_ISA=scalar: the native kernels the wasm ones are bit-identical to (the x86 kernels
  // follow ggml's FMA reduction order, which wasm SIMD128 cannot reproduce exactly).
  const env = { ...process.env, CHORD_ISA: 'scalar' };
  const r = spawnSync(chordBin, args, { maxBuffer: 1 << 24, env });
  if (r.status !== 0) throw new Error(`chord ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/** Path of a cached model by name (the same cache `chord pull` fills). */
export function modelPath(name) {
  const files = {
    'gemma3-270m': 'gemma-3-270m-q4_k_m.gguf',
    'qwen2.5-coder-0.5b': 'qwen2.5-coder-0.5b-instruct-q4_k_m.gguf',
  };
  const home = process.env.CHORD_HOME
    ? path.join(process.env.CHORD_HOME, 'models')
    : path.join(homedir(), '.cache/wasm-chord/models');
  const p = path.join(home, files[name]);
  if (!existsSync(p)) throw new Error(`model ${name} not in ${home}: run chord pull ${name}`);
  return p;
}

/** Native greedy output (bytes decoded as UTF-8) of `chord run`, one thread. */
export function nativeRun(model, prompt, n, extra = []) {
  const args = ['run', '-m', model, '-p', prompt, '-n', String(n), '--temp', '0', '-t', '1', ...extra];
  return new TextDecoder().decode(chord(args));
}

/** Native `chord tokenize` ids. */
export function nativeTokenize(model, text) {
  return JSON.parse(chord(['tokenize', '-m', model, text]).toString());
}
