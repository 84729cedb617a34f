/**
 * Tracker load generator (`scripts/_tracker_load.ts`): registers many simulated peers (each on
 * its own UDP socket, since a node id may only be used from the address that registered it),
 * has each OWN a file, then keeps `--concurrency` requests outstanding — a mix of heartbeats
 * (REGISTER with the session cookie) and NEEDs by name — against a real tracker process on
 * loopback. Prints requests/s,
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
import { benchFlags } from "./_bench_flags.ts";
import { fileURLToPath } from "node:url";
import {
  benchTrackerArgs,
  cpuTicks,
  LOAD_TIMEOUT_MS,
  runTrackerLoad,
  TRACKER_LOAD_FLAGS,
} from "./_tracker_load.ts";

const values = benchFlags(
  "deno run -P=test scripts/bench_tracker.ts [--peers N] [--files N] [--seconds S] [--concurrency W] [--need-ratio R] [--hosts H] [--log] [--out FILE]",
  {
    ...TRACKER_LOAD_FLAGS,
    log: { type: "boolean", default: false },
    "baseline-echo": { type: "boolean", default: false },
    out: { type: "string", default: "bench-results/tracker.json" },
  },
);
const PEERS = Number(values.peers);
const FILES = Number(values.files);
const SECONDS = Number(values.seconds);
const WARMUP = Number(values.warmup);
const W = Math.min(4096, Number(values.concurrency));
const NEED_RATIO = Number(values["need-ratio"]);
const HOSTS = Number(values.hosts);
const ROOT = fileURLToPath(new URL("../", import.meta.url));

// ------------------------------------------------------------------ the tracker process
const logDir = values.log ? await Deno.makeTempDir({ prefix: "bench_tracker_log_" }) : undefined;
const trackerArgs = benchTrackerArgs({
  permissions: [
    "--allow-net", // replies go to 127.0.0.x sources
    ...(logDir ? [`--allow-write=${logDir}`, `--allow-read=${logDir}`] : []),
  ],
  owners: values.owners!,
  extra: logDir ? ["--log-dir", logDir] : ["--no-log-file"],
});
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

let cpu0 = 0, cpu1 = 0, self0 = 0, self1 = 0;
const load = await runTrackerLoad({
  targets: [tracker],
  peers: PEERS,
  files: FILES,
  concurrency: W,
  needRatio: NEED_RATIO,
  hosts: HOSTS,
  warmupSeconds: WARMUP,
  seconds: SECONDS,
  echo: BASELINE,
  onWindow: async (edge) => {
    if (edge === "start") [cpu0, self0] = [await cpuTicks(child.pid), await cpuTicks(Deno.pid)];
    else [cpu1, self1] = [await cpuTicks(child.pid), await cpuTicks(Deno.pid)];
  },
});
const setupMs = load.setupMs;
console.log(
  `setup: ${PEERS} peers registered (cookie handshake) and OWNed ${FILES} files in ${
    (setupMs / 1000).toFixed(1)
  } s`,
);
const elapsed = load.seconds;
const completed = load.requests;
const { heartbeats, needs, errorReplies: errors, lost, staleReplies: stale } = load;

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
  latencyMs: load.latencyMs,
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
console.log(`| lost (>${LOAD_TIMEOUT_MS} ms, re-issued) | ${lost} |`);
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
child.kill("SIGTERM");
await child.status;
await stdoutRest;
if (logDir) {
  const size = (await Deno.stat(`${logDir}/tracker.log`)).size;
  console.log(`tracker.log: ${(size / 1e6).toFixed(1)} MB`);
  await Deno.remove(logDir, { recursive: true });
}
