// `chord serve` driven by the official `openai` npm package: completion, chat, streaming, with
// greedy output equal to `chord run`. Usage: node sdk_test.mjs PATH/TO/chord NODE_MODULES_DIR.
// Starts the server on 127.0.0.1 (free port), stops it at the end, prints cargo-style
// "test result: ok. N passed; M failed" for scripts/test.sh.
import { spawn, execFileSync } from "node:child_process";
import { createServer } from "node:net";
import { createRequire } from "node:module";
import path from "node:path";

const [chord, modules] = process.argv.slice(2);
const require = createRequire(path.join(modules, "noop.js"));
const OpenAI = require("openai").default ?? require("openai");
const MODEL = "gemma3-270m";
const PROMPT = "Once upon a time";

const freePort = () =>
  new Promise((res) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const assertEq = (a, b, what) => {
  if (a !== b) throw new Error(`${what}: ${JSON.stringify(a)} != ${JSON.stringify(b)}`);
};

const port = await freePort();
const server = spawn(chord, ["serve", "-m", MODEL, "--port", String(port), "--slots", "4", "--ctx", "1024"], {
  stdio: ["ignore", "inherit", "inherit"],
});
const base = `http://127.0.0.1:${port}`;
let passed = 0;
let failed = 0;
try {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      const r = await fetch(`${base}/health`);
      if (r.status === 200) break;
    } catch {}
    if (Date.now() > deadline || server.exitCode !== null) throw new Error("server did not become ready");
    await sleep(200);
  }
  const want = execFileSync(chord, ["run", "-m", MODEL, "-p", PROMPT, "-n", "24", "--temp", "0"], {
    stdio: ["ignore", "pipe", "ignore"],
  }).toString();
  const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: "unused", maxRetries: 0, timeout: 120_000 });
  const tests = {
    completion: async () => {
      const r = await client.completions.create({ model: MODEL, prompt: PROMPT, max_tokens: 24, temperature: 0 });
      assertEq(r.choices[0].text, want, "text");
      assertEq(r.usage.completion_tokens, 24, "completion_tokens");
    },
    completion_stream: async () => {
      const s = await client.completions.create({ model: MODEL, prompt: PROMPT, max_tokens: 24, temperature: 0, stream: true });
      let text = "";
      for await (const c of s) text += c.choices[0]?.text ?? "";
      assertEq(text, want, "streamed text");
    },
    chat: async () => {
      const messages = [{ role: "user", content: "Name three colours." }];
      const r = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 16, temperature: 0 });
      const text = r.choices[0].message.content;
      if (!text) throw new Error("empty chat reply");
      const s = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 16, temperature: 0, stream: true });
      let streamed = "";
      for await (const c of s) streamed += c.choices[0]?.delta?.content ?? "";
      assertEq(streamed, text, "streamed chat");
    },
    errors: async () => {
      try {
        await client.completions.create({ model: MODEL, prompt: PROMPT, max_tokens: 1e9 });
        throw new Error("huge max_tokens accepted");
      } catch (e) {
        if (!(e instanceof OpenAI.BadRequestError)) throw e;
        assertEq(e.code, "invalid_value", "error code");
      }
    },
  };
  for (const [name, f] of Object.entries(tests)) {
    try {
      await f();
      console.log(`test ${name} ... ok`);
      passed++;
    } catch (e) {
      console.log(`test ${name} ... FAILED\n${e.stack ?? e}`);
      failed++;
    }
  }
} catch (e) {
  console.log(`test setup ... FAILED\n${e.stack ?? e}`);
  failed++;
} finally {
  server.kill("SIGTERM");
  const code = await Promise.race([
    new Promise((r) => server.once("exit", (c) => r(c))),
    sleep(30_000).then(() => "timeout"),
  ]);
  if (code === 0) {
    console.log("test graceful_exit ... ok");
    passed++;
  } else {
    console.log(`test graceful_exit ... FAILED (${code})`);
    server.kill("SIGKILL");
    failed++;
  }
}
console.log(`test result: ${failed ? "FAILED" : "ok"}. ${passed} passed; ${failed} failed`);
process.exit(failed ? 1 : 0);
