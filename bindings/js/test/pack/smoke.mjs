// Smoke test of the npm tarball, run by scripts/test.d/npm-pack.sh from a fresh directory where
// `npm install ./wasm-chord-*.tgz` put the package: it must load Gemma 3 270M from the model
// cache and generate greedy tokens equal to the native `chord run`'s, and export the WebSocket
// client from both entry points. Usage: node smoke.mjs MODEL.gguf PROMPT N EXPECTED_TEXT
// Prints one "test NAME ... ok|FAILED" line per check.
import assert from 'node:assert/strict';
import * as pkg from 'wasm-chord';
import * as clientOnly from 'wasm-chord/client';

const [modelPath, prompt, n, expected] = process.argv.slice(2);
let failed = 0;

async function check(name, f) {
  try {
    await f();
    console.log(`test ${name} ... ok`);
  } catch (e) {
    failed++;
    console.log(`test ${name} ... FAILED\n${e?.stack ?? e}`);
  }
}

await check('tarball_greedy_equals_native', async () => {
  const model = await pkg.loadModel(modelPath);
  let text = '';
  const gen = model.generate(prompt, { maxTokens: Number(n), temperature: 0 });
  for await (const piece of gen) text += piece.text;
  const result = await gen.result;
  assert.equal(text, expected);
  assert.equal(result.usage.completionTokens, Number(n));
});

await check('tarball_exports_client', async () => {
  assert.equal(typeof pkg.Client, 'function');
  assert.equal(pkg.Client, clientOnly.Client);
  for (const name of ['ClientError', 'ServerError', 'AuthenticationError', 'RateLimitError',
    'ConnectionClosedError', 'ReconnectFailedError']) {
    assert.equal(typeof pkg[name], 'function', name);
  }
  // No global WebSocket on Node 20 and none given: a typed error, not a crash on first use.
  if (!globalThis.WebSocket) assert.throws(() => new pkg.Client('ws://127.0.0.1:1/v1/ws'), pkg.ClientError);
});

process.exit(failed ? 1 : 0);
