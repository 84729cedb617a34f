/**
 * Tracker scale-out on Redis, at the tracker level: the load generator of bench_tracker.ts
 * (`scripts/_tracker_load.ts`: simulated peers on their own sockets, heartbeats and NEEDs by
 * name kept `--concurrency` in flight) against, in one run and one after the other:
 *
 * - `memory`: one `tracker.ts` with the memory store (the default);
 * - `redis`: one `tracker.ts --store redis://…` on a fresh private redis-server;
 * - `redis×2`: two `tracker.ts --store redis://…` on one fresh redis-server, on two ports, the
 *   generator's peers split between them (peer i talks to tracker i % 2).
 *
 * For each: requests/s, latency p50/p99, and the CPU time per request of each tracker process and
 * of redis-server (from /proc/PID/stat over the measured window). This machine's 2 cores are
 * shared by the generator, the trackers and Redis, so wall rates cannot show scaling: CPU per
 * request is the fair comparison. Writes bench-results/tracker_store.json.
 *
 *     deno run -P=test scripts/bench_tracker_store.ts [--peers 10000] [--files 1000]
 *       [--seconds 10] [--concurrency 64] [--need-ratio 0.5] [--only memory,redis,redis2]
 *
 * Profiling: `BENCH_TRACKER_DENO_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof"` adds flags to the
 * trackers' `deno run`.
 * Figures and targets: docs/TRACKER.md ("Tracker-level benchmark").
 * @module
 */
import { benchFlags } from "./_bench_flags.ts";
import { fileURLToPath } from "node:url";
import { spawnListening } from "./_listening.ts";
import {
  benchTrackerArgs,
  cpuTicks,
  runTrackerLoad,
  TRACKER_LOAD_FLAGS,
  type TrackerLoadResult,
} from "./_tracker_load.ts";
import { REDIS_SKIP_REASON, startRedis, type TestRedis } from "../tests/_harness/redis_server.ts";

const values = benchFlags(
  "deno run -P=test scripts/bench_tracker_store.ts [--peers N] [--files N] [--seconds S] [--concurrency W] [--need-ratio R] [--only memory,redis,redis2] [--out FILE]",
  {
    ...TRACKER_LOAD_FLAGS,
    only: { type: "string", default: "memory,redis,redis2" },
    out: { type: "string", default: "bench-results/tracker_store.json" },
  },
);
const ROOT = fileURLToPath(new URL("../", import.meta.url));
const only = new Set(values.only!.split(","));

interface Tracker {
  child: Deno.ChildProcess;
  addr: Deno.NetAddr;
  stdoutDone: Promise<void>;
}

async function spawnTracker(store: string): Promise<Tracker> {
  const { child, port, stdoutDone } = await spawnListening(
    benchTrackerArgs({
      permissions: [
        "--allow-net", // replies go to 127.0.0.x sources; Redis on 127.0.0.1
        "--allow-env", // the Redis client reads its environment
      ],
      owners: values.owners!,
      extra: ["--no-log-file", "--store", store],
    }),
    ROOT,
  );
  return { child, addr: { transport: "udp", hostname: "127.0.0.1", port }, stdoutDone };
}

async function stopTracker(t: Tracker): Promise<void> {
  try {
    t.child.kill("SIGTERM");
  } catch {
    // gone
  }
  await t.child.status;
  await t.stdoutDone;
}

/** One configuration's figures. */
interface Row {
  config: string;
  trackers: number;
  requestsPerSecond: number;
  load: TrackerLoadResult;
  /** CPU µs per request of each tracker process. */
  trackerCpuMicrosPerRequest: number[];
  /** CPU µs per request of redis-server (undefined without Redis). */
  redisCpuMicrosPerRequest: number | undefined;
  /** Trackers + Redis, µs per request. */
  totalCpuMicrosPerRequest: number;
  generatorCpuPercent: number;
}

async function run(config: string, trackers: number, redis: TestRedis | undefined): Promise<Row> {
  const procs: Tracker[] = [];
  try {
    for (let i = 0; i < trackers; i++) procs.push(await spawnTracker(redis?.url ?? "memory"));
    const pids = [...procs.map((p) => p.child.pid), ...(redis ? [redis.pid] : []), Deno.pid];
    let before: number[] = [];
    let after: number[] = [];
    const load = await runTrackerLoad({
      targets: procs.map((p) => p.addr),
      peers: Number(values.peers),
      files: Number(values.files),
      concurrency: Number(values.concurrency),
      needRatio: Number(values["need-ratio"]),
      hosts: Number(values.hosts),
      warmupSeconds: Number(values.warmup),
      seconds: Number(values.seconds),
      onWindow: async (edge) => {
        const ticks = await Promise.all(pids.map(cpuTicks));
        if (edge === "start") before = ticks;
        else after = ticks;
      },
    });
    const perRequest = (i: number) =>
      Number((((after[i]! - before[i]!) / 100) * 1e6 / Math.max(1, load.requests)).toFixed(1));
    const trackerCpu = procs.map((_, i) => perRequest(i));
    const redisCpu = redis ? perRequest(procs.length) : undefined;
    const self = after.length - 1;
    return {
      config,
      trackers,
      requestsPerSecond: Math.round(load.requests / load.seconds),
      load,
      trackerCpuMicrosPerRequest: trackerCpu,
      redisCpuMicrosPerRequest: redisCpu,
      totalCpuMicrosPerRequest: Number(
        (trackerCpu.reduce((a, b) => a + b, 0) + (redisCpu ?? 0)).toFixed(1),
      ),
      generatorCpuPercent: Math.round(
        ((after[self]! - before[self]!) / 100 / load.seconds) * 100,
      ),
    };
  } finally {
    for (const p of procs) await stopTracker(p);
  }
}

const rows: Row[] = [];
if (only.has("memory")) rows.push(await run("memory", 1, undefined));
for (const [config, trackers] of [["redis", 1], ["redis2", 2]] as const) {
  if (!only.has(config)) continue;
  if (REDIS_SKIP_REASON !== undefined) {
    console.log(`${config}: skipped (${REDIS_SKIP_REASON})`);
    continue;
  }
  await using redis = await startRedis(); // fresh and empty for each configuration
  rows.push(await run(config === "redis2" ? "redis×2" : config, trackers, redis));
}

const loadAverage = Deno.loadavg();
console.log("");
console.log(
  "| store | trackers | requests/s | p50 / p99 ms | tracker CPU µs/req | redis CPU µs/req | total µs/req | lost |",
);
console.log("|---|---|---|---|---|---|---|---|");
for (const r of rows) {
  console.log(
    `| ${r.config} | ${r.trackers} | ${r.requestsPerSecond.toLocaleString("en")} | ${
      r.load.latencyMs.p50.toFixed(2)
    } / ${r.load.latencyMs.p99.toFixed(2)} | ${r.trackerCpuMicrosPerRequest.join(" + ")} | ${
      r.redisCpuMicrosPerRequest ?? "–"
    } | ${r.totalCpuMicrosPerRequest} | ${r.load.lost} |`,
  );
}
console.log(
  `\n${values.peers} peers, ${values.files} files, ${values.concurrency} in flight, NEED ratio ${
    values["need-ratio"]
  }, ${values.seconds} s each; load average ${loadAverage.map((x) => x.toFixed(2)).join(" ")}`,
);
const memory = rows.find((r) => r.config === "memory");
const redis1 = rows.find((r) => r.config === "redis");
const redis2 = rows.find((r) => r.config === "redis×2");
if (memory && redis1) {
  console.log(
    `redis tracker CPU per request / memory: ${
      (redis1.trackerCpuMicrosPerRequest[0]! / memory.trackerCpuMicrosPerRequest[0]!).toFixed(2)
    }× (target ≤ 2×); p99 ${redis1.load.latencyMs.p99.toFixed(2)} ms (target < 5 ms)`,
  );
}
if (redis1 && redis2) {
  console.log(
    `2 trackers / 1 tracker, requests/s: ${
      (redis2.requestsPerSecond / redis1.requestsPerSecond).toFixed(2)
    }× (target ≥ 1)`,
  );
}

await Deno.mkdir(`${ROOT}bench-results`, { recursive: true });
const out = values.out!.startsWith("/") ? values.out! : `${ROOT}${values.out}`;
await Deno.writeTextFile(
  out,
  JSON.stringify(
    {
      date: new Date().toISOString(),
      deno: Deno.version.deno,
      cpus: navigator.hardwareConcurrency,
      loadAverage,
      options: values,
      rows,
    },
    null,
    2,
  ) + "\n",
);
console.log(`wrote ${out}`);
