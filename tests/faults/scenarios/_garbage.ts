/**
 * Hostile datagrams for the garbage and spoofing scenarios: a pool of well-formed messages of
 * every type (with the real content id and node ids where given, so mutations reach deep into the
 * handlers), and a seeded generator of random and mutated datagrams.
 * @module
 */
import { encodeMessage } from "../../../lib/wire/codec.ts";
import type { Message } from "../../../lib/wire/messages.ts";
import { MAGIC, VERSION } from "../../../lib/wire/limits.ts";
import { Prng } from "../../../lib/sim/prng.ts";

/** What the pool is built around. */
export interface PoolTargets {
  /** A content id the target really shares (32 bytes). */
  contentId: Uint8Array;
  /** The size of that content. */
  size: number;
  /** Node ids registered at the tracker. */
  nodeIds: string[];
  /** A file name the tracker knows. */
  name: string;
}

/** One well-formed datagram of every message type, several variants each. */
export function validPool(t: PoolTargets): Uint8Array[] {
  const cookie = 0x0123456789abcdefn;
  const msgs: Message[] = [];
  for (const nodeId of [...t.nodeIds, "stranger"]) {
    msgs.push(
      { type: "register", txid: 1, cookie: 0n, nodeId },
      { type: "register", txid: 2, cookie, nodeId },
      { type: "own", txid: 3, cookie, nodeId, name: t.name, size: t.size, contentId: t.contentId },
      { type: "need", txid: 4, cookie, nodeId, want: { kind: "name", name: t.name }, maxOwners: 8 },
      {
        type: "need",
        txid: 5,
        cookie,
        nodeId,
        want: { kind: "content", contentId: t.contentId },
        maxOwners: 16,
      },
      { type: "update", txid: 6, cookie, nodeId, uploaded: 123_456 },
      { type: "exit", txid: 7, cookie, nodeId },
    );
  }
  msgs.push(
    { type: "registered", txid: 8, cookie, intervalMs: 1000, evictAfterMs: 1500 },
    {
      type: "owners",
      txid: 9,
      contentId: t.contentId,
      name: t.name,
      size: t.size,
      alternatives: 0,
      owners: [{ nodeId: "x", address: { family: 4, host: "127.0.0.1", port: 9 }, rate: 5 }],
    },
    { type: "ack", txid: 10 },
    { type: "error", txid: 11, code: 9, text: "no" },
    {
      type: "manifest_request",
      txid: 12,
      cookie,
      contentId: t.contentId,
      offset: 0,
      maxDatagram: 1200,
    },
    {
      type: "manifest_data",
      txid: 13,
      contentId: t.contentId,
      total: 100,
      offset: 0,
      data: new Uint8Array(10),
    },
    {
      type: "block_request",
      txid: 14,
      cookie,
      contentId: t.contentId,
      blockSize: 1024,
      ranges: [{ offset: 0, length: 2048 }, { offset: t.size - 1024, length: 1024 }],
    },
    { type: "block_data", txid: 15, offset: 4096, data: new Uint8Array(64) },
    {
      type: "have",
      txid: 16,
      contentId: t.contentId,
      pieceCount: 64,
      firstPiece: 0,
      bits: new Uint8Array(8).fill(0xff),
    },
    { type: "probe", txid: 17, size: 1200 },
    { type: "probe_ack", txid: 18, size: 64, cookie },
  );
  return msgs.map((m) => encodeMessage(m).slice());
}

/** Counts of what {@link GarbageGenerator} produced, by kind. */
export interface GarbageCounts {
  random: number;
  header: number;
  bitflip: number;
  truncated: number;
  extended: number;
  overwritten: number;
  spliced: number;
}

/** A seeded source of random and mutated datagrams. */
export class GarbageGenerator {
  readonly counts: GarbageCounts = {
    random: 0,
    header: 0,
    bitflip: 0,
    truncated: 0,
    extended: 0,
    overwritten: 0,
    spliced: 0,
  };
  readonly #prng: Prng;
  readonly #pool: Uint8Array[];
  readonly #types: number[];

  constructor(seed: number, pool: Uint8Array[]) {
    this.#prng = new Prng(seed);
    this.#pool = pool;
    this.#types = [...new Set(pool.map((b) => b[3]!))];
  }

  #pick(): Uint8Array {
    return this.#pool[this.#prng.below(this.#pool.length)]!;
  }

  #random(len: number): Uint8Array {
    const b = new Uint8Array(len);
    this.#prng.fill(b);
    return b;
  }

  /** One hostile datagram (a fresh array). */
  next(): Uint8Array {
    const p = this.#prng;
    const roll = p.below(100);
    if (roll < 15) {
      this.counts.random++;
      // Mostly small, now and then large.
      const len = p.below(10) === 0 ? p.below(9000) : p.below(300);
      return this.#random(len);
    }
    if (roll < 30) {
      // A plausible header, then noise.
      this.counts.header++;
      const b = this.#random(8 + p.below(p.below(4) === 0 ? 1500 : 120));
      b[0] = MAGIC >> 8;
      b[1] = MAGIC & 0xff;
      b[2] = p.below(20) === 0 ? p.below(256) : VERSION;
      b[3] = p.below(10) === 0 ? p.below(256) : this.#types[p.below(this.#types.length)]!;
      return b;
    }
    const base = this.#pick();
    if (roll < 55) {
      this.counts.bitflip++;
      const b = base.slice();
      for (let n = 1 + p.below(4); n > 0; n--) {
        // Bias flips past the header so the body parsers see them.
        const i = b.length > 8 && p.below(4) > 0 ? 8 + p.below(b.length - 8) : p.below(b.length);
        b[i]! ^= 1 << p.below(8);
      }
      return b;
    }
    if (roll < 70) {
      this.counts.truncated++;
      return base.slice(0, p.below(base.length));
    }
    if (roll < 80) {
      this.counts.extended++;
      const extra = this.#random(1 + p.below(p.below(5) === 0 ? 2000 : 40));
      const b = new Uint8Array(base.length + extra.length);
      b.set(base);
      b.set(extra, base.length);
      return b;
    }
    if (roll < 92) {
      // Length and count fields are where parsers go wrong: overwrite a byte with an extreme.
      this.counts.overwritten++;
      const b = base.slice();
      const extremes = [0x00, 0xff, 0x7f, 0x80, 0x01, 0xfe];
      for (let n = 1 + p.below(3); n > 0; n--) {
        b[p.below(b.length)] = extremes[p.below(extremes.length)]!;
      }
      return b;
    }
    this.counts.spliced++;
    const other = this.#pick();
    const cut = p.below(base.length + 1);
    const from = p.below(other.length + 1);
    const b = new Uint8Array(cut + other.length - from);
    b.set(base.subarray(0, cut));
    b.set(other.subarray(from), cut);
    return b;
  }
}

/**
 * Run as a program: fires garbage from its own process, so the test's op sanitizer does not trace
 * hundreds of thousands of sends. Prints `fired N` every 5,000 datagrams and a final JSON line.
 *
 * `deno run --allow-net=127.0.0.1 _garbage.ts SEED COUNT_PER_TARGET RATE CONTENT_HEX SIZE NAME
 * NODE,NODE HOST:PORT,HOST:PORT`
 */
async function main(args: string[]): Promise<void> {
  const [seed, count, rate, contentHex, size, name, nodes, targets] = args;
  const contentId = new Uint8Array(32);
  for (let i = 0; i < 32; i++) contentId[i] = parseInt(contentHex!.slice(2 * i, 2 * i + 2), 16);
  const gen = new GarbageGenerator(
    Number(seed),
    validPool({ contentId, size: Number(size), name: name!, nodeIds: nodes!.split(",") }),
  );
  const to: Deno.NetAddr[] = targets!.split(",").map((t) => {
    const i = t.lastIndexOf(":");
    return { transport: "udp", hostname: t.slice(0, i), port: Number(t.slice(i + 1)) };
  });
  const sockets = Array.from(
    { length: 8 },
    () => Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 }),
  );
  const replies = { count: 0, bytes: 0 };
  const buf = new Uint8Array(65536);
  const readers = sockets.map(async (s) => {
    try {
      for (;;) {
        const [b] = await s.receive(buf);
        replies.count++;
        replies.bytes += b.length;
      }
    } catch {
      // closed
    }
  });
  const total = Number(count) * to.length;
  let bytes = 0, errors = 0;
  const started = performance.now();
  let inFlight: Promise<unknown>[] = [];
  for (let i = 0; i < total; i++) {
    const d = gen.next();
    bytes += d.length;
    inFlight.push(sockets[i % sockets.length]!.send(d, to[i % to.length]!).catch(() => errors++));
    if (inFlight.length >= 256) {
      await Promise.all(inFlight);
      inFlight = [];
      const ahead = ((i + 1) / Number(rate)) * 1000 - (performance.now() - started);
      if (ahead > 0) await new Promise((r) => setTimeout(r, ahead));
    }
    if (i % 5000 === 4999) console.log(`fired ${i + 1}`);
  }
  await Promise.all(inFlight);
  const ms = performance.now() - started;
  await new Promise((r) => setTimeout(r, 200));
  for (const s of sockets) s.close();
  await Promise.all(readers);
  console.log(JSON.stringify({
    sent: total,
    bytes,
    errors,
    ms: Math.round(ms),
    replies: replies.count,
    replyBytes: replies.bytes,
    kinds: gen.counts,
  }));
}

if (import.meta.main) await main(Deno.args);
