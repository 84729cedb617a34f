/**
 * Tracker load generator: registers many simulated peers (each on its own UDP socket, since a
 * node id may only be used from the address that registered it), has each OWN a file, then
 * keeps `--concurrency` requests outstanding — a mix of heartbeats (REGISTER with the session
 * cookie) and NEEDs by name — against a real tracker process on loopback. Prints requests/s,
 * latency percentiles and the tracker's CPU use, and writes bench-results/tracker.json.
 *
 *   deno run -P=test scripts/bench_tracker.ts [--peers 10000] [--files 1000] [--seconds 10]
 *     [--concurrency 64] [--need-ratio 0.5] [--hosts 4] [--log] [--out bench-results/tracker.json]
 *
 * `--log` makes the tracker write tracker.log (to a temp dir): every NEED is a log line.
 * `--baseline-echo` replaces the tracker with a UDP echo server that does no work at all: the
 * same load generator then measures what Deno's datagram I/O alone costs on this machine.
 * Profiling: `BENCH_TRACKER_DENO_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof"` adds flags to the
 * tracker's `deno run` (`BENCH_TRACKER_V8_FLAGS` passes V8 flags).
 * @module
 */
import { spawnListening } from "./_listening.ts";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { encodeMessage } from "../lib/wire/codec.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    peers: { type: "string", default: "10000" },
    files: { type: "string", default: "1000" },
    seconds: { type: "string", default: "10" },
    warmup: { type: "string", default: "1" },
    concurrency: { type: "string", default: "64" },
    "need-ratio": { type: "string", default: "0.5" },
    hosts: { type: "string", default: "4" },
    owners: { type: "string", default: "8" },
    log: { type: "boolean", default: false },
    "baseline-echo": { type: "boolean", default: false },
    out: { type: "string", default: "bench-results/tracker.json" },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log(
    "deno run -P=test scripts/bench_tracker.ts [--peers N] [--files N] [--seconds S] [--concurrency W] [--need-ratio R] [--hosts H] [--log] [--out FILE]",
  );
  Deno.exit(0);
}
const PEERS = Number(values.peers);
const FILES = Number(values.files);
const SECONDS = Number(values.seconds);
const WARMUP = Number(values.warmup);
const W = Math.min(4096, Number(values.concurrency));
const NEED_RATIO = Number(values["need-ratio"]);
const HOSTS = Math.max(1, Math.min(250, Number(values.hosts)));
const ROOT = fileURLToPath(new URL("../", import.meta.url));
const TIMEOUT_MS = 250;

// ------------------------------------------------------------------ the tracker process
const logDir = values.log ? await Deno.makeTempDir({ prefix: "bench_tracker_log_" }) : undefined;
const trackerArgs = [
  "run",
  "--quiet",
  ...(Deno.env.get("BENCH_TRACKER_V8_FLAGS")
    ? [`--v8-flags=${Deno.env.get("BENCH_TRACKER_V8_FLAGS")}`]
    : []),
  ...(Deno.env.get("BENCH_TRACKER_DENO_FLAGS")?.split(" ") ?? []),
  "--allow-net", // replies go to 127.0.0.x sources
  ...(logDir ? [`--allow-write=${logDir}`, `--allow-read=${logDir}`] : []),
  "tracker.ts",
  "--port",
  "0",
  "--interval",
  "600s", // no evictions or key rotations during the run
  "--owners",
  values.owners!,
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
  ...(logDir ? ["--log-dir", logDir] : ["--no-log-file"]),
];
const BASELINE = values["baseline-echo"];
const ECHO = `const c = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
console.log("listening on udp://127.0.0.1:" + c.addr.port);
const b = new Uint8Array(65536);
for (;;) { const [d, from] = await c.receive(b); c.send(d.slice(), from); }`;
const { child, port, stdoutDone: stdoutRest } = await spawnListening(
  BASELINE ? ["eval", "--unstable-net", ECHO] : trackerArgs,
  ROOT,
);
const tracker: Deno.NetAddr = { transport: "udp", hostname: "127.0.0.1", port };

/** utime + stime of a process in clock ticks (100/s); Deno wants --allow-all for /proc reads. */
async function cpuTicks(pid: number): Promise<number> {
  try {
    const out = await new Deno.Command("cat", { args: [`/proc/${pid}/stat`] }).output();
    const f = new TextDecoder().decode(out.stdout).split(") ")[1]!.split(" ");
    return Number(f[11]) + Number(f[12]);
  } catch {
    return NaN;
  }
}

// ------------------------------------------------------------------ simulated peers
interface SimPeer {
  conn: Deno.DatagramConn;
  /** Requests outstanding from this peer's socket. */
  outstanding: number;
  /** True while a receive is pending on the socket. */
  receiving: boolean;
  id: string;
  cookie: bigint;
  heartbeat: Uint8Array; // template, txid patched per send
  need: Uint8Array;
}
const peers: SimPeer[] = [];
for (let i = 0; i < PEERS; i++) {
  const conn = Deno.listenDatagram({
    transport: "udp",
    hostname: `127.0.0.${1 + (i % HOSTS)}`,
    port: 0,
  });
  peers.push({
    conn,
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
type Handler = (slot: number, reply: Uint8Array) => void;
const slotHandler: (Handler | undefined)[] = new Array(W);

// Latency histogram: 10 µs buckets up to 100 ms.
const BUCKET_US = 10;
const hist = new Float64Array(10_000 + 1);
let measuring = false;
let completed = 0, heartbeats = 0, needs = 0, errors = 0, lost = 0, stale = 0;

function recordLatency(ms: number): void {
  const b = Math.min(hist.length - 1, Math.floor((ms * 1000) / BUCKET_US));
  hist[b]!++;
}

function percentile(p: number): number {
  let total = 0;
  for (let i = 0; i < hist.length; i++) total += hist[i]!;
  let acc = 0;
  const target = total * p;
  for (let i = 0; i < hist.length; i++) {
    acc += hist[i]!;
    if (acc >= target) return ((i + 0.5) * BUCKET_US) / 1000;
  }
  return NaN;
}

function send(slot: number, peer: number, template: Uint8Array, onReply: Handler): void {
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
  p.conn.send(buf, tracker).catch(() => {});
  ensureReceiving(p);
}

// A receive is pending only on sockets with a request outstanding: Deno's event loop costs
// grow with the number of pending ops, and 10,000 idle receives cut throughput by ~3x.
let closing = false;
const rxBuffers: Uint8Array[] = [];
const rxLoops = new Set<Promise<void>>();

function ensureReceiving(p: SimPeer): void {
  if (p.receiving || closing) return;
  p.receiving = true;
  const loop = receiveWhileOutstanding(p);
  rxLoops.add(loop);
  loop.finally(() => rxLoops.delete(loop));
}

async function receiveWhileOutstanding(p: SimPeer): Promise<void> {
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
}

// Lost datagrams: a sweep re-issues requests that waited longer than TIMEOUT_MS.
const retryOf: ((slot: number) => void)[] = new Array(W);
const sweeper = setInterval(() => {
  const now = performance.now();
  for (let s = 0; s < W; s++) {
    if (slotHandler[s] !== undefined && now - slotSent[s]! > TIMEOUT_MS) {
      slotHandler[s] = undefined;
      peers[slotPeer[s]!]!.outstanding--;
      lost++;
      retryOf[s]?.(s);
    }
  }
}, 50);

function cookieOf(reply: Uint8Array): bigint {
  return new DataView(reply.buffer, reply.byteOffset, reply.byteLength).getBigUint64(8);
}

function fileOf(i: number): number {
  return i % FILES;
}

// ------------------------------------------------------------------ setup: register + own
const setupStart = performance.now();
if (BASELINE) {
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
        p.heartbeat = encodeMessage({ type: "register", txid: 0, cookie: p.cookie, nodeId: p.id })
          .slice();
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
console.log(
  `setup: ${PEERS} peers registered (cookie handshake) and OWNed ${FILES} files in ${
    (setupMs / 1000).toFixed(1)
  } s`,
);

// ------------------------------------------------------------------ load
let seed = 12345;
function rand(): number {
  seed = (seed * 1664525 + 1013904223) >>> 0;
  return seed / 4294967296;
}

function issue(slot: number): void {
  if (closing) return;
  const peer = Math.floor(rand() * PEERS);
  const p = peers[peer]!;
  const isNeed = rand() < NEED_RATIO;
  slotKind[slot] = isNeed ? 2 : 1;
  send(slot, peer, isNeed ? p.need : p.heartbeat, onLoadReply);
}

function onLoadReply(slot: number, reply: Uint8Array): void {
  if (measuring) {
    completed++;
    recordLatency(performance.now() - slotSent[slot]!);
    if (reply[3] === 0x09) errors++;
    else if (slotKind[slot] === 2) needs++;
    else heartbeats++;
  }
  issue(slot);
}
for (let s = 0; s < W; s++) retryOf[s] = issue;

for (let s = 0; s < W; s++) issue(s);
await new Promise((r) => setTimeout(r, WARMUP * 1000));
lost = 0;
stale = 0;
measuring = true;
const cpu0 = await cpuTicks(child.pid);
const self0 = await cpuTicks(Deno.pid);
const t0 = performance.now();
await new Promise((r) => setTimeout(r, SECONDS * 1000));
measuring = false;
const elapsed = (performance.now() - t0) / 1000;
const cpu1 = await cpuTicks(child.pid);
const self1 = await cpuTicks(Deno.pid);
closing = true;

const result = {
  date: new Date().toISOString(),
  deno: Deno.version.deno,
  cpus: navigator.hardwareConcurrency,
  peers: PEERS,
  files: FILES,
  concurrency: W,
  needRatio: NEED_RATIO,
  sourceHosts: HOSTS,
  ownersPerReply: Number(values.owners),
  baselineEcho: BASELINE,
  trackerLog: Boolean(logDir),
  seconds: Number(elapsed.toFixed(2)),
  setupSeconds: Number((setupMs / 1000).toFixed(2)),
  requests: completed,
  requestsPerSecond: Math.round(completed / elapsed),
  heartbeats,
  needs,
  errorReplies: errors,
  lostOrTimedOut: lost,
  staleReplies: stale,
  latencyMs: {
    p50: percentile(0.5),
    p90: percentile(0.9),
    p99: percentile(0.99),
    p999: percentile(0.999),
  },
  trackerCpuPercent: Math.round(((cpu1 - cpu0) / 100 / elapsed) * 100),
  /** Tracker CPU time per request: the machine-independent cost (µs). */
  trackerCpuMicrosPerRequest: Number(
    (((cpu1 - cpu0) / 100) * 1e6 / Math.max(1, completed)).toFixed(1),
  ),
  generatorCpuPercent: Math.round(((self1 - self0) / 100 / elapsed) * 100),
  loadAverage: Deno.loadavg(),
};

console.log("");
console.log(`| metric | value |`);
console.log(`|---|---|`);
console.log(`| requests/s | ${result.requestsPerSecond.toLocaleString("en")} |`);
console.log(`| heartbeats / NEEDs / ERRORs | ${heartbeats} / ${needs} / ${errors} |`);
console.log(
  `| p50 / p90 / p99 / p99.9 latency | ${result.latencyMs.p50.toFixed(3)} / ${
    result.latencyMs.p90.toFixed(3)
  } / ${result.latencyMs.p99.toFixed(3)} / ${result.latencyMs.p999.toFixed(3)} ms |`,
);
console.log(`| lost (>${TIMEOUT_MS} ms, re-issued) | ${lost} |`);
console.log(
  `| CPU: tracker / load generator | ${result.trackerCpuPercent} % / ${result.generatorCpuPercent} % of one core |`,
);
console.log(
  `| tracker CPU per request | ${result.trackerCpuMicrosPerRequest} µs (1 core ⇒ ~${
    Math.round(1e6 / result.trackerCpuMicrosPerRequest / 1000)
  }k req/s) |`,
);
console.log(`| load average (other work on the machine) | ${result.loadAverage.join(" ")} |`);
console.log(`| peers / files / outstanding | ${PEERS} / ${FILES} / ${W} |`);

await Deno.mkdir(`${ROOT}bench-results`, { recursive: true });
const out = values.out!.startsWith("/") ? values.out! : `${ROOT}${values.out}`;
await Deno.writeTextFile(out, JSON.stringify(result, null, 2) + "\n");
console.log(`\nwrote ${out}`);

// ------------------------------------------------------------------ teardown
clearInterval(sweeper);
for (const p of peers) p.conn.close();
await Promise.all(rxLoops);
child.kill("SIGTERM");
await child.status;
await stdoutRest;
if (logDir) {
  const size = (await Deno.stat(`${logDir}/tracker.log`)).size;
  console.log(`tracker.log: ${(size / 1e6).toFixed(1)} MB`);
  await Deno.remove(logDir, { recursive: true });
}
