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
 * For each: requests/s, latency p50/p99, and the CPU time per request of each tracker process
 * (user + system) and of redis-server (from /proc/PID/stat over the measured window). This
 * machine's 2 cores are shared by the generator, the trackers and Redis, so wall rates cannot
 * show scaling: CPU per request is the fair comparison. Writes bench-results/tracker_store.json.
 *
 *     deno run -P=test scripts/bench_tracker_store.ts [--peers 10000] [--files 1000]
 *       [--seconds 10] [--concurrency 64] [--need-ratio 0.5] [--only memory,redis,redis2]
 *       [--rates sat,2000] [--rounds 1] [--compare DIR]
 *
 * - `--rates`: `sat` is the closed loop (a new request as soon as one is answered, 64 in flight:
 *   saturation); a number is an open loop at that many requests/s, sent on a 1 ms clock whatever
 *   the replies (at most `--concurrency` outstanding): the latency below saturation.
 * - `--rounds N`: the whole sequence N times, so figures of one moment sit side by side.
 * - `--compare DIR`: also run each configuration with the tracker of another checkout (e.g. a
 *   `git archive main` copy), alternating with this one: A/B in one session.
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
  cpuTimes,
  runTrackerLoad,
  TRACKER_LOAD_FLAGS,
  type TrackerLoadResult,
} from "./_tracker_load.ts";
import { REDIS_SKIP_REASON, startRedis, type TestRedis } from "../tests/_harness/redis_server.ts";

const values = benchFlags(
  "deno run -P=test scripts/bench_tracker_store.ts [--peers N] [--files N] [--seconds S] [--concurrency W] [--need-ratio R] [--only memory,redis,redis2] [--rates sat,R] [--rounds N] [--compare DIR] [--out FILE]",
  {
    ...TRACKER_LOAD_FLAGS,
    only: { type: "string", default: "memory,redis,redis2" },
    rates: { type: "string", default: "sat" },
    rounds: { type: "string", default: "1" },
    compare: { type: "string" },
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

async function spawnTracker(store: string, root: string): Promise<Tracker> {
  const { child, port, stdoutDone } = await spawnListening(
    benchTrackerArgs({
      permissions: [
        "--allow-net", // replies go to 127.0.0.x sources; Redis on 127.0.0.1
        "--allow-env", // the Redis client reads its environment
      ],
      owners: values.owners!,
      extra: ["--no-log-file", "--store", store],
    }),
    root,
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
  /** `sat`, or the offered rate. */
  rate: string;
  round: number;
  trackers: number;
  requestsPerSecond: number;
  load: TrackerLoadResult;
  /** CPU µs per request of each tracker process. */
  trackerCpuMicrosPerRequest: number[];
  /** Of which in the kernel (system time), µs per request. */
  trackerSysMicrosPerRequest: number[];
  /** CPU µs per request of redis-server (undefined without Redis). */
  redisCpuMicrosPerRequest: number | undefined;
  /** Trackers + Redis, µs per request. */
  totalCpuMicrosPerRequest: number;
  generatorCpuPercent: number;
}

interface RunOptions {
  config: string;
  trackers: number;
  redis: TestRedis | undefined;
  root: string;
  rate: string;
  round: number;
}

async function run(o: RunOptions): Promise<Row> {
  const procs: Tracker[] = [];
  try {
    for (let i = 0; i < o.trackers; i++) {
      procs.push(await spawnTracker(o.redis?.url ?? "memory", o.root));
    }
    const pids = [...procs.map((p) => p.child.pid), ...(o.redis ? [o.redis.pid] : []), Deno.pid];
    let before: { user: number; sys: number }[] = [];
    let after: { user: number; sys: number }[] = [];
    const load = await runTrackerLoad({
      targets: procs.map((p) => p.addr),
      peers: Number(values.peers),
      files: Number(values.files),
      concurrency: Number(values.concurrency),
      ...(o.rate === "sat" ? {} : { rate: Number(o.rate) }),
      needRatio: Number(values["need-ratio"]),
      hosts: Number(values.hosts),
      warmupSeconds: Number(values.warmup),
      seconds: Number(values.seconds),
      onWindow: async (edge) => {
        const ticks = await Promise.all(pids.map(cpuTimes));
        if (edge === "start") before = ticks;
        else after = ticks;
      },
    });
    const perRequest = (i: number, sysOnly = false) => {
      const d = (after[i]!.sys - before[i]!.sys) +
        (sysOnly ? 0 : after[i]!.user - before[i]!.user);
      return Number(((d / 100) * 1e6 / Math.max(1, load.requests)).toFixed(1));
    };
    const trackerCpu = procs.map((_, i) => perRequest(i));
    const redisCpu = o.redis ? perRequest(procs.length) : undefined;
    const self = after.length - 1;
    const selfTicks = after[self]!.user + after[self]!.sys - before[self]!.user - before[self]!.sys;
    return {
      config: o.config,
      rate: o.rate,
      round: o.round,
      trackers: o.trackers,
      requestsPerSecond: Math.round(load.requests / load.seconds),
      load,
      trackerCpuMicrosPerRequest: trackerCpu,
      trackerSysMicrosPerRequest: procs.map((_, i) => perRequest(i, true)),
      redisCpuMicrosPerRequest: redisCpu,
      totalCpuMicrosPerRequest: Number(
        (trackerCpu.reduce((a, b) => a + b, 0) + (redisCpu ?? 0)).toFixed(1),
      ),
      generatorCpuPercent: Math.round((selfTicks / 100 / load.seconds) * 100),
    };
  } finally {
    for (const p of procs) await stopTracker(p);
  }
}

const roots: [string, string][] = [["", ROOT]];
if (values.compare !== undefined) {
  const dir = values.compare.endsWith("/") ? values.compare : `${values.compare}/`;
  roots.push([` (${dir.split("/").filter(Boolean).pop()})`, dir]);
}
const rows: Row[] = [];
const print = (r: Row) =>
  console.log(
    `| ${r.round} | ${r.config} | ${r.rate} | ${r.requestsPerSecond.toLocaleString("en")} | ${
      r.load.latencyMs.p50.toFixed(2)
    } / ${r.load.latencyMs.p99.toFixed(2)} | ${r.trackerCpuMicrosPerRequest.join(" + ")} (sys ${
      r.trackerSysMicrosPerRequest.join(" + ")
    }) | ${
      r.redisCpuMicrosPerRequest ?? "–"
    } | ${r.totalCpuMicrosPerRequest} | ${r.load.lost} / ${r.load.skipped} |`,
  );
console.log(
  "| round | store | offered | requests/s | p50 / p99 ms | tracker CPU µs/req (of which sys) | redis CPU µs/req | total µs/req | lost / skipped |",
);
console.log("|---|---|---|---|---|---|---|---|---|");
for (let round = 1; round <= Number(values.rounds); round++) {
  for (const rate of values.rates!.split(",")) {
    for (const [label, root] of roots) {
      if (only.has("memory")) {
        rows.push(
          await run({ config: `memory${label}`, trackers: 1, redis: undefined, root, rate, round }),
        );
        print(rows.at(-1)!);
      }
      for (const [config, trackers] of [["redis", 1], ["redis2", 2]] as const) {
        if (!only.has(config)) continue;
        if (REDIS_SKIP_REASON !== undefined) {
          console.log(`${config}: skipped (${REDIS_SKIP_REASON})`);
          continue;
        }
        await using redis = await startRedis(); // fresh and empty for each configuration
        const name = `${config === "redis2" ? "redis×2" : config}${label}`;
        rows.push(await run({ config: name, trackers, redis, root, rate, round }));
        print(rows.at(-1)!);
      }
    }
  }
}

const loadAverage = Deno.loadavg();
console.log(
  `\n${values.peers} peers, ${values.files} files, ${values.concurrency} in flight, NEED ratio ${
    values["need-ratio"]
  }, ${values.seconds} s each; load average ${loadAverage.map((x) => x.toFixed(2)).join(" ")}`,
);
for (const round of new Set(rows.map((r) => r.round))) {
  for (const rate of new Set(rows.map((r) => r.rate))) {
    const at = (config: string) =>
      rows.find((r) => r.round === round && r.rate === rate && r.config === config);
    const memory = at("memory");
    const redis1 = at("redis");
    const redis2 = at("redis×2");
    const head = `round ${round}, offered ${rate}:`;
    if (memory && redis1) {
      console.log(
        `${head} redis tracker CPU per request / memory: ${
          (redis1.trackerCpuMicrosPerRequest[0]! / memory.trackerCpuMicrosPerRequest[0]!).toFixed(2)
        }× (target ≤ 2×); p99 ${redis1.load.latencyMs.p99.toFixed(2)} ms (target < 5 ms)`,
      );
    }
    if (redis1 && redis2) {
      console.log(
        `${head} 2 trackers / 1 tracker, requests/s: ${
          (redis2.requestsPerSecond / redis1.requestsPerSecond).toFixed(2)
        }× (target ≥ 1)`,
      );
    }
  }
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
