/**
 * The tracker load generator shared by bench_tracker.ts and bench_tracker_store.ts: registers
 * many simulated peers (each on its own UDP socket, since a node id may only be used from the
 * address that registered it), has each OWN a file, then keeps `concurrency` requests
 * outstanding — a mix of heartbeats (REGISTER with the session cookie) and NEEDs by name — and
 * measures requests/s and latency. With several targets, peer `i` talks to target `i % n` only
 * (trackers of one store: its cookie is valid at every one, but each peer stays with one).
 * @module
 */
import { encodeMessage } from "../lib/wire/codec.ts";

/** Tracker flags for a benchmark: no evictions during the run, per-address limits lifted. */
export const BENCH_TRACKER_FLAGS: readonly string[] = [
  "--interval",
  "600s", // no evictions or key rotations during the run
  // The simulated peers sit on a few loopback addresses: lift the per-address limits.
  "--max-peers-per-address",
  "1000000",
  "--max-peers-per-prefix",
  "1000000",
  "--max-files-per-address",
  "1000000",
  "--max-files-per-prefix",
  "1000000",
  "--address-rate",
  "100000000",
  "--prefix-rate",
  "100000000",
];

/** Options for {@link benchTrackerArgs}. */
export interface BenchTrackerArgsOptions {
  /** Permission flags for `deno run` (`--allow-net`, …). */
  permissions: readonly string[];
  /** The tracker's `--owners`. */
  owners: string;
  /** Tracker flags after {@link BENCH_TRACKER_FLAGS} (`--no-log-file`, `--store URL`, …). */
  extra: readonly string[];
}

/**
 * The `deno run … tracker.ts` arguments of a benchmarked tracker on port 0 (run in the checkout's
 * root): `BENCH_TRACKER_V8_FLAGS` and `BENCH_TRACKER_DENO_FLAGS` from the environment (profiling),
 * `permissions`, then {@link BENCH_TRACKER_FLAGS} and `extra`.
 */
export function benchTrackerArgs(o: BenchTrackerArgsOptions): string[] {
  const v8 = Deno.env.get("BENCH_TRACKER_V8_FLAGS");
  return [
    "run",
    "--quiet",
    ...(v8 ? [`--v8-flags=${v8}`] : []),
    ...(Deno.env.get("BENCH_TRACKER_DENO_FLAGS")?.split(" ") ?? []),
    ...o.permissions,
    "tracker.ts",
    ...["--port", "0", "--owners", o.owners],
    ...BENCH_TRACKER_FLAGS,
    ...o.extra,
  ];
}

/** The generator's command-line flags (for `parseArgs`), shared by the scripts that run it. */
export const TRACKER_LOAD_FLAGS = {
  peers: { type: "string", default: "10000" },
  files: { type: "string", default: "1000" },
  seconds: { type: "string", default: "10" },
  warmup: { type: "string", default: "1" },
  concurrency: { type: "string", default: "64" },
  "need-ratio": { type: "string", default: "0.5" },
  hosts: { type: "string", default: "4" },
  owners: { type: "string", default: "8" },
} as const;

/** Options for {@link runTrackerLoad}. */
export interface TrackerLoadOptions {
  /** The trackers; peer `i` uses `targets[i % targets.length]`. */
  targets: readonly Deno.NetAddr[];
  /** Simulated peers. */
  peers: number;
  /** Files (peer `i` OWNs file `i % files`). */
  files: number;
  /**
   * Requests outstanding at once (at most 4096). With {@link TrackerLoadOptions.rate}: the most
   * that may be outstanding (a request due when all are taken is counted `skipped`).
   */
  concurrency: number;
  /**
   * Offered rate in requests/s (open loop: sent on a 1 ms clock whatever the replies, so the
   * latency is that of a tracker below saturation). Undefined: closed loop, a new request as
   * soon as one is answered (saturation).
   */
  rate?: number;
  /** Share of NEEDs in the mix (the rest are heartbeats). */
  needRatio: number;
  /** Loopback source addresses 127.0.0.1..H the peers are spread over. */
  hosts: number;
  /** Seconds of load before measuring. */
  warmupSeconds: number;
  /** Seconds measured. */
  seconds: number;
  /** Replaces setup by fixed templates (for an echo server that does no tracker work). */
  echo?: boolean;
  /** Called right before and right after the measured window (CPU readings). */
  onWindow?: (edge: "start" | "end") => Promise<void>;
}

/** What {@link runTrackerLoad} measured. */
export interface TrackerLoadResult {
  setupMs: number;
  /** Length of the measured window, s. */
  seconds: number;
  requests: number;
  heartbeats: number;
  needs: number;
  errorReplies: number;
  /** Requests unanswered within {@link LOAD_TIMEOUT_MS} (re-issued). */
  lost: number;
  staleReplies: number;
  /** Paced runs: requests due while `concurrency` were already outstanding (not sent). */
  skipped: number;
  latencyMs: { p50: number; p90: number; p99: number; p999: number };
}

/** A request unanswered this long is counted lost and re-issued, ms. */
export const LOAD_TIMEOUT_MS = 250;

/**
 * utime + stime of a process in clock ticks (100/s), via `cat` (Deno reads /proc only with
 * --allow-all).
 *
 * @param pid the process
 * @returns the ticks, NaN when it cannot be read
 */
export async function cpuTicks(pid: number): Promise<number> {
  const t = await cpuTimes(pid);
  return t.user + t.sys;
}

/**
 * utime and stime of a process in clock ticks (100/s), apart: what it spends in its own code
 * and in the kernel (system calls, and on loopback the receiver's side of every send).
 *
 * @param pid the process
 * @returns the ticks, NaN when they cannot be read
 */
export async function cpuTimes(pid: number): Promise<{ user: number; sys: number }> {
  try {
    const out = await new Deno.Command("cat", { args: [`/proc/${pid}/stat`] }).output();
    const f = new TextDecoder().decode(out.stdout).split(") ")[1]!.split(" ");
    return { user: Number(f[11]), sys: Number(f[12]) };
  } catch {
    return { user: NaN, sys: NaN };
  }
}

interface SimPeer {
  conn: Deno.DatagramConn;
  target: Deno.NetAddr;
  /** Requests outstanding from this peer's socket. */
  outstanding: number;
  /** True while a receive is pending on the socket. */
  receiving: boolean;
  id: string;
  cookie: bigint;
  heartbeat: Uint8Array; // template, txid patched per send
  need: Uint8Array;
}

type Handler = (slot: number, reply: Uint8Array) => void;

/**
 * Registers the peers, OWNs their files, runs the load and closes the peers' sockets.
 *
 * @param options targets, population, mix and timing
 * @returns the figures of the measured window
 */
export async function runTrackerLoad(options: TrackerLoadOptions): Promise<TrackerLoadResult> {
  const PEERS = options.peers;
  const FILES = options.files;
  const W = Math.min(4096, options.concurrency);
  const HOSTS = Math.max(1, Math.min(250, options.hosts));
  const peers: SimPeer[] = [];
  for (let i = 0; i < PEERS; i++) {
    const conn = Deno.listenDatagram({
      transport: "udp",
      hostname: `127.0.0.${1 + (i % HOSTS)}`,
      port: 0,
    });
    peers.push({
      conn,
      target: options.targets[i % options.targets.length]!,
      outstanding: 0,
      receiving: false,
      id: `bench-${i}`,
      cookie: 0n,
      heartbeat: new Uint8Array(0),
      need: new Uint8Array(0),
    });
  }

  // Slots: each holds one outstanding request. txid = (sequence << 12) | slot.
  const slotTxid = new Uint32Array(W);
  const slotSent = new Float64Array(W);
  const slotSeq = new Uint32Array(W);
  const slotBuf: Uint8Array[] = Array.from({ length: W }, () => new Uint8Array(128));
  const slotKind = new Uint8Array(W); // 0 setup, 1 heartbeat, 2 need
  const slotPeer = new Int32Array(W);
  const slotHandler: (Handler | undefined)[] = new Array(W);

  // Latency histogram: 10 µs buckets up to 100 ms.
  const BUCKET_US = 10;
  const hist = new Float64Array(10_000 + 1);
  let measuring = false;
  let completed = 0, heartbeats = 0, needs = 0, errors = 0, lost = 0, stale = 0;

  const recordLatency = (ms: number) => {
    const b = Math.min(hist.length - 1, Math.floor((ms * 1000) / BUCKET_US));
    hist[b]!++;
  };
  const percentile = (p: number) => {
    let total = 0;
    for (let i = 0; i < hist.length; i++) total += hist[i]!;
    let acc = 0;
    const target = total * p;
    for (let i = 0; i < hist.length; i++) {
      acc += hist[i]!;
      if (acc >= target) return ((i + 0.5) * BUCKET_US) / 1000;
    }
    return NaN;
  };

  // A receive is pending only on sockets with a request outstanding: Deno's event loop costs
  // grow with the number of pending ops, and 10,000 idle receives cut throughput by ~3x.
  let closing = false;
  const rxBuffers: Uint8Array[] = [];
  const rxLoops = new Set<Promise<void>>();

  const send = (slot: number, peer: number, template: Uint8Array, onReply: Handler) => {
    const seq = (slotSeq[slot]! + 1) & 0xfffff;
    slotSeq[slot] = seq;
    const txid = ((seq << 12) | slot) >>> 0;
    slotTxid[slot] = txid;
    slotPeer[slot] = peer;
    const buf = slotBuf[slot]!.subarray(0, template.length);
    buf.set(template);
    buf[4] = txid >>> 24;
    buf[5] = (txid >>> 16) & 0xff;
    buf[6] = (txid >>> 8) & 0xff;
    buf[7] = txid & 0xff;
    slotHandler[slot] = onReply;
    slotSent[slot] = performance.now();
    const p = peers[peer]!;
    p.outstanding++;
    p.conn.send(buf, p.target).catch(() => {});
    ensureReceiving(p);
  };

  const ensureReceiving = (p: SimPeer) => {
    if (p.receiving || closing) return;
    p.receiving = true;
    const loop = receiveWhileOutstanding(p);
    rxLoops.add(loop);
    loop.finally(() => rxLoops.delete(loop));
  };

  const receiveWhileOutstanding = async (p: SimPeer) => {
    const buf = rxBuffers.pop() ?? new Uint8Array(2048);
    try {
      while (p.outstanding > 0 && !closing) {
        let data: Uint8Array;
        try {
          [data] = await p.conn.receive(buf);
        } catch {
          return;
        }
        if (data.length < 8) continue;
        const txid = ((data[4]! << 24) | (data[5]! << 16) | (data[6]! << 8) | data[7]!) >>> 0;
        const slot = txid & 0xfff;
        if (slot >= W || slotTxid[slot] !== txid || slotHandler[slot] === undefined) {
          stale++;
          continue;
        }
        p.outstanding--;
        const h = slotHandler[slot]!;
        slotHandler[slot] = undefined;
        h(slot, data);
      }
    } finally {
      p.receiving = false;
      rxBuffers.push(buf);
    }
  };

  // Lost datagrams: a sweep re-issues requests that waited longer than LOAD_TIMEOUT_MS.
  const retryOf: ((slot: number) => void)[] = new Array(W);
  const sweeper = setInterval(() => {
    const now = performance.now();
    for (let s = 0; s < W; s++) {
      if (slotHandler[s] !== undefined && now - slotSent[s]! > LOAD_TIMEOUT_MS) {
        slotHandler[s] = undefined;
        peers[slotPeer[s]!]!.outstanding--;
        lost++;
        retryOf[s]?.(s);
      }
    }
  }, 50);

  const cookieOf = (reply: Uint8Array) =>
    new DataView(reply.buffer, reply.byteOffset, reply.byteLength).getBigUint64(8);
  const fileOf = (i: number) => i % FILES;

  // ---------------------------------------------------------------- setup: register + own
  const setupStart = performance.now();
  if (options.echo) {
    for (const p of peers) {
      p.heartbeat = encodeMessage({ type: "register", txid: 0, cookie: 1n, nodeId: p.id }).slice();
      p.need = p.heartbeat;
    }
  } else {
    let next = 0, done = 0;
    const all = Promise.withResolvers<void>();
    const step = (slot: number, peer: number, stage: number) => {
      const p = peers[peer]!;
      if (stage === 0 || stage === 1) {
        const tmpl = encodeMessage({
          type: "register",
          txid: 0,
          cookie: stage === 0 ? 0n : p.cookie,
          nodeId: p.id,
        });
        retryOf[slot] = (s) => step(s, peer, stage);
        send(slot, peer, tmpl, (s, reply) => {
          if (reply[3] !== 0x02) throw new Error(`register ${p.id}: reply type ${reply[3]}`);
          p.cookie = cookieOf(reply);
          step(s, peer, stage + 1);
        });
      } else if (stage === 2) {
        const f = fileOf(peer);
        const contentId = new Uint8Array(32);
        new DataView(contentId.buffer).setUint32(0, f + 1);
        const tmpl = encodeMessage({
          type: "own",
          txid: 0,
          cookie: p.cookie,
          nodeId: p.id,
          name: `file-${f}.bin`,
          size: 1_000_000 + f,
          contentId,
        });
        retryOf[slot] = (s) => step(s, peer, stage);
        send(slot, peer, tmpl, (s, reply) => {
          if (reply[3] !== 0x08) throw new Error(`own ${p.id}: reply type ${reply[3]}`);
          p.heartbeat = encodeMessage({
            type: "register",
            txid: 0,
            cookie: p.cookie,
            nodeId: p.id,
          }).slice();
          p.need = encodeMessage({
            type: "need",
            txid: 0,
            cookie: p.cookie,
            nodeId: p.id,
            maxOwners: 0,
            want: { kind: "name", name: `file-${fileOf(peer * 7919 + 13)}.bin` },
          }).slice();
          done++;
          if (done === PEERS) all.resolve();
          else if (next < PEERS) step(s, next++, 0);
        });
      }
    };
    for (let s = 0; s < Math.min(W, PEERS); s++) step(s, next++, 0);
    await all.promise;
  }
  const setupMs = performance.now() - setupStart;

  // ---------------------------------------------------------------- load
  let seed = 12345;
  const rand = () => {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    return seed / 4294967296;
  };
  const paced = options.rate !== undefined && options.rate > 0;
  const free: number[] = [];
  const onLoadReply = (slot: number, reply: Uint8Array) => {
    if (measuring) {
      completed++;
      recordLatency(performance.now() - slotSent[slot]!);
      if (reply[3] === 0x09) errors++;
      else if (slotKind[slot] === 2) needs++;
      else heartbeats++;
    }
    if (paced) free.push(slot);
    else issue(slot);
  };
  const issue = (slot: number) => {
    if (closing) return;
    const peer = Math.floor(rand() * PEERS);
    const p = peers[peer]!;
    const isNeed = rand() < options.needRatio;
    slotKind[slot] = isNeed ? 2 : 1;
    send(slot, peer, isNeed ? p.need : p.heartbeat, onLoadReply);
  };
  let skipped = 0;
  let pacer: ReturnType<typeof setInterval> | undefined;
  if (paced) {
    // Open loop: every millisecond, send what is due at `rate` since the start, into free
    // slots; a lost request's slot is simply freed.
    for (let s = W - 1; s >= 0; s--) {
      free.push(s);
      retryOf[s] = (slot) => free.push(slot);
    }
    const start = performance.now();
    let sent = 0;
    pacer = setInterval(() => {
      const due = Math.floor(((performance.now() - start) / 1000) * options.rate!);
      for (; sent < due; sent++) {
        const slot = free.pop();
        if (slot === undefined) {
          if (measuring) skipped++;
          continue;
        }
        issue(slot);
      }
    }, 1);
  } else {
    for (let s = 0; s < W; s++) retryOf[s] = issue;
    for (let s = 0; s < W; s++) issue(s);
  }
  await new Promise((r) => setTimeout(r, options.warmupSeconds * 1000));
  lost = 0;
  stale = 0;
  await options.onWindow?.("start");
  measuring = true;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, options.seconds * 1000));
  measuring = false;
  const elapsed = (performance.now() - t0) / 1000;
  await options.onWindow?.("end");
  closing = true;

  clearInterval(sweeper);
  if (pacer !== undefined) clearInterval(pacer);
  for (const p of peers) p.conn.close();
  await Promise.all(rxLoops);
  return {
    setupMs,
    seconds: elapsed,
    requests: completed,
    heartbeats,
    needs,
    errorReplies: errors,
    lost,
    staleReplies: stale,
    skipped,
    latencyMs: {
      p50: percentile(0.5),
      p90: percentile(0.9),
      p99: percentile(0.99),
      p999: percentile(0.999),
    },
  };
}
