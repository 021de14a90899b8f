// The GPU path in Debian's Chromium (headless, via playwright-core) with WebGPU turned on
// (--enable-unsafe-webgpu: Chromium's SwiftShader adapter, no real GPU needed) and JSPI (on by
// default since Chromium 137): the `gpu` engine build's WGSL kernels bit for bit against the
// scalar CPU ones on random data, then the chat page with device 'gpu' generates 16 greedy
// tokens of Gemma 3 270M equal to the CPU path's text and to native `chord run`, with every
// matrix product counted on a quantized GPU kernel. SwiftShader emulates the GPU on the CPU:
// about 4-10 s per token here, so the prompt is short and the test loads the model once.
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
const PROMPT = 'Once upon a time';

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
      '--enable-unsafe-webgpu',
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

/** Runs `gpuSelfCheck` of the package in a module Worker (where the page runs models too). */
async function selfCheckInWorker() {
  const origin = `http://127.0.0.1:${server.address().port}`;
  return page.evaluate(async (origin) => {
    const code = `
      import { gpuSelfCheck, probeWebGpu } from '${origin}/bindings/js/src/index.js';
      self.onmessage = async () => {
        try {
          self.postMessage({ probe: await probeWebGpu(), check: await gpuSelfCheck({ seed: 3, rows: 16 }) });
        } catch (e) {
          self.postMessage({ error: String((e && e.message) || e) });
        }
      };`;
    const url = URL.createObjectURL(new Blob([code], { type: 'text/javascript' }));
    const w = new Worker(url, { type: 'module' });
    const r = await new Promise((resolve) => {
      w.onmessage = ({ data }) => resolve(data);
      w.onerror = (e) => resolve({ error: e.message || 'worker error' });
      w.postMessage(0);
    });
    w.terminate();
    return r;
  }, origin);
}

// Quantized products (every weight type, 1 token on the matvec kernels, 5 on the tiled ones
// and their tail) and attention are bit-identical to the scalar CPU backend in the browser too.
// F16/F32 products are not: SwiftShader contracts their multiply-adds into FMAs (last-bit
// differences, ~1e-7 relative); the real models' products are all quantized.
test('WebGPU kernels (SwiftShader) equal the scalar CPU ones bit for bit', async (t) => {
  const r = await selfCheckInWorker();
  assert.equal(r.error, undefined, r.error);
  assert.equal(r.probe.ok, true, JSON.stringify(r.probe));
  t.diagnostic(`adapter: ${r.probe.adapter}`);
  assert.match(r.probe.adapter, /swiftshader/i);
  const { checked, mismatches } = r.check;
  assert.equal(checked.length, 20, JSON.stringify(checked));
  const exact = mismatches.filter((m) => !/^F(16|32) /.test(m.kernel));
  assert.deepEqual(exact, [], JSON.stringify(exact));
  for (const m of mismatches) {
    if (m.got === undefined) continue;
    assert.ok(Math.abs(m.got - m.want) <= 1e-5 * Math.max(1, Math.abs(m.want)), JSON.stringify(m));
  }
});

async function loadOn(device) {
  await page.selectOption('#device', device);
  await page.fill('#url', MODEL_URL);
  await page.evaluate(() => (document.querySelector('#status').textContent = ''));
  await page.click('#load-url');
  await page.waitForFunction(() => /^(Loaded |Error)/.test(document.querySelector('#status').textContent), null, {
    timeout: 120_000,
  });
  assert.match(await page.textContent('#status'), /^Loaded /);
  return page.textContent('#engine');
}

async function generate(maxTokens, timeout) {
  await page.selectOption('#mode', 'complete');
  await page.fill('#max-tokens', String(maxTokens));
  await page.fill('#temperature', '0');
  await page.evaluate(() => delete document.body.dataset.state);
  await page.fill('#prompt', PROMPT);
  await page.click('#send');
  await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.state), null, { timeout });
  assert.equal(await page.evaluate(() => document.body.dataset.state), 'done');
  return page.locator('.msg.assistant').last().textContent();
}

test("the page on device 'gpu': 16 greedy tokens equal the CPU path and native chord run", async (t) => {
  const want = nativeRun(GEMMA, PROMPT, 16);
  // The CPU path in the same page first (a second or two).
  assert.match(await loadOn('cpu'), /gemma3 · wasm relaxed · cpu$/);
  const cpuText = await generate(16, 60_000);
  assert.equal(cpuText, want);
  assert.equal(await page.textContent('#gpu-stats'), '');

  const engine = await loadOn('gpu');
  t.diagnostic(`engine: ${engine}`);
  console.log(`# chromium ran: ${engine}`);
  assert.match(engine, /gemma3 · wasm gpu · gpu \(WebGPU: .*swiftshader.*\)/i);
  const t0 = Date.now();
  const gpuText = await generate(16, 600_000);
  const secs = (Date.now() - t0) / 1000;
  t.diagnostic(`16 tokens on SwiftShader in ${secs.toFixed(1)} s`);
  console.log(`# webgpu (swiftshader): 16 tokens in ${secs.toFixed(1)} s`);
  assert.equal(gpuText, cpuText);
  assert.match(await page.textContent('#speed'), /^16 tokens · [\d.]+ tok\/s · max_tokens$/);

  // The GPU really ran: the page shows the products per WGSL kernel, every one quantized
  // (Gemma 3 270M Q4_K_M: Q4_K, Q5_0, Q6_K, Q8_0), the prompt's on the tiled matmul4 kernels.
  const stats = await page.textContent('#gpu-stats');
  t.diagnostic(stats);
  const counts = Object.fromEntries(
    stats
      .replace(/^GPU products: /, '')
      .split(', ')
      .map((kv) => kv.split(' '))
      .map(([k, n]) => [k, Number(n)]),
  );
  const kernels = Object.keys(counts);
  assert.ok(kernels.length >= 4, stats);
  for (const k of kernels) assert.match(k, /^(matvec|matmul4)_q\d_(K|0)_q8_(K|0)$/, stats);
  assert.ok(kernels.some((k) => k.startsWith('matmul4_')), stats);
  // 18 layers × 7 matrices (Q/K/V and gate/up as multi-products count each matrix) + the head,
  // per forward pass: the prompt's and 15 decode steps'.
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  assert.equal(total, 16 * (18 * 7 + 1), stats);
  await mkdir(outDir, { recursive: true });
  await page.screenshot({ path: path.join(outDir, 'web-chat-webgpu.png'), fullPage: true });
  assert.deepEqual(consoleLines.filter((l) => l.startsWith('pageerror')), []);
});
