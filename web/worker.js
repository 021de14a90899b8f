// Runs the model off the page's thread. Messages in: {type: 'load', source (URL string or
// File), device ('cpu' | 'gpu' | 'auto')}, {type: 'generate', mode: 'chat'|'complete', messages | prompt, options}, {type: 'stop'},
// {type: 'reset'}. Out: progress, loaded, piece, done, error (each with `type`).
import { loadModel } from '../bindings/js/src/index.js';

let model = null;
let running = null; // AbortController of the generation in progress

self.onmessage = async ({ data }) => {
  try {
    if (data.type === 'load') await load(data.source, data.device);
    else if (data.type === 'generate') await generate(data);
    else if (data.type === 'stop') running?.abort();
    else if (data.type === 'reset') model?.reset();
  } catch (e) {
    self.postMessage({ type: 'error', op: data.type, message: e.message || String(e) });
  }
};

async function load(source, device = 'cpu') {
  running?.abort();
  model?.dispose();
  model = null;
  const t0 = performance.now();
  model = await loadModel(source, {
    device,
    onProgress: ({ loaded, total }) => self.postMessage({ type: 'progress', loaded, total }),
  });
  const m = model.metadata;
  self.postMessage({
    type: 'loaded',
    name: m.name || m.architecture,
    architecture: m.architecture,
    bytes: m.file_size,
    flavor: model.wasmFlavor,
    device: model.device,
    adapter: model.gpuAdapter,
    seconds: (performance.now() - t0) / 1000,
  });
}

async function generate({ mode, prompt, messages, options }) {
  if (!model) throw new Error('no model loaded');
  const ctl = new AbortController();
  running = ctl;
  const opts = { ...options, signal: ctl.signal };
  const gen = mode === 'chat' ? model.chat(messages, opts) : model.generate(prompt, opts);
  let first = 0;
  let n = 0;
  try {
    for await (const piece of gen) {
      if (piece.id >= 0) {
        n += 1;
        if (n === 1) first = performance.now();
      }
      // tokens/s over decoding (after the first token, which also paid for the prompt)
      const secs = (performance.now() - first) / 1000;
      const tps = n > 1 && secs > 0 ? (n - 1) / secs : null;
      self.postMessage({ type: 'piece', text: piece.text, tokens: n, tokensPerSecond: tps });
    }
    const r = await gen.result;
    self.postMessage({ type: 'done', result: r, tokensPerSecond: rate(n, first), gpu: model.gpuDispatchCounts });
  } catch (e) {
    if (e.name === 'AbortError') {
      self.postMessage({ type: 'done', result: e.result, stopped: true, tokensPerSecond: rate(n, first) });
    } else {
      throw e;
    }
  } finally {
    if (running === ctl) running = null;
  }
}

function rate(n, first) {
  const secs = (performance.now() - first) / 1000;
  return n > 1 && secs > 0 ? (n - 1) / secs : null;
}
