// Model sources, each read as a stream of chunks into the engine's loader: a URL (fetch, with
// progress), an ArrayBuffer / typed array, a Blob or File, a fetch Response, or (Node) a path.
// Chunks keep peak memory near one copy of the file: the bytes go straight into wasm memory.

import { isNode } from './runtime.js';

const CHUNK = 16 << 20;

/**
 * Awaits `sink.begin(totalOrNull)`, then `sink.write(chunk)` per chunk; returns a label naming
 * the source for error messages.
 */
export async function readSource(source, sink, signal) {
  const check = () => {
    if (signal && signal.aborted) throw abortError('model loading aborted');
  };
  check();
  if (typeof Response !== 'undefined' && source instanceof Response) {
    await readResponse(source, 'response', sink, check);
    return 'response';
  }
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
    const bytes = source instanceof ArrayBuffer
      ? new Uint8Array(source)
      : new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
    await sink.begin(bytes.byteLength);
    for (let at = 0; at < bytes.byteLength; at += CHUNK) {
      check();
      sink.write(bytes.subarray(at, at + CHUNK));
    }
    return 'buffer';
  }
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    const label = source.name ? `file ${source.name}` : 'blob';
    await sink.begin(source.size);
    for (let at = 0; at < source.size; at += CHUNK) {
      check();
      sink.write(new Uint8Array(await source.slice(at, at + CHUNK).arrayBuffer()));
    }
    return label;
  }
  if (source instanceof URL || typeof source === 'string') {
    const str = String(source);
    if (isNode && !/^(https?|blob|data):/i.test(str)) {
      await readNodeFile(str, sink, check);
      return `file ${str}`;
    }
    let res;
    try {
      res = await fetch(source, { signal });
    } catch (e) {
      if (e && e.name === 'AbortError') throw abortError('model loading aborted');
      throw new Error(`cannot fetch ${str}: ${e.message}`);
    }
    if (!res.ok) throw new Error(`cannot fetch ${str}: HTTP ${res.status} ${res.statusText}`);
    await readResponse(res, str, sink, check);
    return str;
  }
  throw new TypeError(
    'model source must be a URL, a string (URL, or a path in Node), an ArrayBuffer, a typed array, a Blob/File or a Response',
  );
}

async function readResponse(res, label, sink, check) {
  // Content-Length is the file size only when the body is not content-encoded.
  const len = res.headers.get('content-encoding') ? null : Number(res.headers.get('content-length'));
  await sink.begin(Number.isFinite(len) && len > 0 ? len : null);
  if (!res.body) throw new Error(`${label}: response has no body`);
  const reader = res.body.getReader();
  for (;;) {
    check();
    let r;
    try {
      r = await reader.read();
    } catch (e) {
      if (e && e.name === 'AbortError') throw abortError('model loading aborted');
      throw new Error(`${label}: download failed: ${e.message}`);
    }
    if (r.done) break;
    sink.write(r.value);
  }
}

async function readNodeFile(path, sink, check) {
  const { open } = await import('node:fs/promises');
  const p = path.startsWith('file:') ? new URL(path) : path;
  let fh;
  try {
    fh = await open(p, 'r');
  } catch (e) {
    throw new Error(`cannot open model file ${path}: ${e.message}`);
  }
  try {
    const { size } = await fh.stat();
    await sink.begin(size);
    const buf = new Uint8Array(Math.min(CHUNK, Math.max(size, 1)));
    for (let at = 0; at < size; ) {
      check();
      const { bytesRead } = await fh.read(buf, 0, buf.length, at);
      if (bytesRead === 0) break; // file shrank: the loader reports the short read
      sink.write(buf.subarray(0, bytesRead));
      at += bytesRead;
    }
  } finally {
    await fh.close();
  }
}

export function abortError(message) {
  const e = new Error(message);
  e.name = 'AbortError';
  return e;
}
