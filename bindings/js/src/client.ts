// A client for the WebSocket protocol of `chord serve` (`GET /v1/ws`, docs/websocket.md), for
// browsers and Node. Compiled by `tsc` (tsconfig.client.json) into dist/client.js + .d.ts.
//
//   const client = new Client('ws://127.0.0.1:8080/v1/ws', { apiKey: 'sk-…' });
//   const { text } = await client.generate('Once upon a time', { maxTokens: 32, temperature: 0 });
//   for await (const ev of client.stream('Tell me a story')) process.stdout.write(ev.text);
//
// One socket carries every generation of the client, told apart by id. When the socket drops,
// the generations on it fail with ConnectionClosedError (the server cancels them, so they cannot
// resume) and the next call reconnects with exponential backoff, at most `maxAttempts` tries.
// It uses the global `WebSocket` (browsers, Node >= 22) or the constructor given as
// `options.WebSocket` (e.g. the `ws` package on Node 20).

/** The subset of the WHATWG WebSocket this client uses (the `ws` package has it too). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'message' | 'close' | 'error', listener: (ev: any) => void): void;
}

/** `new (url, protocols, options)`: the third argument is the `ws` package's (headers). */
export type WebSocketConstructor = new (url: string, protocols?: string | string[], options?: any) => WebSocketLike;

export interface ClientOptions {
  /** The tenant's API key; absent for an open server. */
  apiKey?: string;
  /**
   * How the key is sent: 'message' (default; the protocol's first `auth` message, which works in
   * browsers) or 'header' (`Authorization: Bearer` on the upgrade request: only constructors
   * that take headers, such as the `ws` package's).
   */
  auth?: 'message' | 'header';
  /** The WebSocket constructor; default `globalThis.WebSocket`. */
  WebSocket?: WebSocketConstructor;
  /** Connection attempts per (re)connect (default 5); a refused key is never retried. */
  maxAttempts?: number;
  /** First wait between attempts in ms (default 250), doubled each time up to `maxBackoffMs`. */
  backoffMs?: number;
  /** Longest wait between attempts in ms (default 8000). */
  maxBackoffMs?: number;
  /** Ms for the handshake and the server's `ready` (default 10000). */
  openTimeoutMs?: number;
}

export interface ClientChatMessage {
  role: string;
  content: string;
}

/** Generation options: the protocol's fields, camel-cased. */
export interface ClientGenerateOptions {
  /** Generation id, unique among this client's running ones; default a fresh one. */
  id?: string;
  model?: string;
  /** Without it the server generates until an end token, a stop string or the context's end. */
  maxTokens?: number;
  /** 0 = greedy; absent fields take llama.cpp's defaults, as `chord run`. */
  temperature?: number;
  topP?: number;
  topK?: number;
  minP?: number;
  repeatPenalty?: number;
  frequencyPenalty?: number;
  presencePenalty?: number;
  seed?: number;
  stop?: string | string[];
  ignoreEos?: boolean;
  /** Aborting cancels the generation (it then ends with finishReason 'cancelled'). */
  signal?: AbortSignal;
}

export interface TokenEvent {
  id: string;
  /** 0-based index of the generated token (the last event may equal the token count). */
  index: number;
  /** Text this token makes safe to show (never empty). */
  text: string;
}

export interface ClientUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  /** Prompt tokens reused from the server's prefix cache. */
  cachedTokens: number;
}

export interface ClientResult {
  id: string;
  text: string;
  finishReason: 'stop' | 'length' | 'cancelled';
  usage: ClientUsage;
}

/** Base class of every error of the client. */
export class ClientError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * An `error` message of the protocol: `code` (e.g. 'invalid_value'), `status` (the HTTP
 * status the same failure gets) and the generation's `id` (null when tied to none).
 */
export class ServerError extends ClientError {
  readonly code: string;
  readonly status: number;
  readonly id: string | null;
  constructor(message: string, code: string, status: number, id: string | null = null) {
    super(`${code} (${status}): ${message}`);
    this.code = code;
    this.status = status;
    this.id = id;
  }
}

/** A missing or wrong API key (`invalid_api_key`, 401). Never retried. */
export class AuthenticationError extends ServerError {}

/** The tenant's concurrency or tokens-per-minute limit (429); `retryAfter` in seconds. */
export class RateLimitError extends ServerError {
  readonly retryAfter: number | null;
  constructor(message: string, code: string, status: number, id: string | null, retryAfter: number | null) {
    super(message, code, status, id);
    this.retryAfter = retryAfter;
  }
}

/** The socket closed under a running generation, or could not be opened. */
export class ConnectionClosedError extends ClientError {}

/** Every (re)connection attempt failed; `attempts` tried, the last failure as `cause`. */
export class ReconnectFailedError extends ConnectionClosedError {
  readonly attempts: number;
  constructor(message: string, attempts: number, cause: unknown) {
    super(message, { cause });
    this.attempts = attempts;
  }
}

interface ServerMessage {
  type?: string;
  id?: string | null;
  [k: string]: unknown;
}

function fromProtocol(m: ServerMessage): ServerError {
  const code = String(m.code ?? 'unknown');
  const status = Number(m.status ?? 0);
  const message = String(m.message ?? code);
  const id = typeof m.id === 'string' ? m.id : null;
  if (code === 'invalid_api_key' || status === 401) return new AuthenticationError(message, code, status, id);
  if (status === 429) {
    const ra = m.retry_after;
    return new RateLimitError(message, code, status, id, typeof ra === 'number' ? ra : null);
  }
  return new ServerError(message, code, status, id);
}

const OPEN = 1;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** One open socket and the generations running on it. */
class Connection {
  readonly gens = new Map<string, (m: ServerMessage | null) => void>();
  /** Ids a `cancel` was sent for (sent once; a late `unknown_id` for them is no failure). */
  readonly cancelled = new Set<string>();
  closed = false;
  constructor(readonly ws: WebSocketLike) {
    ws.addEventListener('message', (ev) => {
      let m: unknown;
      try {
        m = JSON.parse(typeof ev.data === 'string' ? ev.data : new TextDecoder().decode(ev.data));
      } catch {
        return;
      }
      if (m === null || typeof m !== 'object') return;
      const id = (m as ServerMessage).id;
      // Errors tied to no running generation (a late `unknown_id` for a cancel that crossed
      // the `done`) concern nobody waiting: dropped.
      if (typeof id === 'string') this.gens.get(id)?.(m as ServerMessage);
    });
    ws.addEventListener('close', () => this.lost());
    ws.addEventListener('error', () => this.lost());
  }

  lost(): void {
    if (this.closed) return;
    this.closed = true;
    for (const deliver of [...this.gens.values()]) deliver(null);
  }

  send(m: object): void {
    if (this.closed || this.ws.readyState !== OPEN) {
      this.lost();
      throw new ConnectionClosedError('the connection is closed');
    }
    this.ws.send(JSON.stringify(m));
  }

  cancel(id: string): void {
    if (this.cancelled.has(id)) return;
    this.cancelled.add(id);
    this.send({ type: 'cancel', id });
  }
}

/** A client of `chord serve`'s WebSocket protocol (see the top of this file). */
export class Client {
  readonly url: string;
  /** The tenant and model of the last `ready` message. */
  tenant: string | null = null;
  model: string | null = null;
  /** Connections made so far (1 + successful reconnects). */
  connections = 0;
  #opts: Required<Omit<ClientOptions, 'apiKey' | 'WebSocket'>> & { apiKey?: string };
  #WS: WebSocketConstructor;
  #conn: Connection | null = null;
  #connecting: Promise<Connection> | null = null;
  #closed = false;
  #next = 1;

  constructor(url: string, options: ClientOptions = {}) {
    const auth = options.auth ?? 'message';
    if (auth !== 'message' && auth !== 'header') throw new TypeError(`auth must be 'message' or 'header'`);
    if (auth === 'header' && !options.WebSocket) {
      // The standard constructor has no way to send headers: the key would silently go missing.
      throw new TypeError("auth 'header' needs a WebSocket constructor that takes headers (options.WebSocket, e.g. ws)");
    }
    const WS = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WS) {
      throw new ClientError(
        'no WebSocket constructor: pass one as options.WebSocket (e.g. the ws package on Node 20)',
      );
    }
    const maxAttempts = options.maxAttempts ?? 5;
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new RangeError('maxAttempts must be an integer >= 1');
    this.url = url;
    this.#WS = WS;
    this.#opts = {
      apiKey: options.apiKey,
      auth,
      maxAttempts,
      backoffMs: options.backoffMs ?? 250,
      maxBackoffMs: options.maxBackoffMs ?? 8000,
      openTimeoutMs: options.openTimeoutMs ?? 10_000,
    };
  }

  /** Opens the socket now (with a reconnect's retries) and waits for `ready`. */
  async connect(): Promise<this> {
    await this.#connection();
    return this;
  }

  /** Closes the socket; running generations fail with ConnectionClosedError. */
  close(): void {
    this.#closed = true;
    const c = this.#conn;
    this.#conn = null;
    if (c) {
      c.lost();
      c.ws.close(1000);
    }
  }

  /** Milliseconds to wait before retry `n` (0-based). */
  delay(n: number): number {
    return Math.min(this.#opts.maxBackoffMs, this.#opts.backoffMs * 2 ** n);
  }

  get maxAttempts(): number {
    return this.#opts.maxAttempts;
  }

  async #connection(): Promise<Connection> {
    if (this.#conn && !this.#conn.closed) return this.#conn;
    if (this.#closed) throw new ClientError('the client is closed');
    // Concurrent callers share one (re)connect.
    this.#connecting ??= this.#reconnect().finally(() => {
      this.#connecting = null;
    });
    return this.#connecting;
  }

  async #reconnect(): Promise<Connection> {
    let last: unknown = null;
    for (let attempt = 0; attempt < this.#opts.maxAttempts; attempt++) {
      if (attempt) await sleep(this.delay(attempt - 1));
      try {
        const conn = await this.#open();
        this.#conn = conn;
        return conn;
      } catch (e) {
        if (e instanceof AuthenticationError) throw e;
        last = e;
      }
    }
    throw new ReconnectFailedError(
      `could not connect to ${this.url} in ${this.#opts.maxAttempts} attempts: ${(last as Error)?.message ?? last}`,
      this.#opts.maxAttempts,
      last,
    );
  }

  /** One attempt: socket open, optional `auth` message, then the server's first message. */
  #open(): Promise<Connection> {
    const { apiKey, auth, openTimeoutMs } = this.#opts;
    const header = apiKey !== undefined && auth === 'header';
    return new Promise<Connection>((resolve, reject) => {
      let ws: WebSocketLike;
      try {
        ws = header
          ? new this.#WS(this.url, undefined, { headers: { Authorization: `Bearer ${apiKey}` } })
          : new this.#WS(this.url);
      } catch (e) {
        reject(new ConnectionClosedError(`cannot open ${this.url}: ${(e as Error).message}`, { cause: e }));
        return;
      }
      let settled = false;
      const fail = (e: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        try {
          ws.close();
        } catch {
          /* already closed */
        }
        reject(e);
      };
      const timer = setTimeout(() => {
        // A server with tenants says nothing until it gets an `auth` message.
        fail(
          apiKey === undefined && ws.readyState === OPEN
            ? new AuthenticationError("no 'ready' from the server: it probably needs an API key", 'invalid_api_key', 401)
            : new ConnectionClosedError(`no 'ready' from ${this.url} within ${openTimeoutMs} ms`),
        );
      }, openTimeoutMs);
      ws.addEventListener('open', () => {
        if (apiKey !== undefined && auth === 'message') ws.send(JSON.stringify({ type: 'auth', api_key: apiKey }));
      });
      ws.addEventListener('error', (ev) => {
        // Node's `ws` reports a refused upgrade as "Unexpected server response: 401"; a browser
        // tells nothing (so a bad header key there looks like a dropped connection).
        const msg = String(ev?.message ?? ev?.error?.message ?? '');
        if (/\b401\b/.test(msg)) fail(new AuthenticationError('incorrect API key provided', 'invalid_api_key', 401));
        else fail(new ConnectionClosedError(`cannot connect to ${this.url}${msg ? `: ${msg}` : ''}`));
      });
      ws.addEventListener('close', (ev) => {
        fail(new ConnectionClosedError(`the server closed the socket before 'ready' (code ${ev?.code})`));
      });
      const first = (ev: any) => {
        if (settled) return;
        let m: ServerMessage;
        try {
          m = JSON.parse(typeof ev.data === 'string' ? ev.data : new TextDecoder().decode(ev.data));
        } catch {
          fail(new ClientError('the server sent a message that is not JSON'));
          return;
        }
        if (m?.type === 'error') {
          fail(fromProtocol(m));
        } else if (m?.type !== 'ready') {
          fail(new ClientError(`expected 'ready' from the server, got ${JSON.stringify(m)}`));
        } else {
          settled = true;
          clearTimeout(timer);
          this.connections++;
          this.tenant = typeof m.tenant === 'string' ? m.tenant : null;
          this.model = typeof m.model === 'string' ? m.model : null;
          resolve(new Connection(ws));
        }
      };
      ws.addEventListener('message', first);
    });
  }

  /**
   * A generation from a text prompt, as an async iterable of TokenEvent with a `result`
   * promise. It starts at once.
   */
  stream(prompt: string, options: ClientGenerateOptions = {}): ClientGeneration {
    if (typeof prompt !== 'string') throw new TypeError('prompt must be a string');
    return new Generation(() => this.#connection(), this.maxAttempts, (n) => this.delay(n), this.#id(options), { prompt, ...body(options) }, options.signal);
  }

  /** A chat generation (`[{role, content}]`, rendered with the model's template). */
  chatStream(messages: ClientChatMessage[], options: ClientGenerateOptions = {}): ClientGeneration {
    if (!Array.isArray(messages) || !messages.every((m) => typeof m?.role === 'string' && typeof m?.content === 'string')) {
      throw new TypeError('messages must be an array of {role, content} strings');
    }
    const msgs = messages.map(({ role, content }) => ({ role, content }));
    return new Generation(() => this.#connection(), this.maxAttempts, (n) => this.delay(n), this.#id(options), { messages: msgs, ...body(options) }, options.signal);
  }

  /** Runs a generation from a text prompt to its end. */
  generate(prompt: string, options: ClientGenerateOptions = {}): Promise<ClientResult> {
    return this.stream(prompt, options).result;
  }

  /** Runs a chat generation to its end. */
  chat(messages: ClientChatMessage[], options: ClientGenerateOptions = {}): Promise<ClientResult> {
    return this.chatStream(messages, options).result;
  }

  /** Cancels a running generation of this client (it then ends with 'cancelled'). */
  cancel(id: string): void {
    const c = this.#conn;
    if (!c || c.closed || !c.gens.has(id)) throw new ClientError(`no generation '${id}' is running`);
    c.cancel(id);
  }

  #id(options: ClientGenerateOptions): string {
    if (options.id !== undefined && (typeof options.id !== 'string' || !options.id)) {
      throw new TypeError('id must be a non-empty string');
    }
    return options.id ?? `js-${this.#next++}`;
  }
}

const FIELDS: Record<string, string> = {
  model: 'model',
  maxTokens: 'max_tokens',
  temperature: 'temperature',
  topP: 'top_p',
  topK: 'top_k',
  minP: 'min_p',
  repeatPenalty: 'repeat_penalty',
  frequencyPenalty: 'frequency_penalty',
  presencePenalty: 'presence_penalty',
  seed: 'seed',
  stop: 'stop',
  ignoreEos: 'ignore_eos',
};

/** Protocol fields of the options; an unknown option is an error (the server would ignore it). */
function body(options: ClientGenerateOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) {
    if (k === 'id' || k === 'signal' || v === undefined) continue;
    const f = FIELDS[k];
    if (!f) throw new TypeError(`unknown generation option '${k}' (known: ${Object.keys(FIELDS).join(', ')})`);
    out[f] = v;
  }
  return out;
}

/** A running generation: `for await (const ev of gen)`, `await gen.result`, `gen.cancel()`. */
export interface ClientGeneration extends AsyncIterable<TokenEvent> {
  readonly id: string;
  /** Resolves at `done`; rejects with the generation's error (a ClientError). */
  readonly result: Promise<ClientResult>;
  /** The text received so far. */
  readonly text: string;
  /** Cancels the generation; it ends with finishReason 'cancelled'. Leaving a loop early does too. */
  cancel(): void;
}

class Generation implements ClientGeneration {
  readonly id: string;
  readonly result: Promise<ClientResult>;
  #connect: () => Promise<Connection>;
  #maxAttempts: number;
  #delay: (n: number) => number;
  #request: Record<string, unknown>;
  #events: (TokenEvent | Error | null)[] = [];
  #waiting: (() => void)[] = []; // iterators waiting for the next event
  #text = '';
  #conn: Connection | null = null;
  #finished = false;
  #cancelled = false;
  #loadingRetries = 0;
  #resolve!: (r: ClientResult) => void;
  #reject!: (e: Error) => void;

  constructor(
    connect: () => Promise<Connection>,
    maxAttempts: number,
    delay: (n: number) => number,
    id: string,
    request: Record<string, unknown>,
    signal?: AbortSignal,
  ) {
    this.id = id;
    this.#connect = connect;
    this.#maxAttempts = maxAttempts;
    this.#delay = delay;
    this.#request = request;
    this.result = new Promise<ClientResult>((res, rej) => {
      this.#resolve = res;
      this.#reject = rej;
    });
    this.result.catch(() => {}); // a caller that only iterates sees the error there
    if (signal) {
      if (signal.aborted) this.#cancelled = true;
      else signal.addEventListener('abort', () => this.cancel(), { once: true });
    }
    void this.#start();
  }

  /** The text received so far. */
  get text(): string {
    return this.#text;
  }

  async #start(): Promise<void> {
    try {
      const conn = await this.#connect();
      if (this.#cancelled) {
        this.#end(null, { id: this.id, text: '', finishReason: 'cancelled', usage: usage({}) });
        return;
      }
      if (conn.gens.has(this.id)) throw new ClientError(`a generation '${this.id}' is already running on this client`);
      this.#conn = conn;
      conn.gens.set(this.id, (m) => void this.#on(m));
      conn.send({ type: 'generate', id: this.id, ...this.#request });
    } catch (e) {
      this.#end(e as Error);
    }
  }

  async #on(m: ServerMessage | null): Promise<void> {
    if (this.#finished) return;
    if (m === null) {
      this.#end(new ConnectionClosedError(`the connection closed during generation '${this.id}'`));
    } else if (m.type === 'token') {
      const ev = { id: this.id, index: Number(m.index ?? 0), text: String(m.text ?? '') };
      this.#text += ev.text;
      this.#push(ev);
    } else if (m.type === 'done') {
      const fr = String(m.finish_reason) as ClientResult['finishReason'];
      this.#end(null, { id: this.id, text: this.#text, finishReason: fr, usage: usage(m.usage) });
    } else if (m.type === 'error') {
      const err = fromProtocol(m);
      // A cancel that crossed the generation's end; its `done` comes (or came) anyway.
      if (err.code === 'unknown_id' && this.#conn?.cancelled.has(this.id)) return;
      // Right after a server (re)starts it accepts sockets before the model is loaded; a
      // refused request had no effect, so it is sent again with the client's backoff.
      if (err.code === 'model_loading' && this.#loadingRetries + 1 < this.#maxAttempts && !this.#cancelled) {
        await sleep(this.#delay(this.#loadingRetries++));
        try {
          this.#conn?.send({ type: 'generate', id: this.id, ...this.#request });
        } catch (e) {
          this.#end(e as Error);
        }
        return;
      }
      this.#end(err);
    }
  }

  #push(ev: TokenEvent | Error | null): void {
    this.#events.push(ev);
    for (const wake of this.#waiting.splice(0)) wake();
  }

  #end(err: Error | null, result?: ClientResult): void {
    if (this.#finished) return;
    this.#finished = true;
    if (this.#conn?.gens.get(this.id)) this.#conn.gens.delete(this.id);
    this.#conn?.cancelled.delete(this.id);
    if (err) this.#reject(err);
    else if (result) this.#resolve(result);
    this.#push(err);
  }

  /** Cancels the generation; it ends with finishReason 'cancelled'. */
  cancel(): void {
    if (this.#finished || this.#cancelled) return;
    this.#cancelled = true;
    if (this.#conn && this.#conn.gens.has(this.id)) {
      try {
        this.#conn.cancel(this.id);
      } catch {
        /* the socket is gone: the generation ends with ConnectionClosedError */
      }
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<TokenEvent> {
    let i = 0;
    try {
      for (;;) {
        while (i >= this.#events.length) await new Promise<void>((r) => this.#waiting.push(r));
        const ev = this.#events[i++];
        if (ev === null) return;
        if (ev instanceof Error) throw ev;
        yield ev;
      }
    } finally {
      // Leaving the loop early (break, throw) cancels the generation.
      if (!this.#finished) this.cancel();
    }
  }
}

function usage(u: unknown): ClientUsage {
  const o = (u ?? {}) as Record<string, any>;
  return {
    promptTokens: Number(o.prompt_tokens ?? 0),
    completionTokens: Number(o.completion_tokens ?? 0),
    totalTokens: Number(o.total_tokens ?? 0),
    cachedTokens: Number(o.prompt_tokens_details?.cached_tokens ?? 0),
  };
}
