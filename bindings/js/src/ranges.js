// Synchronous random access to a model file, for layer streaming: the wasm engine calls
// `readAt(offset, dst)` in the middle of a forward pass and cannot wait for a promise, so every
// reader here blocks: `fs.readSync` on a file descriptor (Node), `FileReaderSync` on
// `Blob.slice` (Web Workers only), or a synchronous XHR with a `Range` header (Web Workers; the
// main thread allows it too but freezes the page). `readAt` never throws: it returns an error
// message, which the engine turns into a JS Error for the generation (no exception unwinds
// through wasm).

import { isNode } from './runtime.js';

/** Opens `source` for random access: `{ size, reader: { readAt }, label, close() }`. */
export async function openRanges(source) {
  if (typeof Blob !== 'undefined' && source instanceof Blob) return blobRanges(source);
  if (source instanceof URL || typeof source === 'string') {
    const str = String(source);
    if (isNode && !/^(https?|blob|data):/i.test(str)) return nodeFileRanges(str);
    return xhrRanges(str);
  }
  throw new TypeError(
    'streamBudget needs a source with random access: a file path (Node), a Blob/File, or a URL',
  );
}

function reader(label, read) {
  return {
    readAt(offset, dst) {
      try {
        read(offset, dst);
        return undefined;
      } catch (e) {
        return `${label}: ${e && e.message ? e.message : String(e)}`;
      }
    },
  };
}

async function nodeFileRanges(path) {
  const fs = await import('node:fs');
  const p = path.startsWith('file:') ? new URL(path) : path;
  let fd;
  try {
    fd = fs.openSync(p, 'r');
  } catch (e) {
    throw new Error(`cannot open model file ${path}: ${e.message}`);
  }
  const size = fs.fstatSync(fd).size;
  const label = `file ${path}`;
  return {
    size,
    label,
    reader: reader(label, (offset, dst) => {
      for (let done = 0; done < dst.length; ) {
        const n = fs.readSync(fd, dst, done, dst.length - done, offset + done);
        if (n === 0) throw new Error(`unexpected end of file at byte ${offset + done}`);
        done += n;
      }
    }),
    close() {
      if (fd !== null) fs.closeSync(fd);
      fd = null;
    },
  };
}

function blobRanges(blob) {
  if (typeof FileReaderSync === 'undefined') {
    throw new Error(
      'streaming from a Blob/File needs FileReaderSync: load the model in a Web Worker',
    );
  }
  const label = blob.name ? `file ${blob.name}` : 'blob';
  const fr = new FileReaderSync();
  return {
    size: blob.size,
    label,
    reader: reader(label, (offset, dst) => {
      const buf = fr.readAsArrayBuffer(blob.slice(offset, offset + dst.length));
      if (buf.byteLength !== dst.length) throw new Error(`short read at byte ${offset}`);
      dst.set(new Uint8Array(buf));
    }),
    close() {},
  };
}

function xhrRanges(url) {
  if (typeof XMLHttpRequest === 'undefined') {
    throw new Error(
      'streaming from a URL needs synchronous XMLHttpRequest (a browser Web Worker); in Node give a file path',
    );
  }
  const get = (first, last) => {
    const xhr = new XMLHttpRequest();
    xhr.open('GET', url, false);
    xhr.setRequestHeader('Range', `bytes=${first}-${last}`);
    // Bytes from a synchronous request: an ArrayBuffer where allowed (workers), else text with
    // one char per byte.
    let binary = true;
    try {
      xhr.responseType = 'arraybuffer';
    } catch {
      binary = false;
      xhr.overrideMimeType('text/plain; charset=x-user-defined');
    }
    xhr.send();
    if (xhr.status !== 206) {
      throw new Error(`HTTP ${xhr.status} for a Range request (the server must support Range)`);
    }
    let bytes;
    if (binary) {
      bytes = new Uint8Array(xhr.response);
    } else {
      const t = xhr.responseText;
      bytes = new Uint8Array(t.length);
      for (let i = 0; i < t.length; i++) bytes[i] = t.charCodeAt(i) & 0xff;
    }
    return { bytes, range: xhr.getResponseHeader('Content-Range') };
  };
  let size;
  try {
    const { range } = get(0, 0);
    size = Number(/\/(\d+)\s*$/.exec(range || '')?.[1]);
  } catch (e) {
    throw new Error(`cannot stream ${url}: ${e.message}`);
  }
  if (!Number.isFinite(size) || size <= 0) {
    throw new Error(`cannot stream ${url}: no file size in the Content-Range header`);
  }
  return {
    size,
    label: url,
    reader: reader(url, (offset, dst) => {
      const { bytes } = get(offset, offset + dst.length - 1);
      if (bytes.length !== dst.length) throw new Error(`short read at byte ${offset}`);
      dst.set(bytes);
    }),
    close() {},
  };
}
