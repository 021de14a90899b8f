// Which device a model runs on: 'cpu' (the wasm builds' own kernels) or 'gpu' (the `gpu` build:
// chord-gpu's WGSL kernels on the browser's WebGPU, reached through JSPI). 'auto' takes the GPU
// where it can run and the CPU otherwise.
import { jspiSupported } from './jspi.js';

export const DEVICES = ['cpu', 'gpu', 'auto'];

/**
 * Whether the GPU path can run here: `{ ok: true, adapter }` (the adapter's vendor and
 * architecture as the browser describes it), or `{ ok: false, why }` in words for an Error.
 * Needs JSPI (Chromium >= 137) and a WebGPU adapter (`navigator.gpu.requestAdapter()`; headless
 * Chromium gives its SwiftShader one with --enable-unsafe-webgpu).
 */
export async function probeWebGpu() {
  if (!jspiSupported()) {
    return {
      ok: false,
      why: 'this JavaScript engine lacks JSPI (WebAssembly.Suspending and WebAssembly.promising; Chromium >= 137)',
    };
  }
  const gpu = typeof navigator !== 'undefined' ? navigator.gpu : undefined;
  if (!gpu) return { ok: false, why: 'WebGPU is not available here (no navigator.gpu)' };
  let adapter;
  try {
    adapter = await gpu.requestAdapter();
  } catch (e) {
    return { ok: false, why: `navigator.gpu.requestAdapter() failed: ${e && e.message}` };
  }
  if (!adapter) {
    return {
      ok: false,
      why: 'navigator.gpu.requestAdapter() found no adapter (WebGPU disabled or blocklisted here)',
    };
  }
  const i = adapter.info || {};
  const words = [i.vendor, i.architecture, i.description].filter((w) => w);
  return { ok: true, adapter: words.join(' ') || 'unnamed adapter' };
}
