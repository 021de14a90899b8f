// The chat page in Debian's Chromium (headless, via playwright-core): loads Gemma 3 270M from a
// localhost URL in the page's Web Worker, generates 16 tokens greedily, and the text equals the
// native `chord run`; Stop ends a long generation and the worker stays usable; a non-GGUF URL
// shows an error and a good model loads afterwards; without WebGPU (these default flags: no
// adapter), device 'gpu' is a clear error and 'auto' falls back to the CPU. Saves a screenshot
// under test-output/. (The GPU path itself: webgpu.test.mjs.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from '../serve.mjs';
import { modelPath, nativeRun } from '../../bindings/js/test/native.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const outDir = process.env.CHORD_TEST_OUTPUT || path.resolve(here, '../../target/test-output');
const GEMMA = modelPath('gemma3-270m');
const MODEL_URL = `/models/${path.basename(GEMMA)}`;

let server;
let browser;
let page;
const consoleLines = [];

before(async () => {
  server = await startServer(0);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
  page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
  await page.goto(`http://127.0.0.1:${server.address().port}/web/`);
});

after(async () => {
  await browser?.close();
  server?.close();
});

async function loadUrl(url) {
  await page.fill('#url', url);
  await page.click('#load-url');
}

async function send(text, { mode = 'complete', maxTokens = 16, temperature = 0 } = {}) {
  await page.selectOption('#mode', mode);
  await page.fill('#max-tokens', String(maxTokens));
  await page.fill('#temperature', String(temperature));
  await page.evaluate(() => delete document.body.dataset.state);
  await page.fill('#prompt', text);
  await page.click('#send');
}

const lastReply = () => page.locator('.msg.assistant').last().textContent();

test('a bad URL shows an error; the page loads Gemma from a localhost URL', async (t) => {
  await loadUrl('/web/index.html'); // not a GGUF file
  await page.waitForSelector('#status.error', { timeout: 30_000 });
  assert.match(await page.textContent('#status'), /Error: .*(GGUF|magic)/i);
  // No WebGPU adapter without --enable-unsafe-webgpu: 'gpu' says so, 'auto' takes the CPU.
  await page.evaluate(() => (document.querySelector('#status').textContent = ''));
  await page.selectOption('#device', 'gpu');
  await loadUrl(MODEL_URL);
  await page.waitForFunction(() => /^Error/.test(document.querySelector('#status').textContent), null, {
    timeout: 30_000,
  });
  assert.match(await page.textContent('#status'), /^Error: wasm-chord: device 'gpu': .*no adapter/);
  await page.selectOption('#device', 'auto');
  await loadUrl(MODEL_URL);
  await page.waitForFunction(() => /^Loaded /.test(document.querySelector('#status').textContent), null, {
    timeout: 120_000,
  });
  // Which engine build the page runs (Debian's Chromium has relaxed SIMD, so 'auto' takes it).
  const engine = await page.textContent('#engine');
  t.diagnostic(`engine: ${engine}`);
  console.log(`# chromium ran: ${engine}`);
  assert.match(engine, /^gemma3 · wasm relaxed · cpu$/);
});

test('16 greedy tokens in the page equal native chord run; tokens/s shown', async () => {
  const prompt = 'Once upon a time';
  const want = nativeRun(GEMMA, prompt, 16);
  await send(prompt);
  await page.waitForFunction(() => document.body.dataset.state === 'done', null, { timeout: 120_000 });
  assert.equal(await lastReply(), want);
  assert.match(await page.textContent('#speed'), /^16 tokens · [\d.]+ tok\/s · max_tokens$/);
  await mkdir(outDir, { recursive: true });
  await page.screenshot({ path: path.join(outDir, 'web-chat.png'), fullPage: true });
});

test('Stop ends a long generation; the worker stays usable', async () => {
  await send('Write a long story about a lighthouse.', { mode: 'chat', maxTokens: 400, temperature: 0.8 });
  await page.waitForFunction(() => /tok\/s/.test(document.querySelector('#speed').textContent), null, {
    timeout: 60_000,
  });
  await page.click('#stop');
  await page.waitForFunction(() => document.body.dataset.state === 'stopped', null, { timeout: 30_000 });
  const n = Number((await page.textContent('#speed')).split(' ')[0]);
  assert.ok(n > 0 && n < 400, `stopped after ${n} tokens`);
  // Usable afterwards: a greedy completion still equals native.
  await send('The capital of France is', { maxTokens: 8 });
  await page.waitForFunction(() => document.body.dataset.state === 'done', null, { timeout: 60_000 });
  assert.equal(await lastReply(), nativeRun(GEMMA, 'The capital of France is', 8));
  assert.deepEqual(consoleLines.filter((l) => l.startsWith('pageerror')), []);
});

// Layer streaming in a browser Web Worker: the model stays outside wasm memory and is read by
// synchronous XHR Range requests (from the URL) or FileReaderSync (from a Blob), a quarter of
// the file at a time at most; 8 greedy tokens equal native `chord run` (each token re-reads
// ~190 MB over localhost: ~20 s per source here).
test('a Worker streams Gemma from a Range URL and from a Blob with a quarter budget', async () => {
  const prompt = 'The capital of France is';
  const want = nativeRun(GEMMA, prompt, 8);
  const origin = `http://127.0.0.1:${server.address().port}`;
  const results = await page.evaluate(
    async ({ origin, url, prompt }) => {
      const code = `
        import { loadModel } from '${origin}/bindings/js/src/index.js';
        self.onmessage = async ({ data }) => {
          try {
            const src = data.blob ? await (await fetch(data.url)).blob() : data.url;
            const size = data.blob ? src.size : Number((await fetch(data.url, { method: 'HEAD' })).headers.get('content-length'));
            const m = await loadModel(src, { streamBudget: Math.floor(size / 4) });
            const r = await m.generate(data.prompt, { maxTokens: 8, temperature: 0 }).complete();
            self.postMessage({ text: r.text, stats: m.streamStats, size });
            m.dispose();
          } catch (e) {
            self.postMessage({ error: String(e && e.message || e) });
          }
        };`;
      const workerUrl = URL.createObjectURL(new Blob([code], { type: 'text/javascript' }));
      const run = (blob) =>
        new Promise((resolve) => {
          const w = new Worker(workerUrl, { type: 'module' });
          w.onmessage = ({ data }) => {
            w.terminate();
            resolve(data);
          };
          w.onerror = (e) => resolve({ error: e.message || 'worker error' });
          w.postMessage({ url: origin + url, prompt, blob });
        });
      return { url: await run(false), blob: await run(true) };
    },
    { origin, url: MODEL_URL, prompt },
  );
  for (const [how, r] of Object.entries(results)) {
    assert.equal(r.error, undefined, `${how}: ${r.error}`);
    assert.equal(r.text, want, how);
    assert.ok(r.stats.misses > 0 && r.stats.bytesRead > r.size, `${how}: ${JSON.stringify(r.stats)}`);
    assert.ok(r.stats.residentBytes <= r.size / 4, how);
  }
});
