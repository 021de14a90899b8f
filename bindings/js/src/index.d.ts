// Types of the wasm-chord npm package (src/index.js).

// The WebSocket client of `chord serve` (src/client.ts; its types are generated into dist/).
export * from '../dist/client.js';

/**
 * Load progress. A full load reports each chunk received. A streamed load (`streamBudget`)
 * reports `{loaded: 0, total}` once the file is open, then each read of the engine's open
 * (header and tokenizer, small tensors; synchronous, from inside the engine, so do not call into
 * wasm-chord from the callback): `loaded` then ends well below `total`, as the layers are read
 * later while generating (their reads show in `Model.streamStats`, not here).
 */
export interface LoadProgress {
  /** Bytes received (a streamed load: read) so far; never decreases, never above `total`. */
  loaded: number;
  /** Total bytes, or null when the source does not say (e.g. a compressed HTTP response). */
  total: number | null;
}

export interface LoadOptions {
  onProgress?: (p: LoadProgress) => void;
  signal?: AbortSignal;
  /** Context size in tokens; 0 (default) = the model's training context, capped at 4096. */
  contextSize?: number;
  /**
   * Which engine build: 'auto' (default: relaxed SIMD where supported, else SIMD128 where
   * supported, else scalar; the memory64 build for a file larger than 3.5 GiB where the engine
   * has memory64), 'relaxed', 'simd', 'scalar' or 'wasm64'.
   */
  wasm?: 'auto' | WasmFlavor;
  /**
   * Where the model runs: 'cpu' (default: the wasm builds' own kernels), 'gpu' (the browser's
   * WebGPU through the 'gpu' build: needs JSPI, i.e. Chromium >= 137, and a WebGPU adapter;
   * otherwise loadModel rejects with an Error saying what is missing) or 'auto' (the GPU where
   * it can run, else the CPU). `Model.device` tells which one was taken. The GPU path needs
   * `wasm` 'auto' or 'gpu' and no `streamBudget`. On it, errors the engine finds in a prompt
   * (e.g. longer than the context) reject the generation's iteration instead of being thrown
   * by `generate`/`chat`.
   */
  device?: Device;
  /**
   * Layer streaming: keep at most this many bytes of weights in wasm memory and read the rest
   * from the source as each layer runs (same output as a full load, slower). The source must
   * allow synchronous random access: a file path in Node, a Blob/File in a Web Worker
   * (FileReaderSync), or a URL whose server honours Range requests, in a Web Worker
   * (synchronous XHR). Every layer must fit in the budget. `onProgress` reports the reads of
   * the open (see `LoadProgress`).
   */
  streamBudget?: number;
}

/** What a streamed model's layer cache did (see `LoadOptions.streamBudget`). */
export interface StreamStats {
  budget: number;
  /** Units the weights are read in (one per layer, plus the output matrix in chunks). */
  units: number;
  unitBytes: number;
  hits: number;
  misses: number;
  /** hits / (hits + misses). */
  hitRate: number;
  evictions: number;
  /** Bytes read from the source so far (units, embedding rows, small tensors at load). */
  bytesRead: number;
  residentBytes: number;
}

/** A URL (fetched), a path (Node only), bytes, a Blob/File, or a fetch Response. */
export type ModelSource = string | URL | ArrayBuffer | ArrayBufferView | Blob | Response;

export function loadModel(source: ModelSource, options?: LoadOptions): Promise<Model>;

/** The engine builds: relaxed SIMD, SIMD128, scalar (wasm32), memory64, and SIMD128 + WebGPU. */
export type WasmFlavor = 'relaxed' | 'simd' | 'scalar' | 'wasm64' | 'gpu';

/** Where a model runs (`LoadOptions.device`). */
export type Device = 'cpu' | 'gpu' | 'auto';

/** Whether this JS engine has JSPI (WebAssembly.Suspending/promising), which the GPU path needs. */
export function jspiSupported(): boolean;

/**
 * Whether the GPU path can run here: JSPI and a WebGPU adapter. `adapter`: its vendor and
 * architecture as the browser gives them; `why`: what is missing.
 */
export function probeWebGpu(): Promise<{ ok: true; adapter: string } | { ok: false; why: string }>;

/** Whether this JS engine runs WebAssembly SIMD128 (then the SIMD build is used). */
export function simdSupported(): boolean;

/**
 * Whether this JS engine runs WebAssembly relaxed SIMD (then 'auto' uses the relaxed build:
 * Chromium >= 114, Node >= 22, Node 20 with --experimental-wasm-relaxed-simd).
 */
export function relaxedSimdSupported(): boolean;

/** Whether this JS engine runs WebAssembly memory64 (linear memory beyond 4 GiB). */
export function memory64Supported(): boolean;

/**
 * A synthetic model with an F32 KV cache of `nCtx` positions, run in the chosen build (default
 * 'wasm64'): the logits' checksum (independent of `nCtx`) and the linear memory used.
 */
export function memory64Check(
  nCtx: number,
  options?: { wasm?: WasmFlavor },
): Promise<{ checksum: string; memoryBytes: number; kvBytes: number }>;

export interface GenerateOptions {
  /** Most tokens to generate (default 256). */
  maxTokens?: number;
  /** 0 = greedy. Defaults follow llama.cpp: 0.8, topK 40, topP 0.95, minP 0.05. */
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repeatPenalty?: number;
  repeatLastN?: number;
  frequencyPenalty?: number;
  presencePenalty?: number;
  seed?: number;
  /** Generation stops when the output contains one of these (not included in the output). */
  stop?: string[];
  /** Add BOS as the model's metadata says (default true). */
  addSpecial?: boolean;
  /** Parse special-token text such as `<start_of_turn>` (default true). */
  parseSpecial?: boolean;
  /** Never stop on an end-of-generation token. */
  ignoreEos?: boolean;
  /** Aborting rejects the iteration (and `result`) with an `AbortError`. */
  signal?: AbortSignal;
}

export interface Piece {
  /** Token id; -1 for a final piece that only completes a UTF-8 character. */
  id: number;
  /** 0-based index among the generated tokens (-1 for such a final piece). */
  index: number;
  /** Text made visible by this token (may be empty while held back for a stop string). */
  text: string;
}

export type StopReason =
  | 'max_tokens'
  | 'end_of_generation'
  | 'stop_string'
  | 'context_full'
  | 'cancelled';

export interface GenerationResult {
  text: string;
  tokens: number[];
  stopReason: StopReason;
  /** OpenAI's finish_reason: 'length', 'stop' or 'cancelled'. */
  finishReason: 'length' | 'stop' | 'cancelled';
  /** Which stop string matched, when stopReason is 'stop_string'. */
  stopIndex: number | null;
  usage: { promptTokens: number; completionTokens: number; cachedTokens: number };
}

export interface AbortError extends Error {
  name: 'AbortError';
  /** The partial result (stopReason 'cancelled'), when a generation was aborted. */
  result?: GenerationResult;
}

export class Generation implements AsyncIterable<Piece> {
  [Symbol.asyncIterator](): AsyncIterator<Piece>;
  /** Resolves when the generation ends; rejects with the error (e.g. AbortError) that ended it. */
  readonly result: Promise<GenerationResult>;
  /** Runs to the end without looking at the pieces. */
  complete(): Promise<GenerationResult>;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | string;
  content: string;
}

export interface ModelMetadata {
  architecture: string;
  name: string | null;
  file_size: number;
  tensor_count: number;
  parameters: number;
  hyperparameters: {
    context_length: number;
    embedding_length: number;
    block_count: number;
    feed_forward_length: number;
    head_count: number;
    head_count_kv: number;
    head_dim: number;
    vocab_size: number;
  };
  tokenizer: { vocab_size: number; bos: number | null; eos: number | null; add_bos: boolean };
  chat_template: boolean;
  /** The backend the engine runs on, e.g. "cpu (1 threads, simd128)" or "gpu (...)". */
  backend: string;
  /** GGUF key/values; arrays longer than 16 items become {type, element_type, len}. */
  metadata: Record<string, unknown>;
}

export class Model {
  /** The engine build running this model. */
  readonly wasmFlavor: WasmFlavor;
  /** 'gpu' when the model runs on WebGPU, else 'cpu' (what `LoadOptions.device` resolved to). */
  readonly device: 'cpu' | 'gpu';
  /** The WebGPU adapter (vendor, architecture as the browser describes it), or null. */
  readonly gpuAdapter: string | null;
  /** On the GPU: matrix products run per GPU kernel so far (e.g. matvec_q4_K_q8_K); else {}. */
  readonly gpuDispatchCounts: Record<string, number>;
  readonly metadata: ModelMetadata;
  /** For a model loaded with `streamBudget`, its layer cache's statistics; else null. */
  readonly streamStats: StreamStats | null;
  generate(prompt: string, options?: GenerateOptions): Generation;
  /** The assistant's reply, with the model's chat template (or the built-in one for its vocabulary). */
  chat(messages: ChatMessage[], options?: GenerateOptions): Generation;
  tokenize(text: string, options?: { addSpecial?: boolean; parseSpecial?: boolean }): number[];
  detokenize(ids: number[], options?: { removeSpecial?: boolean; unparseSpecial?: boolean }): string;
  applyChatTemplate(messages: ChatMessage[]): string;
  setContextSize(n: number): void;
  /** Forgets the conversation (KV cache). */
  reset(): void;
  /** Frees the model's memory; the object is unusable afterwards. */
  dispose(): void;
}

export interface KernelSelfCheck {
  /** 'simd128' (the simd and relaxed builds) or 'scalar'. */
  isa: string;
  /**
   * Weight type -> kernel name, e.g. "Q4_K": "vec_dot_q4_K_q8_K/simd128"; the relaxed build's
   * Q4_0/Q5_0/Q8_0 kernels end in "/relaxed-simd".
   */
  kernels: Record<string, string>;
  rows: number;
  /** Rows where the kernel's result differs from the scalar one in any bit. */
  mismatches: Array<{ type: string; row?: number; got?: number; want?: number; error?: string }>;
}

/** This engine's kernels against the scalar ones on random rows of every weight type. */
export function kernelSelfCheck(options?: {
  seed?: number;
  rows?: number;
  wasm?: 'auto' | 'relaxed' | 'simd' | 'scalar';
}): Promise<KernelSelfCheck>;
