/**
 * A lean Redis client (RESP2 over one `Deno.connect` TCP connection) with just what the Redis
 * store uses: commands as arrays of strings, replies in order (pipelined: a command may be sent
 * before the previous one is answered), a reconnect with back-off, and no offline queue.
 *
 * Why not `ioredis`: under the tracker's load one `ioredis` round trip cost 75–100 µs of the
 * tracker's CPU on Deno (its command objects and Node streams over Deno's `node:net`), against
 * ~12 µs for the same write and read on a `Deno.TcpConn` (docs/TRACKER.md, _Tracker-level
 * benchmark_). The store sends one command per batch of requests, so a few command kinds are
 * all it needs (`EVALSHA`, `SCRIPT LOAD`, `SET`, `GET`, `SELECT`, `FLUSHDB`).
 *
 * - Replies: simple strings and bulk strings as strings (UTF-8), integers as numbers, arrays as
 *   arrays, nil as null; an error reply rejects its command with a {@link RespReplyError}.
 * - The connection lost: every command waiting rejects with a {@link RespConnectionError},
 *   commands asked for while it is down reject at once (the caller drops the request), and the
 *   client reconnects by itself (100 ms, then up to 1 s apart) until {@link RespClient.close}.
 * - Redis stalled (a long script, a fork, a host that stopped answering without closing the
 *   TCP connection): a command not answered within `commandTimeoutMs` counts as the connection
 *   lost (the same rejections and reconnect), so a stalled Redis costs the tracker that long, not
 *   forever. One timer per client, armed while commands wait.
 * - Redis Cluster: {@link RespClient.redirect} moves the client to the node a `MOVED` reply
 *   names (the caller, who knows its keys' slot, decides); a reconnect that fails there tries
 *   the node the client was started with next, which redirects again if the slot moved on.
 * @module
 */

/** A reply: string, number, null, an error inside an array, or an array of replies. */
export type RespValue = string | number | null | RespReplyError | RespValue[];

/** Redis answered a command with an error reply (`-ERR …`, `-NOSCRIPT …`). */
export class RespReplyError extends Error {
  /** Always `ReplyError` (the name the store checks, as for other clients). */
  override readonly name = "ReplyError";
}

/** The connection is down (lost, refused, or never made): the command was not answered. */
export class RespConnectionError extends Error {
  /** Always `ConnectionError`. */
  override readonly name = "ConnectionError";
}

/** At most this many `MOVED` hops for one command (a slot moving while it is asked for). */
export const MAX_REDIRECTS = 3;

/**
 * The node a Redis Cluster's `MOVED SLOT HOST:PORT` error reply names, or undefined for any
 * other error. An empty host (`MOVED 3999 :6380`, a node that does not know its address) means
 * the host already in use; an IPv6 host comes without brackets.
 *
 * @param e an error from {@link RespClient.command}
 * @returns the node, `hostname` "" for the current host
 */
export function parseMoved(e: unknown): { hostname: string; port: number } | undefined {
  if (!(e instanceof RespReplyError)) return undefined;
  const m = /^MOVED \d+ (.*):(\d{1,5})$/.exec(e.message);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  return { hostname: m[1]!.replace(/^\[|\]$/g, ""), port };
}

/** Options for {@link RespClient.connect}. */
export interface RespClientOptions {
  /** Redis host. */
  hostname: string;
  /** Redis port. */
  port: number;
  /** Database number, selected on every (re)connection. @default 0 */
  db?: number;
  /** How long the first connection may take, in ms. @default 3000 */
  connectTimeoutMs?: number;
  /**
   * A command not answered within this many ms drops the connection (every waiting command
   * rejects) and reconnects; 0 waits forever. @default 5000
   */
  commandTimeoutMs?: number;
}

interface Waiter {
  resolve: (v: RespValue) => void;
  reject: (e: Error) => void;
  /** `performance.now()` when the command was sent. */
  sentAt: number;
}

const CR = 13;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** The parser ran out of bytes: wait for more. */
const INCOMPLETE = Symbol("incomplete");

/** One connection to Redis, reconnecting by itself. */
export class RespClient {
  readonly #options: RespClientOptions;
  /** The node connected to (or to reconnect to): the start node until a redirect. */
  #target: { hostname: string; port: number };
  /** A connection being opened by {@link RespClient.redirect}. */
  #opening: Promise<void> | undefined;
  #conn: Deno.TcpConn | undefined;
  #waiting: Waiter[] = [];
  #waitHead = 0;
  #closed = false;
  #retries = 0;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  /** Armed while commands wait: fires when the oldest one is due. */
  #replyTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #commandTimeoutMs: number;
  #reader: Promise<void> = Promise.resolve();
  /** Bytes to write; `#writing` while a write loop runs. */
  #outbox: Uint8Array[] = [];
  #writing = false;
  // Read buffer and parse position.
  #buf = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;
  #pos = 0;

  private constructor(options: RespClientOptions) {
    this.#options = options;
    this.#target = { hostname: options.hostname, port: options.port };
    this.#commandTimeoutMs = Math.max(0, options.commandTimeoutMs ?? 5000);
  }

  /**
   * Connects (and selects the database).
   *
   * @param options where, and how long to wait
   * @returns the client
   * @throws {RespConnectionError} when Redis cannot be reached in time
   */
  static async connect(options: RespClientOptions): Promise<RespClient> {
    const c = new RespClient(options);
    await c.#open(options.connectTimeoutMs ?? 3000);
    return c;
  }

  /** True while connected. */
  get connected(): boolean {
    return this.#conn !== undefined;
  }

  /**
   * Sends one command.
   *
   * @param args the command and its arguments
   * @returns its reply
   */
  command(args: readonly string[]): Promise<RespValue> {
    if (this.#closed) return Promise.reject(new RespConnectionError("Redis client is closed"));
    if (this.#conn === undefined) {
      return Promise.reject(new RespConnectionError("Redis connection is down (reconnecting)"));
    }
    const { promise, resolve, reject } = Promise.withResolvers<RespValue>();
    this.#waiting.push({ resolve, reject, sentAt: performance.now() });
    this.#write(encodeCommand(args));
    if (this.#replyTimer === undefined) this.#armReplyTimer(this.#commandTimeoutMs);
    return promise;
  }

  /** The host of the node the client talks to (the start node's until a redirect). */
  get hostname(): string {
    return this.#target.hostname;
  }

  /** The node the client talks to, `HOST:PORT` (the start node until a redirect). */
  get node(): string {
    const { hostname, port } = this.#target;
    return `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
  }

  /**
   * Moves to another node (a Redis Cluster's `MOVED` reply): commands waiting on the old
   * connection reject with a {@link RespConnectionError}, and the new connection is opened.
   * Moving to the node already used waits for its connection instead.
   *
   * @param hostname the node's host
   * @param port the node's port
   * @throws {RespConnectionError} when the node cannot be reached (the client keeps retrying)
   */
  async redirect(hostname: string, port: number): Promise<void> {
    if (this.#closed) throw new RespConnectionError("Redis client is closed");
    const same = this.#target.hostname === hostname && this.#target.port === port;
    if (same && this.#conn !== undefined) return;
    if (!same || this.#opening === undefined) {
      this.#target = { hostname, port };
      this.#drop(new RespConnectionError(`Redis moved this data to ${this.node}`));
      if (this.#reconnectTimer !== undefined) clearTimeout(this.#reconnectTimer);
      this.#reconnectTimer = undefined;
      const opening = this.#open(this.#options.connectTimeoutMs ?? 3000);
      this.#opening = opening;
      opening.then(
        () => {
          if (this.#opening === opening) this.#opening = undefined;
        },
        () => {
          if (this.#opening !== opening) return;
          this.#opening = undefined;
          this.#retryFromStartNode();
        },
      );
    }
    await this.#opening;
  }

  /** Closes the connection; waiting commands reject. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#reconnectTimer !== undefined) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    this.#drop(new RespConnectionError("Redis client is closed"));
    await this.#reader;
  }

  async #open(timeoutMs: number): Promise<void> {
    const target = this.#target;
    const { hostname, port } = target;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const connecting = Deno.connect({ hostname, port });
    let conn: Deno.TcpConn;
    try {
      conn = await Promise.race([
        connecting,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new RespConnectionError(`connect timed out after ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]);
    } catch (e) {
      connecting.then((c) => c.close(), () => {});
      throw e instanceof RespConnectionError ? e : new RespConnectionError((e as Error).message);
    } finally {
      clearTimeout(timer);
    }
    if (this.#closed) {
      conn.close();
      throw new RespConnectionError("Redis client is closed");
    }
    if (this.#target !== target || this.#conn !== undefined) {
      // Redirected elsewhere (or connected) while this connection was being made.
      conn.close();
      if (this.#target !== target) throw new RespConnectionError("superseded by a redirect");
      return;
    }
    conn.setNoDelay(true);
    this.#conn = conn;
    this.#start = this.#end = this.#pos = 0;
    this.#reader = this.#readLoop(conn);
    const db = this.#options.db ?? 0;
    if (db !== 0) {
      try {
        await this.command(["SELECT", String(db)]);
      } catch (e) {
        this.#drop(new RespConnectionError(`SELECT ${db} failed: ${(e as Error).message}`));
        throw e;
      }
    }
    this.#retries = 0;
  }

  #write(bytes: Uint8Array): void {
    this.#outbox.push(bytes);
    if (!this.#writing) this.#writeLoop();
  }

  async #writeLoop(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#outbox.length > 0) {
        const conn = this.#conn;
        if (conn === undefined) {
          this.#outbox = [];
          return;
        }
        const chunks = this.#outbox;
        this.#outbox = [];
        let bytes = chunks[0]!;
        if (chunks.length > 1) {
          let n = 0;
          for (const c of chunks) n += c.length;
          bytes = new Uint8Array(n);
          n = 0;
          for (const c of chunks) {
            bytes.set(c, n);
            n += c.length;
          }
        }
        try {
          for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
        } catch (e) {
          this.#lost(conn, e);
          return;
        }
      }
    } finally {
      this.#writing = false;
    }
  }

  async #readLoop(conn: Deno.TcpConn): Promise<void> {
    for (;;) {
      if (this.#end === this.#buf.length) this.#makeRoom();
      let n: number | null;
      try {
        n = await conn.read(this.#buf.subarray(this.#end));
      } catch (e) {
        this.#lost(conn, e);
        return;
      }
      if (n === null) {
        this.#lost(conn, new Error("connection closed by Redis"));
        return;
      }
      this.#end += n;
      for (;;) {
        this.#pos = this.#start;
        const v = this.#parse();
        if (v === INCOMPLETE) break;
        this.#start = this.#pos;
        const w = this.#waiting[this.#waitHead];
        if (w === undefined) continue; // a reply nobody waits for (cannot happen in order)
        this.#waiting[this.#waitHead++] = undefined as unknown as Waiter;
        if (this.#waitHead > 1024 && this.#waitHead * 2 > this.#waiting.length) {
          this.#waiting = this.#waiting.slice(this.#waitHead);
          this.#waitHead = 0;
        }
        if (v instanceof RespReplyError) w.reject(v);
        else w.resolve(v);
      }
      if (this.#start === this.#end) this.#start = this.#end = 0;
    }
  }

  /** Moves unparsed bytes to the front, or grows the buffer when a reply fills it. */
  #makeRoom(): void {
    const pending = this.#end - this.#start;
    if (this.#start > 0) {
      this.#buf.copyWithin(0, this.#start, this.#end);
    } else {
      const bigger = new Uint8Array(this.#buf.length * 2);
      bigger.set(this.#buf.subarray(0, pending));
      this.#buf = bigger;
    }
    this.#start = 0;
    this.#end = pending;
  }

  /** Schedules the check of the oldest waiting command `delay` ms from now. */
  #armReplyTimer(delay: number): void {
    if (this.#commandTimeoutMs === 0) return;
    this.#replyTimer = setTimeout(() => this.#checkReplies(), Math.max(1, Math.ceil(delay)));
  }

  /** The oldest waiting command is overdue: the connection counts as lost. */
  #checkReplies(): void {
    this.#replyTimer = undefined;
    const head = this.#waiting[this.#waitHead];
    const conn = this.#conn;
    if (head === undefined || conn === undefined) return;
    const late = performance.now() - head.sentAt;
    if (late < this.#commandTimeoutMs) {
      this.#armReplyTimer(this.#commandTimeoutMs - late);
      return;
    }
    this.#lost(
      conn,
      new Error(
        `no reply within ${this.#commandTimeoutMs} ms (Redis stalled or unreachable; reconnecting)`,
      ),
    );
  }

  /** A connection failed: waiting commands reject, and a reconnect is scheduled. */
  #lost(conn: Deno.TcpConn, e: unknown): void {
    if (this.#conn !== conn) return;
    this.#drop(new RespConnectionError(`Redis connection lost: ${(e as Error)?.message ?? e}`));
    this.#scheduleReconnect();
  }

  #drop(e: RespConnectionError): void {
    if (this.#replyTimer !== undefined) clearTimeout(this.#replyTimer);
    this.#replyTimer = undefined;
    const conn = this.#conn;
    this.#conn = undefined;
    this.#outbox = [];
    if (conn !== undefined) {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
    const waiting = this.#waiting.slice(this.#waitHead);
    this.#waiting = [];
    this.#waitHead = 0;
    for (const w of waiting) w.reject(e);
  }

  /**
   * A reconnect failed: the next one goes to the start node (a Cluster node there answers with
   * the slot's new owner: a replica promoted after a failover, say).
   */
  #retryFromStartNode(): void {
    this.#target = { hostname: this.#options.hostname, port: this.#options.port };
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#reconnectTimer !== undefined) return;
    const delay = Math.min(++this.#retries * 100, 1000);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (this.#closed) return;
      const target = this.#target;
      this.#open(this.#options.connectTimeoutMs ?? 3000).catch(() => {
        if (this.#target !== target) return; // redirected meanwhile: that path reconnects
        this.#retryFromStartNode();
      });
    }, delay);
  }

  // ---------------------------------------------------------------- RESP2 parsing

  /** The line from #pos to CRLF, as a number; INCOMPLETE without CRLF. */
  #lineNumber(): number | typeof INCOMPLETE {
    const buf = this.#buf;
    let i = this.#pos, n = 0, sign = 1;
    if (buf[i] === 45) { // '-'
      sign = -1;
      i++;
    }
    for (; i < this.#end; i++) {
      const b = buf[i]!;
      if (b === CR) {
        if (i + 1 >= this.#end) return INCOMPLETE;
        this.#pos = i + 2;
        return sign * n;
      }
      n = n * 10 + (b - 48);
    }
    return INCOMPLETE;
  }

  #lineText(): string | typeof INCOMPLETE {
    const buf = this.#buf;
    for (let i = this.#pos; i + 1 < this.#end; i++) {
      if (buf[i] === CR) {
        const s = decoder.decode(buf.subarray(this.#pos, i));
        this.#pos = i + 2;
        return s;
      }
    }
    return INCOMPLETE;
  }

  #parse(): RespValue | typeof INCOMPLETE {
    if (this.#pos >= this.#end) return INCOMPLETE;
    const type = this.#buf[this.#pos++];
    switch (type) {
      case 43: // '+'
        return this.#lineText();
      case 45: { // '-'
        const text = this.#lineText();
        return text === INCOMPLETE ? INCOMPLETE : new RespReplyError(text);
      }
      case 58: // ':'
        return this.#lineNumber();
      case 36: { // '$'
        const len = this.#lineNumber();
        if (len === INCOMPLETE) return INCOMPLETE;
        if (len < 0) return null;
        if (this.#pos + len + 2 > this.#end) return INCOMPLETE;
        const s = decoder.decode(this.#buf.subarray(this.#pos, this.#pos + len));
        this.#pos += len + 2;
        return s;
      }
      case 42: { // '*'
        const count = this.#lineNumber();
        if (count === INCOMPLETE) return INCOMPLETE;
        if (count < 0) return null;
        const out: RespValue[] = [];
        for (let i = 0; i < count; i++) {
          const v = this.#parse();
          if (v === INCOMPLETE) return INCOMPLETE;
          out.push(v); // an error inside an array is a value of it
        }
        return out;
      }
      default: {
        // Not RESP2: the stream cannot be resynchronised.
        const conn = this.#conn;
        if (conn !== undefined) this.#lost(conn, new Error(`bad reply byte ${type}`));
        return INCOMPLETE;
      }
    }
  }
}

/** `*N $len arg …` in one buffer (UTF-8). */
function encodeCommand(args: readonly string[]): Uint8Array {
  let text = `*${args.length}\r\n`;
  // Short ASCII arguments go into the text; others are encoded apart and put in their place.
  const pieces: (string | Uint8Array)[] = [];
  for (const a of args) {
    if (a.length < 256 && isAscii(a)) {
      text += `$${a.length}\r\n${a}\r\n`;
    } else {
      const bytes = encoder.encode(a);
      pieces.push(`${text}$${bytes.length}\r\n`, bytes);
      text = "\r\n";
    }
  }
  if (pieces.length === 0) return encoder.encode(text);
  pieces.push(text);
  const encoded = pieces.map((p) => typeof p === "string" ? encoder.encode(p) : p);
  let size = 0;
  for (const e of encoded) size += e.length;
  const out = new Uint8Array(size);
  let off = 0;
  for (const e of encoded) {
    out.set(e, off);
    off += e.length;
  }
  return out;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}
