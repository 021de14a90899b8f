// A tiny static server for the chat page: serves the repository (so /web/ and /bindings/js/
// resolve) and, under /models/, the model cache (~/.cache/wasm-chord/models or
// $CHORD_HOME/models). Loopback only. `node web/serve.mjs [port]`, then open
// http://127.0.0.1:PORT/web/ and load e.g. /models/gemma-3-270m-q4_k_m.gguf.
import { createServer } from 'node:http';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const models = process.env.CHORD_HOME
  ? path.join(process.env.CHORD_HOME, 'models')
  : path.join(homedir(), '.cache/wasm-chord/models');

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
};

/** Maps a URL path to a file inside `root` or `models`, or null (never outside them). */
function resolve(urlPath) {
  let p;
  try {
    p = decodeURIComponent(urlPath.split('?')[0]);
  } catch {
    return null;
  }
  const [base, rel] = p.startsWith('/models/') ? [models, p.slice(8)] : [root, p.slice(1)];
  const full = path.resolve(base, rel || '.');
  if (full !== base && !full.startsWith(base + path.sep)) return null;
  return full;
}

export function startServer(port = 0, host = '127.0.0.1') {
  const server = createServer(async (req, res) => {
    if (req.url === '/') {
      res.writeHead(302, { location: '/web/' }).end();
      return;
    }
    let file = resolve(req.url);
    try {
      if (!file) throw new Error('outside');
      let st = await stat(file);
      if (st.isDirectory()) {
        file = path.join(file, 'index.html');
        st = await stat(file);
      }
      const type = TYPES[path.extname(file)] || 'application/octet-stream';
      // One `bytes=first-last` range (what layer streaming's synchronous XHR asks for).
      const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range || '');
      if (m) {
        const first = Number(m[1]);
        const last = Math.min(m[2] ? Number(m[2]) : st.size - 1, st.size - 1);
        if (first > last) {
          res.writeHead(416, { 'content-range': `bytes */${st.size}` }).end();
          return;
        }
        res.writeHead(206, {
          'content-type': type,
          'content-length': last - first + 1,
          'content-range': `bytes ${first}-${last}/${st.size}`,
          'accept-ranges': 'bytes',
          'cache-control': 'no-cache',
        });
        if (req.method === 'HEAD') res.end();
        else createReadStream(file, { start: first, end: last }).pipe(res);
        return;
      }
      res.writeHead(200, {
        'content-type': type,
        'content-length': st.size,
        'accept-ranges': 'bytes',
        'cache-control': 'no-cache',
      });
      if (req.method === 'HEAD') res.end();
      else createReadStream(file).pipe(res);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  return new Promise((ok) => server.listen(port, host, () => ok(server)));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const server = await startServer(Number(process.argv[2] || 8080));
  console.log(`serving http://127.0.0.1:${server.address().port}/web/ (models from ${models})`);
}
