/**
 * The Redis {@link SwarmStore}: several tracker processes, on one machine or many, share one
 * swarm. Every operation is one operation of one Lua script (redis_script.ts): atomic, with the
 * ranking in sorted sets and expiry by a sorted set of last-heard times. Operations asked for
 * while a round trip is under way leave together as one `EVALSHA` (redis_batch.ts: group
 * commit, bounded). The client is resp_client.ts, a lean RESP2 client over `Deno.connect`
 * (`ioredis` cost the tracker 6× more CPU per round trip); nothing is queued while Redis is
 * unreachable: a call then rejects with {@link StoreUnavailable} and the client reconnects by
 * itself.
 *
 * Times are the wall clock (`Date.now()`): trackers on several machines must agree on it
 * (NTP), as they must on the cookie epochs.
 * @module
 */
import { MAX_REDIRECTS, parseMoved, RespClient, type RespValue } from "./resp_client.ts";
import { SWARM_SCRIPT } from "./redis_script.ts";
import { type BatchArg, type BatchCounters, RedisBatcher } from "./redis_batch.ts";
import { parseRedisUrl } from "./redis_url.ts";
import { StoreUnavailable } from "./store_unavailable.ts";
import { unitRateKey } from "../upload_rate.ts";
import { RedisBep15Store } from "./redis_bep15_store.ts";
import {
  COMPLETE,
  emptyNeedResult,
  type Evicted,
  type ExitResult,
  type JoinArgs,
  type JoinStatus,
  type ListRow,
  type NeedQuery,
  type NeedResult,
  type OwnArgs,
  type OwnResult,
  type PeerCheck,
  type ReportArgs,
  type ReportResult,
  type StoreCounts,
  type StoreSource,
  type SwarmStore,
  type UpdateResult,
} from "./swarm_store.ts";

export { parseRedisUrl };

/** A script's flat reply `[a0, b0, …, a1, b1, …]`, `width` fields a record, as records. */
function records<T>(
  flat: readonly string[],
  width: number,
  make: (...fields: (string | undefined)[]) => T,
): T[] {
  const out: T[] = [];
  for (let i = 0; i + width <= flat.length; i += width) out.push(make(...flat.slice(i, i + width)));
  return out;
}

/** Options for {@link RedisStore.connect}. */
export interface RedisStoreOptions {
  /** `redis://HOST:PORT[/DB]`. */
  url: string;
  /** Key prefix (a hash tag keeps one swarm on one Cluster slot). @default "{swarm}" */
  prefix?: string;
  /** Time constant τ of the upload-rate EWMA in ms. @default 60000 */
  rateTauMs?: number;
  /** Random numbers in [0, 1) for tie-breaks. @default Math.random */
  random?: () => number;
  /** How long the first connection may take, in ms. @default 3000 */
  connectTimeoutMs?: number;
  /**
   * A command unanswered this long (ms) counts as the connection lost: the requests waiting on
   * it fail with {@link StoreUnavailable} and the client reconnects; 0 waits forever.
   * @default 5000
   */
  commandTimeoutMs?: number;
  /** At most this many operations per round trip (1: no batching). @default 64 */
  maxBatch?: number;
}

export { StoreUnavailable };

/** Peers, files and rankings in Redis, shared by every tracker started with the same URL. */
export class RedisStore implements SwarmStore {
  /** Always `redis`. */
  readonly kind = "redis" as const;
  /** The URL it was started with. */
  readonly url: string;
  readonly #redis: RespClient;
  readonly #sha: string;
  readonly #prefix: string;
  readonly #tau: number;
  readonly #random: () => number;
  readonly #batch: RedisBatcher;
  #closed = false;
  /** The BEP 15 swarms, in the same Redis and the same batches. */
  readonly bep15: RedisBep15Store;

  private constructor(redis: RespClient, sha: string, options: RedisStoreOptions) {
    this.url = options.url;
    this.#redis = redis;
    this.#sha = sha;
    this.#prefix = options.prefix ?? "{swarm}";
    this.#tau = options.rateTauMs ?? 60_000;
    this.#random = options.random ?? Math.random;
    this.#batch = new RedisBatcher({
      send: (ops) => this.#sendBatch(ops),
      maxBatch: options.maxBatch ?? 64,
      overloaded: (n) =>
        new StoreUnavailable(`Redis at ${this.url} is overloaded: ${n} requests wait for it`),
    });
    this.bep15 = new RedisBep15Store((...args) => this.#op(...args));
  }

  /** One batch, one `EVALSHA`; the script is loaded again if Redis lost it (a restart). */
  async #sendBatch(ops: BatchArg[][]): Promise<unknown[]> {
    // The prefix's `seen` key names the slot (a Redis Cluster routes the script by it); the
    // script builds its other keys, all with the same hash tag, so all in that slot.
    const args = [
      "EVALSHA",
      this.#sha,
      "1",
      `${this.#prefix}:seen`,
      "batch",
      this.#prefix,
      encodeBatch(ops),
    ];
    let reply;
    try {
      reply = await this.#command(args);
    } catch (e) {
      if (!(e instanceof Error && e.name === "ReplyError" && e.message.startsWith("NOSCRIPT"))) {
        throw e;
      }
      // NOSCRIPT (a restarted Redis, or a Cluster node reached by a redirect): nothing ran.
      // Load the script and send the batch again.
      await this.#redis.command(["SCRIPT", "LOAD", SWARM_SCRIPT]);
      reply = await this.#command(args);
    }
    return decodeBatch(reply);
  }

  /**
   * One command, following a Redis Cluster's `MOVED` replies: every key of this store is in
   * the prefix's one slot, so the node that owns it serves every command after it.
   */
  async #command(args: string[]): Promise<RespValue> {
    for (let hops = 0;; hops++) {
      try {
        return await this.#redis.command(args);
      } catch (e) {
        const moved = hops < MAX_REDIRECTS ? parseMoved(e) : undefined;
        if (moved === undefined) throw e;
        await this.#redis.redirect(moved.hostname || this.#redis.hostname, moved.port);
      }
    }
  }

  /** Batches and operations sent so far (for benchmarks and tests). */
  get batchCounters(): BatchCounters {
    return this.#batch.counters;
  }

  /**
   * Connects to Redis and loads the script.
   *
   * @param options the URL and the store's settings
   * @returns the store
   * @throws {StoreUnavailable} when Redis does not answer in time
   */
  static async connect(options: RedisStoreOptions): Promise<RedisStore> {
    const { host, port, db } = parseRedisUrl(options.url);
    let redis: RespClient | undefined;
    try {
      redis = await RespClient.connect({
        hostname: host,
        port,
        db,
        connectTimeoutMs: options.connectTimeoutMs ?? 3000,
        ...(options.commandTimeoutMs !== undefined
          ? { commandTimeoutMs: options.commandTimeoutMs }
          : {}),
      });
      const sha = await redis.command(["SCRIPT", "LOAD", SWARM_SCRIPT]);
      return new RedisStore(redis, String(sha), options);
    } catch (e) {
      await redis?.close();
      throw new StoreUnavailable(
        `Cannot reach Redis at ${options.url}: ${(e as Error).message} (is redis-server running?)`,
      );
    }
  }

  /**
   * The secret the address cookies of every tracker of this store derive from: created once
   * (32 random bytes, `SET NX`), then read by every tracker.
   *
   * @returns 32 bytes
   */
  async sharedSecret(): Promise<Uint8Array> {
    const key = `${this.#prefix}:secret`;
    const fresh = Array.from(crypto.getRandomValues(new Uint8Array(32)))
      .map((b) => b.toString(16).padStart(2, "0")).join("");
    await this.#call(() => this.#command(["SET", key, fresh, "NX"]));
    const hex = await this.#call(() => this.#command(["GET", key]));
    if (typeof hex !== "string" || !/^[0-9a-f]{64}$/.test(hex)) {
      throw new StoreUnavailable(`Cannot read the cookie secret ${key}: it is not 64 hex digits`);
    }
    const out = new Uint8Array(32);
    for (let i = 0; i < 32; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
    return out;
  }

  /** Removes every key of this store's prefix (for tests). */
  async flush(): Promise<void> {
    await this.#call(() => this.#redis.command(["FLUSHDB"]));
  }

  async #call<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      // A reply error is a bug in the script or its arguments; anything else is the connection.
      if (e instanceof Error && e.name === "ReplyError") throw e;
      throw new StoreUnavailable(`Redis at ${this.url} is unavailable: ${(e as Error).message}`);
    }
  }

  #op(...args: (string | number)[]): Promise<unknown> {
    if (this.#closed) return Promise.reject(new StoreUnavailable("Store is closed"));
    return this.#call(() => this.#batch.call(args));
  }

  /** {@inheritDoc SwarmStore.join} */
  async join(...args: JoinArgs): Promise<JoinStatus> {
    const [nodeId, from, now, maxPeers, room] = args;
    const r = room === undefined
      ? []
      : [room.address, room.prefix, room.host, room.maxPeersPerAddress, room.maxPeersPerPrefix];
    return await this.#op(
      "join",
      nodeId,
      from.hostname,
      from.port,
      now,
      maxPeers,
      ...r,
    ) as JoinStatus;
  }

  /** {@inheritDoc SwarmStore.touch} */
  async touch(nodeId: string, from: StoreSource, now: number): Promise<PeerCheck> {
    return await this.#op("touch", nodeId, from.hostname, from.port, now) as PeerCheck;
  }

  /** {@inheritDoc SwarmStore.check} */
  async check(nodeId: string, from: StoreSource): Promise<PeerCheck> {
    return await this.#op("check", nodeId, from.hostname, from.port, 0) as PeerCheck;
  }

  /** {@inheritDoc SwarmStore.own} */
  async own(...args: OwnArgs): Promise<OwnResult> {
    const [nodeId, from, now, name, contentKey, size, maxFiles, room, have] = args;
    const r = await this.#op(
      "own",
      nodeId,
      from.hostname,
      from.port,
      now,
      name,
      contentKey,
      size,
      maxFiles,
      unitRateKey(now, this.#tau),
      this.#random(),
      have ?? COMPLETE,
      ...(room === undefined ? [] : [room.maxFilesPerAddress, room.maxFilesPerPrefix]),
    ) as string[];
    const status = r[0] as OwnResult["status"];
    return {
      status,
      replaced: status === "ok" ? r[1] : undefined,
      knownSize: status === "size_mismatch" ? Number(r[1]) : 0,
      files: status === "too_many_files" ? Number(r[1]) : 0,
    };
  }

  /** {@inheritDoc SwarmStore.need} */
  async need(nodeId: string, from: StoreSource, now: number, q: NeedQuery): Promise<NeedResult> {
    const mix = q.mix ?? 0;
    // Random numbers for the mixed-in owners (four draws per place, as the memory store does)
    // and for a partial asker's random half.
    const rand: number[] = [];
    const draws = 4 * mix + (q.partial ? q.k : 0);
    for (let i = 0; i < draws; i++) rand.push(this.#random());
    const r = await this.#op(
      "need",
      nodeId,
      from.hostname,
      from.port,
      now,
      q.byName ? "1" : "0",
      q.want,
      q.k,
      unitRateKey(now, this.#tau),
      mix,
      q.partial ? "1" : "0",
      rand.length,
      ...rand,
      ...(q.exclude ?? []),
    ) as (string | number)[];
    const out = emptyNeedResult();
    out.status = r[0] as PeerCheck;
    out.known = r[1] === 1;
    if (r.length <= 2) return out;
    out.contentKey = r[2] as string;
    out.size = Number(r[3]);
    out.displayName = q.byName ? q.want : r[4] as string;
    out.alternatives = Number(r[5]);
    for (let i = 6; i + 4 < r.length; i += 5) {
      out.nodeIds.push(r[i] as string);
      out.hostnames.push(r[i + 1] as string);
      out.ports.push(Number(r[i + 2]));
      out.rateKeys.push(rateKeyOf(r[i + 3] as string));
      out.haves.push(Number(r[i + 4]));
    }
    out.count = out.nodeIds.length;
    return out;
  }

  /** {@inheritDoc SwarmStore.update} */
  async update(
    nodeId: string,
    from: StoreSource,
    now: number,
    uploaded: number,
  ): Promise<UpdateResult> {
    const r = await this.#op(
      "update",
      nodeId,
      from.hostname,
      from.port,
      now,
      uploaded,
      this.#tau,
      unitRateKey(now, this.#tau),
    ) as string[];
    return { status: r[0] as PeerCheck, rateKey: r.length > 1 ? rateKeyOf(r[1]!) : -Infinity };
  }

  /** {@inheritDoc SwarmStore.report} */
  async report(...args: ReportArgs): Promise<ReportResult> {
    const [nodeId, from, now, contentKey, entries, budget] = args;
    const pairs: (string | number)[] = [];
    for (const e of entries) pairs.push(e.nodeId, e.bytes);
    const r = await this.#op(
      "report",
      nodeId,
      from.hostname,
      from.port,
      now,
      contentKey,
      budget,
      this.#tau,
      unitRateKey(now, this.#tau),
      ...pairs,
    ) as string[];
    return {
      status: r[0] as PeerCheck,
      credited: r.length > 1 ? Number(r[1]) : 0,
      ignored: r.length > 2 ? Number(r[2]) : 0,
    };
  }

  /** {@inheritDoc SwarmStore.listRows} */
  async listRows(
    after: { name: string; contentKey: string } | undefined,
    limit: number,
    exact?: string,
  ): Promise<ListRow[]> {
    const r = await this.#op(
      "rows",
      after?.name ?? "",
      after?.contentKey ?? "",
      limit,
      exact ?? "",
    ) as string[];
    return records(r, 4, (name, contentKey, size, owners) => ({
      name: name!,
      contentKey: contentKey!,
      size: Number(size),
      owners: Number(owners),
    }));
  }

  /** {@inheritDoc SwarmStore.exit} */
  async exit(nodeId: string, from: StoreSource): Promise<ExitResult> {
    const r = await this.#op("exit", nodeId, from.hostname, from.port, 0) as (string | number)[];
    return { status: r[0] as PeerCheck, files: r.length > 1 ? Number(r[1]) : 0 };
  }

  /** {@inheritDoc SwarmStore.expire} */
  async expire(cutoff: number, max: number): Promise<Evicted[]> {
    const r = await this.#op("expire", cutoff, max) as string[];
    return records(r, 5, (nodeId, hostname, port, files, lastSeen) => ({
      nodeId: nodeId!,
      hostname: hostname!,
      port: Number(port),
      files: Number(files),
      lastSeen: Number(lastSeen),
    }));
  }

  /** Always undefined: the driver calls {@link RedisStore.expire} on a period. */
  oldestSeen(): number | undefined {
    return undefined;
  }

  /** {@inheritDoc SwarmStore.counts} */
  async counts(): Promise<StoreCounts> {
    const r = await this.#op("counts") as number[];
    return { peers: Number(r[0]), files: Number(r[1]) };
  }

  /** Disconnects. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#redis.close();
  }
}

/**
 * A batch as the script reads it: a JSON array of operations, each an array of strings (the
 * script compares strings as Redis returns them). A string that is not well-formed UTF-16 (a
 * lone surrogate, from a name off the network) gets U+FFFD where it would have been sent as
 * the UTF-8 replacement anyway.
 */
function encodeBatch(ops: BatchArg[][]): string {
  const out: string[][] = new Array(ops.length);
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    const row: string[] = new Array(op.length);
    for (let j = 0; j < op.length; j++) {
      const a = op[j]!;
      row[j] = typeof a === "string" ? (a.isWellFormed() ? a : a.toWellFormed()) : String(a);
    }
    out[i] = row;
  }
  return JSON.stringify(out);
}

/** The script's JSON answer: one reply per operation; `{"err": …}` becomes a `ReplyError`. */
function decodeBatch(reply: unknown): unknown[] {
  const answers = JSON.parse(String(reply));
  if (!Array.isArray(answers)) return [];
  for (let i = 0; i < answers.length; i++) {
    const a = answers[i];
    if (a !== null && typeof a === "object" && !Array.isArray(a)) {
      // cjson writes an empty Lua table as {}; an error reply is {"err": text}.
      if (typeof a.err === "string") {
        const e = new Error(a.err);
        e.name = "ReplyError";
        answers[i] = e;
      } else answers[i] = [];
    }
  }
  return answers;
}

function rateKeyOf(s: string): number {
  return s === "-inf" || s === undefined ? -Infinity : Number(s);
}
