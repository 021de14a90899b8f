// The WebSocket client (src/client.ts, compiled into dist/) against a real
// `chord serve -m gemma3-270m` on 127.0.0.1 (a free port, a tenants file), on Node 20 through the
// `ws` package. Greedy output must equal the native `chord run`'s; the reconnect tests kill the
// server and start it again on the same port, so they come last.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WebSocket } from 'ws';
import {
  Client,
  ClientError,
  ServerError,
  AuthenticationError,
  RateLimitError,
  ConnectionClosedError,
  ReconnectFailedError,
} from '../src/index.js';
import * as clientOnly from '../dist/client.js';
import { chordBin } from './native.mjs';

const MODEL = 'gemma3-270m';
const PROMPT = 'Once upon a time';
const LONG = { maxTokens: 300, ignoreEos: true };
const TENANTS = `
[tenants.alice]
api_keys = ["sk-alice"]

[tenants.carol]
api_keys = ["sk-carol"]
max_concurrent = 1
`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let dir;
let port;
let proc = null;
let url;
let want;

const freePort = () =>
  new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });

function spawnServer() {
  proc = spawn(
    chordBin,
    ['serve', '-m', MODEL, '--port', String(port), '--slots', '4', '--ctx', '1024',
      '--tenants', path.join(dir, 'tenants.toml'), '--shutdown-grace', '1'],
    { stdio: ['ignore', 'ignore', 'ignore'] },
  );
  const p = proc;
  p.exited = new Promise((r) => p.once('exit', (code, sig) => r(code ?? sig)));
}

async function startServer() {
  spawnServer();
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).status === 200) return;
    } catch {}
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error('chord serve did not become ready');
    await sleep(100);
  }
}

async function killServer() {
  if (proc && proc.exitCode === null && proc.signalCode === null) {
    proc.kill('SIGKILL');
    await proc.exited;
  }
}

const running = () => proc && proc.exitCode === null && proc.signalCode === null;
const client = (opts = {}) => new Client(url, { WebSocket, apiKey: 'sk-alice', ...opts });

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'chord-client-'));
  await writeFile(path.join(dir, 'tenants.toml'), TENANTS);
  port = await freePort();
  url = `ws://127.0.0.1:${port}/v1/ws`;
  await startServer();
  const r = spawnSync(chordBin, ['run', '-m', MODEL, '-p', PROMPT, '-n', '24', '--temp', '0'], { maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`chord run failed: ${r.stderr}`);
  want = r.stdout.toString();
});

after(async () => {
  if (running()) {
    proc.kill('SIGTERM');
    await Promise.race([proc.exited, sleep(30_000)]);
    await killServer();
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('greedy generate equals chord run (auth message and bearer header)', async () => {
  for (const auth of ['message', 'header']) {
    const c = client({ auth });
    try {
      const r = await c.generate(PROMPT, { maxTokens: 24, temperature: 0 });
      assert.equal(r.text, want, auth);
      assert.equal(r.finishReason, 'length');
      assert.equal(r.usage.completionTokens, 24);
      assert.equal(r.usage.totalTokens, r.usage.promptTokens + 24);
      assert.deepEqual([c.tenant, c.model], ['alice', MODEL]);
    } finally {
      c.close();
    }
  }
});

test('streamed pieces join to the final text', async () => {
  const c = client();
  try {
    const gen = c.stream(PROMPT, { maxTokens: 24, temperature: 0 });
    const events = [];
    for await (const ev of gen) events.push(ev);
    const r = await gen.result;
    assert.ok(events.length > 1);
    assert.ok(events.every((e) => e.text && e.id === gen.id));
    assert.deepEqual(events.map((e) => e.index), events.map((e) => e.index).sort((a, b) => a - b));
    assert.equal(events.map((e) => e.text).join(''), want);
    assert.equal(r.text, want);
    // Two loops over one generation each see every event.
    const shared = c.stream(PROMPT, { maxTokens: 24, temperature: 0 });
    const join = async () => {
      let t = '';
      for await (const ev of shared) t += ev.text;
      return t;
    };
    assert.deepEqual(await Promise.all([join(), join()]), [want, want]);
  } finally {
    c.close();
  }
});

test('chat equals the HTTP chat completion of the same server', async () => {
  const messages = [{ role: 'user', content: 'Name three colours.' }];
  const http = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: 'Bearer sk-alice', 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, messages, max_tokens: 16, temperature: 0 }),
  }).then((r) => r.json());
  const c = client();
  try {
    const r = await c.chat(messages, { maxTokens: 16, temperature: 0 });
    assert.ok(r.text);
    assert.equal(r.text, http.choices[0].message.content);
  } finally {
    c.close();
  }
});

test('two generations on one socket, one cancelled (by cancel(id) and by AbortSignal)', async () => {
  const c = client();
  try {
    for (const how of ['cancel', 'signal']) {
      const ctl = new AbortController();
      const long = c.stream('Tell me a long story.', { ...LONG, signal: ctl.signal });
      const short = c.generate(PROMPT, { maxTokens: 24, temperature: 0 });
      for await (const _ of long) {
        if (how === 'cancel') c.cancel(long.id);
        else ctl.abort();
        break; // leaving the loop would cancel it too; the result still arrives
      }
      const a = await long.result;
      const b = await short;
      assert.equal(a.finishReason, 'cancelled', how);
      assert.ok(a.usage.completionTokens < LONG.maxTokens);
      assert.equal(b.text, want);
      assert.equal(b.finishReason, 'length');
    }
    assert.equal(c.connections, 1);
  } finally {
    c.close();
  }
});

test('a bad or missing key is an AuthenticationError', async () => {
  for (const auth of ['message', 'header']) {
    // A retry would wait 5 s first: the refusal must come sooner (a refused key is final).
    const c = client({ apiKey: 'sk-wrong', auth, maxAttempts: 3, backoffMs: 5000 });
    const t0 = Date.now();
    await assert.rejects(c.connect(), (e) => {
      assert.ok(e instanceof AuthenticationError && e instanceof ClientError, String(e));
      assert.equal(e.code, 'invalid_api_key');
      assert.equal(e.status, 401);
      return true;
    });
    assert.ok(Date.now() - t0 < 4000, 'a refused key is not retried');
    assert.equal(c.connections, 0);
    c.close();
  }
  const anon = new Client(url, { WebSocket, openTimeoutMs: 1500 });
  await assert.rejects(anon.connect(), AuthenticationError);
  anon.close();
});

test('rate limits carry retryAfter', async () => {
  const c = client({ apiKey: 'sk-carol' });
  try {
    const long = c.stream('Tell me a long story.', LONG);
    const it = long[Symbol.asyncIterator]();
    await it.next(); // running: carol's one concurrent request is taken
    await assert.rejects(c.generate(PROMPT, { maxTokens: 4 }), (e) => {
      assert.ok(e instanceof RateLimitError && e instanceof ServerError, String(e));
      assert.equal(e.code, 'too_many_concurrent_requests');
      assert.equal(e.status, 429);
      assert.ok(e.retryAfter > 0);
      return true;
    });
    long.cancel();
    assert.equal((await long.result).finishReason, 'cancelled');
  } finally {
    c.close();
  }
});

test('server errors carry the protocol code; bad options fail before sending', async () => {
  const c = client();
  try {
    await assert.rejects(c.generate(PROMPT, { maxTokens: 1e9, id: 'huge' }), (e) => {
      assert.ok(e instanceof ServerError && !(e instanceof AuthenticationError), String(e));
      assert.deepEqual([e.code, e.status, e.id], ['invalid_value', 400, 'huge']);
      return true;
    });
    const ok = await c.generate(PROMPT, { maxTokens: 2, temperature: 0 });
    assert.equal(ok.usage.completionTokens, 2);
    assert.throws(() => c.stream(PROMPT, { max_tokens: 3 }), TypeError);
    assert.throws(() => c.stream(42), TypeError);
    assert.throws(() => c.chatStream([{ role: 'user' }]), TypeError);
    assert.throws(() => c.cancel('nothing'), ClientError);
  } finally {
    c.close();
  }
  const saved = globalThis.WebSocket;
  try {
    delete globalThis.WebSocket; // Node 20 has none; Node >= 22 would supply it
    assert.throws(() => new Client(url), (e) => e instanceof ClientError && /WebSocket/.test(e.message));
  } finally {
    if (saved) globalThis.WebSocket = saved;
  }
  assert.throws(() => new Client(url, { WebSocket, maxAttempts: 0 }), RangeError);
  assert.throws(() => new Client(url, { auth: 'header' }), TypeError);
  assert.equal(clientOnly.Client, Client, 'wasm-chord/client is the same class');
});

test('reconnects with backoff after the server restarts', async () => {
  if (!running()) await startServer();
  const c = client({ maxAttempts: 10, backoffMs: 100, maxBackoffMs: 2000 });
  try {
    const long = c.stream('Tell me a long story.', LONG);
    await long[Symbol.asyncIterator]().next();
    await killServer();
    await assert.rejects(long.result, ConnectionClosedError);
    // The server comes back a second later; the next call reconnects meanwhile.
    const restart = sleep(1000).then(spawnServer);
    const r = await c.generate(PROMPT, { maxTokens: 24, temperature: 0 });
    await restart;
    assert.equal(r.text, want);
    assert.equal(c.connections, 2);
  } finally {
    c.close();
  }
});

test('gives up with ReconnectFailedError when the attempts run out', async () => {
  if (!running()) await startServer();
  const c = client({ maxAttempts: 3, backoffMs: 50 });
  try {
    await c.connect();
    await killServer();
    await sleep(300); // the socket's close reaches the client
    const t0 = Date.now();
    await assert.rejects(c.generate(PROMPT, { maxTokens: 4 }), (e) => {
      assert.ok(e instanceof ReconnectFailedError && e instanceof ConnectionClosedError, String(e));
      assert.equal(e.attempts, 3);
      return true;
    });
    assert.ok(Date.now() - t0 >= 50 + 100, 'it waited between the attempts');
  } finally {
    c.close();
  }
});
