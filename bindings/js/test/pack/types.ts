// Compiled (--noEmit, strict) against the installed tarball by scripts/test.d/npm-pack.sh: the
// package's types must resolve for a TypeScript user, for the engine and the client alike.
import {
  loadModel,
  probeWebGpu,
  type Device,
  Client,
  AuthenticationError,
  type ClientResult,
  type StreamStats,
  type TokenEvent,
} from 'wasm-chord';
import { Client as ClientOnly, type ClientOptions } from 'wasm-chord/client';

export async function run(path: string): Promise<string> {
  const model = await loadModel(path, { contextSize: 512 });
  const gen = model.generate('Hi', { maxTokens: 4, temperature: 0 });
  return (await gen.result).text;
}

export async function onDevice(path: string, device: Device): Promise<string> {
  const probe = await probeWebGpu();
  const why: string = probe.ok ? probe.adapter : probe.why;
  const model = await loadModel(path, { device, wasm: 'auto' });
  const on: 'cpu' | 'gpu' = model.device;
  const counts: Record<string, number> = model.gpuDispatchCounts;
  return `${why} ${on} ${model.gpuAdapter ?? ''} ${Object.keys(counts).length} ${model.metadata.backend}`;
}

export async function streamed(path: string): Promise<number> {
  const model = await loadModel(path, { streamBudget: 64 << 20 });
  await model.generate('Hi', { maxTokens: 2, temperature: 0 }).complete();
  const stats: StreamStats | null = model.streamStats;
  return stats ? stats.hitRate : -1;
}

export async function talk(url: string): Promise<[ClientResult, TokenEvent[]]> {
  const options: ClientOptions = { apiKey: 'sk', auth: 'message', maxAttempts: 3 };
  const client: Client = new ClientOnly(url, options);
  const events: TokenEvent[] = [];
  for await (const ev of client.stream('Hi', { maxTokens: 4 })) events.push(ev);
  try {
    return [await client.chat([{ role: 'user', content: 'Hi' }], { temperature: 0 }), events];
  } catch (e) {
    if (e instanceof AuthenticationError) throw new Error(`${e.code} ${e.status}`);
    throw e;
  } finally {
    client.close();
  }
}
