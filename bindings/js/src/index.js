// wasm-chord for JavaScript: GGUF models in browsers (ES module, main thread or Web Worker)
// and Node, on the same Rust engine as the native `chord` command.
//
//   import { loadModel } from 'wasm-chord';
//   const model = await loadModel('https://…/gemma-3-270m-q4_k_m.gguf', { onProgress });
//   for await (const piece of model.generate('Once upon a time', { maxTokens: 32 })) …
//
// The engine is synchronous wasm; generation is stepped one token per call and control returns
// to the event loop between tokens, so output streams and an AbortSignal is honoured promptly.
// On the GPU (`device: 'gpu'`, the `gpu` build) a step also waits for WebGPU: the engine's
// calls are then async (JSPI suspends the wasm stack meanwhile; see jspi-glue.mjs).

import {
  runtime,
  discard,
  simdSupported,
  relaxedSimdSupported,
  memory64Supported,
} from './runtime.js';
import { readSource, abortError } from './source.js';
import { openRanges } from './ranges.js';
import { DEVICES, probeWebGpu } from './device.js';
import { jspiSupported } from './jspi.js';

export { simdSupported, relaxedSimdSupported, memory64Supported, jspiSupported, probeWebGpu };
// The WebSocket client of `chord serve` (src/client.ts, compiled into dist/ by build.sh; also
// `wasm-chord/client` alone, without the engine).
export {
  Client,
  ClientError,
  ServerError,
  AuthenticationError,
  RateLimitError,
  ConnectionClosedError,
  ReconnectFailedError,
} from '../dist/client.js';

/**
 * Loads a GGUF model. `source`: a URL or URL string (fetched, with progress), an ArrayBuffer or
 * typed array, a Blob/File, a fetch Response, or in Node a file path. Options: `onProgress({loaded,
 * total})` (total is null when unknown), `signal` (AbortSignal), `contextSize` (tokens; 0 = the
 * model's, capped at 4096), `wasm` ('auto' | 'relaxed' | 'simd' | 'scalar' | 'wasm64'; 'auto'
 * takes relaxed SIMD, else SIMD128, on wasm32, or wasm64 for a file too large for wasm32 where
 * memory64 exists), `streamBudget`
 * (bytes: layer streaming, see `loadStreamed`), `device` ('cpu' default | 'gpu' | 'auto': see
 * `pickDevice`).
 */
export async function loadModel(source, options = {}) {
  const { onProgress, signal, contextSize = 0, streamBudget, device = 'cpu' } = options;
  const streamed = streamBudget !== undefined && streamBudget !== null;
  const dev = await pickDevice(device, options.wasm ?? 'auto', streamed);
  const wasm = dev.gpu ? 'gpu' : options.wasm ?? 'auto';
  if (streamed) {
    return loadStreamed(source, streamBudget, { contextSize, wasm, signal, onProgress });
  }
  let rt = null;
  let loader = null;
  let loaded = 0;
  let total = null;
  try {
    const label = await readSource(
      source,
      {
        async begin(n) {
          // The build is picked once the size is known: 'auto' takes wasm64 for files wasm32
          // cannot hold.
          rt = await runtime(wasm, n);
          total = n;
          loader = call(rt, () => new rt.glue.ModelLoader(n ?? 0));
          if (onProgress) onProgress({ loaded: 0, total });
        },
        write(chunk) {
          call(rt, () => loader.write(chunk));
          loaded += chunk.byteLength;
          if (onProgress) onProgress({ loaded, total });
        },
      },
      signal,
    );
    if (!loader) throw new Error(`${label}: no data`);
    const full = loader;
    loader = null; // finish() consumes it, error or not
    const inner = call(rt, () => full.finish(), label);
    const model = new Model(rt, inner);
    if (dev.gpu) await model._useGpu(dev, label);
    if (contextSize) model.setContextSize(contextSize);
    return model;
  } finally {
    if (loader) loader.free();
  }
}

/**
 * Resolves the `device` option: `{ gpu: false }` for the CPU, `{ gpu: true, adapter, required }`
 * for the GPU path. 'gpu' fails with an Error saying why when it cannot run here (no JSPI, no
 * WebGPU adapter, a forced non-gpu `wasm` build, layer streaming); 'auto' then takes the CPU.
 */
async function pickDevice(device, wasm, streamed) {
  if (!DEVICES.includes(device)) {
    throw new TypeError(`unknown device '${device}' (cpu, gpu or auto)`);
  }
  if (device === 'cpu') return { gpu: false };
  const fail = (why) => {
    if (device === 'gpu') throw new Error(`wasm-chord: device 'gpu': ${why}`);
    return { gpu: false };
  };
  if (wasm !== 'auto' && wasm !== 'gpu') return fail(`the '${wasm}' build has no GPU path (wasm: 'auto' or 'gpu')`);
  // Streamed layers come and go from wasm memory; the GPU keeps weights resident instead.
  if (streamed) return fail('layer streaming (streamBudget) runs on the CPU only');
  const probe = await probeWebGpu();
  if (!probe.ok) return fail(probe.why);
  return { gpu: true, adapter: probe.adapter, required: device === 'gpu' };
}

/**
 * Layer streaming: the file stays where it is (a Node path, a Blob/File in a Worker, or a URL
 * served with Range support, read by synchronous XHR in a Worker) and at most `budget` bytes of
 * weights are in wasm memory at once, read as each layer runs; outputs equal a full load.
 * `onProgress` reports what the open reads (see `progressReader`).
 */
async function loadStreamed(source, budget, { contextSize, wasm, signal, onProgress }) {
  if (!Number.isSafeInteger(budget) || budget <= 0) {
    throw new TypeError('streamBudget must be a positive whole number of bytes');
  }
  if (signal && signal.aborted) throw abortError('model loading aborted');
  const rt = await runtime(wasm);
  const file = await openRanges(source);
  const progress = onProgress ? progressReader(file, onProgress) : null;
  try {
    if (progress) onProgress({ loaded: 0, total: file.size });
    const reader = progress ? progress.reader : file.reader;
    let inner;
    try {
      inner = call(rt, () => rt.glue.loadStreamed(reader, file.size, budget), file.label);
    } catch (e) {
      // An exception of onProgress's own comes back as itself, not as the engine's I/O error.
      throw (progress && progress.thrown) || e;
    } finally {
      if (progress) progress.done();
    }
    const model = new Model(rt, inner, file);
    if (contextSize) model.setContextSize(contextSize);
    return model;
  } catch (e) {
    file.close();
    throw e;
  }
}

/**
 * Wraps `file.reader` so that each read the engine makes while it opens the model (header and
 * tokenizer, the norms and other small tensors; the layers are read later, as they run) calls
 * `onProgress({loaded, total})`: `loaded` the bytes read so far (never above `total`), `total`
 * the file's size. The open is one synchronous engine call, so these calls come from inside it.
 * After `done()` reads pass straight through: generation's layer reads report nothing (see
 * `Model.streamStats`). `readAt` must not throw, so an exception of `onProgress` is kept in
 * `thrown` and the read fails with a message instead.
 */
function progressReader(file, onProgress) {
  let loaded = 0;
  let opening = true;
  const state = {
    thrown: null,
    done() {
      opening = false;
    },
    reader: {
      readAt(offset, dst) {
        const err = file.reader.readAt(offset, dst);
        if (err !== undefined || !opening) return err;
        loaded = Math.min(loaded + dst.length, file.size);
        try {
          onProgress({ loaded, total: file.size });
          return undefined;
        } catch (e) {
          state.thrown = e;
          return `onProgress threw: ${e && e.message ? e.message : String(e)}`;
        }
      },
    },
  };
  return state;
}

/** Runs `f` on the engine, turning a trap into an Error and discarding the broken instance. */
function call(rt, f, label) {
  try {
    return f();
  } catch (e) {
    throw engineError(rt, e, label);
  }
}

/**
 * As `call` for an engine call that may suspend (the gpu build's forward passes and device
 * creation: their glue methods are async), one at a time per instance (`rt.exclusive`).
 */
async function callAsync(rt, f, label) {
  try {
    return await rt.exclusive(f);
  } catch (e) {
    throw engineError(rt, e, label);
  }
}

function engineError(rt, e, label) {
  if (e instanceof WebAssembly.RuntimeError) {
    discard(rt);
    return new Error(`wasm-chord: internal error in the engine (${e.message}); load the model again`);
  }
  if (e instanceof Error) {
    if (label && !e.message.includes(label)) e.message = `${label}: ${e.message}`;
    return e;
  }
  return new Error(String(e));
}

const decoder = new TextDecoder();

export class Model {
  #rt;
  #inner;
  #busy = false;
  #metadata = null;
  #file = null;
  #device = 'cpu';
  #adapter = null;
  #inflight = null; // the engine call in progress (gpu build), awaited before `dispose` frees

  constructor(rt, inner, file = null) {
    this.#rt = rt;
    this.#inner = inner;
    this.#file = file;
  }

  #engine() {
    if (!this.#inner) throw new Error('wasm-chord: the model was disposed');
    return this.#inner;
  }

  #call(f) {
    const inner = this.#engine();
    try {
      return call(this.#rt, () => f(inner));
    } catch (e) {
      if (e.message.startsWith('wasm-chord: internal error')) this.#inner = null;
      throw e;
    }
  }

  /** `#call` for the gpu build's async methods (one suspended call at a time). */
  #callAsync(f, label) {
    const inner = this.#engine();
    const p = callAsync(this.#rt, () => f(inner), label).catch((e) => {
      if (e.message.startsWith('wasm-chord: internal error')) this.#inner = null;
      throw e;
    });
    // Settles (never rejects: the error goes to the caller) when the engine is free again.
    const settled = p.then(
      () => {},
      () => {},
    );
    this.#inflight = settled;
    settled.then(() => {
      if (this.#inflight === settled) this.#inflight = null;
    });
    return p;
  }

  /** Calls the engine's step/start: awaited in the gpu build (JSPI), synchronous otherwise. */
  #maybeAsync(f) {
    return this.#rt.flavor === 'gpu' ? this.#callAsync(f) : this.#call(f);
  }

  /**
   * Puts the model on the GPU (loadModel's `device`; internal). A failure of a required GPU
   * frees the model and throws; under 'auto' the model stays on the CPU.
   */
  async _useGpu(dev, label) {
    try {
      await this.#callAsync((m) => m.useGpu(), label);
      this.#device = 'gpu';
      this.#adapter = dev.adapter;
    } catch (e) {
      if (dev.required || !this.#inner) {
        this.dispose();
        throw e;
      }
    }
  }

  /** 'gpu' when the model runs on WebGPU (chord-gpu's kernels), else 'cpu'. */
  get device() {
    return this.#device;
  }

  /** The WebGPU adapter as the browser describes it (vendor, architecture), or null. */
  get gpuAdapter() {
    return this.#adapter;
  }

  /**
   * On the GPU, how many matrix products ran on each GPU kernel so far (e.g.
   * `{matvec_q4_K_q8_K: 120, ...}`); `{}` on the CPU.
   */
  get gpuDispatchCounts() {
    if (this.#device !== 'gpu') return {};
    return JSON.parse(this.#call((m) => m.gpuDispatchJson()));
  }

  /**
   * For a model loaded with `streamBudget`, what its layer cache did so far: `{budget, units,
   * unitBytes, hits, misses, hitRate, evictions, bytesRead, residentBytes}`; else null.
   */
  get streamStats() {
    const s = JSON.parse(this.#call((m) => m.streamStatsJson()));
    if (!s) return null;
    return {
      budget: s.budget,
      units: s.units,
      unitBytes: s.unit_bytes,
      hits: s.hits,
      misses: s.misses,
      hitRate: s.hit_rate,
      evictions: s.evictions,
      bytesRead: s.bytes_read,
      residentBytes: s.resident_bytes,
    };
  }

  /** 'relaxed', 'simd', 'scalar', 'wasm64' or 'gpu': the build running this model. */
  get wasmFlavor() {
    return this.#rt.flavor;
  }

  /** Architecture, name, hyperparameters, tokenizer, GGUF metadata (parsed once). */
  get metadata() {
    if (!this.#metadata) this.#metadata = JSON.parse(this.#call((m) => m.metadataJson()));
    return this.#metadata;
  }

  /** Sets the context size in tokens (0 = the model's, capped at 4096); resets the conversation. */
  setContextSize(n) {
    if (!Number.isInteger(n) || n < 0) throw new TypeError('context size must be a whole number >= 0');
    this.#idle();
    this.#call((m) => m.setContextSize(n));
  }

  /** Forgets the conversation (KV cache). Later prompts that share a prefix reuse it otherwise. */
  reset() {
    this.#idle();
    this.#call((m) => m.reset());
  }

  /** Token ids, as llama.cpp tokenizes: BOS as the model says, special-token text parsed. */
  tokenize(text, { addSpecial = true, parseSpecial = true } = {}) {
    if (typeof text !== 'string') throw new TypeError('tokenize: text must be a string');
    return Array.from(this.#call((m) => m.tokenize(text, addSpecial, parseSpecial)));
  }

  /** Text of token ids (llama.cpp's `llama_detokenize`). */
  detokenize(ids, { removeSpecial = false, unparseSpecial = false } = {}) {
    const arr = Uint32Array.from(ids, (x) => {
      if (!Number.isInteger(x) || x < 0 || x > 0xffffffff) {
        throw new TypeError(`detokenize: ${x} is not a token id`);
      }
      return x;
    });
    return decoder.decode(this.#call((m) => m.detokenize(arr, removeSpecial, unparseSpecial)));
  }

  /** The chat template applied to `messages` ([{role, content}]), assistant turn opened. */
  applyChatTemplate(messages) {
    return this.#call((m) => m.renderChat(JSON.stringify(messages)));
  }

  /**
   * Generates after `prompt`: an async iterable of `{id, index, text}` pieces with `.result`,
   * a promise of `{text, tokens, stopReason, finishReason, stopIndex, usage}`. Options (all
   * optional): maxTokens, temperature (0 = greedy), topK, topP, minP, repeatPenalty,
   * repeatLastN, frequencyPenalty, presencePenalty, seed, stop (string[]), addSpecial,
   * parseSpecial, ignoreEos, signal (AbortSignal).
   */
  generate(prompt, options = {}) {
    if (typeof prompt !== 'string') throw new TypeError('generate: prompt must be a string');
    return this.#start((m, opts) => m.startGenerate(prompt, opts), options);
  }

  /** Like `generate`, for the assistant's reply to `messages` ([{role, content}]). */
  chat(messages, options = {}) {
    if (!Array.isArray(messages)) throw new TypeError('chat: messages must be an array');
    return this.#start((m, opts) => m.startChat(JSON.stringify(messages), opts), options);
  }

  /** Frees the model's memory in the engine; the object is unusable afterwards. */
  dispose() {
    if (this.#inner) {
      const inner = this.#inner;
      this.#inner = null;
      // A suspended engine call (gpu build) still uses the object: free it once that returns.
      if (this.#inflight) {
        this.#inflight.then(() => inner.free()).catch(() => {}); // after a trap: nothing to free
      } else {
        inner.free();
      }
    }
    if (this.#file) {
      this.#file.close();
      this.#file = null;
    }
  }

  #idle() {
    if (this.#busy) throw new Error('wasm-chord: a generation is running on this model');
  }

  #start(begin, options) {
    this.#idle();
    const { signal, ...rest } = options;
    const json = JSON.stringify(toRustOptions(rest));
    if (signal && signal.aborted) throw abortError('generation aborted');
    // The prompt's forward pass runs here. In the gpu build it is asynchronous: its errors
    // (e.g. a prompt longer than the context) then reject the iteration instead.
    const started = this.#maybeAsync((m) => begin(m, json));
    if (started instanceof Promise) started.catch(() => {});
    this.#busy = true;
    return new Generation({
      started,
      step: () => this.#maybeAsync((m) => m.step()),
      cancel: () => this.#call((m) => m.cancel()),
      result: () => fromRustResult(JSON.parse(this.#call((m) => m.resultJson()))),
      done: () => {
        this.#busy = false;
      },
      signal,
    });
  }
}

/** One generation: iterate it for pieces, await `.result` for the outcome. */
export class Generation {
  #ctl;
  #iterating = false;
  #settle;
  #fail;
  /** Promise of the final result (rejects with the error that ended the generation). */
  result;

  constructor(ctl) {
    this.#ctl = ctl;
    this.result = new Promise((resolve, reject) => {
      this.#settle = resolve;
      this.#fail = reject;
    });
    // Nobody may await `result` (only iterate): avoid unhandled-rejection noise.
    this.result.catch(() => {});
  }

  [Symbol.asyncIterator]() {
    if (this.#iterating) throw new Error('wasm-chord: a generation can be iterated only once');
    this.#iterating = true;
    return this.#run();
  }

  /** Runs to the end without looking at the pieces; resolves to the result. */
  async complete() {
    for await (const _ of this); // eslint-disable-line no-unused-vars
    return this.result;
  }

  async *#run() {
    const ctl = this.#ctl;
    const dec = new TextDecoder('utf-8');
    let finished = false;
    try {
      await ctl.started;
      for (;;) {
        if (ctl.signal && ctl.signal.aborted) {
          const flush = ctl.cancel();
          if (flush) flush.free();
          const err = abortError('generation aborted');
          err.result = ctl.result();
          throw err;
        }
        const tok = await ctl.step();
        if (!tok) break;
        const piece = { id: tok.id, index: tok.index, text: dec.decode(tok.bytes, { stream: true }) };
        tok.free();
        yield piece;
        // Back to the event loop (a macrotask, so timers and messages run: abort, UI updates).
        await nextTask();
      }
      const tail = dec.decode();
      if (tail) yield { id: -1, index: -1, text: tail };
      finished = true;
      this.#settle(ctl.result());
    } catch (e) {
      this.#fail(e);
      throw e;
    } finally {
      if (!finished) {
        // The consumer stopped early (break / return / throw): end the generation as cancelled.
        try {
          const flush = ctl.cancel();
          if (flush) flush.free();
          this.#fail(abortError('generation stopped by the consumer'));
        } catch (e) {
          this.#fail(e);
        }
      }
      ctl.done();
    }
  }
}

const nextTask = (() => {
  if (typeof setImmediate === 'function') return () => new Promise((r) => setImmediate(r));
  if (typeof MessageChannel === 'function') {
    // Unlike setTimeout, not clamped to 4 ms when nested.
    const ch = new MessageChannel();
    const queue = [];
    ch.port1.onmessage = () => queue.shift()();
    return () => new Promise((r) => {
      queue.push(r);
      ch.port2.postMessage(0);
    });
  }
  return () => new Promise((r) => setTimeout(r, 0));
})();

const OPTION_NAMES = {
  maxTokens: 'max_tokens',
  temperature: 'temperature',
  topK: 'top_k',
  topP: 'top_p',
  minP: 'min_p',
  repeatPenalty: 'repeat_penalty',
  repeatLastN: 'repeat_last_n',
  frequencyPenalty: 'frequency_penalty',
  presencePenalty: 'presence_penalty',
  seed: 'seed',
  stop: 'stop',
  addSpecial: 'add_special',
  parseSpecial: 'parse_special',
  ignoreEos: 'ignore_eos',
};

function toRustOptions(opts) {
  const out = {};
  for (const [k, v] of Object.entries(opts)) {
    if (v === undefined) continue;
    const name = OPTION_NAMES[k];
    if (!name) throw new TypeError(`unknown generation option '${k}'`);
    out[name] = typeof v === 'bigint' ? Number(v) : v;
  }
  return out;
}

function fromRustResult(r) {
  if (!r) throw new Error('wasm-chord: no result (the generation did not finish)');
  return {
    text: r.text,
    tokens: r.tokens,
    stopReason: r.stop_reason,
    finishReason: r.finish_reason,
    stopIndex: r.stop_index,
    usage: {
      promptTokens: r.usage.prompt_tokens,
      completionTokens: r.usage.completion_tokens,
      cachedTokens: r.usage.cached_tokens,
    },
  };
}

/**
 * Checks the engine's vec-dot kernels (SIMD128 in the SIMD build) against the scalar ones, bit
 * for bit, on random rows of every weight type: `{isa, kernels: {type: name}, rows, mismatches}`.
 */
/**
 * Runs a synthetic model (written in the engine with the GGUF writer) with an F32 KV cache of
 * `nCtx` positions: `{checksum, memoryBytes, kvBytes}`. In the wasm64 build a large `nCtx` puts
 * the cache above 4 GiB of linear memory; the checksum of the logits must not change with `nCtx`.
 */
export async function memory64Check(nCtx, { wasm = 'wasm64' } = {}) {
  const rt = await runtime(wasm);
  const r = JSON.parse(call(rt, () => rt.glue.memory64Check(nCtx)));
  return { checksum: r.checksum, memoryBytes: r.memory_bytes, kvBytes: r.kv_bytes };
}

export async function kernelSelfCheck({ seed = 1, rows = 8, wasm = 'auto' } = {}) {
  const rt = await runtime(wasm);
  return JSON.parse(call(rt, () => rt.glue.kernelSelfCheck(seed, rows)));
}

/**
 * The WebGPU kernels (gpu build) against the scalar CPU ones, bit for bit, on random data: every
 * weight type's matrix product at 1 and 5 tokens, and attention. `{adapter, checked,
 * mismatches}`. Rejects with an Error saying why where the GPU path cannot run.
 */
export async function gpuSelfCheck({ seed = 1, rows = 16 } = {}) {
  const probe = await probeWebGpu();
  if (!probe.ok) throw new Error(`wasm-chord: gpuSelfCheck: ${probe.why}`);
  const rt = await runtime('gpu');
  return JSON.parse(await callAsync(rt, () => rt.glue.gpuSelfCheck(seed, rows)));
}
