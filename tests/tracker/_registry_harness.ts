import { decodeMessage, encodeMessage } from "../../lib/wire/codec.ts";
import { Prng } from "../../lib/sim/prng.ts";
import type {
  ExitMessage,
  ListMessage,
  Message,
  NeedMessage,
  NeedTarget,
  OwnMessage,
  ReportEntry,
  ReportMessage,
  UpdateMessage,
} from "../../lib/wire/messages.ts";
import type { RegistryOptions, Source } from "../../lib/tracker/dispatch.ts";
import { Dispatcher } from "../../lib/tracker/dispatch.ts";
import type { TrackerEvent } from "../../lib/tracker/tracker_event.ts";

/** Limits that never bite: for tests of other rules with many peers or requests at once. */
export const UNLIMITED = {
  burst: 1e9,
  requestsPerSecond: 1e9,
  maxPeersPerAddress: 1e9,
  maxPeersPerPrefix: 1e9,
  maxFilesPerAddress: 1e9,
  maxFilesPerPrefix: 1e9,
  addressRequestsPerSecond: 1e9,
  addressBurst: 1e9,
  prefixRequestsPerSecond: 1e9,
  prefixBurst: 1e9,
} as const;

/** A deterministic random source in [0, 1) (the shared mulberry32 {@link Prng}). */
export function prng(seed: number): () => number {
  const p = new Prng(seed);
  return () => p.next();
}

export function randomBytesFrom(random: () => number): (n: number) => Uint8Array {
  return (n) => {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = Math.floor(random() * 256);
    return b;
  };
}

export function cid(n: number): Uint8Array {
  const b = new Uint8Array(32);
  b[0] = n >> 8;
  b[1] = n & 0xff;
  b[31] = 0xee;
  return b;
}

export function src(i: number, host = "127.0.0.1"): Source {
  return { hostname: host, port: 10000 + i };
}

/** Drives the tracker core (a Dispatcher and its Registry) with a fake clock; decodes replies. */
export class Harness {
  now = 1_000_000;
  readonly core: Dispatcher;
  readonly reg: Dispatcher;
  readonly cookies = new Map<string, bigint>();
  readonly sources = new Map<string, Source>();
  txid = 1;
  lastRequestSize = 0;
  lastReplySize = 0;

  constructor(options: Partial<RegistryOptions> = {}, seed = 1) {
    const random = prng(seed);
    this.core = new Dispatcher({
      now: this.now,
      intervalMs: 1000,
      grace: 0.5,
      random,
      randomBytes: randomBytesFrom(random),
      ...options,
    });
    this.reg = this.core;
  }

  /**
   * A harness (with `options`) where `nodeId` has registered from `src(1)` and, with `file`,
   * shares that name as content `cid(1)` of 1000 bytes.
   */
  static withPeer(
    nodeId: string,
    file?: string,
    options: Partial<RegistryOptions> = {},
  ): Harness {
    const h = new Harness(options);
    h.register(nodeId, src(1));
    if (file !== undefined) h.own(nodeId, file, cid(1));
    return h;
  }

  advance(ms: number): void {
    this.now += ms;
    this.core.handleTimeout(this.now);
  }

  raw(bytes: Uint8Array, from: Source): Message | undefined {
    this.lastRequestSize = bytes.byteLength;
    const reply = this.core.handleDatagram(bytes, from, this.now);
    this.lastReplySize = reply?.byteLength ?? 0;
    return reply ? decodeMessage(reply) : undefined;
  }

  send(msg: Message, from: Source): Message | undefined {
    return this.raw(encodeMessage(msg), from);
  }

  /** Full handshake; returns the session cookie. */
  register(nodeId: string, from: Source): bigint {
    const challenge = this.send({ type: "register", txid: this.txid++, cookie: 0n, nodeId }, from);
    if (challenge?.type !== "registered" || challenge.evictAfterMs !== 0) {
      throw new Error(`expected a challenge, got ${JSON.stringify(challenge, bigints)}`);
    }
    const reply = this.send(
      { type: "register", txid: this.txid++, cookie: challenge.cookie, nodeId },
      from,
    );
    if (reply?.type !== "registered" || reply.evictAfterMs === 0) {
      throw new Error(`expected registered, got ${JSON.stringify(reply, bigints)}`);
    }
    this.cookies.set(nodeId, reply.cookie);
    this.sources.set(nodeId, from);
    return reply.cookie;
  }

  heartbeat(nodeId: string): Message | undefined {
    const reply = this.send(
      { type: "register", txid: this.txid++, cookie: this.cookies.get(nodeId)!, nodeId },
      this.sources.get(nodeId)!,
    );
    if (reply?.type === "registered" && reply.evictAfterMs > 0) {
      this.cookies.set(nodeId, reply.cookie);
    }
    return reply;
  }

  own(nodeId: string, name: string, contentId: Uint8Array, size = 1000): Message | undefined {
    return this.request(nodeId, { type: "own", name, size, contentId });
  }

  need(nodeId: string, want: NeedTarget | string, maxOwners = 0): Message | undefined {
    const w: NeedTarget = typeof want === "string" ? { kind: "name", name: want } : want;
    return this.request(nodeId, { type: "need", want: w, maxOwners });
  }

  /** `count` owners p0, p1, … sharing `contentId` as `name`, and an asker "q" (registered). */
  swarm(count: number, name: string, contentId: Uint8Array): void {
    for (let i = 0; i < count; i++) {
      this.register(`p${i}`, src(i));
      this.own(`p${i}`, name, contentId);
    }
    this.register("q", src(99));
  }

  /** Node ids in a NEED reply, or the error code name. */
  ownersOf(nodeId: string, want: NeedTarget | string, maxOwners = 0): string[] | number {
    const r = this.need(nodeId, want, maxOwners);
    if (r?.type === "owners") return r.owners.map((o) => o.nodeId);
    if (r?.type === "error") return r.code;
    throw new Error(`unexpected reply ${JSON.stringify(r, bigints)}`);
  }

  update(nodeId: string, uploaded: number): Message | undefined {
    return this.request(nodeId, { type: "update", uploaded });
  }

  /** REPORT from `nodeId`: verified bytes per owner of `contentId`. */
  report(nodeId: string, contentId: Uint8Array, entries: ReportEntry[]): Message | undefined {
    return this.request(nodeId, { type: "report", contentId, entries });
  }

  exit(nodeId: string): Message | undefined {
    return this.request(nodeId, { type: "exit" });
  }

  /** A request from a registered node: its txid, cookie, node id and source filled in. */
  request(nodeId: string, body: RequestBody): Message | undefined {
    const msg = { ...body, txid: this.txid++, cookie: this.cookies.get(nodeId)!, nodeId };
    return this.send(msg as Message, this.sources.get(nodeId)!);
  }

  events(): TrackerEvent[] {
    const out: TrackerEvent[] = [];
    for (let e = this.core.pollEvent(); e !== undefined; e = this.core.pollEvent()) out.push(e);
    return out;
  }
}

/** A request's own fields, without txid, cookie and node id. */
type RequestBody =
  | Omit<OwnMessage, "txid" | "cookie" | "nodeId">
  | Omit<NeedMessage, "txid" | "cookie" | "nodeId">
  | Omit<UpdateMessage, "txid" | "cookie" | "nodeId">
  | Omit<ReportMessage, "txid" | "cookie" | "nodeId">
  | Omit<ExitMessage, "txid" | "cookie" | "nodeId">
  | Omit<ListMessage, "txid" | "cookie" | "nodeId">;

export function bigints(_k: string, v: unknown): unknown {
  return typeof v === "bigint" ? v.toString() : v;
}
